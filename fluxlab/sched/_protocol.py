"""The scheduler side of RFC 27 that ``sched`` and ``sched-simple`` share.

Both modules own the ``sched`` service, take resources from the ``resource``
module's ``resource.acquire`` stream (RFC 28), hold requests that arrive
before resources are known and replay them afterwards, greet the job-manager
(``sched-hello``, claiming the R of each running job, then ``sched-ready``),
and answer SUCCESS with each allocation's R inline (the job-manager stores it in
``job.<id>.R`` with the job's ``alloc`` event, in one KVS transaction).
Only matching and queueing differ; a subclass provides :meth:`_claim`,
:meth:`_ready_payload` and its own ``_on_acquire``.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import Any

from fluxlab._proto import FLAG_STREAMING
from fluxlab.core.errors import FluxError
from fluxlab.core.module import ServiceModule, request_handler
from fluxlab.job._jm_sched import ALLOC_ANNOTATE, ALLOC_CANCEL, ALLOC_DENY, ALLOC_SUCCESS

__all__ = ["ANNOTATE", "CANCEL", "DENY", "SUCCESS", "SchedulerModule"]

#: alloc response types (RFC 27), as the job-manager reads them
SUCCESS, ANNOTATE, DENY, CANCEL = ALLOC_SUCCESS, ALLOC_ANNOTATE, ALLOC_DENY, ALLOC_CANCEL


class SchedulerModule(ServiceModule):
    """Base of the scheduler modules: resources, hello/ready.

    Invariant: ``_waiting`` holds ``(handler, msg)`` for requests deferred
    until the first resource set arrives; it is empty once resources are known.
    """

    service = "sched"

    def _acquire_resources(self) -> None:
        """Start the ``resource.acquire`` stream (call from ``start``)."""
        self._waiting: list[tuple[Callable, Any]] = []
        self._acquire = self.h.rpc("resource.acquire", {}, flags=FLAG_STREAMING)
        self._acquire.then(self._on_acquire)

    def _on_acquire(self, fut) -> None:
        raise NotImplementedError

    def _stop_protocol(self, why: str) -> None:
        """Cancel the resource stream and fail every deferred request with ENOSYS."""
        self._acquire.cancel()
        for _, msg in self._waiting:
            self.respond_error(msg, errno.ENOSYS, why)
        self._waiting = []

    def _defer_until_resources(self, fn: Callable, msg) -> None:
        """Answer ``msg`` with ``fn`` again once resources are known."""
        self.defer(msg)
        self._waiting.append((fn, msg))

    def _replay_waiting(self) -> None:
        """Run the deferred requests now that resources are known."""
        waiting, self._waiting = self._waiting, []
        for fn, msg in waiting:
            msg.handled = False
            self._dispatch_request(fn, False, msg)

    # -- hello / ready ------------------------------------------------------------------
    def _say_hello(self) -> None:
        """Ask the job-manager for the running jobs' R, then declare ready."""
        self.h.rpc("job-manager.sched-hello", {"partial-ok": False}, flags=FLAG_STREAMING).then(
            self._on_hello
        )

    def _on_hello(self, fut) -> None:
        try:
            job = fut.get()
        except FluxError as e:
            if e.errno == errno.ENODATA:
                self.h.rpc("job-manager.sched-ready", self._ready_payload()).then(self._ready)
            else:
                self.log(3, f"sched-hello failed: {e}")
            return
        fut.reset()
        self._claim(job["id"], job.get("R"))

    def _ready(self, fut) -> None:
        try:
            fut.get()
        except FluxError as e:
            self.log(3, f"sched-ready failed: {e}")

    def _ready_payload(self) -> dict:
        """The ``sched-ready`` request: ``mode`` and, when limited, ``limit``."""
        raise NotImplementedError

    def _claim(self, jobid: int, R: Any) -> None:
        """Mark a running job's R (from hello) allocated."""
        raise NotImplementedError

    @request_handler("expiration")
    def expiration(self, msg):
        return {}
