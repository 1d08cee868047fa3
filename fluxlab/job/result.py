"""``flux.job.result``: wait for a job to finish and return its :class:`JobInfo`."""

from __future__ import annotations

from fluxlab.job.event import event_watch_async
from fluxlab.job.info import JobInfo
from fluxlab.job.record import JobRecord

__all__ = ["JobResultFuture", "result", "result_async"]


class JobResultFuture:
    """Collects a job's eventlog until ``clean``; ``get_info()`` -> JobInfo."""

    def __init__(self, flux_handle, jobid: int):
        self.jobid = int(jobid)
        self.watch = event_watch_async(flux_handle, jobid)
        self.record = JobRecord(self.jobid)
        self._done = False

    def _drain(self, timeout: float | None) -> None:
        while not self._done:
            ev = self.watch.get_event(timeout=timeout)
            if ev is None:
                self._done = True
                break
            self.record.apply(ev)
            if ev.name == "clean":
                self._done = True
                self.watch.cancel()

    def get_dict(self, timeout: float | None = None) -> dict:
        self._drain(timeout)
        return self.record.to_dict()

    def get_info(self, timeout: float | None = None) -> JobInfo:
        return JobInfo(self.get_dict(timeout))

    get = get_info


def result_async(flux_handle, jobid: int, flags: int = 0) -> JobResultFuture:
    return JobResultFuture(flux_handle, jobid)


def result(flux_handle, jobid: int, flags: int = 0) -> JobInfo:
    """Block until the job is inactive; returns its JobInfo (``.result``, ``.returncode``...)."""
    return result_async(flux_handle, jobid, flags).get_info()
