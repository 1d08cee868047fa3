"""``job_list``, ``JobList``, ``get_job``, ``job_list_id`` (the job-list service)."""

from __future__ import annotations

import os
from collections.abc import Iterable

from fluxlab.core.errors import FluxError
from fluxlab.core.future import Future
from fluxlab.job.info import JobInfo
from fluxlab.job.states import JobState, strtoresult, strtostate

__all__ = ["JobList", "JobListRPC", "get_job", "job_list", "job_list_id", "job_list_inactive"]


class JobListRPC:
    """The future of a ``job-list.list`` request."""

    def __init__(self, fut: Future):
        self.future = fut

    def get(self, timeout: float | None = None) -> dict:
        return self.future.get(timeout)

    def get_jobs(self, timeout: float | None = None) -> list[dict]:
        return self.get(timeout)["jobs"]

    def get_jobinfos(self, timeout: float | None = None) -> list[JobInfo]:
        return [JobInfo(j) for j in self.get_jobs(timeout)]

    def then(self, cb, *args):
        self.future.then(lambda f: cb(self, *args))
        return self


def job_list(
    flux_handle,
    max_entries: int = 1000,
    attrs: Iterable[str] = ("all",),
    userid: int = -1,
    states: int = 0,
    results: int = 0,
    since: float = 0.0,
    name: str | None = None,
    queue: str | None = None,
    constraint: dict | None = None,
) -> JobListRPC:
    payload = {
        "max_entries": max_entries,
        "attrs": list(attrs),
        "userid": userid,
        "states": states,
        "results": results,
        "since": since,
    }
    if name is not None:
        payload["name"] = name
    if queue is not None:
        payload["queue"] = queue
    return JobListRPC(flux_handle.rpc("job-list.list", payload))


def job_list_inactive(
    flux_handle,
    since: float = 0.0,
    max_entries: int = 1000,
    attrs=("all",),
    name: str | None = None,
    queue: str | None = None,
    constraint=None,
) -> JobListRPC:
    return job_list(
        flux_handle,
        max_entries,
        attrs,
        states=int(JobState.INACTIVE),
        since=since,
        name=name,
        queue=queue,
    )


def job_list_id(flux_handle, jobid: int, attrs: Iterable[str] = ("all",)) -> Future:
    return flux_handle.rpc("job-list.list-id", {"id": int(jobid), "attrs": list(attrs)})


def get_job(flux_handle, jobid: int) -> dict | None:
    """The job's job-list record as a dict, or None if it is unknown."""
    try:
        job = job_list_id(flux_handle, jobid).get()["job"]
    except FluxError:
        return None
    info = JobInfo(job)
    return info.to_dict(filtered=False) if hasattr(info, "to_dict") else job


_FILTER_STATES = {
    "pending": JobState.PENDING,
    "running": JobState.RUNNING,
    "active": JobState.ACTIVE,
}


class JobList:
    """Fetch jobs with filters, like ``flux.job.JobList`` (what ``flux jobs`` uses)."""

    def __init__(
        self,
        flux_handle,
        attrs: Iterable[str] = ("all",),
        filters: Iterable[str] = (),
        ids: Iterable[int] = (),
        user: int | str | None = None,
        max_entries: int = 1000,
        since: float = 0.0,
        name: str | None = None,
        queue: str | None = None,
        constraint: dict | None = None,
    ):
        self.h = flux_handle
        self.attrs = list(attrs)
        self.ids = [int(i) for i in ids]
        self.max_entries = max_entries
        self.since = since
        self.name = name
        self.queue = queue
        self.states = 0
        self.results = 0
        self.userid = os.getuid()
        self.set_user(user)
        for f in filters:
            self.add_filter(f)
        self.errors: list[str] = []

    def set_user(self, user: int | str | None) -> None:
        if user is None:
            self.userid = os.getuid()
        elif user == "all":
            self.userid = -1
        elif isinstance(user, int) or (isinstance(user, str) and user.isdigit()):
            self.userid = int(user)
        else:
            import pwd

            try:
                self.userid = pwd.getpwnam(user).pw_uid
            except KeyError:
                raise ValueError(f"unknown user {user!r}") from None

    def add_filter(self, fname: str) -> None:
        """Add a state or result filter (``pending``, ``running``, ``completed`` ...)."""
        for name in fname.split(","):
            name = name.strip().lower()
            if not name:
                continue
            if name in _FILTER_STATES:
                self.states |= int(_FILTER_STATES[name])
                continue
            if name in ("inactive",):
                self.states |= int(JobState.INACTIVE)
                continue
            try:
                self.states |= int(strtostate(name))
                continue
            except ValueError:
                pass
            try:
                self.results |= int(strtoresult(name))
                self.states |= int(JobState.INACTIVE)
            except ValueError:
                raise ValueError(
                    f"invalid filter {name!r}: use a state (pending, running, inactive, "
                    f"depend, sched, run ...) or a result (completed, failed, canceled, "
                    f"timeout)"
                ) from None

    def fetch_jobs(self) -> JobListRPC | list[Future]:
        if self.ids:
            return [job_list_id(self.h, i, self.attrs) for i in self.ids]
        return job_list(
            self.h,
            self.max_entries,
            self.attrs,
            self.userid,
            self.states,
            self.results,
            self.since,
            self.name,
            self.queue,
        )

    def jobs(self) -> list[JobInfo]:
        fut = self.fetch_jobs()
        if isinstance(fut, list):
            out = []
            for jobid, f in zip(self.ids, fut, strict=True):
                try:
                    out.append(JobInfo(f.get()["job"]))
                except FluxError as e:
                    self.errors.append(f"JobID {jobid} unknown" if e.errno == 2 else str(e))
            return out
        return fut.get_jobinfos()
