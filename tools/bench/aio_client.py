#!/usr/bin/python3
"""The Python asyncio reference client for tools/bench/server_threads.sh.

What a Python user writes: one aiohttp session (default connector), an
asyncio.Semaphore of IN_FLIGHT, asyncio.gather over REQUESTS POSTs of an
l2r completion with n=1. Prints one JSON line: requests, ok, wall_s, rps,
p50_ms, p99_ms.

Usage: aio_client.py URL IN_FLIGHT REQUESTS   (URL = http://127.0.0.1:PORT)
Needs Debian's python3-aiohttp (run with /usr/bin/python3).
"""
import asyncio
import json
import sys
import time

import aiohttp


async def main(url: str, in_flight: int, requests: int) -> dict:
    body = {"model": "sim-coder", "prompt": "This is an algorithm function.\n\ndef ",
            "n": 1, "max_tokens": 16, "temperature": 1.0, "stop": ["(", " ", "\n"]}
    sem = asyncio.Semaphore(in_flight)
    latencies = []
    ok = 0
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(timeout=timeout) as session:

        async def one() -> None:
            nonlocal ok
            async with sem:
                t0 = time.perf_counter()
                async with session.post(url + "/v1/completions", json=body) as r:
                    data = await r.json()
                    if r.status == 200 and data.get("choices"):
                        ok += 1
                latencies.append((time.perf_counter() - t0) * 1000.0)

        t0 = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(requests)))
        wall = time.perf_counter() - t0
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] if latencies else 0.0

    return {"requests": requests, "ok": ok, "wall_s": round(wall, 3), "rps": round(requests / wall, 1),
            "p50_ms": round(pct(0.50), 2), "p99_ms": round(pct(0.99), 2)}


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    print(json.dumps(asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))))
