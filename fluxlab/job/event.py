"""Job eventlog watching: ``event_watch``, ``event_wait``, ``JobException``."""

from __future__ import annotations

import errno
from collections.abc import Iterator

from fluxlab._proto import FLAG_STREAMING
from fluxlab.core.errors import FluxError
from fluxlab.core.future import Future
from fluxlab.job.eventlog import EventLogEvent

__all__ = ["JobEventWatchFuture", "JobException", "event_wait", "event_watch", "event_watch_async"]

_PATHS = {
    "eventlog",
    "guest.exec.eventlog",
    "guest.output",
    "guest.input",
    "exec.eventlog",
    "output",
}


class JobException(Exception):
    """A job's fatal exception, raised by :func:`event_wait` (``.type``, ``.note``, ``.severity``)."""

    def __init__(self, event: EventLogEvent):
        self.event = event
        ctx = event.context
        self.type = ctx.get("type", "")
        self.note = ctx.get("note", "")
        self.severity = ctx.get("severity", 0)
        self.timestamp = event.timestamp
        super().__init__(f"job.exception: type={self.type}: {self.note}")


class JobEventWatchFuture:
    """Stream of a job eventlog's entries: ``get_event()`` returns the next one
    (None at the end of the eventlog)."""

    def __init__(self, fut: Future, jobid: int):
        self.future = fut
        self.jobid = jobid
        self.needs_cancel = True

    def get_event(
        self, autoreset: bool = True, timeout: float | None = None
    ) -> EventLogEvent | None:
        try:
            resp = self.future.get(timeout)
        except FluxError as e:
            if e.errno == errno.ENODATA:
                self.needs_cancel = False
                return None
            if e.errno == errno.ENOENT:
                raise FluxError(
                    errno.ENOENT, f"job {self.jobid}: no such job or eventlog"
                ) from None
            raise
        if autoreset:
            self.future.reset()
        return EventLogEvent(resp["event"])

    def then(self, cb, *args) -> JobEventWatchFuture:
        self.future.then(lambda f: cb(self, *args))
        return self

    def reset(self) -> None:
        self.future.reset()

    def cancel(self, stop: bool = False) -> None:
        if self.needs_cancel:
            self.future.cancel()
            self.needs_cancel = False

    def __iter__(self) -> Iterator[EventLogEvent]:
        while True:
            ev = self.get_event()
            if ev is None:
                return
            yield ev


def _path(eventlog: str) -> str:
    if eventlog == "exec.eventlog":
        return "guest.exec.eventlog"
    if eventlog == "output":
        return "guest.output"
    return eventlog


def event_watch_async(flux_handle, jobid: int, eventlog: str = "eventlog") -> JobEventWatchFuture:
    """Watch a job eventlog (``eventlog``, ``guest.exec.eventlog``, ``guest.output``)."""
    if eventlog not in _PATHS:
        raise ValueError(f"unknown eventlog {eventlog!r}: use one of {', '.join(sorted(_PATHS))}")
    fut = flux_handle.rpc(
        "job-info.eventlog-watch", {"id": int(jobid), "path": _path(eventlog)}, flags=FLAG_STREAMING
    )
    return JobEventWatchFuture(fut, jobid)


def event_watch(flux_handle, jobid: int, eventlog: str = "eventlog") -> Iterator[EventLogEvent]:
    """Yield each event of a job eventlog until it is complete."""
    watcher = event_watch_async(flux_handle, jobid, eventlog)
    try:
        yield from watcher
    finally:
        watcher.cancel()


def event_wait(
    flux_handle, jobid: int, name: str, eventlog: str = "eventlog", raiseJobException: bool = True
) -> EventLogEvent:
    """Wait for event ``name``; raise :class:`JobException` on a fatal exception first.

    Raises
    ------
    OSError
        ``ENODATA`` if the eventlog ends without ``name``.
    """
    for event in event_watch(flux_handle, jobid, eventlog):
        if event.name == name:
            return event
        if raiseJobException and event.name == "exception" and event.context.get("severity") == 0:
            raise JobException(event)
    raise OSError(errno.ENODATA, f"eventlog ended without event {name!r}")
