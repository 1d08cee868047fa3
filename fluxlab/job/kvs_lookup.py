"""``job_kvs``, ``job_kvs_guest``, ``job_kvs_lookup``: a job's KVS directory."""

from __future__ import annotations

import errno
import json

from fluxlab.core.errors import FluxError
from fluxlab.job.ingest import job_key

__all__ = ["job_kvs", "job_kvs_guest", "job_kvs_lookup"]


def job_kvs(flux_handle, jobid: int):
    """The job's KVS directory (``job.<dothex>``) as a ``KVSDir``."""
    from fluxlab.kvs.client import KVSDir

    return KVSDir(flux_handle, job_key(int(jobid)))


def job_kvs_guest(flux_handle, jobid: int):
    from fluxlab.kvs.client import KVSDir

    return KVSDir(flux_handle, job_key(int(jobid), "guest"))


def job_kvs_lookup(
    flux_handle,
    jobid: int,
    keys=("jobspec",),
    decode: bool = True,
    original: bool = False,
    base: bool = False,
) -> dict | None:
    """Look up ``keys`` under the job's directory; None if the job is unknown."""
    out = {"id": int(jobid)}
    for key in keys:
        try:
            resp = flux_handle.rpc("kvs.lookup", {"key": job_key(int(jobid), key)}).get()
        except FluxError as e:
            if e.errno == errno.ENOENT:
                return None
            raise
        text = resp.get("data", "")
        if decode:
            try:
                out[key] = json.loads(text)
            except ValueError:
                out[key] = text
        else:
            out[key] = text
    return out
