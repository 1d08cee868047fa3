"""Embedded start-up time with and without the resource module; prints JSON.

``python bench/resource_start.py [--size N] [--runs N] [--quick]``.  Reports the median
and p99 time for ``fluxlab.start(size=N)`` to return (rank 0 in RUN), and
how long after that ``resource.status`` (which waits for R) is answered.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _util import stats_us

import fluxlab
from fluxlab.broker.config import DEFAULT_MODULES


def _measure(size: int, runs: int, modules: list) -> dict:
    fluxlab.start(size=1, modules=modules).stop()  # imports and discovery cache
    starts, ready = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        inst = fluxlab.start(size=size, modules=modules)
        t1 = time.perf_counter()
        if any(m[0] == "resource" for m in modules):
            inst.handle().rpc("resource.status", nodeid=0).get(timeout=30)
            ready.append(time.perf_counter() - t1)
        starts.append(t1 - t0)
        inst.stop()
    out = {"start": stats_us(starts)}
    if ready:
        out["R_ready_after_start"] = stats_us(ready)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--size", type=int, default=4)
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--quick", action="store_true", help="3 runs")
    args = p.parse_args()
    if args.quick:
        args.runs = 3
    without = [m for m in DEFAULT_MODULES if m[0] != "resource"]
    result = {
        "size": args.size,
        "runs": args.runs,
        "with_resource": _measure(args.size, args.runs, list(DEFAULT_MODULES)),
        "without_resource": _measure(args.size, args.runs, without),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
