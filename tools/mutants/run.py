#!/usr/bin/env python3
"""Mutation runner: applies each mutant of tools/mutants/mutants.txt to a
scratch copy of the tree, rebuilds only the targets it names (ccache), runs
the tests that should kill it, reverts, and prints killed/survived.

Usage: tools/mutants/run.py [--quick] [--list] [--check TREE] [--scratch DIR]
                            [NAME ...]
Exit status: 0 every selected mutant killed; 1 a mutant survived, did not
apply (snippet not found exactly once), did not compile, or a test failed
on the unmutated tree (baseline); 2 bad command line or mutant list.
"""

import argparse
import glob
import os
import re
import shlex
import shutil
import subprocess
import sys
import time

ROOT = os.path.realpath(os.path.join(os.path.dirname(__file__), "..", ".."))
LIST = os.path.join(ROOT, "tools", "mutants", "mutants.txt")


class Mutant:
    def __init__(self, name, line):
        self.name = name
        self.line = line  # where it starts in mutants.txt, for messages
        self.files = ""
        self.build = []
        self.tests = []  # killed when any of them fails
        self.timeout = 120
        self.quick = False
        self.rule = ""
        self.find = None
        self.replace = None


def parse(path):
    """The list: `[name]`, `key: value` lines, then `<<<` find `===` replace `>>>`."""
    mutants, cur, block, buf = [], None, None, []
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    for no, raw in enumerate(lines, 1):
        if block is not None:
            if raw == "===" and block == "find":
                cur.find, buf, block = "\n".join(buf), [], "replace"
            elif raw == ">>>" and block == "replace":
                cur.replace, buf, block = "\n".join(buf), [], None
            elif raw in ("<<<", "===", ">>>") or re.fullmatch(r"\[[A-Za-z0-9_.-]+\]", raw):
                # a lost marker (a merge) would swallow the entries after it
                sys.exit(f"{path}:{no}: {raw!r} inside [{cur.name}]'s {block} block:"
                         " a '===' or '>>>' is missing above")
            else:
                buf.append(raw)
            continue
        s = raw.strip()
        if not s or s.startswith("#"):
            continue
        m = re.fullmatch(r"\[([A-Za-z0-9_.-]+)\]", s)
        if m:
            cur = Mutant(m.group(1), no)
            mutants.append(cur)
            continue
        if cur is None:
            sys.exit(f"{path}:{no}: expected [name] first")
        if s == "<<<":
            block, buf = "find", []
            continue
        key, sep, val = s.partition(":")
        if not sep:
            sys.exit(f"{path}:{no}: expected 'key: value', got {s!r}")
        key, val = key.strip(), val.strip()
        if key == "files":
            cur.files = val
        elif key == "build":
            cur.build = val.split()
        elif key == "test":
            cur.tests.append(val)
        elif key == "timeout":
            cur.timeout = int(val)
        elif key == "quick":
            cur.quick = val == "yes"
        elif key == "rule":
            cur.rule = val
        else:
            sys.exit(f"{path}:{no}: unknown key {key!r}")
    if block is not None:
        sys.exit(f"{path}: unterminated snippet of mutant {cur.name}")
    names = set()
    for m in mutants:
        if m.name in names:
            sys.exit(f"{path}:{m.line}: mutant {m.name} defined twice")
        names.add(m.name)
        if not m.files or not m.build or not m.tests or not m.find:
            sys.exit(f"{path}:{m.line}: mutant {m.name}: needs files, build, "
                     "test and a non-empty find snippet")
    return mutants


def sh(cmd, cwd, timeout=None, log=None):
    """Runs cmd; returns (exit code or None on timeout, seconds, output)."""
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout,
                           start_new_session=True)
        rc, out = p.returncode, p.stdout.decode("utf-8", "replace")
    except subprocess.TimeoutExpired as e:
        rc, out = None, (e.stdout or b"").decode("utf-8", "replace")
    if log:
        with open(log, "a", encoding="utf-8") as f:
            f.write(f"$ {' '.join(cmd)}\n{out}\n")
    return rc, time.monotonic() - t0, out


def locate(tree, m):
    """The one file holding m.find exactly once, or an error message."""
    hits = []
    for pattern in m.files.split():
        for path in sorted(glob.glob(os.path.join(tree, pattern))):
            with open(path, encoding="utf-8") as f:
                n = f.read().count(m.find)
            if n:
                hits.append((path, n))
    total = sum(n for _, n in hits)
    if total == 0:
        return None, f"mutant {m.name}: snippet not found in {m.files}"
    if total > 1:
        where = ", ".join(f"{os.path.relpath(p, tree)} x{n}" for p, n in hits)
        return None, (f"mutant {m.name}: snippet found {total} times "
                      f"({where}), must be exactly once")
    return hits[0][0], None


SKIP_DIRS = {".git", "data", "out", "logs"}


def skipped(name):
    return name in SKIP_DIRS or name == "build" or name.startswith("build-")


def sync_tree(src, dst):
    """Makes dst's files those of src (build folders and .git left out).
    Only a file whose content differs is written, and it gets a fresh
    mtime, so make rebuilds exactly what changed since the last run (a
    mutant left behind by a killed run included)."""
    seen = set()
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames[:] = [d for d in dirnames if not skipped(d)]
        rel = os.path.relpath(dirpath, src)
        os.makedirs(os.path.join(dst, rel), exist_ok=True)
        for f in filenames:
            r = os.path.normpath(os.path.join(rel, f))
            seen.add(r)
            a, b = os.path.join(src, r), os.path.join(dst, r)
            if os.path.islink(a):
                continue
            with open(a, "rb") as fa:
                data = fa.read()
            try:
                with open(b, "rb") as fb:
                    same = fb.read() == data
            except OSError:
                same = False
            if not same:
                with open(b, "wb") as fb:
                    fb.write(data)
                shutil.copymode(a, b)
    for dirpath, dirnames, filenames in os.walk(dst):
        dirnames[:] = [d for d in dirnames if not skipped(d)]
        for f in filenames:
            r = os.path.normpath(os.path.relpath(os.path.join(dirpath, f), dst))
            if r not in seen:
                os.remove(os.path.join(dst, r))


def cases_run(out):
    """Test cases doctest ran, from its summary line (None if absent)."""
    m = re.findall(r"test cases:\s*(\d+)", out)
    return int(m[-1]) if m else None


def test_cmd(build_dir, test):
    argv = shlex.split(test)
    argv[0] = os.path.join(build_dir, argv[0])
    # Stop at the first failing check: a kill needs only one.
    return argv + ["--abort-after=1", "--no-colors"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("names", nargs="*", help="mutants to run (default all)")
    ap.add_argument("--quick", action="store_true",
                    help="only the mutants marked quick (CI)")
    ap.add_argument("--list", action="store_true", help="list and exit")
    ap.add_argument("--scratch", default=os.path.join(ROOT, "build-mutants"),
                    help="scratch copy of the tree (default build-mutants/)")
    ap.add_argument("--no-baseline", action="store_true",
                    help="skip running the tests on the unmutated tree")
    ap.add_argument("--table", action="store_true",
                    help="also print a markdown table of the results")
    ap.add_argument("-j", type=int, default=2, help="build jobs (default 2)")
    ap.add_argument("--check", metavar="TREE",
                    help="only check that every snippet occurs exactly once "
                         "in TREE (e.g. an exported branch); no build")
    a = ap.parse_args()

    mutants = parse(LIST)
    if a.names:
        known = {m.name for m in mutants}
        bad = [n for n in a.names if n not in known]
        if bad:
            print(f"unknown mutant(s): {', '.join(bad)}", file=sys.stderr)
            return 2
        mutants = [m for m in mutants if m.name in a.names]
    if a.quick:
        mutants = [m for m in mutants if m.quick]
    if a.check:
        bad = 0
        for m in mutants:
            _, err = locate(os.path.realpath(a.check), m)
            print(err if err else f"ok  {m.name}")
            bad += err is not None
        print(f"{len(mutants) - bad} of {len(mutants)} snippets found once")
        return 1 if bad else 0
    if a.list:
        for m in mutants:
            print(f"{m.name:32} {'quick ' if m.quick else ''}{m.rule}")
        return 0

    # A copy of the tree at the same depth as build/ below it, so ccache
    # (base_dir) shares objects with the main build. No -t: a file whose
    # content differs gets a fresh mtime, so make rebuilds it.
    tree = os.path.join(os.path.realpath(a.scratch), "tree")
    build = os.path.join(tree, "build")
    log = os.path.join(os.path.realpath(a.scratch), "log.txt")
    os.makedirs(tree, exist_ok=True)
    open(log, "w").close()
    sync_tree(ROOT, tree)
    # Tests read the Python tool's fixtures from ../shared next to the
    # checkout: give the copy the same neighbour.
    shared = os.path.join(os.path.dirname(ROOT), "shared")
    link = os.path.join(os.path.dirname(tree), "shared")
    if os.path.isdir(shared) and not os.path.lexists(link):
        os.symlink(shared, link)
    # Configure every time: a make build only learns targets added since the
    # last run (new tests) from a fresh configure, not from `--target`.
    cmd = ["cmake", "-S", tree, "-B", build, "-DCMAKE_BUILD_TYPE=RelWithDebInfo"]
    if shutil.which("ld.gold"):
        # Most mutants relink a CAF binary: gold takes under half of
        # ld.bfd's time; link flags are not in ccache's key for objects.
        cmd += [f"-DCMAKE_{k}_LINKER_FLAGS=-fuse-ld=gold"
                for k in ("EXE", "SHARED", "MODULE")]
    rc, _, out = sh(cmd, tree, log=log)
    if rc != 0:
        print(f"cmake failed:\n{out}", file=sys.stderr)
        return 1
    print(f"mutants: {len(mutants)}, scratch {tree}, log {log}", flush=True)

    results = []  # (mutant, verdict, seconds, detail)
    t_start = time.monotonic()

    def build_targets(targets, timeout=1200):
        return sh(["cmake", "--build", build, f"-j{a.j}", "--target"]
                  + sorted(set(targets)), tree, timeout=timeout, log=log)

    # Unmutated build and baseline: a test that fails on the real code
    # would "kill" every mutant.
    rc, secs, out = build_targets([t for m in mutants for t in m.build])
    if rc != 0:
        print(out[-3000:])
        print("build of the unmutated tree failed", file=sys.stderr)
        return 1
    print(f"unmutated build: {secs:.0f} s", flush=True)
    baseline_bad = set()
    if not a.no_baseline:
        for cmd in sorted({t for m in mutants for t in m.tests}):
            limit = max(m.timeout for m in mutants if cmd in m.tests)
            rc, secs, out = sh(test_cmd(build, cmd), build, limit, log)
            n = cases_run(out)
            state = "ok" if rc == 0 and n else "FAILS"
            if rc == 0 and not n:
                state = "EMPTY"  # the filter matches no test case
            print(f"baseline {state:5} {secs:5.1f} s  {n} case(s)  {cmd}",
                  flush=True)
            if state != "ok":
                baseline_bad.add(cmd)
                print(out[-2000:])

    for m in mutants:
        bad = [t for t in m.tests if t in baseline_bad]
        if bad:
            results.append((m, "baseline-fails", 0, bad[0]))
            continue
        path, err = locate(tree, m)
        if err:
            print(err, flush=True)
            results.append((m, "not-applied", 0, err))
            continue
        with open(path, encoding="utf-8") as f:
            orig = f.read()
        t0 = time.monotonic()
        try:
            with open(path, "w", encoding="utf-8") as f:
                f.write(orig.replace(m.find, m.replace, 1))
            rc, _, out = build_targets(m.build)
            if rc != 0:
                verdict, detail = "no-compile", out[-1500:]
            else:
                verdict, detail = "survived", ""
                for test in m.tests:  # stop at the first that kills it
                    rc, _, out = sh(test_cmd(build, test), build, m.timeout,
                                    log)
                    if rc == 0 and not cases_run(out):
                        verdict, detail = "no-test", f"{test}: no test case ran"
                        break
                    if rc is None:
                        verdict, detail = "killed", f"timeout {m.timeout} s"
                    elif rc != 0:
                        failed = [l for l in out.splitlines()
                                  if "ERROR:" in l or "FATAL" in l]
                        verdict = "killed"
                        detail = failed[0].strip() if failed else f"exit {rc}"
                    if verdict == "killed":
                        detail = f"{test.split()[0]}: {detail}"
                        break
        finally:
            with open(path, "w", encoding="utf-8") as f:
                f.write(orig)  # fresh mtime: the next build recompiles it
        secs = time.monotonic() - t0
        results.append((m, verdict, secs, detail))
        print(f"{verdict:12} {secs:5.0f} s  {m.name}  {detail[:150]}",
              flush=True)

    killed = sum(1 for r in results if r[1] == "killed")
    survived = sum(1 for r in results if r[1] == "survived")
    others = len(results) - killed - survived
    if a.table:
        print("\n| mutant | rule | killed by | verdict | s |")
        print("|---|---|---|---|---|")
        for m, v, secs, _ in results:
            tests = "<br>".join(f"`{t}`" for t in m.tests)
            print(f"| `{m.name}` | {m.rule} | {tests} | {v} | {secs:.0f} |")
    total = time.monotonic() - t_start
    print(f"\n{killed} killed, {survived} survived, {others} not run "
          f"(snippet not found, no compile, or baseline failing) "
          f"in {total:.0f} s")
    return 0 if killed == len(mutants) else 1


if __name__ == "__main__":
    sys.exit(main())
