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
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
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
    ap.add_argument("-j", type=int, default=2,
                    help="build jobs in all (default 2), shared by the workers")
    ap.add_argument("--workers", type=int, default=1,
                    help="mutants built and tested at once, each in its own "
                         "scratch tree (default 1)")
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

    scratch = os.path.realpath(a.scratch)
    log = os.path.join(scratch, "log.txt")
    os.makedirs(scratch, exist_ok=True)
    open(log, "w").close()
    # Tests read the Python tool's fixtures from ../shared next to the
    # checkout: give the copies the same neighbour.
    shared = os.path.join(os.path.dirname(ROOT), "shared")
    link = os.path.join(scratch, "shared")
    if os.path.isdir(shared) and not os.path.lexists(link):
        os.symlink(shared, link)
    workers = max(1, min(a.workers, len(mutants)))
    jobs = max(1, a.j // workers)
    # Copies of the tree at the same depth as build/ below it, so ccache
    # (base_dir) shares objects with the main build; one per worker, since
    # a mutant's binaries must not be rebuilt under another's tests.
    trees = [os.path.join(scratch, "tree" if i == 0 else f"tree{i + 1}")
             for i in range(workers)]
    all_targets = [t for m in mutants for t in m.build]
    lock = threading.Lock()

    def say(text):
        with lock:
            print(text, flush=True)

    def build_targets(tree, targets, timeout=1200):
        return sh(["cmake", "--build", os.path.join(tree, "build"), f"-j{jobs}",
                   "--target"] + sorted(set(targets)), tree, timeout=timeout,
                  log=log)

    def prepare(tree):
        """Syncs, configures and builds tree unmutated; None or an error."""
        os.makedirs(tree, exist_ok=True)
        sync_tree(ROOT, tree)
        # Configure every time: a make build only learns targets added
        # since the last run (new tests) from a fresh configure.
        cmd = ["cmake", "-S", tree, "-B", os.path.join(tree, "build"),
               "-DCMAKE_BUILD_TYPE=RelWithDebInfo"]
        if shutil.which("ld.gold"):
            # gold links a CAF binary in less than half of ld.bfd's time;
            # link flags are not part of ccache's key for the objects.
            cmd += [f"-DCMAKE_{k}_LINKER_FLAGS=-fuse-ld=gold"
                    for k in ("EXE", "SHARED", "MODULE")]
        rc, _, out = sh(cmd, tree, log=log)
        if rc != 0:
            return f"cmake failed in {tree}:\n{out[-3000:]}"
        rc, secs, out = build_targets(tree, all_targets)
        if rc != 0:
            return f"{out[-3000:]}\nbuild of the unmutated tree {tree} failed"
        say(f"unmutated build of {os.path.basename(tree)}: {secs:.0f} s")
        return None

    print(f"mutants: {len(mutants)}, {workers} worker(s), scratch {scratch}, "
          f"log {log}", flush=True)
    t_start = time.monotonic()
    errors = [None] * workers
    threads = [threading.Thread(target=lambda i=i: errors.__setitem__(
        i, prepare(trees[i]))) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if any(errors):
        print("\n".join(e for e in errors if e), file=sys.stderr)
        return 1

    # Baseline: a test that fails on the real code would "kill" every
    # mutant. With several workers each tree runs every test at the same
    # time as the others, so a test only counts as sound if it passes under
    # the load the mutants will see.
    baseline_bad = set()
    if not a.no_baseline:
        cmds = sorted({t for m in mutants for t in m.tests})

        def baseline(tree):
            build = os.path.join(tree, "build")
            for cmd in cmds:
                limit = max(m.timeout for m in mutants if cmd in m.tests)
                rc, secs, out = sh(test_cmd(build, cmd), build, limit, log)
                n = cases_run(out)
                state = "ok" if rc == 0 and n else "FAILS"
                if rc == 0 and not n:
                    state = "EMPTY"  # the filter matches no test case
                say(f"baseline {state:5} {secs:5.1f} s  {n} case(s)  {cmd}"
                    + (f"  ({os.path.basename(tree)})" if workers > 1 else ""))
                if state != "ok":
                    with lock:
                        baseline_bad.add(cmd)
                        print(out[-2000:])

        threads = [threading.Thread(target=baseline, args=(t,)) for t in trees]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    results = {}  # mutant name -> (verdict, seconds, detail)

    def run_one(tree, m):
        build = os.path.join(tree, "build")
        bad = [t for t in m.tests if t in baseline_bad]
        if bad:
            return "baseline-fails", 0, bad[0]
        path, err = locate(tree, m)
        if err:
            return "not-applied", 0, err
        with open(path, encoding="utf-8") as f:
            orig = f.read()
        t0 = time.monotonic()
        try:
            with open(path, "w", encoding="utf-8") as f:
                f.write(orig.replace(m.find, m.replace, 1))
            rc, _, out = build_targets(tree, m.build)
            if rc != 0:
                return "no-compile", time.monotonic() - t0, out[-1500:]
            verdict, detail = "survived", ""
            for test in m.tests:  # stop at the first that kills it
                rc, _, out = sh(test_cmd(build, test), build, m.timeout, log)
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
            return verdict, time.monotonic() - t0, detail
        finally:
            with open(path, "w", encoding="utf-8") as f:
                f.write(orig)  # fresh mtime: the next build recompiles it

    # Longest first (times of the last run; unknown ones count as long), so
    # no worker is left with a long mutant at the end while the others idle.
    times_file = os.path.join(scratch, "times.json")
    try:
        with open(times_file, encoding="utf-8") as f:
            last = json.load(f)
    except (OSError, ValueError):
        last = {}
    queue = list(mutants)
    if workers > 1:
        queue.sort(key=lambda m: -float(last.get(m.name, 1e9)))
    queue.reverse()  # pop() takes from the end

    def worker(tree):
        while True:
            with lock:
                if not queue:
                    return
                m = queue.pop()
            verdict, secs, detail = run_one(tree, m)
            with lock:
                results[m.name] = (verdict, secs, detail)
                print(f"{verdict:12} {secs:5.0f} s  {m.name}  {detail[:150]}",
                      flush=True)

    threads = [threading.Thread(target=worker, args=(t,)) for t in trees]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results = [(m,) + results[m.name] for m in mutants]
    last.update({m.name: round(secs, 1) for m, v, secs, _ in results
                 if v in ("killed", "survived")})
    with open(times_file, "w", encoding="utf-8") as f:
        json.dump(last, f, indent=0, sort_keys=True)

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
