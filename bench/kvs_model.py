"""Throughput of the pure KVS model (no broker, no sockets); prints JSON.

Measures, in this Python process:

- ``commit_single``: commits/s of one ``put`` of a short JSON value under a
  3-level key (``bench.dNN.kNNNNN``; 100 directories that grow past the hdir
  threshold), one transaction per commit batch;
- ``commit_merged64``: the same puts, 64 transactions per merged batch;
- ``lookup``: ``get`` of random existing keys at the current version, and at
  an older version (through the decoded-blob cache);
- ``eventlog_append``: RFC 18 eventlog appends to 10,000 job eventlogs
  ``job.0000.0000.XXXX.XXXX.eventlog`` (RFC 16 dothex, 10,000 jobs in one
  directory), single and merged by 64;
- ``memory_100k``: traced Python memory of a model holding 100,000 keys
  committed in merged batches, before and after garbage collection of old
  versions;
- ``sqlite``: the merged-commit rate on the sqlite store.

Usage: ``python bench/kvs_model.py [--quick]``.
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


def _key(i: int) -> str:
    return f"bench.d{i % 100:02d}.k{i:06d}"


def bench_commit_single(n: int) -> dict:
    m = KVSModel()
    txns = [Txn().put(_key(i), _value(i)) for i in range(n)]
    t0 = time.perf_counter()
    for txn in txns:
        m.commit_batch([txn])
    dt = time.perf_counter() - t0
    return {"commits": n, "seconds": round(dt, 3), "commits_per_s": round(n / dt)}


def bench_commit_merged(n: int, batch: int = 64) -> dict:
    m = KVSModel()
    txns = [Txn().put(_key(i), _value(i)) for i in range(n)]
    t0 = time.perf_counter()
    for i in range(0, n, batch):
        m.commit_batch(txns[i : i + batch])
    dt = time.perf_counter() - t0
    return {
        "commits": n,
        "batch": batch,
        "seconds": round(dt, 3),
        "commits_per_s": round(n / dt),
        "batches_per_s": round(n / batch / dt),
    }


def bench_lookup(nkeys: int, nlookups: int) -> dict:
    m = KVSModel()
    txns = [Txn().put(_key(i), _value(i)) for i in range(nkeys)]
    for i in range(0, nkeys, 64):
        m.commit_batch(txns[i : i + 64])
    rng = random.Random(1)
    keys = [_key(rng.randrange(nkeys)) for _ in range(nlookups)]
    t0 = time.perf_counter()
    for k in keys:
        m.get(k)
    dt = time.perf_counter() - t0
    old = m.version() - 10
    okeys = [_key(rng.randrange(nkeys - 10 * 64)) for _ in range(nlookups)]
    t1 = time.perf_counter()
    for k in okeys:
        m.get(k, version=old)
    dt_old = time.perf_counter() - t1
    return {
        "keys": nkeys,
        "lookups": nlookups,
        "lookups_per_s": round(nlookups / dt),
        "old_version_lookups_per_s": round(nlookups / dt_old),
    }


def _job_key(jobid: int) -> str:
    h = f"{jobid:016x}"
    return f"job.{h[0:4]}.{h[4:8]}.{h[8:12]}.{h[12:16]}.eventlog"


def _event(name: str, t: float) -> bytes:
    return (json.dumps({"timestamp": t, "name": name, "context": {}}) + "\n").encode()


def bench_eventlog(njobs: int, events: int) -> dict:
    out = {"jobs": njobs, "events_per_job": events}
    for batch in (1, 64):
        m = KVSModel()
        keys = [_job_key(j) for j in range(1, njobs + 1)]
        for i in range(0, njobs, 64):
            m.commit_batch([Txn().append(k, _event("submit", 1.0)) for k in keys[i : i + 64]])
        names = ["validate", "depend", "priority", "alloc", "start", "finish", "clean"]
        txns = [
            Txn().append(k, _event(names[e % len(names)], 2.0 + e))
            for e in range(events)
            for k in keys
        ]
        t0 = time.perf_counter()
        for i in range(0, len(txns), batch):
            m.commit_batch(txns[i : i + batch])
        dt = time.perf_counter() - t0
        label = "single" if batch == 1 else f"merged{batch}"
        out[f"appends_per_s_{label}"] = round(len(txns) / dt)
        assert m.get(keys[-1]).count(b"\n") == events + 1
    return out


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
        "traced_mib": round(used / 2**20, 1),
        "store_blobs": store["count"],
        "store_mib": round(store["bytes"] / 2**20, 1),
        "after_gc_traced_mib": round(used_gc / 2**20, 1),
        "after_gc_store_blobs": store_gc["count"],
        "after_gc_blobs_removed": removed,
    }


def bench_sqlite(n: int, batch: int = 64) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        m = KVSModel(SqliteContentStore.open_statedir(tmp))
        txns = [Txn().put(_key(i), _value(i)) for i in range(n)]
        t0 = time.perf_counter()
        for i in range(0, n, batch):
            m.commit_batch(txns[i : i + batch])
        dt = time.perf_counter() - t0
        single = [Txn().put(_key(i), _value(-i)) for i in range(n // 10)]
        t1 = time.perf_counter()
        for txn in single:
            m.commit_batch([txn])
        dt1 = time.perf_counter() - t1
        m.close()
    return {
        "commits_per_s_merged64": round(n / dt),
        "commits_per_s_single": round(len(single) / dt1),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smaller sizes (smoke test)")
    args = p.parse_args(argv)
    q = args.quick
    result = {
        "python": sys.version.split()[0],
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
