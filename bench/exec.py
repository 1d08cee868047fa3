"""Execution service throughput and latency (job-exec + exec, no job manager).

Prints JSON.  Plays the job manager's part of RFC 32 against an embedded
instance (kvs, job-exec, exec):

* ``simulated``: N jobs with ``attributes.system.exec.test.run_duration``
  started at once; jobs/s from the first request to the last final
  release, and how many ``kvs.commit`` requests job-exec needed for them;
* ``real_latency``: start-to-release time of a one-task ``true`` job
  (median, p99);
* ``real_concurrent``: N one-task ``true`` jobs at once, jobs/s;
* ``pipeline_simulated``: N simulated jobs bulk-submitted through job-ingest,
  job-manager and sched-simple, timed until job-exec sent the final release
  of the last one (job-exec's view of the end; the job manager's own
  clean-up after that is not included).

Usage: ``python bench/exec.py [--quick]``
"""

from __future__ import annotations

import argparse
import json
import sys
import time

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _util import stats_us

import fluxlab
from fluxlab._proto import FLAG_STREAMING
from fluxlab.job.jobspec import JobspecV1
from fluxlab.resource.rv1 import ResourceSet

MODULES = [("kvs", "0", []), ("job-exec", "0", []), ("exec", "all", [])]
PIPELINE = [
    ("kvs", "0", []),
    ("resource", "all", ["cores=64"]),
    ("job-ingest", "0", []),
    ("job-manager", "0", []),
    ("sched-simple", "0", []),
    ("job-exec", "0", []),
    ("exec", "all", []),
]


def drain(fut) -> None:
    """Read a ``job-exec.start`` stream to its end: the final ``release`` (RFC 32)."""
    while True:
        resp = fut.get(60)
        if resp.get("type") == "release" and resp.get("data", {}).get("final"):
            return
        fut.reset()


def start(h, jobid: int, js: dict, R: dict):
    payload = {"id": jobid, "userid": 0, "jobspec": js, "R": R}
    return h.rpc("job-exec.start", payload, flags=FLAG_STREAMING)


def simulated(h, n: int, R: dict) -> dict:
    js = JobspecV1.from_command(["true"], environment={}).jobspec
    js["attributes"]["system"]["exec"] = {"test": {"run_duration": "0.01s"}}
    before = h.rpc("job-exec.stats").get()["kvs-commits"]
    t = time.perf_counter()
    futs = [start(h, 1_000_000 + i, js, R) for i in range(n)]
    for f in futs:
        drain(f)
    elapsed = time.perf_counter() - t
    commits = h.rpc("job-exec.stats").get()["kvs-commits"] - before
    return {"jobs": n, "jobs_per_s": round(n / elapsed), "kvs_commits": commits}


def real_latency(h, n: int, R: dict) -> dict:
    js = JobspecV1.from_command(["true"], environment={"PATH": "/usr/bin:/bin"}).jobspec
    samples = []
    for i in range(n):
        t = time.perf_counter()
        drain(start(h, 2_000_000 + i, js, R))
        samples.append(time.perf_counter() - t)
    return stats_us(samples)


def real_concurrent(h, n: int, R: dict) -> dict:
    js = JobspecV1.from_command(["true"], environment={"PATH": "/usr/bin:/bin"}).jobspec
    t = time.perf_counter()
    futs = [start(h, 3_000_000 + i, js, R) for i in range(n)]
    for f in futs:
        drain(f)
    return {"jobs": n, "jobs_per_s": round(n / (time.perf_counter() - t), 1)}


def pipeline_simulated(n: int) -> dict:
    from fluxlab.job.submit import submit_bulk_async

    js = JobspecV1.from_command(["true"], environment={})
    js.setattr("system.exec.test.run_duration", "0.001s")
    spec = js.dumps()
    with fluxlab.start(size=1, modules=PIPELINE) as inst:
        h = inst.handle()
        t = time.perf_counter()
        futs = [submit_bulk_async(h, [spec] * min(1000, n - i)) for i in range(0, n, 1000)]
        for f in futs:
            f.get(60)
        while h.rpc("job-exec.stats").get()["finished"] < n:
            time.sleep(0.01)
        elapsed = time.perf_counter() - t
        h.close()
    return {"jobs": n, "jobs_per_s": round(n / elapsed)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer jobs")
    args = ap.parse_args()
    n_sim, n_lat, n_conc = (500, 10, 10) if args.quick else (3000, 50, 50)
    R = ResourceSet.from_nodes([(0, None, 1, 0)]).to_dict()
    with fluxlab.start(size=1, modules=MODULES) as inst:
        h = inst.handle()
        result = {
            "simulated": simulated(h, n_sim, R),
            "real_latency": real_latency(h, n_lat, R),
            "real_concurrent": real_concurrent(h, n_conc, R),
        }
        h.close()
    result["pipeline_simulated"] = pipeline_simulated(n_sim)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
