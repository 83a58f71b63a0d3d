#!/usr/bin/python3
"""Figures of tools/bench/adaptive.sh from the simulator's request log.

  adaptive_log.py window LOG FIRST LAST FROM_FRAC TO_FRAC
      Lines FIRST..LAST (1-based, inclusive) of LOG are one run. Over the
      part of the run between FROM_FRAC and TO_FRAC of its time span (by
      answer time), prints: completion tokens/s, p50 ms (server side,
      arrival to answer, 200s only) and overload answers.
  adaptive_log.py phases LOG FIRST LAST SIM_START_S CHANGES BEST...
      CHANGES: "20,40" (seconds since the simulator started); BEST: the best
      fixed tokens/s of each phase after a change. Prints per change: the
      seconds until a 2 s rolling throughput is within 10 % of BEST, and the
      mean throughput and p50 from 10 s after the change to the next one.
"""
import json
import sys


def load(path, first, last):
    out = []
    with open(path) as f:
        for i, line in enumerate(f, 1):
            if i < first:
                continue
            if i > last:
                break
            out.append(json.loads(line))
    return out


def p50(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2] if xs else 0.0


def stats(rows, t0, t1):
    ok = [r for r in rows if r["status"] == 200 and t0 <= r["end_us"] / 1e6 < t1]
    tok = sum(r["completion_tokens"] for r in ok)
    lat = [(r["end_us"] - r["t_us"]) / 1000.0 for r in ok]
    over = sum(1 for r in rows if r["fault"] == "overload" and t0 <= r["t_us"] / 1e6 < t1)
    return tok / max(t1 - t0, 1e-9), p50(lat), over


def window(args):
    path, first, last, a, b = args[0], int(args[1]), int(args[2]), float(args[3]), float(args[4])
    rows = load(path, first, last)
    ends = [r["end_us"] / 1e6 for r in rows]
    lo, hi = min(r["t_us"] / 1e6 for r in rows), max(ends)
    tps, lat, over = stats(rows, lo + a * (hi - lo), lo + b * (hi - lo))
    print(f"{tps:.0f} {lat:.1f} {over}")


def phases(args):
    path, first, last, start = args[0], int(args[1]), int(args[2]), float(args[3])
    changes = [float(x) for x in args[4].split(",")]
    best = [float(x) for x in args[5:]]
    rows = load(path, first, last)
    end = max(r["end_us"] / 1e6 for r in rows)
    for k, c in enumerate(changes):
        t_change = start + c
        t_next = start + changes[k + 1] if k + 1 < len(changes) else end
        back = None
        t = t_change
        while t + 2 <= t_next:
            tps, _, _ = stats(rows, t, t + 2)
            if tps >= 0.9 * best[k]:
                back = t + 2 - t_change
                break
            t += 0.25
        tps, lat, over = stats(rows, min(t_change + 10, t_next - 1), t_next)
        back_s = f"{back:.1f}" if back is not None else "never"
        print(f"{c:g} {back_s} {tps:.0f} {lat:.1f} {over}")


if __name__ == "__main__":
    {"window": window, "phases": phases}[sys.argv[1]](sys.argv[2:])
