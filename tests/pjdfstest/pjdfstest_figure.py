#!/usr/bin/env python3
"""Runs pjdfstest groups inside a folder of a mount and prints the share of cases that pass.

    pjdfstest_figure.py --suite PJDFSTEST_DIR --dir FOLDER_IN_THE_MOUNT [--gate PCT] [GROUP[/NN] ...]

Each test file runs under `prove -v` (bounded by a timeout), from FOLDER. A dataset cannot hold
fifos, sockets, device nodes or hard links (the mount answers EPERM), so the cases that make one
are counted out, and so are the failing cases that follow from them in the same loop (see
classify()). Every counted-out case is printed with its file, number and reason; so is every
failure. Exit 1 if the figure is under --gate.
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

TRIED = re.compile(r"^ - tried '([^']*)', expected (.*?)(?:, got (.*))?$")


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


def strip_options(words):
    """fstest's own options (-u UID, -g GIDS, -U UMASK, --) before the syscall's name."""
    i = 0
    while i < len(words) and words[i].startswith("-"):
        i += 2 if words[i] in ("-u", "-g", "-U") else 1
    return words[i:]


def names_in(words):
    """The paths of the test folder a command touches (namegen's names, maybe in a folder)."""
    return {os.path.normpath(w) for w in words if "pjdfstest_" in w}


def made_by(words):
    """(the path a passing command made, the path it came from) for commands that make one."""
    if not words or len(words) < 2:
        return None, None
    if words[0] in ("create", "mkdir"):
        return os.path.normpath(words[1]), None
    if words[0] == "open" and len(words) > 2 and "O_CREAT" in words[2]:
        return os.path.normpath(words[1]), None
    if words[0] == "symlink" and len(words) > 2:
        link = os.path.normpath(words[2])
        # (a relative target is resolved from the link's folder)
        return link, os.path.normpath(os.path.join(os.path.dirname(link), words[1]))
    if words[0] == "rename" and len(words) > 2:
        return os.path.normpath(words[2]), os.path.normpath(words[1])
    return None, None


def under(path, tracked):
    """The tracked path that `path` is, or lies under."""
    for t in tracked:
        if path == t or path.startswith(t + "/"):
            return t
    return None


def parse_tap(out):
    """{case: (passed, command, expected, got, todo)} from a test file's TAP output."""
    cases = {}
    for line in out.splitlines():
        m = re.match(r"^(not )?ok (\d+)(.*)$", line)
        if not m:
            continue
        passed, n, rest = m.group(1) is None, int(m.group(2)), m.group(3)
        todo = re.match(r"^ # TODO (.*)", rest)
        t = TRIED.match(rest)
        cases[n] = (passed, t.group(1) if t else "", t.group(2) if t else "", (t.group(3) or "") if t else "",
                    todo.group(1) if todo else None)
    return cases


def classify(cases):
    """Splits the cases into (passed, counted out with reasons, real failures).

    A fifo, device node, socket or hard link the mount refuses is counted out, and so is what
    follows from it in the same loop of the test: every later failing case that names that name
    (never made), a symlink made to it, or a name whose expected state a counted-out case was to
    set (the other name of a rename), until the name is made for real (a create, mkdir, symlink,
    O_CREAT open or rename onto it that passes); and a bare check (pjdfstest's test_check, which
    prints no command) right after a counted-out case. A TODO case of pjdfstest's own (a
    behaviour it does not hold this OS to) counts as TAP counts it: as passing.
    """
    passed, out, real = [], [], []
    tracked = {}  # path -> the case it follows from
    previous_out = False
    for n in sorted(cases):
        ok, cmd, want, got, todo = cases[n]
        words = strip_options(cmd.split())
        names = names_in(words)
        if ok or todo is not None:
            passed.append(n)
            made, source = made_by(words) if ok and want == "0" else (None, None)
            if made:
                came_from = under(source, tracked) if source else None
                if came_from:
                    tracked[made] = tracked[came_from]  # a symlink to (or the new name of) a never-made name
                else:
                    tracked.pop(made, None)
            previous_out = False
            continue
        hits = {t for t in (under(name, tracked) for name in names) if t}
        # (a folder whose emptiness a never-made name in it was to decide)
        parents = {t for t in tracked for name in names if t.startswith(name + "/")} if re.search(
            r"ENOTEMPTY|EEXIST", want) else set()
        if words and words[0] in UNSUPPORTED:
            made = words[2] if words[0] == "link" and len(words) > 2 else (words[1] if len(words) > 1 else "")
            tracked[os.path.normpath(made)] = n
            out.append((n, f"needs {UNSUPPORTED[words[0]]} ({cmd})"))
            previous_out = True
        elif hits or parents:
            first = min(tracked[t] for t in hits | parents)
            if hits or got == "0":
                # What the others were to become follows from it too (and a command that was to
                # fail and did not changed them unexpectedly: a rename onto a folder left empty).
                for name in names:
                    tracked.setdefault(name, first)
            out.append((n, f"follows from case {first} in the same loop: it names what that case never made ({cmd})"))
            previous_out = True
        elif not cmd and previous_out:
            out.append((n, "follows from the case before it (a check of what that case never made)"))
        else:
            real.append((n, cmd or "(a check of the case before)", want, got))
            previous_out = False
    return passed, out, real


def report_passes(suite):
    """Makes the built copy's expect() name the command of a passing case too ("ok N - tried
    '...'"), as it does for a failing one, so that what follows from a refusal can be told. Only
    the TAP line's description changes (in build-test's extracted copy, not the vendored archive)."""
    path = os.path.join(suite, "tests", "misc.sh")
    with open(path) as f:
        text = f.read()
    start = text.index("expect()")
    body_end = text.index("\n}\n", start)
    body = text[start:body_end]
    patched = body.replace('echo "ok ${ntest}"', "echo \"ok ${ntest} - tried '$*', expected ${e}\"", 1)
    if patched != body:
        with open(path, "w") as f:
            f.write(text[:start] + patched + text[body_end:])


def run_file(path, folder, timeout):
    """The planned number of cases and the TAP output of one test file."""
    # Its own session: a timeout kills the test script and everything it started.
    proc = subprocess.Popen(["prove", "-v", path], cwd=folder, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        out += "\n# timed out\n"
    m = re.search(r"^1\.\.(\d+)", out, re.M)
    return (int(m.group(1)) if m else 0), out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--suite", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--gate", type=float, default=0.0)
    ap.add_argument("--timeout", type=int, default=300)
    ap.add_argument("groups", nargs="*")
    args = ap.parse_args()
    args.suite = os.path.abspath(args.suite)
    report_passes(args.suite)
    groups = args.groups or [f"{g}/{n}" for g, n in DEFAULT_GROUPS.items()]
    total = passed = counted_out = 0
    for path in test_files(args.suite, groups):
        rel = os.path.relpath(path, os.path.join(args.suite, "tests"))
        planned, tap = run_file(path, args.dir, args.timeout)
        cases = parse_tap(tap)
        for n in range(1, planned + 1):
            # a case that never reported (the file stopped) failed
            cases.setdefault(n, (False, "(no result: the file stopped or timed out)", "", "", None))
        ok, out, real = classify(cases)
        total += len(cases) - len(out)
        passed += len(ok)
        counted_out += len(out)
        for n, why in out:
            print(f"counted out {rel} {n}: {why}")
        for n, cmd, want, got in sorted(real):
            print(f"FAILED {rel} {n}: {cmd}" + (f" (expected {want}, got {got})" if want else ""))
        todo = [n for n in ok if cases[n][4] is not None]
        for n in todo:
            print(f"TODO {rel} {n}: pjdfstest's own TODO ({cases[n][4]}): counted as TAP counts it, passing")
        print(f"# {rel}: {len(ok)}/{len(cases) - len(out)} pass, {len(out)} counted out", flush=True)
    figure = 100.0 * passed / total if total else 0.0
    print(f"pjdfstest: {passed} of {total} cases pass ({figure:.1f}%), {counted_out} counted out "
          f"(fifos, sockets, device nodes, hard links)")
    if figure < args.gate:
        print(f"pjdfstest: under the gate of {args.gate:.1f}%")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
