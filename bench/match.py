"""Matcher benchmark for :mod:`fluxlab.sched`: load time, memory, match rate.

Usage::

    python bench/match.py                  # full run (several minutes)
    python bench/match.py --quick          # 16 and 256 nodes, under a minute
    python bench/match.py --sizes 256,4096 --policies first --jobs core

Prints one JSON document on stdout.

What is measured
----------------
Graphs are generated (``fake_nodes``) as ``cluster -> node[N] -> core[32]``
(variant ``flat``) or ``cluster -> node[N] -> socket[2] -> core[24] +
gpu[2]`` (variant ``sockets``, 48 cores and 4 GPUs a node).

*Load*: in a fresh process, CPU seconds to build the graph and set up a
``ResourceQuery`` (pruning filters, fast-path layout), for the generator,
the equivalent GRUG GraphML recipe and the graph's JGF, plus the process's
VmRSS afterwards (``/proc/self/status``; the interpreter alone is about
17 MB; for JGF the JSON text itself is resident too).

*Match*: for each policy and job shape, a fresh session matches the job
``--matches`` times with ``allocate``.  Allocations accumulate; once the
live jobs would fill 90% of the graph, the oldest job is cancelled
(untimed) before the next match, so the graph stays busy and every match
succeeds.  Each ``ResourceQuery.match`` call (parse excluded: jobs are
parsed once, as a queue does; the result is written in ``--format``,
``simple`` like ``resource-query``) is timed with the thread's CPU clock,
which a loaded machine does not distort; wall-clock rates are reported too.
The first match of each run builds the per-request indexes and is reported
on its own (``first_match_ms``); median, p99 and ``matches_per_s`` cover
the others, ``matches_per_s_incl_first`` all of them.
Before timing, ``gc.collect()`` moves the freshly built graph out of the
young garbage-collector generations (a one-time cost a long-running
scheduler pays once; ``--gc-freeze`` also freezes it, as a service should).

Jobs: ``core`` is ``slot[1] -> core[1]`` (what ``flux run`` asks for),
``node`` is ``node[1] (exclusive) -> slot[1] -> core[1]`` and ``nodes16``
the same with ``node[16]``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections import deque

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from fluxlab.sched.context import ResourceQuery  # noqa: E402
from fluxlab.sched.export import to_jgf  # noqa: E402
from fluxlab.sched.readers.grug import make_recipe  # noqa: E402
from fluxlab.sched.readers.local import fake_nodes  # noqa: E402

VARIANTS = {
    "flat": {"cores": 32},
    "sockets": {"cores": 24, "sockets": 2, "gpus": 2},
}
POLICIES = ("first", "low", "high")
SIZES = (16, 256, 1024, 4096)
TASKS = [{"command": ["app"], "slot": "task", "count": {"per_slot": 1}}]


def _slot(with_):
    return {"type": "slot", "count": 1, "label": "task", "with": with_}


def _jobspec(resources):
    return {
        "version": 1,
        "resources": resources,
        "tasks": TASKS,
        "attributes": {"system": {"duration": 3600}},
    }


JOBS = {
    "core": _jobspec([_slot([{"type": "core", "count": 1}])]),
    "node": _jobspec(
        [
            {
                "type": "node",
                "count": 1,
                "exclusive": True,
                "with": [_slot([{"type": "core", "count": 1}])],
            }
        ]
    ),
    "nodes16": _jobspec(
        [
            {
                "type": "node",
                "count": 16,
                "exclusive": True,
                "with": [_slot([{"type": "core", "count": 1}])],
            }
        ]
    ),
}


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _recipe(variant: str, nodes: int) -> str:
    v = VARIANTS[variant]
    leaves = [("core", v["cores"], [])]
    if v.get("gpus"):
        leaves.append(("gpu", v["gpus"], []))
    if v.get("sockets"):
        leaves = [("socket", v["sockets"], leaves)]
    return make_recipe("bench", [("node", nodes, leaves)])


def _capacity(variant: str, nodes: int, job: str) -> int:
    v = VARIANTS[variant]
    if job == "core":
        return nodes * v["cores"] * max(1, v.get("sockets", 0))
    if job == "node":
        return nodes
    return nodes // 16


# -- child processes ----------------------------------------------------------------
def child_load(variant: str, nodes: int, loader: str, engine: str) -> dict:
    base = _rss_mb()
    if loader in ("grug", "jgf"):
        if loader == "grug":
            text = _recipe(variant, nodes)
        else:
            text = json.dumps(to_jgf(fake_nodes(nodes, **VARIANTS[variant])))
        base = _rss_mb()
        t0 = time.process_time()
        rq = ResourceQuery(text, load_format=loader, engine=engine)
        build = time.process_time() - t0
        init = None
    else:
        t0 = time.process_time()
        g = fake_nodes(nodes, **VARIANTS[variant])
        t1 = time.process_time()
        rq = ResourceQuery(g, engine=engine)
        build, init = t1 - t0, time.process_time() - t1
    total = build + (init or 0.0)
    return {
        "variant": variant,
        "nodes": nodes,
        "loader": loader,
        "vertices": len(rq.graph),
        "load_cpu_s": round(total, 3),
        "build_cpu_s": round(build, 3),
        "init_cpu_s": None if init is None else round(init, 3),
        "rss_mb": round(_rss_mb(), 1),
        "rss_baseline_mb": round(base, 1),
    }


def child_match(variant, nodes, policy, job, n, fmt, engine, gc_freeze=False) -> dict:
    cap = _capacity(variant, nodes, job)
    out = {"variant": variant, "nodes": nodes, "policy": policy, "job": job}
    if cap < 1:
        out["skipped"] = "graph too small for the job"
        return out
    rq = ResourceQuery(
        fake_nodes(nodes, **VARIANTS[variant]), policy=policy, match_format=fmt, engine=engine
    )
    js = rq.parse(JOBS[job])
    # steady state: promote the freshly built graph out of the young GC
    # generations now (a long-running scheduler pays this once); with
    # --gc-freeze, also exclude it from every later collection
    gc.collect()
    if gc_freeze:
        gc.freeze()
    limit = max(1, int(cap * 0.9))
    live: deque[int] = deque()
    cpu: list[int] = []
    wall = 0
    failed = 0
    cancels = 0
    tt, pc = time.thread_time_ns, time.perf_counter_ns
    for _ in range(n):
        if len(live) >= limit:
            rq.cancel(live.popleft())
            cancels += 1
        w0 = pc()
        c0 = tt()
        res = rq.match("allocate", js)
        c1 = tt()
        wall += pc() - w0
        cpu.append(c1 - c0)
        if res.matched:
            live.append(res.jobid)
        else:
            failed += 1
    # the first match of a shape builds the per-plan indexes (slot hosts,
    # filters, candidate heaps): reported on its own, the rest is steady state
    first = cpu[0]
    rest = sorted(cpu[1:]) or [first]
    total = sum(rest)
    fast = rq.traverser.fast
    out.update(
        {
            "matches": n,
            "failed": failed,
            "cancels": cancels,
            "first_match_ms": round(first / 1e6, 2),
            "cpu_median_us": round(statistics.median(rest) / 1000, 1),
            "cpu_p99_us": round(rest[min(len(rest) - 1, int(len(rest) * 0.99))] / 1000, 1),
            "matches_per_s": round(len(rest) / (total / 1e9), 1),
            "matches_per_s_incl_first": round(n / (sum(cpu) / 1e9), 1),
            "wall_matches_per_s": round(n / (wall / 1e9), 1),
            "fast_path": None if fast is None else {"hits": fast.hits, "misses": fast.misses},
        }
    )
    return out


def _run_child(args: list[str]) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--child", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1:] or ["failed"], "args": args}
    return json.loads(proc.stdout)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="16 and 256 nodes, fewer matches")
    p.add_argument("--sizes", default="", help="comma-separated node counts")
    p.add_argument("--variants", default="flat,sockets")
    p.add_argument("--policies", default=",".join(POLICIES))
    p.add_argument("--jobs", default="core,node,nodes16")
    p.add_argument("--matches", type=int, default=0, help="matches per run (default by job)")
    p.add_argument("--format", default="simple", help="match writer (simple, rv1_nosched...)")
    p.add_argument("--engine", default="fast", choices=("fast", "exact", "stable"))
    p.add_argument("--no-load", action="store_true", help="skip the load measurements")
    p.add_argument(
        "--gc-freeze",
        action="store_true",
        help="gc.freeze() after loading (what a long-running service should do)",
    )
    p.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        kind, rest = a.child[0], a.child[1:]
        if kind == "load":
            res = child_load(rest[0], int(rest[1]), rest[2], rest[3])
        else:
            res = child_match(
                rest[0], int(rest[1]), rest[2], rest[3], int(rest[4]), rest[5], rest[6]
            )
        json.dump(res, sys.stdout)
        return 0
    sizes = [int(x) for x in a.sizes.split(",") if x] or ([16, 256] if a.quick else list(SIZES))
    variants = [v for v in a.variants.split(",") if v]
    policies = [x for x in a.policies.split(",") if x]
    jobs = [j for j in a.jobs.split(",") if j]
    default_n = (
        {"core": 600, "node": 200, "nodes16": 40}
        if a.quick
        else {"core": 3000, "node": 1000, "nodes16": 100}
    )
    report = {
        "benchmark": "fluxlab.sched match",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
        "settings": {
            "sizes": sizes,
            "variants": {v: VARIANTS[v] for v in variants},
            "policies": policies,
            "jobs": jobs,
            "format": a.format,
            "engine": a.engine,
            "matches": a.matches or default_n,
            "occupancy": "oldest job cancelled once 90% of the graph is allocated",
            "timer": "thread CPU time per ResourceQuery.match call",
            "gc": "gc.collect() after setup" + (", then gc.freeze()" if a.gc_freeze else ""),
        },
        "load": [],
        "match": [],
    }
    for variant in variants:
        for nodes in sizes:
            if not a.no_load:
                for loader in ("generated", "grug", "jgf"):
                    report["load"].append(
                        _run_child(["load", variant, str(nodes), loader, a.engine])
                    )
            for policy in policies:
                for job in jobs:
                    n = a.matches or default_n[job]
                    report["match"].append(
                        _run_child(
                            ["match", variant, str(nodes), policy, job, str(n), a.format, a.engine]
                        )
                    )
    report["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    json.dump(report, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
