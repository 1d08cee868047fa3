"""The Flux-style reactor of a handle: message and timer watchers,
``reactor_run``/``reactor_stop`` and event receipt (a mixin of
:class:`fluxlab.core.handle.Flux`, kept apart so each module stays small).
"""

from __future__ import annotations

import fnmatch
import heapq
import json
import time
from collections.abc import Callable

from fluxlab._proto import (
    TYPE_ANY,
    Message,
)

TYPE_CHECKING = False  # typing itself costs ~4 ms of every CLI start
if TYPE_CHECKING:  # annotations only (they are never evaluated)
    from typing import Any

    from fluxlab.core.handle import Flux

__all__ = ["MsgWatcher", "ReactorMixin", "TimerWatcher"]


class MsgWatcher:
    """Calls ``callback(handle, watcher, msg, args)`` for matching messages."""

    def __init__(
        self,
        h: Flux,
        callback: Callable,
        type_mask: int,
        topic_glob: str,
        args: Any,
        match_tag: int,
    ):
        self.h, self.callback, self.type_mask = h, callback, type_mask
        self.topic_glob, self.args, self.match_tag = topic_glob, args, match_tag
        self.active = False

    def matches(self, msg: Message) -> bool:
        if not msg.type & self.type_mask:
            return False
        if self.match_tag and msg.aux2 != self.match_tag:
            return False
        return self.topic_glob in ("*", "") or fnmatch.fnmatchcase(msg.topic, self.topic_glob)

    def start(self) -> MsgWatcher:
        self.active = True
        self.h._watchers.add(self)
        return self

    def stop(self) -> MsgWatcher:
        self.active = False
        self.h._watchers.discard(self)
        return self

    def destroy(self) -> None:
        self.stop()


class TimerWatcher:
    """Calls ``callback(handle, watcher, revents, args)`` after ``after`` s (repeating)."""

    def __init__(self, h: Flux, after: float, callback: Callable, repeat: float, args: Any):
        self.h, self.after, self.callback, self.repeat, self.args = h, after, callback, repeat, args
        self.deadline = 0.0
        self.active = False

    def start(self) -> TimerWatcher:
        self.active = True
        self.deadline = time.monotonic() + self.after
        self.h._add_timer(self)
        return self

    def stop(self) -> TimerWatcher:
        self.active = False
        return self

    def destroy(self) -> None:
        self.stop()


class ReactorMixin:
    """Reactor, watchers and events of :class:`~fluxlab.core.handle.Flux`."""

    # -- reactor (Flux-style) ------------------------------------------------------
    def _add_timer(self, t: TimerWatcher) -> None:
        heapq.heappush(self._timers, (t.deadline, next(self._timer_seq), t))
        self._poke()

    def _active(self) -> bool:
        if self._pending or any(w.active for w in self._watchers):
            return True
        if any(e[2].active for e in self._timers):
            return True
        return any(f._cb is not None for f in list(self._rpcs.values()))

    def reactor_run(self, reactor: Any = None, flags: int = 0) -> int:
        """Run callbacks and watchers until none is active or ``reactor_stop()``."""
        self._reactor_threads += 1
        self._reactor_stop = False
        try:
            while not self._reactor_stop:
                self._run_pending()
                self._run_timers()
                if self._reactor_stop or not self._active() or self._dead is not None:
                    break
                timeout = 1.0
                if self._timers:
                    timeout = max(0.0, min(timeout, self._timers[0][0] - time.monotonic()))
                with self._pending_lock:
                    if self._pending:
                        continue
                self._wait_until(lambda: bool(self._pending), timeout)
        finally:
            self._reactor_threads -= 1
        exc = self._aux.pop("exception", None)
        if exc is not None:
            raise exc
        return 0

    def _run_timers(self) -> None:
        now = time.monotonic()
        while self._timers and self._timers[0][0] <= now:
            d, _, t = heapq.heappop(self._timers)
            if not t.active or d != t.deadline:
                continue
            if t.repeat > 0:
                t.deadline = now + t.repeat
                heapq.heappush(self._timers, (t.deadline, next(self._timer_seq), t))
            else:
                t.active = False
            t.callback(self, t, 0, t.args)

    def reactor_stop(self, reactor: Any = None) -> None:
        self._reactor_stop = True
        self._poke()

    def reactor_stop_error(self, reactor: Any = None) -> None:
        self.reactor_stop(reactor)

    def reactor_running(self) -> bool:
        return self._reactor_threads > 0

    in_reactor = reactor_running

    def msg_watcher_create(
        self,
        callback: Callable,
        type_mask: int = TYPE_ANY,
        topic_glob: str = "*",
        args: Any = None,
        match_tag: int = 0,
        rolemask: int | None = None,
    ) -> MsgWatcher:
        return MsgWatcher(self, callback, type_mask, topic_glob, args, match_tag)

    def timer_watcher_create(
        self, after: float, callback: Callable, repeat: float = 0.0, args: Any = None
    ) -> TimerWatcher:
        return TimerWatcher(self, after, callback, repeat, args)

    # -- events ---------------------------------------------------------------
    def event_subscribe(self, topic: str) -> None:
        self.rpc("event.subscribe", {"topic": topic}).get()

    def event_unsubscribe(self, topic: str) -> None:
        self.rpc("event.unsubscribe", {"topic": topic}).get()

    def event_create(self, topic: str, payload: Any = None) -> Message:
        return Message.event(topic, payload)

    def event_send(self, topic: str, payload: Any = None) -> int:
        """Publish an event through rank 0; returns its sequence number."""
        if isinstance(payload, (str, bytes)):
            payload = json.loads(payload)
        return self.rpc("event.pub", {"topic": topic, "payload": payload}, nodeid=0).get()["seq"]

    def event_recv(self, topic: str | None = None, timeout: float | None = None) -> Message | None:
        """Wait for the next event (matching ``topic`` glob if given)."""
        self._check_usable()

        def find():
            for i, m in enumerate(self._events):
                if (
                    topic is None
                    or fnmatch.fnmatchcase(m.topic, topic)
                    or m.topic.startswith(topic)
                ):
                    del self._events[i]
                    return m
            return None

        found: list = []

        def cond():
            if not found:
                m = find()
                if m is not None:
                    found.append(m)
            return bool(found)

        if not self._wait_until(cond, timeout):
            return None
        return found[0]

    def recv(
        self,
        type_mask: int = TYPE_ANY,
        match_tag: int = 0,
        topic_glob: str | None = None,
        flags: int = 0,
        timeout: float | None = None,
    ) -> Message | None:
        """Wait for the next queued request or event matching the filters."""

        def pick(q):
            for i, m in enumerate(q):
                if m.type & type_mask and (
                    not topic_glob or fnmatch.fnmatchcase(m.topic, topic_glob)
                ):
                    del q[i]
                    return m
            return None

        found: list = []

        def cond():
            if not found:
                m = pick(self._requests) or pick(self._events)
                if m is not None:
                    found.append(m)
            return bool(found)

        return found[0] if self._wait_until(cond, timeout) else None
