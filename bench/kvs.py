"""KVS service throughput: commits/s and lookups/s through a real instance.

Prints JSON.  Measures small-value commits (one ``put`` per commit) issued
pipelined (many in flight, merged by the service) and sequentially
(each waited for), and lookups of existing keys, from a client of an embedded
instance and of a local-process instance.

Usage: ``python bench/kvs.py [--quick]``
"""

from __future__ import annotations

import argparse
import json
import time

import fluxlab
from fluxlab.instance.local import LocalInstance


def measure(h, n: int) -> dict:
    t = time.perf_counter()
    futs = [
        h.rpc("kvs.commit", {"ops": [{"op": "put", "key": f"b.p{i}", "data": "1"}]})
        for i in range(n)
    ]
    for f in futs:
        f.get()
    pipelined = n / (time.perf_counter() - t)
    m = max(n // 4, 100)
    t = time.perf_counter()
    for i in range(m):
        h.rpc("kvs.commit", {"ops": [{"op": "put", "key": f"b.s{i}", "data": "1"}]}).get()
    sequential = m / (time.perf_counter() - t)
    t = time.perf_counter()
    futs = [h.rpc("kvs.lookup", {"key": f"b.p{i}"}) for i in range(n)]
    for f in futs:
        f.get()
    lookups = n / (time.perf_counter() - t)
    return {
        "commits_per_s_pipelined": round(pipelined),
        "commits_per_s_sequential": round(sequential),
        "lookups_per_s_pipelined": round(lookups),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n = 2000 if args.quick else 20000
    out = {"benchmark": "kvs", "n": n}
    with fluxlab.start(size=1) as inst:
        h = inst.handle()
        out["embedded"] = measure(h, n)
        h.close()
    with LocalInstance(1) as inst:
        h = fluxlab.Flux(inst.uri)
        out["process"] = measure(h, n)
        h.close()
    out["target_commits_per_s"] = 5000
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
