#!/usr/bin/env python3
"""The reference-model test through a real FUSE mount (issue 12's second variant).

Random create / write / append / pwrite / truncate / rename (over files and folders, across
folders) / unlink / mkdir / rmdir / setxattr / fsync / read / open-then-unlink / listdir steps
from several threads, each in its own folder /tN of the mount, checked after every step
against an in-memory POSIX model: the errno of every call, the bytes read back, the names
listed. The model is kept in a JSON state file between runs, so that a test can run a phase,
kill the server or the mount, run another phase, and at the end check a fresh mount of the
dataset against the model:

  mount_model.py run    --root MNT --state FILE --seed N [--steps 80] [--threads 3] [--offline]
  mount_model.py verify --root MNT --state FILE

--offline: only what a mount promises while its server is away (new files and folders in
folders it made or listed, writes to those new files, reads of them).
A failure prints the thread's steps so far and exits 1.
"""
import argparse
import errno
import json
import os
import random
import sys
import threading

NAMES = ["a", "b", "c", "d"]
DIRS = ["x", "y"]


class Model:
    """One thread's tree: path (relative to the mount, '/tN/...') -> bytes or None (a folder)."""

    def __init__(self, entries, xattrs):
        self.entries = entries  # path -> bytes | None
        self.xattrs = xattrs    # path -> {name: value}

    def is_dir(self, p):
        return p in self.entries and self.entries[p] is None

    def is_file(self, p):
        return p in self.entries and self.entries[p] is not None

    def parent_err(self, p):
        parent = os.path.dirname(p)
        if parent in ("", "/"):
            return 0
        # Walk down from the top: a missing folder is ENOENT, a file on the way ENOTDIR.
        parts = parent.strip("/").split("/")
        cur = ""
        for part in parts:
            cur += "/" + part
            if cur not in self.entries:
                return errno.ENOENT
            if not self.is_dir(cur):
                return errno.ENOTDIR
        return 0

    def children(self, d):
        pre = d.rstrip("/") + "/"
        return sorted(p[len(pre):] for p in self.entries if p.startswith(pre) and "/" not in p[len(pre):])

    def below(self, d):
        pre = d.rstrip("/") + "/"
        return [p for p in self.entries if p.startswith(pre)]

    def rename(self, a, b):
        for e in (self.parent_err(a), self.parent_err(b)):
            if e:
                return e
        if a not in self.entries:
            return errno.ENOENT
        if a == b:
            return 0
        if b.startswith(a + "/"):
            return errno.EINVAL
        if a.startswith(b + "/"):
            return errno.ENOTEMPTY
        src_dir = self.is_dir(a)
        if b in self.entries:
            if self.is_dir(b) and not src_dir:
                return errno.EISDIR
            if not self.is_dir(b) and src_dir:
                return errno.ENOTDIR
            if self.is_dir(b) and self.children(b):
                return errno.ENOTEMPTY
            del self.entries[b]
            self.xattrs.pop(b, None)
        moved = [a] + self.below(a)
        for p in moved:
            q = b + p[len(a):]
            self.entries[q] = self.entries.pop(p)
            if p in self.xattrs:
                self.xattrs[q] = self.xattrs.pop(p)
        return 0


def err_of(fn):
    try:
        return 0, fn()
    except OSError as e:
        return e.errno, None


class Runner:
    def __init__(self, root, model, rng, offline, log):
        self.root, self.m, self.rng, self.offline, self.log = root, model, rng, offline, log
        self.made_offline = set()  # paths this run made while the server is away

    def real(self, p):
        return self.root + p

    def pick(self, top, dirs_only=False):
        depth = self.rng.choice([1, 1, 2, 2, 3])
        p = top
        for i in range(depth):
            last = i == depth - 1
            p += "/" + (self.rng.choice(DIRS) if (not last or dirs_only or self.rng.random() < 0.3) else self.rng.choice(NAMES))
        return p

    def expect(self, what, want, got):
        if isinstance(want, (set, tuple)):
            ok = got in want
        else:
            ok = got == want
        if not ok:
            raise AssertionError(f"{what}: expected errno {want} ({errno.errorcode.get(want, want) if not isinstance(want, (set, tuple)) else want}), got {got} ({errno.errorcode.get(got, got)})")

    def check_file(self, p):
        want = self.m.entries.get(p)
        e, data = err_of(lambda: open(self.real(p), "rb").read())
        if want is None and p not in self.m.entries:
            self.expect(f"read {p}", errno.ENOENT, e)
            return
        if want is None:
            self.expect(f"read {p}", errno.EISDIR, e)
            return
        self.expect(f"read {p}", 0, e)
        if data != want:
            raise AssertionError(f"read {p}: {len(data)} bytes, the model has {len(want)} (first difference at "
                                 f"{next((i for i, (x, y) in enumerate(zip(data, want)) if x != y), min(len(data), len(want)))})")

    def check_dir(self, d):
        e, names = err_of(lambda: sorted(os.listdir(self.real(d))))
        self.expect(f"listdir {d}", 0, e)
        want = self.m.children(d)
        if names != want:
            raise AssertionError(f"listdir {d}: {names}, the model has {want}")

    def new_bytes(self):
        n = self.rng.choice([0, 1, 100, 4096, 5000, 70000])
        return self.rng.randbytes(n)

    def step(self, top):
        r = self.rng
        # Weighted so that the tree grows: more creates than removals.
        kinds = ["write"] * 8 + ["append", "pwrite", "truncate"] * 2 + ["rename"] * 4 + ["mkdir"] * 3 + \
            ["unlink", "rmdir", "open_unlink", "fsync", "listdir"] + ["setxattr", "read"] * 2
        if self.offline:
            kinds = ["write_new", "write_new", "append_new", "mkdir_new", "read_new", "listdir_new"]
        kind = r.choice(kinds)
        m = self.m
        if kind in ("write", "write_new"):
            p = self.pick(top)
            if kind == "write_new":
                p = f"{top}/off{r.randrange(1 << 30)}"
                if self.made_offline and r.random() < 0.5:
                    d = r.choice(sorted(q for q in self.made_offline if m.is_dir(q)) or [top])
                    p = f"{d}/f{r.randrange(1 << 30)}"
            data = self.new_bytes()
            want = m.parent_err(p) or (errno.EISDIR if m.is_dir(p) else 0)
            def do():
                with open(self.real(p), "wb") as f:
                    f.write(data)
            e, _ = err_of(do)
            self.log.append(f"{kind} {p} {len(data)} -> {e}")
            self.expect(f"write {p}", want, e)
            if not e:
                m.entries[p] = data
                if kind == "write_new":
                    self.made_offline.add(p)
                self.check_file(p)
        elif kind in ("append", "append_new", "pwrite"):
            cands = [q for q in m.entries if q.startswith(top + "/") and m.is_file(q)]
            if kind == "append_new":
                cands = [q for q in cands if q in self.made_offline]
            if not cands:
                return
            p = r.choice(sorted(cands))
            data = r.randbytes(r.choice([1, 10, 3000]))
            off = r.randrange(len(m.entries[p]) + 200) if kind == "pwrite" else None
            def do():
                fd = os.open(self.real(p), os.O_WRONLY | (os.O_APPEND if off is None else 0))
                try:
                    if off is None:
                        os.write(fd, data)
                    else:
                        os.pwrite(fd, data, off)
                finally:
                    os.close(fd)
            e, _ = err_of(do)
            self.log.append(f"{kind} {p} {len(data)}@{off} -> {e}")
            self.expect(f"{kind} {p}", 0, e)
            old = m.entries[p]
            if off is None:
                m.entries[p] = old + data
            else:
                b = bytearray(old) + bytearray(max(0, off + len(data) - len(old)))
                b[off:off + len(data)] = data
                m.entries[p] = bytes(b)
            self.check_file(p)
        elif kind == "truncate":
            p = self.pick(top)
            n = r.choice([0, 1, 50, 5000, 100000])
            want = m.parent_err(p) or (errno.ENOENT if p not in m.entries else errno.EISDIR if m.is_dir(p) else 0)
            e, _ = err_of(lambda: os.truncate(self.real(p), n))
            self.log.append(f"truncate {p} {n} -> {e}")
            self.expect(f"truncate {p}", want, e)
            if not e:
                old = m.entries[p]
                m.entries[p] = old[:n] + bytes(max(0, n - len(old)))
                self.check_file(p)
        elif kind == "rename":
            a, b = self.pick(top), self.pick(top)
            want = m.rename(a, b)  # applied to the model if 0
            e, _ = err_of(lambda: os.rename(self.real(a), self.real(b)))
            self.log.append(f"rename {a} {b} -> {e}")
            # The kernel tells a folder onto a non-empty one as ENOTEMPTY or EEXIST.
            self.expect(f"rename {a} {b}", {want, errno.EEXIST} if want == errno.ENOTEMPTY else want, e)
            if not e:
                self.check_dir(os.path.dirname(b) or top)
                if m.is_file(b):
                    self.check_file(b)
        elif kind in ("unlink", "rmdir"):
            p = self.pick(top, dirs_only=kind == "rmdir")
            want = m.parent_err(p)
            if not want:
                if p not in m.entries:
                    want = errno.ENOENT
                elif kind == "unlink":
                    want = errno.EISDIR if m.is_dir(p) else 0
                else:
                    want = errno.ENOTDIR if not m.is_dir(p) else errno.ENOTEMPTY if m.children(p) else 0
            e, _ = err_of(lambda: (os.unlink if kind == "unlink" else os.rmdir)(self.real(p)))
            self.log.append(f"{kind} {p} -> {e}")
            self.expect(f"{kind} {p}", want, e)
            if not e:
                del m.entries[p]
                m.xattrs.pop(p, None)
                self.check_dir(os.path.dirname(p))
        elif kind in ("mkdir", "mkdir_new"):
            p = self.pick(top, dirs_only=True) if kind == "mkdir" else f"{top}/dir{r.randrange(1 << 30)}"
            want = m.parent_err(p) or (errno.EEXIST if p in m.entries else 0)
            e, _ = err_of(lambda: os.mkdir(self.real(p)))
            self.log.append(f"mkdir {p} -> {e}")
            self.expect(f"mkdir {p}", want, e)
            if not e:
                m.entries[p] = None
                if kind == "mkdir_new":
                    self.made_offline.add(p)
        elif kind == "setxattr":
            cands = sorted(q for q in m.entries if q.startswith(top + "/") and m.is_file(q))
            if not cands:
                return
            p, key, value = r.choice(cands), "user.meta." + r.choice(["camera", "lot"]), f"v{r.randrange(1000)}"
            e, _ = err_of(lambda: os.setxattr(self.real(p), key, value.encode()))
            self.log.append(f"setxattr {p} {key}={value} -> {e}")
            self.expect(f"setxattr {p}", 0, e)
            m.xattrs.setdefault(p, {})[key] = value
            e, got = err_of(lambda: os.getxattr(self.real(p), key))
            self.expect(f"getxattr {p} {key}", 0, e)
            if got != value.encode():
                raise AssertionError(f"getxattr {p} {key}: {got!r}, the model has {value!r}")
        elif kind == "fsync":
            cands = sorted(q for q in m.entries if q.startswith(top + "/") and m.is_file(q))
            if not cands:
                return
            p = r.choice(cands)
            def do():
                fd = os.open(self.real(p), os.O_RDWR)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            e, _ = err_of(do)
            self.log.append(f"fsync {p} -> {e}")
            self.expect(f"fsync {p}", 0, e)
        elif kind in ("read", "read_new"):
            cands = sorted(q for q in m.entries if q.startswith(top + "/") and m.is_file(q))
            if kind == "read_new":
                cands = [q for q in cands if q in self.made_offline]
            if cands:
                p = r.choice(cands)
                self.log.append(f"read {p}")
                self.check_file(p)
        elif kind == "open_unlink":
            # POSIX: an open file that is unlinked stays readable and writable through its descriptor.
            cands = sorted(q for q in m.entries if q.startswith(top + "/") and m.is_file(q))
            if not cands:
                return
            p = r.choice(cands)
            old = m.entries[p]
            fd = os.open(self.real(p), os.O_RDWR)
            try:
                e, _ = err_of(lambda: os.unlink(self.real(p)))
                self.log.append(f"open+unlink {p} -> {e}")
                self.expect(f"unlink {p} (open)", 0, e)
                del m.entries[p]
                m.xattrs.pop(p, None)
                if os.path.exists(self.real(p)):
                    raise AssertionError(f"{p} is still there after unlink")
                os.pwrite(fd, b"tail", len(old))
                got = os.pread(fd, len(old) + 10, 0)
                if got != old + b"tail":
                    raise AssertionError(f"read through the descriptor of unlinked {p}: {len(got)} bytes, expected {len(old) + 4}")
                if os.fstat(fd).st_nlink != 0:
                    raise AssertionError(f"fstat of unlinked {p}: nlink {os.fstat(fd).st_nlink}")
            finally:
                os.close(fd)
        elif kind in ("listdir", "listdir_new"):
            dirs = sorted(q for q in m.entries if q.startswith(top + "/") and m.is_dir(q)) + [top]
            if kind == "listdir_new":
                dirs = [q for q in dirs if q in self.made_offline]
            if dirs:
                d = r.choice(dirs)
                self.log.append(f"listdir {d}")
                self.check_dir(d)


def load(state_path, threads):
    if os.path.exists(state_path):
        with open(state_path) as f:
            st = json.load(f)
    else:
        st = {"entries": {}, "xattrs": {}, "steps": 0}
    entries = {p: (None if v is None else bytes.fromhex(v)) for p, v in st["entries"].items()}
    return entries, st["xattrs"], st["steps"]


def save(state_path, entries, xattrs, steps):
    st = {"entries": {p: (None if v is None else v.hex()) for p, v in entries.items()}, "xattrs": xattrs, "steps": steps}
    with open(state_path + ".tmp", "w") as f:
        json.dump(st, f)
    os.replace(state_path + ".tmp", state_path)


def cmd_run(args):
    entries, xattrs, steps = load(args.state, args.threads)
    failures = []
    counts = [0] * args.threads
    models = []

    def worker(t):
        top = f"/t{t}"
        mine = {p: v for p, v in entries.items() if p == top or p.startswith(top + "/")}
        mx = {p: v for p, v in xattrs.items() if p.startswith(top + "/")}
        model = Model(mine, mx)
        models.append(model)
        if top not in model.entries:
            os.makedirs(args.root + top, exist_ok=True)
            model.entries[top] = None
        log = []
        runner = Runner(args.root, model, random.Random(args.seed * 1000 + t), args.offline, log)
        try:
            for _ in range(args.steps):
                runner.step(top)
                counts[t] += 1
            # Every folder and file of the thread's part, checked once more.
            for p in sorted(model.entries):
                if args.offline and p not in runner.made_offline and not model.is_dir(p):
                    continue  # bytes the platform has and this mount did not keep need the server
                if model.is_dir(p):
                    runner.check_dir(p)
                else:
                    runner.check_file(p)
        except Exception as e:  # noqa: BLE001 (a failure of any kind is reported with the steps)
            failures.append(f"thread {t}: {e}\n  steps:\n    " + "\n    ".join(log[-40:]))
            with open(f"{args.state}.t{t}.log", "w") as f:  # every step, for a failure's whole story
                f.write("\n".join(log) + f"\n{e}\n")

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(args.threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    merged, mx = {}, {}
    for model in models:
        merged.update(model.entries)
        mx.update(model.xattrs)
    save(args.state, merged, mx, steps + sum(counts))
    print(f"mount_model: {sum(counts)} steps from {args.threads} threads (seed {args.seed}"
          f"{', offline' if args.offline else ''}); {len(merged)} paths in the model")
    if failures:
        print("\n".join(failures), file=sys.stderr)
        return 1
    return 0


def cmd_verify(args):
    entries, xattrs, steps = load(args.state, 0)
    problems = []
    tops = sorted({"/" + p.strip("/").split("/")[0] for p in entries})
    seen = {}
    for top in tops:
        for dirpath, dirnames, filenames in os.walk(args.root + top):
            rel = dirpath[len(args.root):]
            seen[rel] = None
            for f in filenames:
                with open(os.path.join(dirpath, f), "rb") as fh:
                    seen[rel + "/" + f] = fh.read()
    for p in sorted(set(entries) | set(seen)):
        if p not in seen:
            problems.append(f"missing: {p}")
        elif p not in entries:
            problems.append(f"not in the model: {p}")
        elif (entries[p] is None) != (seen[p] is None):
            problems.append(f"{p}: a {'folder' if entries[p] is None else 'file'} in the model, not in the mount")
        elif entries[p] is not None and entries[p] != seen[p]:
            problems.append(f"{p}: {len(seen[p])} bytes, the model has {len(entries[p])}")
    for p, kv in sorted(xattrs.items()):
        if p not in entries:
            continue
        for k, v in kv.items():
            e, got = err_of(lambda: os.getxattr(args.root + p, k))
            if e or got != v.encode():
                problems.append(f"{p}: {k} is {got!r} (errno {e}), the model has {v!r}")
    files = sum(1 for v in entries.values() if v is not None)
    print(f"mount_model verify: {files} files, {len(entries) - files} folders, {steps} steps in all; "
          f"{len(problems)} differences")
    if problems:
        print("\n".join(problems[:50]), file=sys.stderr)
        return 1
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("command", choices=["run", "verify"])
    ap.add_argument("--root", required=True)
    ap.add_argument("--state", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--steps", type=int, default=80)
    ap.add_argument("--threads", type=int, default=3)
    ap.add_argument("--offline", action="store_true")
    args = ap.parse_args()
    return cmd_run(args) if args.command == "run" else cmd_verify(args)


if __name__ == "__main__":
    sys.exit(main())
