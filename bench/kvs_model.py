"""Throughput of the pure KVS model (no broker, no sockets); prints JSON.

Measures, in this Python process:

- ``commit_single``: commits/s of one ``put`` of a short JSON value under a
  3-level key, one transaction per commit batch, for two key layouts:
  ``spread`` (``bench.d<i % 100>.k<i>``: consecutive commits hit different
  directories, which all grow past the hdir threshold) and ``grouped``
  (``bench.d<i // 1000>.k<i>``: directories fill one after another);
- ``commit_merged64``: the same puts, 64 transactions per merged batch;
- ``lookup``: ``get`` of random existing keys at the current version, and at
  an older version (through the decoded-blob cache);
- ``eventlog_append``: RFC 18 eventlog appends to 10,000 job eventlogs
  ``job.0000.0000.XXXX.XXXX.eventlog`` (RFC 16 dothex, 10,000 jobs in one
  directory), single and merged by 64;
- ``memory_100k``: traced Python memory of a model holding 100,000 keys
  committed in merged batches of 64 (spread layout), with every version
  still in history, then after ``collect_garbage(keep_versions=1)``;
- ``sqlite``: the merged-commit rate on the sqlite store.

Rates are the best of ``--repeat`` runs (the machine may be shared).

Usage: ``python bench/kvs_model.py [--quick] [--repeat N]``.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout first

from fluxlab.kvs.model import KVSModel
from fluxlab.kvs.sqlite_store import SqliteContentStore
from fluxlab.kvs.txn import Txn


def _value(i: int) -> bytes:
    return json.dumps({"id": i, "state": "R", "t": 1.5}).encode()


def _key(i: int, layout: str = "spread") -> str:
    if layout == "spread":
        return f"bench.d{i % 100:02d}.k{i:06d}"
    return f"bench.d{i // 1000:03d}.k{i:06d}"


REPEAT = 3


def best(fn) -> float:
    """Largest rate of REPEAT runs of ``fn() -> rate``."""
    return round(max(fn() for _ in range(REPEAT)))


def _commit_rate(n: int, batch: int, layout: str) -> float:
    m = KVSModel()
    txns = [Txn().put(_key(i, layout), _value(i)) for i in range(n)]
    t0 = time.perf_counter()
    if batch == 1:
        for txn in txns:
            m.commit_batch([txn])
    else:
        for i in range(0, n, batch):
            m.commit_batch(txns[i : i + batch])
    return n / (time.perf_counter() - t0)


def bench_commit_single(n: int) -> dict:
    return {
        "commits": n,
        "commits_per_s_spread": best(lambda: _commit_rate(n, 1, "spread")),
        "commits_per_s_grouped": best(lambda: _commit_rate(n, 1, "grouped")),
    }


def bench_commit_merged(n: int, batch: int = 64) -> dict:
    return {
        "commits": n,
        "batch": batch,
        "commits_per_s_spread": best(lambda: _commit_rate(n, batch, "spread")),
        "commits_per_s_grouped": best(lambda: _commit_rate(n, batch, "grouped")),
    }


def bench_lookup(nkeys: int, nlookups: int) -> dict:
    m = KVSModel()
    txns = [Txn().put(_key(i), _value(i)) for i in range(nkeys)]
    for i in range(0, nkeys, 64):
        m.commit_batch(txns[i : i + 64])
    rng = random.Random(1)
    keys = [_key(rng.randrange(nkeys)) for _ in range(nlookups)]
    old = m.version() - 10
    okeys = [_key(rng.randrange(nkeys - 10 * 64)) for _ in range(nlookups)]

    def current() -> float:
        t0 = time.perf_counter()
        for k in keys:
            m.get(k)
        return nlookups / (time.perf_counter() - t0)

    def older() -> float:
        t0 = time.perf_counter()
        for k in okeys:
            m.get(k, version=old)
        return nlookups / (time.perf_counter() - t0)

    return {
        "keys": nkeys,
        "lookups": nlookups,
        "lookups_per_s": best(current),
        "old_version_lookups_per_s": best(older),
    }


def _job_key(jobid: int) -> str:
    h = f"{jobid:016x}"
    return f"job.{h[0:4]}.{h[4:8]}.{h[8:12]}.{h[12:16]}.eventlog"


def _event(name: str, t: float) -> bytes:
    return (json.dumps({"timestamp": t, "name": name, "context": {}}) + "\n").encode()


def _append_rate(njobs: int, events: int, batch: int) -> float:
    m = KVSModel()
    keys = [_job_key(j) for j in range(1, njobs + 1)]
    for i in range(0, njobs, 64):
        m.commit_batch([Txn().append(k, _event("submit", 1.0)) for k in keys[i : i + 64]])
    names = ["validate", "depend", "priority", "alloc", "start", "finish", "clean"]
    txns = [
        Txn().append(k, _event(names[e % len(names)], 2.0 + e)) for e in range(events) for k in keys
    ]
    t0 = time.perf_counter()
    for i in range(0, len(txns), batch):
        m.commit_batch(txns[i : i + batch])
    rate = len(txns) / (time.perf_counter() - t0)
    assert m.get(keys[-1]).count(b"\n") == events + 1
    return rate


def bench_eventlog(njobs: int, events: int) -> dict:
    return {
        "jobs": njobs,
        "events_per_job": events,
        "appends_per_s_single": best(lambda: _append_rate(njobs, events, 1)),
        "appends_per_s_merged64": best(lambda: _append_rate(njobs, events, 64)),
    }


def bench_memory(nkeys: int) -> dict:
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    m = KVSModel()
    txns = [Txn().put(_key(i), _value(i)) for i in range(nkeys)]
    for i in range(0, nkeys, 64):
        m.commit_batch(txns[i : i + 64])
    del txns
    gc.collect()
    used = tracemalloc.get_traced_memory()[0] - base
    store = m.store.stats()
    removed = m.collect_garbage(keep_versions=1)
    gc.collect()
    used_gc = tracemalloc.get_traced_memory()[0] - base
    store_gc = m.store.stats()
    tracemalloc.stop()
    return {
        "keys": nkeys,
        "versions": m.version(),
        "history_kept": m.history_size,
        "traced_mib": round(used / 2**20, 1),
        "store_blobs": store["count"],
        "store_mib": round(store["bytes"] / 2**20, 1),
        "after_gc_traced_mib": round(used_gc / 2**20, 1),
        "after_gc_bytes_per_key": round(used_gc / nkeys),
        "after_gc_store_blobs": store_gc["count"],
        "after_gc_blobs_removed": removed,
    }


def _sqlite_rate(n: int, batch: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        m = KVSModel(SqliteContentStore.open_statedir(tmp))
        txns = [Txn().put(_key(i), _value(i)) for i in range(n)]
        t0 = time.perf_counter()
        for i in range(0, n, batch):
            m.commit_batch(txns[i : i + batch])
        rate = n / (time.perf_counter() - t0)
        m.close()
    return rate


def bench_sqlite(n: int) -> dict:
    return {
        "synchronous": "NORMAL",
        "commits_per_s_single": best(lambda: _sqlite_rate(n // 10, 1)),
        "commits_per_s_merged64": best(lambda: _sqlite_rate(n, 64)),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smaller sizes (smoke test)")
    p.add_argument("--repeat", type=int, default=3, help="runs per rate, best is kept")
    args = p.parse_args(argv)
    global REPEAT
    REPEAT = max(1, args.repeat)
    q = args.quick
    result = {
        "python": sys.version.split()[0],
        "repeat": REPEAT,
        "commit_single": bench_commit_single(2_000 if q else 20_000),
        "commit_merged64": bench_commit_merged(6_400 if q else 64_000),
        "lookup": bench_lookup(2_000 if q else 100_000, 5_000 if q else 100_000),
        "eventlog_append": bench_eventlog(1_000 if q else 10_000, 2 if q else 5),
        "memory_100k": bench_memory(5_000 if q else 100_000),
        "sqlite": bench_sqlite(2_000 if q else 20_000),
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
