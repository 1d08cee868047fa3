"""RPC latency and throughput, and instance start-up time.

Prints JSON.  Measures, for an embedded instance (brokers in this process)
and a local-process instance (``fluxlab start``-style):

* round-trip latency (median, p99) of ``broker.ping`` to rank 0 and to a leaf
  of a depth-3 tree (15 ranks, fanout 2, leaf = rank 14);
* pipelined RPCs/s (N requests in flight, then all responses collected);
* for the process instance, both ipc client connectors: the default ZMTP one
  (``process``) and the pyzmq DEALER (``process_pyzmq``);
* start-up time for sizes 1, 4, 16 (embedded) and of
  ``fluxlab start --test-size=N true`` for 1, 8 (processes).

Usage: ``python bench/rpc.py [--quick]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _util import stats_us

import fluxlab
from fluxlab.instance.local import LocalInstance


def latency(h, rank: int, n: int) -> dict:
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        h.rpc("broker.ping", nodeid=rank).get()
        samples.append(time.perf_counter() - t)
    return stats_us(samples)


def pipelined(h, rank: int, n: int, repeat: int = 3) -> float:
    best = 0.0
    for _ in range(repeat):
        t = time.perf_counter()
        futs = [h.rpc("broker.ping", nodeid=rank) for _ in range(n)]
        for f in futs:
            f.get()
        best = max(best, n / (time.perf_counter() - t))
    return round(best)


def measure(h, n_lat: int, n_pipe: int) -> dict:
    h.rpc("broker.ping", nodeid=14).get()  # warm up routes
    return {
        "rank0": {"latency": latency(h, 0, n_lat), "pipelined_rps": pipelined(h, 0, n_pipe)},
        "leaf_rank14_depth3": {
            "latency": latency(h, 14, n_lat),
            "pipelined_rps": pipelined(h, 14, n_pipe),
        },
    }


def start_times(quick: bool) -> dict:
    out = {"embedded_s": {}, "process_true_s": {}}
    for size in (1, 4, 16):
        best = 1e9
        for _ in range(2 if quick else 5):
            t = time.perf_counter()
            inst = fluxlab.start(size=size)
            best = min(best, time.perf_counter() - t)
            inst.stop()
        out["embedded_s"][str(size)] = round(best, 3)
    for size in (1, 8):
        best = 1e9
        for _ in range(2 if quick else 3):
            t = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "fluxlab", "start", f"--test-size={size}", "true"],
                check=True,
            )
            best = min(best, time.perf_counter() - t)
        out["process_true_s"][str(size)] = round(best, 3)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer samples (CI smoke run)")
    args = ap.parse_args()
    n_lat, n_pipe = (300, 3000) if args.quick else (3000, 20000)
    result = {"benchmark": "rpc"}
    with fluxlab.start(size=15, fanout=2) as inst:
        h = inst.handle()
        result["embedded"] = measure(h, n_lat, n_pipe)
        h.close()
    with LocalInstance(15, fanout=2) as inst:
        # "process": the default ipc client (ZMTP over a UNIX socket, no pyzmq);
        # "process_pyzmq": the same through a pyzmq DEALER (FLUXLAB_CONNECTOR=zmq)
        for key, choice in (("process", "zmtp"), ("process_pyzmq", "zmq")):
            saved = os.environ.get("FLUXLAB_CONNECTOR")
            os.environ["FLUXLAB_CONNECTOR"] = choice
            try:
                h = fluxlab.Flux(inst.uri)
            finally:
                if saved is None:
                    del os.environ["FLUXLAB_CONNECTOR"]
                else:
                    os.environ["FLUXLAB_CONNECTOR"] = saved
            result[key] = measure(h, n_lat, n_pipe)
            h.close()
    result["start"] = start_times(args.quick)
    result["targets"] = {
        "embedded_size4_start_s": 0.3,
        "process_size8_true_s": 1.5,
        "embedded_rank0_pipelined_rps": 20000,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
