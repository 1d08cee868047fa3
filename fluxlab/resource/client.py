"""``flux.resource``-style client calls: resource lists and status.

:func:`resource_list` asks the ``resource`` module
(``resource.sched-status``) for ``{all, down}`` and the scheduler
(``sched.resource-status``) for what is allocated (nothing when no scheduler
is loaded).  :func:`resource_status` asks
the ``resource`` module for its status and the list above for the
allocated ranks.  Both return futures whose ``get()`` yields the listing
objects of :mod:`fluxlab.resource.listing` (``SchedResourceList``,
``ResourceStatus``), as Flux's bindings do.

The futures work both blocking (``get``) and from the handle's callback
context (``then``); the fallback RPC is sent only after ENOSYS.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import Any

from fluxlab.core.errors import FluxError
from fluxlab.resource.listing import ResourceStatus, SchedResourceList

__all__ = [
    "ResourceListFuture",
    "ResourceStatusFuture",
    "resource_list",
    "resource_status",
]

SCHED_TOPIC = "sched.resource-status"
FALLBACK_TOPIC = "resource.sched-status"


class ResourceListFuture:
    """The answer of :func:`resource_list`.

    Like current flux-core, the ``resource`` module (``resource.sched-status``)
    is authoritative for *all* and *down* — it learns of drains and lost ranks
    first — and the scheduler (``sched.resource-status``) adds what is
    *allocated*; without a scheduler (``ENOSYS``) nothing is allocated.  Both
    requests are sent at once.
    """

    def __init__(self, h: Any):
        self._h = h
        self.future = h.rpc(FALLBACK_TOPIC, nodeid=0)
        self.sched_future = h.rpc(SCHED_TOPIC, nodeid=0)

    def _current(self, timeout: float | None) -> dict:
        payload = dict(self.future.get(timeout))
        try:
            sched = self.sched_future.get(timeout)
        except FluxError as exc:
            if exc.errno != errno.ENOSYS:
                raise
            return payload
        if sched.get("allocated") is not None:
            payload["allocated"] = sched["allocated"]
        return payload

    def get_payload(self, timeout: float | None = None) -> dict:
        """The raw ``{all, down, allocated}`` payload (R objects or null)."""
        return self._current(timeout)

    def get(self, timeout: float | None = None) -> SchedResourceList:
        """A :class:`SchedResourceList` (``.all .down .allocated .up .free``)."""
        return SchedResourceList(self._current(timeout))

    @property
    def source(self) -> str:
        """Where *all*/*down* come from (the resource module)."""
        return FALLBACK_TOPIC

    def then(self, cb: Callable[..., Any], *args: Any) -> ResourceListFuture:
        """Call ``cb(self, *args)`` once both answers are in."""
        left = {"n": 2}

        def one(_fut) -> None:
            left["n"] -= 1
            if left["n"] == 0:
                cb(self, *args)

        self.future.then(one)
        self.sched_future.then(one)
        return self


class ResourceStatusFuture:
    """The answer of :func:`resource_status`: resource-module status plus allocations."""

    def __init__(self, h: Any):
        self.status_future = h.rpc("resource.status", nodeid=0)
        self.list_future = ResourceListFuture(h)

    def get_payload(self, timeout: float | None = None) -> dict:
        """The raw ``resource.status`` payload."""
        return self.status_future.get(timeout)

    def allocated_ranks(self, timeout: float | None = None):
        """Ranks the scheduler has allocated (empty when it cannot be asked)."""
        try:
            return self.list_future.get(timeout).allocated.ranks
        except (OSError, ValueError):
            from fluxlab.resource.idset import IDset

            return IDset()

    def get(self, timeout: float | None = None) -> ResourceStatus:
        """A :class:`ResourceStatus` (``.online .offline .drained .avail ...``)."""
        payload = self.get_payload(timeout)
        return ResourceStatus(payload, self.allocated_ranks(timeout))


def resource_list(h: Any) -> ResourceListFuture:
    """Ask for the scheduler's view of resources (``flux.resource.resource_list``)."""
    return ResourceListFuture(h)


def resource_status(h: Any) -> ResourceStatusFuture:
    """Ask for the status of every rank (``flux.resource.resource_status``)."""
    return ResourceStatusFuture(h)
