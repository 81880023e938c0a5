#!/usr/bin/env python3
"""Runs pjdfstest groups inside a folder of a mount and prints the share of cases that pass.

    pjdfstest_figure.py --suite PJDFSTEST_DIR --dir FOLDER_IN_THE_MOUNT [--gate PCT] [GROUP[/NN] ...]

Each test file runs under `prove -v` (bounded by a timeout), from FOLDER. A dataset cannot hold
fifos, sockets, device nodes or hard links (the mount answers EPERM), so the cases that make one
are counted out, and so are the failing cases on that name that follow them before any passing
case (the name was never made: ENOENT, or an O_EXCL create that succeeds). Every counted-out case is printed with its file,
number and reason; so is every failure. Exit 1 if the figure is under --gate.
"""
import argparse
import os
import re
import signal
import subprocess
import sys

# The groups of the issue (POSIX attributes): the file numbers that fit a dataset filesystem.
DEFAULT_GROUPS = {
    "open": "00 01 02 03 04 13 22 23 25",
    "mkdir": "01 02 03 04 10",
    "rmdir": "01 02 03 04 06 12",
    "unlink": "01 02 03 04 08 14",
    "rename": "03 12 13 14 18 19 20 24",
    "truncate": "00 01 02 03 04 09 12 13 14",
    "ftruncate": "00 01 02 03 04 09 12 13 14",
    "chmod": "*",
    "chown": "*",
    "utimensat": "*",
}

# What a dataset cannot hold: the commands (as pjdfstest's fstest names them) that make one.
UNSUPPORTED = {"mkfifo": "a fifo", "mknod": "a device node", "bind": "a socket", "connect": "a socket",
               "link": "a hard link"}

NOT_OK = re.compile(r"^not ok (\d+) - tried '([^']*)', expected (\S+), got (\S+)")


def test_files(suite, groups):
    files = []
    for spec in groups:
        group, _, nums = spec.partition("/")
        folder = os.path.join(suite, "tests", group)
        wanted = nums.split() if nums and nums != "*" else None
        for name in sorted(os.listdir(folder)):
            if name.endswith(".t") and (wanted is None or name[:-2] in wanted):
                files.append(os.path.join(folder, name))
    return files


def made_names(command):
    """The names a failed command of an unsupported kind would have made."""
    words = command.split()
    if not words or words[0] not in UNSUPPORTED:
        return None
    if words[0] == "link":
        return set(words[2:3])
    return set(words[1:2])


def run_file(path, folder, timeout):
    # Its own session: a timeout kills the test script and everything it started.
    proc = subprocess.Popen(["prove", "-v", path], cwd=folder, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        out += "\n# timed out\n"
    planned = 0
    seen = {}
    failures = []
    for line in out.splitlines():
        m = re.match(r"^1\.\.(\d+)", line)
        if m:
            planned = int(m.group(1))
            continue
        m = NOT_OK.match(line)
        if m:
            seen[int(m.group(1))] = False
            failures.append((int(m.group(1)), m.group(2), m.group(3), m.group(4)))
            continue
        m = re.match(r"^not ok (\d+)", line)
        if m:
            seen[int(m.group(1))] = False
            failures.append((int(m.group(1)), line, "", ""))
            continue
        m = re.match(r"^ok (\d+)", line)
        if m:
            seen[int(m.group(1))] = True
    return planned, seen, failures


def classify(seen, failures):
    """Splits the failures into (counted out with reasons, real)."""
    out, real = [], []
    never_made, chain_from = set(), None
    by_number = {n: (cmd, want, got) for n, cmd, want, got in failures}
    for n in sorted(seen):
        if seen[n]:
            never_made, chain_from = set(), None  # a passing case ends what follows a refusal
            continue
        cmd, want, got = by_number.get(n, ("", "", ""))
        names = made_names(cmd)
        if names is not None and got == "EPERM":
            # (and the folder it was to be made in: it stayed empty)
            never_made |= names | {name.split("/")[0] for name in names}
            chain_from = n
            out.append((n, f"needs {UNSUPPORTED[cmd.split()[0]]} ({cmd})"))
        elif (chain_from is not None and not cmd.startswith("symlink ")
              and any(w.split("/")[0] in never_made for w in cmd.split()[1:])):
            # (a symlink to a local name fails on its own: never counted out)
            out.append((n, f"follows from case {chain_from}: that name was never made ({cmd})"))
        else:
            real.append((n, cmd, want, got))
    return out, real


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--suite", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--gate", type=float, default=0.0)
    ap.add_argument("--timeout", type=int, default=300)
    ap.add_argument("groups", nargs="*")
    args = ap.parse_args()
    args.suite = os.path.abspath(args.suite)
    groups = args.groups or [f"{g}/{n}" for g, n in DEFAULT_GROUPS.items()]
    total = passed = counted_out = 0
    for path in test_files(args.suite, groups):
        rel = os.path.relpath(path, os.path.join(args.suite, "tests"))
        planned, seen, failures = run_file(path, args.dir, args.timeout)
        for n in range(1, planned + 1):
            seen.setdefault(n, False)  # a case that never reported (the file stopped) failed
        out, real = classify(seen, failures)
        missing = [n for n in range(1, planned + 1) if not seen[n] and n not in {f[0] for f in failures}]
        for n in missing:
            real.append((n, "(no result: the file stopped or timed out)", "", ""))
        file_passed = sum(1 for ok in seen.values() if ok)
        total += len(seen) - len(out)
        passed += file_passed
        counted_out += len(out)
        for n, why in out:
            print(f"counted out {rel} {n}: {why}")
        for n, cmd, want, got in sorted(real):
            print(f"FAILED {rel} {n}: {cmd}" + (f" (expected {want}, got {got})" if want else ""))
        print(f"# {rel}: {file_passed}/{len(seen) - len(out)} pass, {len(out)} counted out", flush=True)
    figure = 100.0 * passed / total if total else 0.0
    print(f"pjdfstest: {passed} of {total} cases pass ({figure:.1f}%), {counted_out} counted out "
          f"(fifos, sockets, device nodes, hard links)")
    if figure < args.gate:
        print(f"pjdfstest: under the gate of {args.gate:.1f}%")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
