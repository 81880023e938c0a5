// Preloaded into s3rver 3.7.1 by the S3 tests (node -r THIS s3rver.js ...): a bug of the
// emulator that S3 itself does not have, fixed so that the tests see S3's behaviour.
'use strict';

const FilesystemStore = require('s3rver/lib/stores/filesystem');

// A ranged GET of an empty object: s3rver takes its last byte as max(0, size - 1) = 0, answers
// 206 "Content-Length: 1" and sends no byte, so the client waits for one until the connection
// times out. S3 answers 416 InvalidRange; s3rver does too for an object without content.
const getObject = FilesystemStore.prototype.getObject;
FilesystemStore.prototype.getObject = async function (bucket, key, options) {
  const object = await getObject.call(this, bucket, key, options);
  if (object && object.range && object.size === 0 && object.content) {
    object.content.destroy();
    object.content = null;
  }
  return object;
};

// Multipart calls S3 has and s3rver 3.7.1 lacks (it has Initiate, Upload Part and Complete):
// ListMultipartUploads, ListParts, AbortMultipartUpload and UploadPartCopy, served from the
// store's own upload folders (<bucket>/._S3rver_uploads/<uploadId>/{key,metadata,N,N.md5}) by a
// middleware run after the vhost one (so paths are /bucket/key) and before s3rver's router.
const fs = require('fs-extra');
const path = require('path');
const S3Error = require('s3rver/lib/models/error');

function uploadsDir(store, bucket) {
  return store.getResourcePath(bucket, undefined, 'uploads');
}

async function uploadOf(store, bucket, uploadId) {
  const dir = path.join(uploadsDir(store, bucket), path.basename(uploadId));
  try {
    const key = (await fs.readFile(path.join(dir, 'key'))).toString();
    return { dir, key, initiated: (await fs.stat(path.join(dir, 'key'))).mtime };
  } catch (err) {
    if (err.code !== 'ENOENT') throw err;
    throw new S3Error('NoSuchUpload', 'The specified upload does not exist.', { UploadId: uploadId });
  }
}

async function multipartExtras(ctx, next) {
  const [, bucket, ...rest] = ctx.path.split('/');
  const key = decodeURIComponent(rest.join('/'));
  const q = ctx.query;
  const store = ctx.store;
  if (!bucket || !(await store.getBucket(bucket))) return next();
  if (ctx.method === 'GET' && !key && 'uploads' in q) {
    const dir = uploadsDir(store, bucket);
    const ids = (await fs.pathExists(dir)) ? await fs.readdir(dir) : [];
    const uploads = [];
    for (const id of ids.sort()) {
      const u = await uploadOf(store, bucket, id).catch(() => null);
      if (u && u.key.startsWith(q.prefix || ''))
        uploads.push({ Key: u.key, UploadId: id, Initiated: u.initiated.toISOString() });
    }
    uploads.sort((a, b) => (a.Key < b.Key ? -1 : a.Key > b.Key ? 1 : a.Initiated < b.Initiated ? -1 : 1));
    ctx.body = { ListMultipartUploadsResult: { Bucket: bucket, Prefix: q.prefix || '', IsTruncated: false, Upload: uploads } };
    return;
  }
  if (!key || !('uploadId' in q)) return next();
  if (ctx.method === 'GET') {
    const u = await uploadOf(store, bucket, q.uploadId);
    const parts = [];
    for (const name of await fs.readdir(u.dir)) {
      if (!/^\d+$/.test(name) || !(await fs.pathExists(path.join(u.dir, name + '.md5')))) continue;
      const md5 = (await fs.readFile(path.join(u.dir, name + '.md5'))).toString();
      const st = await fs.stat(path.join(u.dir, name));
      parts.push({ PartNumber: Number(name), ETag: JSON.stringify(md5), Size: st.size, LastModified: st.mtime.toISOString() });
    }
    parts.sort((a, b) => a.PartNumber - b.PartNumber);
    ctx.body = { ListPartsResult: { Bucket: bucket, Key: u.key, UploadId: q.uploadId, IsTruncated: false, Part: parts } };
    return;
  }
  if (ctx.method === 'DELETE') {
    const u = await uploadOf(store, bucket, q.uploadId);
    await fs.remove(u.dir);
    ctx.status = 204;
    return;
  }
  if (ctx.method === 'PUT' && 'x-amz-copy-source' in ctx.headers) {
    await uploadOf(store, bucket, q.uploadId);
    let source = decodeURIComponent(ctx.headers['x-amz-copy-source']);
    source = source.startsWith('/') ? source.slice(1) : source;
    const [srcBucket, ...srcKey] = source.split('/');
    const range = /^bytes=(\d+)-(\d+)$/.exec(ctx.headers['x-amz-copy-source-range'] || '');
    const object = await store.getObject(srcBucket, srcKey.join('/'),
      range ? { start: Number(range[1]), end: Number(range[2]) } : undefined);
    if (!object) throw new S3Error('NoSuchKey', 'The specified key does not exist.', { Key: srcKey.join('/') });
    const { md5 } = await store.putPart(bucket, q.uploadId, q.partNumber, object.content);
    ctx.body = { CopyPartResult: { ETag: JSON.stringify(md5), LastModified: new Date().toISOString() } };
    return;
  }
  return next();
}

// GCS's XML API with a service account: "Authorization: Bearer TOKEN", the tokens an OAuth
// endpoint gave. With S3RVER_BEARER_TOKENS (comma-separated) set, such a request with one of them
// is served as an anonymous one, any other token is refused as GCS does (401).
function bearerTokens(ctx, next) {
  const auth = ctx.headers.authorization || '';
  if (!auth.startsWith('Bearer ')) return next();
  const known = (process.env.S3RVER_BEARER_TOKENS || '').split(',').filter(Boolean);
  if (!known.includes(auth.slice(7))) {
    ctx.status = 401;
    ctx.type = 'application/xml';
    ctx.body = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AuthenticationRequired</Code>' +
      '<Message>Invalid Credentials</Message></Error>';
    return;
  }
  delete ctx.headers.authorization;
  return next();
}

const vhostPath = require.resolve('s3rver/lib/middleware/vhost');
const vhost = require(vhostPath);
require.cache[vhostPath].exports = options => {
  const middleware = vhost(options);
  return (ctx, next) => middleware(ctx, () => bearerTokens(ctx, () => multipartExtras(ctx, next)));
};
