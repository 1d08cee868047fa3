"""``flux.job.submit`` / ``submit_async`` (one file per verb, like Flux)."""

from __future__ import annotations

from fluxlab.core.future import Future
from fluxlab.job._flags import FLAG_DEBUG, FLAG_NOVALIDATE, FLAG_WAITABLE
from fluxlab.job.jobid import JobID
from fluxlab.job.jobspec import Jobspec

TYPE_CHECKING = False  # typing itself costs ~4 ms of every CLI start
if TYPE_CHECKING:  # annotations only (they are never evaluated)
    from typing import Any

__all__ = ["SubmitFuture", "submit", "submit_async", "submit_get_id", "submit_bulk_async"]


def _jobspec_text(jobspec: Jobspec | str | bytes | dict) -> str | dict:
    if isinstance(jobspec, Jobspec):
        return jobspec.dumps()
    if isinstance(jobspec, bytes):
        return jobspec.decode()
    if isinstance(jobspec, (str, dict)):
        return jobspec
    raise TypeError(f"jobspec must be a Jobspec, JSON string or dict, not {type(jobspec).__name__}")


def _flags(waitable: bool, debug: bool, novalidate: bool) -> int:
    return (
        (FLAG_WAITABLE if waitable else 0)
        | (FLAG_DEBUG if debug else 0)
        | (FLAG_NOVALIDATE if novalidate else 0)
    )


class SubmitFuture:
    """The future of a submission: ``get_id()`` returns the :class:`JobID`."""

    def __init__(self, fut: Future):
        self.future = fut

    def get_id(self, timeout: float | None = None) -> JobID:
        return JobID(self.future.get(timeout)["id"])

    get = get_id

    def then(self, cb, *args) -> SubmitFuture:
        self.future.then(lambda f: cb(self, *args))
        return self

    def wait_for(self, timeout: float | None = None) -> SubmitFuture:
        self.future.wait_for(timeout)
        return self

    def is_ready(self) -> bool:
        return self.future.is_ready()

    def __await__(self):
        resp = yield from self.future.__await__()
        return JobID(resp["id"])


def submit_async(
    flux_handle,
    jobspec: Jobspec | str | dict,
    urgency: int = 16,
    waitable: bool = False,
    debug: bool = False,
    pre_signed: bool = False,
    novalidate: bool = False,
) -> SubmitFuture:
    """Submit a job; the future's ``get_id()`` returns its id."""
    payload = {
        "jobspec": _jobspec_text(jobspec),
        "urgency": urgency,
        "flags": _flags(waitable, debug, novalidate),
    }
    return SubmitFuture(flux_handle.rpc("job-ingest.submit", payload))


def submit(
    flux_handle,
    jobspec: Jobspec | str | dict,
    urgency: int = 16,
    waitable: bool = False,
    debug: bool = False,
    pre_signed: bool = False,
) -> JobID:
    """Submit a job and return its :class:`JobID`.

    Raises
    ------
    OSError
        With the reason (invalid jobspec, unsatisfiable request ...).
    """
    return submit_async(flux_handle, jobspec, urgency, waitable, debug, pre_signed).get_id()


def submit_get_id(calling_obj: SubmitFuture, *args: Any, **kwargs: Any) -> JobID:
    return calling_obj.get_id()


def submit_bulk_async(
    flux_handle, jobspecs: list, urgency: int = 16, waitable: bool = False
) -> Future:
    """Submit many jobs in one request; ``.get()["ids"]`` has an id or an error per job."""
    jobs = [
        {"jobspec": _jobspec_text(js), "urgency": urgency, "flags": _flags(waitable, False, False)}
        for js in jobspecs
    ]
    return flux_handle.rpc("job-ingest.submit", {"jobs": jobs})
