"""Shared helpers for the exec integration tests (not a test module)."""

from __future__ import annotations

import itertools
import json
import time

from fluxlab._proto import FLAG_STREAMING
from fluxlab.exec.service import job_key
from fluxlab.job.jobspec import JobspecV1
from fluxlab.resource.rv1 import ResourceSet

EXEC_MODULES = [
    ("kvs", "0", []),
    ("job-info", "0", []),
    ("job-exec", "0", ["kill-timeout=0.5s"]),
    ("exec", "all", []),
]

_ids = itertools.count(int(time.time() * 1000) << 20)


def new_id() -> int:
    return next(_ids)


def jobspec(cmd, **kw):
    kw.setdefault("environment", {"PATH": "/usr/bin:/bin", "LANG": "C"})
    return JobspecV1.from_command(cmd, **kw).jobspec


def resources(*cores, gpus=(), starttime=0.0, expiration=0.0, first_rank=0):
    nodes = []
    for i, c in enumerate(cores):
        nodes.append((first_rank + i, None, c, gpus[i] if i < len(gpus) else 0))
    return ResourceSet.from_nodes(nodes, starttime=starttime, expiration=expiration).to_dict()


def start(h, js, R, jobid=None):
    """Send job-exec.start; return (jobid, future)."""
    jobid = new_id() if jobid is None else jobid
    fut = h.rpc(
        "job-exec.start",
        {"id": jobid, "userid": 0, "jobspec": js, "R": R},
        flags=FLAG_STREAMING,
    )
    return jobid, fut


def responses(fut, timeout=20.0):
    """All responses of a job-exec.start stream, up to the final ``release``
    that ends it (RFC 32; an error response fails the test)."""
    out = []
    while True:
        resp = fut.get(timeout)
        fut.reset()
        out.append(resp)
        if resp["type"] == "release" and resp["data"].get("final"):
            return out


def run(h, js, R, timeout=20.0):
    """Run a job to the end; return (jobid, responses)."""
    jobid, fut = start(h, js, R)
    return jobid, responses(fut, timeout)


def by_type(resps):
    out = {}
    for r in resps:
        out.setdefault(r["type"], []).append(r["data"])
    return out


def eventlog(h, jobid, *path):
    text = h.rpc("kvs.lookup", {"key": job_key(jobid, *path)}).get(10)["data"]
    return [json.loads(line) for line in text.splitlines()]


def output(h, jobid):
    """Output eventlog entries of a job."""
    return eventlog(h, jobid, "guest", "output")


def task_output(h, jobid, stream="stdout"):
    """{task rank: text} from the output eventlog."""
    out: dict[int, str] = {}
    for ev in output(h, jobid):
        ctx = ev.get("context", {})
        if ev["name"] == "data" and ctx.get("stream") == stream and "data" in ctx:
            out[int(ctx["rank"])] = out.get(int(ctx["rank"]), "") + ctx["data"]
    return out
