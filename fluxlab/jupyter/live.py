"""The engine behind live widgets: one handle, shared feeds, a batching tick.

One :class:`Live` per instance URI per kernel.  It owns a dedicated handle
(so widgets never interfere with the handle the magics block on), the
:class:`~fluxlab.jupyter.feed.JobFeed` / ``ResourceFeed`` every widget
shares, and a tick that runs every ``interval`` seconds (default 0.3 s,
~3 Hz) **on the kernel's asyncio loop** via ``loop.call_later``.

Threading rules (ipykernel 7 cannot send display data from threads):

* feed callbacks are then-callbacks of the handle, which is attached to the
  kernel's loop, so they run on the loop's thread and only update pure models;
* widgets are mutated only in :meth:`Live.tick`, i.e. on the loop's thread,
  at most once per interval however many events arrived (batching);
* while a cell blocks (``%flux run`` streaming output), the loop cannot run:
  the magics call :meth:`Live.pump` from the cell's own thread — the same
  thread — so tables and progress bars keep moving.

Without a running loop (plain Python, tests) nothing ticks by itself: call
:meth:`Live.pump` or :meth:`Live.wait_for`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from fluxlab.core.errors import FluxError
from fluxlab.jupyter.feed import JobFeed, ResourceFeed
from fluxlab.jupyter.model.jobs import JobStore
from fluxlab.jupyter.model.resources import ResourceModel

__all__ = ["Live", "get_live"]

log = logging.getLogger("fluxlab.jupyter")

_LIVE: dict[str, Live] = {}


class Live:
    """Feeds and tick for the widgets of one instance.

    Parameters
    ----------
    uri : str
        The instance.
    interval : float
        Seconds between ticks (batching period).
    loop : asyncio loop, optional
        Default: the running loop, if any (the kernel's).
    """

    def __init__(self, uri: str, interval: float = 0.3, loop=None):
        from fluxlab.core.handle import Flux

        self.uri = uri
        self.interval = interval
        self.h = Flux(uri)
        if loop is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
        self.loop = loop
        if loop is not None:
            self.h.attach_loop(loop)
        self.store = JobStore()
        self.jobs = JobFeed(self.h, self.store)
        self.rmodel = ResourceModel()
        self.resources = ResourceFeed(self.h, self.rmodel, self.store)
        self.views: list[Any] = []
        self._timer = None
        self._wants_resources = False
        self.ticks = 0
        self.tick_seconds = 0.0

    # -- views --------------------------------------------------------------------
    def add(self, view, resources: bool = False) -> None:
        """Register a view: an object with ``refresh(live)`` (and ``closed``)."""
        self.jobs.start()
        if resources:
            self._wants_resources = True
            self.resources.poll(force=True)
        if view not in self.views:
            self.views.append(view)
        self._schedule()

    def prime(self, resources: bool = False, timeout: float = 2.0) -> bool:
        """Wait (at most ``timeout`` s) for the first snapshot, so that a widget's
        first display — and its static HTML — already shows data."""
        self.jobs.start()
        if resources:
            self._wants_resources = True
            self.resources.poll()

        def ready() -> bool:
            if self.dead is not None or self.jobs.error:
                return True
            if not self.jobs.ready:
                return False
            return not resources or self.resources.ready or bool(self.resources.error)

        return self.wait_for(ready, timeout)

    def remove(self, view) -> None:
        if view in self.views:
            self.views.remove(view)

    @property
    def dead(self) -> str | None:
        """Why the instance cannot be reached any more, or None."""
        d = getattr(self.h, "_dead", None)
        return str(d) if d is not None else None

    def problem(self, resources: bool = False) -> str:
        """What is wrong, for views to show ("" when nothing is)."""
        if self.dead is not None:
            return f"instance lost: {self.dead}; run `%flux start` for a new one"
        return (self.resources.error if resources else self.jobs.error) or ""

    # -- ticking ------------------------------------------------------------------
    def _schedule(self) -> None:
        if self.loop is None or self._timer is not None or self.loop.is_closed():
            return
        self._timer = self.loop.call_later(self.interval, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self.tick()
        if self.views and self.dead is None:
            self._schedule()

    def tick(self) -> None:
        """Poll resources when due, then let every view refresh (one batch)."""
        t0 = time.perf_counter()
        self.views = [v for v in self.views if not getattr(v, "closed", False)]
        if self._wants_resources and self.dead is None:
            try:
                self.resources.poll()
            except (FluxError, OSError):
                pass
            self.resources.update_allocations()
        for view in list(self.views):
            try:
                view.refresh(self)
            except Exception as e:  # one broken view must not stop the others
                log.exception("fluxlab widget refresh failed")
                if hasattr(view, "error"):
                    try:
                        view.error = f"refresh failed: {e}"
                    except Exception:  # noqa: BLE001
                        pass
        self.store.take_changed()
        self.ticks += 1
        self.tick_seconds = time.perf_counter() - t0

    def pump(self, seconds: float = 0.02) -> None:
        """Handle replies for ``seconds`` in this thread, then :meth:`tick`.

        For callers that block the kernel's loop (magics waiting on jobs) and
        for tests without a loop.
        """
        if self.dead is None:
            timer = self.h.timer_watcher_create(
                max(0.0, seconds), lambda h, w, r, a: h.reactor_stop()
            )
            timer.start()
            try:
                self.h.reactor_run()
            except (FluxError, OSError):
                pass
            finally:
                timer.stop()
        self.tick()

    def wait_for(self, cond: Callable[[], bool], timeout: float = 10.0) -> bool:
        """Pump until ``cond()`` is true; False on timeout."""
        deadline = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > deadline:
                return False
            self.pump(0.02)
        return True

    def close(self) -> None:
        """Stop the feeds and forget every view (widgets stay, frozen)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.jobs.stop()
        self.views.clear()
        _LIVE.pop(self.uri, None)
        try:
            self.h.close()
        except (FluxError, OSError):
            pass


def get_live(h=None, uri: str | None = None) -> Live:
    """The :class:`Live` of an instance: ``h``'s, ``uri``'s, or the one the
    magics use (started on demand like any magic would)."""
    if h is not None:
        uri = h.uri
    if uri is None:
        from fluxlab.jupyter.session import get_session

        session = get_session()
        note = session.ensure()
        if note:
            print(f"fluxlab: {note}")
        uri = session.uri
    live = _LIVE.get(uri)
    if live is not None and live.dead is not None:
        live.close()
        live = None
    if live is None:
        live = _LIVE[uri] = Live(uri)
    elif live.loop is None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is not None:
            live.loop = loop
            live.h.attach_loop(loop)
    return live
