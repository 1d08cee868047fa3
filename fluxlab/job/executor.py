"""``FluxExecutor``: a ``concurrent.futures`` executor that runs jobs.

One background thread owns a handle: it submits the jobspecs queued by
:meth:`FluxExecutor.submit`, watches each job's eventlog and completes its
:class:`FluxExecutorFuture` — with the job's exit status (the largest task
exit code, or ``-signum`` when killed by a signal), or with a
:class:`~fluxlab.job.event.JobException` when a fatal exception (cancel,
timeout, exec failure ...) happened first, or with ``OSError`` when the
submission itself was refused (invalid jobspec, unsatisfiable request).
Callbacks registered with :meth:`FluxExecutorFuture.add_event_callback` run
in the executor thread, in eventlog order.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import os
import threading
from collections import deque
from typing import Any

from fluxlab.core.errors import FluxError
from fluxlab.job.event import JobException, event_watch_async
from fluxlab.job.eventlog import EventLogEvent
from fluxlab.job.jobid import JobID
from fluxlab.job.submit import submit_async

__all__ = ["EVENTS", "FluxExecutor", "FluxExecutorFuture"]

#: Main eventlog events a future can report (``flux.job.executor.MAIN_EVENTS``).
EVENTS = frozenset(
    {
        "submit",
        "validate",
        "depend",
        "priority",
        "flux-restart",
        "urgency",
        "alloc",
        "free",
        "start",
        "release",
        "finish",
        "clean",
        "debug",
        "exception",
        "memo",
    }
)

_ids = itertools.count()


def _exit_status(waitstatus: int) -> int:
    if os.WIFSIGNALED(waitstatus):
        return -os.WTERMSIG(waitstatus)
    if os.WIFEXITED(waitstatus):
        return os.WEXITSTATUS(waitstatus)
    return waitstatus


class FluxExecutorFuture(concurrent.futures.Future):
    """The future of one job; ``result()`` is its exit status."""

    def __init__(self, owning_thread_id: int, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._owning_thread_id = owning_thread_id
        self._jobid: JobID | None = None
        self._jobid_event = threading.Event()
        self._jobid_exc: BaseException | None = None
        self._jobid_callbacks: list = []
        self._event_callbacks: dict[str, list] = {}
        self._events: list[EventLogEvent] = []
        self._lock = threading.Lock()

    def jobid(self, timeout: float | None = None) -> JobID:
        """The job's id, once submitted.

        Raises
        ------
        concurrent.futures.TimeoutError
            If the id is not known within ``timeout``.
        OSError
            If the submission failed.
        """
        if not self._jobid_event.wait(timeout):
            raise concurrent.futures.TimeoutError("job id not known yet")
        if self._jobid_exc is not None:
            raise self._jobid_exc
        return self._jobid

    def add_jobid_callback(self, callback) -> FluxExecutorFuture:
        with self._lock:
            if not self._jobid_event.is_set():
                self._jobid_callbacks.append(callback)
                return self
        callback(self)
        return self

    def add_event_callback(self, event: str, callback) -> FluxExecutorFuture:
        """Call ``callback(future, event)`` for each ``event`` (past ones at once)."""
        if event not in EVENTS:
            raise ValueError(f"{event!r} is not a valid event: choose from {sorted(EVENTS)}")
        with self._lock:
            past = [e for e in self._events if e.name == event]
            self._event_callbacks.setdefault(event, []).append(callback)
        for e in past:
            callback(self, e)
        return self

    # executor side
    def _set_jobid(self, jobid: JobID | None, exc: BaseException | None = None) -> None:
        with self._lock:
            self._jobid, self._jobid_exc = jobid, exc
            self._jobid_event.set()
            callbacks, self._jobid_callbacks = self._jobid_callbacks, []
        for cb in callbacks:
            cb(self)

    def _event(self, event: EventLogEvent) -> None:
        with self._lock:
            self._events.append(event)
            callbacks = list(self._event_callbacks.get(event.name, ()))
        for cb in callbacks:
            cb(self, event)


class _Submission:
    __slots__ = ("fut", "jobid", "jobspec", "kwargs")

    def __init__(self, fut, jobspec, kwargs, jobid=None):
        self.fut, self.jobspec, self.kwargs, self.jobid = fut, jobspec, kwargs, jobid


class FluxExecutor(concurrent.futures.Executor):
    """Submit jobspecs and get futures for their exit status (``flux.job.FluxExecutor``)."""

    def __init__(
        self,
        threads: int = 1,
        thread_name_prefix: str = "",
        poll_interval: float = 0.1,
        handle_args: tuple = (),
        handle_kwargs: dict | None = None,
    ):
        if threads != 1:
            raise ValueError("FluxExecutor supports exactly one thread")
        if poll_interval <= 0:
            raise ValueError("poll_interval must be positive")
        self._queue: deque[_Submission] = deque()
        self._shutdown = False
        self._cancel_pending = False
        self._inflight = 0
        self._lock = threading.Lock()
        self._poll_interval = poll_interval
        self._ready = threading.Event()
        self._error: BaseException | None = None
        name = f"{thread_name_prefix or 'FluxExecutor'}-{next(_ids)}"
        self._thread = threading.Thread(
            target=self._run, args=(handle_args, handle_kwargs or {}), name=name, daemon=True
        )
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error

    # -- public ------------------------------------------------------------------
    def submit(self, jobspec, *args: Any, **kwargs: Any) -> FluxExecutorFuture:
        """Queue ``jobspec`` for submission; returns its future."""
        if args:
            raise TypeError("FluxExecutor.submit takes the jobspec and keyword arguments only")
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot submit after shutdown")
            fut = FluxExecutorFuture(self._thread.ident)
            self._queue.append(_Submission(fut, jobspec, kwargs))
            self._inflight += 1
        self._kick()
        return fut

    def attach(self, jobid: int) -> FluxExecutorFuture:
        """A future for a job submitted elsewhere (unknown ids fail with ValueError)."""
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot attach after shutdown")
            fut = FluxExecutorFuture(self._thread.ident)
            self._queue.append(_Submission(fut, None, {}, JobID(jobid)))
            self._inflight += 1
        self._kick()
        return fut

    def map(self, *args: Any, **kwargs: Any):
        raise NotImplementedError("FluxExecutor does not support map()")

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._shutdown = True
            if cancel_futures:
                while self._queue:
                    sub = self._queue.popleft()
                    sub.fut.cancel()
                    self._inflight -= 1
        self._kick()
        if wait:
            self._thread.join()

    def __enter__(self) -> FluxExecutor:
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown(wait=True)

    # -- executor thread -------------------------------------------------------------
    def _kick(self) -> None:
        h = getattr(self, "_h", None)
        if h is not None:
            h.call_soon_threadsafe(self._drain)

    def _run(self, handle_args, handle_kwargs) -> None:
        from fluxlab.core.handle import Flux

        try:
            self._h = Flux(*handle_args, **handle_kwargs)
        except BaseException as e:  # noqa: BLE001 - reported to the constructor
            self._error = e
            self._ready.set()
            return
        self._ready.set()
        h = self._h
        timer = h.timer_watcher_create(
            self._poll_interval, lambda *a: self._tick(), repeat=self._poll_interval
        )
        timer.start()
        self._timer = timer
        try:
            self._drain()
            while True:
                h.reactor_run()
                with self._lock:
                    if self._shutdown and self._inflight == 0 and not self._queue:
                        break
        finally:
            timer.stop()
            h.close()

    def _tick(self) -> None:
        self._drain()
        with self._lock:
            done = self._shutdown and self._inflight == 0 and not self._queue
        if done:
            self._h.reactor_stop()

    def _drain(self) -> None:
        while True:
            with self._lock:
                if not self._queue:
                    return
                sub = self._queue.popleft()
            if not sub.fut.set_running_or_notify_cancel():
                self._finished()
                continue
            if sub.jobid is not None:
                self._watch(sub.fut, sub.jobid, attach=True)
                continue
            try:
                sf = submit_async(self._h, sub.jobspec, **sub.kwargs)
            except (TypeError, ValueError, OSError) as e:
                sub.fut._set_jobid(None, e)
                sub.fut.set_exception(e)
                self._finished()
                continue
            sf.then(self._submitted, sub.fut)

    def _submitted(self, sf, fut: FluxExecutorFuture) -> None:
        try:
            jobid = sf.get_id()
        except FluxError as e:
            exc = OSError(e.errno, str(e))
            fut._set_jobid(None, exc)
            fut.set_exception(exc)
            self._finished()
            return
        fut._set_jobid(jobid)
        self._watch(fut, jobid)

    def _watch(self, fut: FluxExecutorFuture, jobid: JobID, attach: bool = False) -> None:
        state = {"seen": False, "finished": False}

        def finished() -> None:
            # once per job: after `clean` the canceled watch still ends with
            # ENODATA/ECANCELED, which must not count the job a second time
            if not state["finished"]:
                state["finished"] = True
                self._finished()

        try:
            w = event_watch_async(self._h, jobid)
        except FluxError as e:
            fut.set_exception(e)
            self._finished()
            return

        def on_event(w) -> None:
            try:
                ev = w.get_event()
            except FluxError as e:
                if not fut.done():
                    if attach and not state["seen"]:
                        fut._set_jobid(None, ValueError(f"job {jobid} not found"))
                        fut.set_exception(ValueError(f"job {jobid} not found: {e}"))
                    else:
                        fut.set_exception(e)
                finished()
                return
            if ev is None:
                if not fut.done():
                    fut.set_exception(OSError("eventlog ended before the job finished"))
                finished()
                return
            if attach and not state["seen"]:
                fut._set_jobid(jobid)
            state["seen"] = True
            fut._event(ev)
            if fut.done():
                pass
            elif ev.name == "exception" and ev.context.get("severity") == 0:
                fut.set_exception(JobException(ev))
            elif ev.name == "finish":
                fut.set_result(_exit_status(int(ev.context.get("status", 0))))
            if ev.name == "clean":
                if not fut.done():
                    fut.set_exception(JobException(ev))
                w.cancel()
                finished()

        w.then(on_event)

    def _finished(self) -> None:
        with self._lock:
            self._inflight -= 1
            done = self._shutdown and self._inflight == 0 and not self._queue
        if done:
            self._h.reactor_stop()
