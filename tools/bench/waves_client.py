#!/usr/bin/python3
"""The Python tool's way of sending, for tools/bench/adaptive.sh.

Waves of IN_FLIGHT requests (n=1, free text: no stop strings, max_tokens
64), each wave gathered (waiting for its slowest) before the next, over one
aiohttp session, as the upstream tool does. Prints one JSON line: requests,
ok, wall_s, cps (completions per second).

Usage: waves_client.py URL IN_FLIGHT REQUESTS   (URL = http://127.0.0.1:PORT)
Needs Debian's python3-aiohttp (run with /usr/bin/python3).
"""
import asyncio
import json
import sys
import time

import aiohttp


async def main(url: str, in_flight: int, requests: int) -> dict:
    body = {"model": "sim-coder", "prompt": "This is an algorithm function.\n\ndef ",
            "n": 1, "max_tokens": 64, "temperature": 0.8, "top_p": 0.95}
    ok = 0
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(timeout=timeout) as session:

        async def one() -> None:
            nonlocal ok
            async with session.post(url + "/v1/completions", json=body) as r:
                data = await r.json()
                if r.status == 200 and data.get("choices"):
                    ok += 1

        t0 = time.perf_counter()
        left = requests
        while left > 0:
            wave = min(in_flight, left)
            await asyncio.gather(*(one() for _ in range(wave)))
            left -= wave
        wall = time.perf_counter() - t0
    return {"requests": requests, "ok": ok, "wall_s": round(wall, 3),
            "cps": round(ok / wall, 1)}


if __name__ == "__main__":
    u, p, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    print(json.dumps(asyncio.run(main(u, p, n))))
