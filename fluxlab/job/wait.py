"""``flux.job.wait``: wait for waitable jobs (``waitable=True`` at submit)."""

from __future__ import annotations

from dataclasses import dataclass

from fluxlab.core.future import Future
from fluxlab.job.jobid import JobID

__all__ = ["JobWaitResult", "wait", "wait_async", "wait_get_status", "JOBID_ANY"]

JOBID_ANY = 0xFFFFFFFFFFFFFFFF


@dataclass
class JobWaitResult:
    jobid: JobID
    success: bool
    errstr: str


class _WaitFuture:
    def __init__(self, fut: Future):
        self.future = fut

    def get_status(self, timeout: float | None = None) -> JobWaitResult:
        r = self.future.get(timeout)
        return JobWaitResult(JobID(r["id"]), bool(r["success"]), r.get("errstr", ""))

    get = get_status

    def then(self, cb, *args):
        self.future.then(lambda f: cb(self, *args))
        return self


def wait_async(flux_handle, jobid: int = JOBID_ANY) -> _WaitFuture:
    return _WaitFuture(flux_handle.rpc("job-manager.wait", {"id": int(jobid)}))


def wait(flux_handle, jobid: int = JOBID_ANY) -> JobWaitResult:
    """Wait for a waitable job (or any) to finish; each job can be waited once."""
    return wait_async(flux_handle, jobid).get_status()


def wait_get_status(calling_obj: _WaitFuture, *args, **kwargs) -> JobWaitResult:
    return calling_obj.get_status()
