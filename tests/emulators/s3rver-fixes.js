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
