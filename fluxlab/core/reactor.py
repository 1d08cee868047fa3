"""A small single-threaded event loop for brokers: zmq sockets, fds, timers.

One :class:`Reactor` runs in each broker thread.  Everything a broker and its
service modules do happens in callbacks on that thread, so module code never
needs locks.  Other threads talk to it only through
:meth:`Reactor.call_soon_threadsafe`.

Loop iteration order (the invariant service modules rely on):

1. run callbacks queued with :meth:`call_soon` (local message deliveries);
2. run *check* callbacks (:meth:`add_check`) — e.g. the KVS flushes the commits
   that arrived during this iteration as one merged root update;
3. poll sockets/fds (timeout 0 if step 1 or 2 queued more work, else until the
   next timer) and run their reader callbacks;
4. run due timers;
5. if nothing was queued, readable or due, run one *idle* callback
   (:meth:`add_idle`): background work in short slices that never delays
   a message or a timer by more than one slice.

An exception in a callback is logged and swallowed: a bug in one module must
not take the broker down.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import zmq

from fluxlab.core.future import Future, FutureOwner

__all__ = ["Reactor", "Timer"]

log = logging.getLogger("fluxlab.reactor")


#: callbacks run per reactor turn before sockets and timers are served again
TURN = 4096


class Timer:
    """A one-shot or repeating timer; :meth:`cancel` stops it."""

    __slots__ = ("_reactor", "active", "args", "callback", "deadline", "repeat")

    def __init__(self, reactor: Reactor, deadline: float, repeat: float, callback: Callable, args):
        self._reactor = reactor
        self.deadline = deadline
        self.repeat = repeat
        self.callback = callback
        self.args = args
        self.active = True

    def cancel(self) -> None:
        self.active = False

    def reset(self, after: float) -> None:
        """Re-arm to fire ``after`` seconds from now (stale heap entries are skipped)."""
        self.active = True
        self.deadline = time.monotonic() + after
        self._reactor._push_timer(self)


class Reactor(FutureOwner):
    """The broker event loop (see module docstring for the iteration order)."""

    def __init__(self, name: str = "reactor"):
        self.name = name
        self._poller = zmq.Poller()
        self._readers: dict[Any, Callable] = {}
        self._timers: list = []
        self._seq = itertools.count()
        self._soon: deque = deque()
        self._checks: list[Callable] = []
        self._idle: deque = deque()
        self._ts_lock = threading.Lock()
        self._ts_queue: deque = deque()
        self._running = False
        self.thread_id: int | None = None
        from fluxlab.transport import context

        ctx = context()
        addr = f"inproc://fluxlab-reactor-wake-{id(self)}-{next(_wake_ids)}"
        self._wake_r = ctx.socket(zmq.PAIR)
        self._wake_r.bind(addr)
        self._wake_w = ctx.socket(zmq.PAIR)
        self._wake_w.connect(addr)
        self._wake_lock = threading.Lock()
        self.add_reader(self._wake_r, self._on_wake)

    # -- registration -------------------------------------------------------
    def add_reader(self, sock_or_fd: Any, callback: Callable[[], None]) -> None:
        """Call ``callback()`` whenever ``sock_or_fd`` is readable."""
        self._readers[sock_or_fd] = callback
        self._poller.register(sock_or_fd, zmq.POLLIN)

    def remove_reader(self, sock_or_fd: Any) -> None:
        if self._readers.pop(sock_or_fd, None) is not None:
            self._poller.unregister(sock_or_fd)

    def call_soon(self, callback: Callable, *args: Any) -> None:
        """Run ``callback(*args)`` after the callbacks queued before it, in this
        turn or the next (reactor thread only; see :meth:`_run_soon`)."""
        self._soon.append((callback, args))

    def call_soon_threadsafe(self, callback: Callable, *args: Any) -> None:
        """Run ``callback(*args)`` in the reactor thread; callable from any thread."""
        with self._ts_lock:
            self._ts_queue.append((callback, args))
        with self._wake_lock:
            try:
                self._wake_w.send(b"", zmq.NOBLOCK)
            except zmq.ZMQError:
                pass

    def call_later(self, after: float, callback: Callable, *args: Any) -> Timer:
        t = Timer(self, time.monotonic() + after, 0.0, callback, args)
        self._push_timer(t)
        return t

    def call_every(self, interval: float, callback: Callable, *args: Any) -> Timer:
        t = Timer(self, time.monotonic() + interval, interval, callback, args)
        self._push_timer(t)
        return t

    def _push_timer(self, t: Timer) -> None:
        heapq.heappush(self._timers, (t.deadline, next(self._seq), t))

    def add_check(self, callback: Callable[[], None]) -> None:
        """Run ``callback()`` once per loop iteration, after queued callbacks."""
        self._checks.append(callback)

    def remove_check(self, callback: Callable[[], None]) -> None:
        if callback in self._checks:
            self._checks.remove(callback)

    def add_idle(self, callback: Callable[[], bool]) -> None:
        """Call ``callback()`` whenever the loop would otherwise wait.

        It runs only when no callback is queued, no socket is readable and no
        timer is due, one slice per loop iteration (idle callbacks take turns),
        so it should return within a millisecond or so.  It returns True to
        be called again at the next idle moment, False when its work is done.
        A process that is never idle never runs it: work that must progress
        under load has to be paid for elsewhere too.
        """
        if callback not in self._idle:
            self._idle.append(callback)

    def _run_idle(self) -> None:
        cb = self._idle.popleft()
        try:
            again = cb()
        except Exception:
            log.exception("%s: idle callback failed", self.name)
            again = False
        if again and cb not in self._idle:
            self._idle.append(cb)

    # -- futures owned by the reactor (module RPCs) ------------------------
    def _future_wait(self, fut: Future, timeout: float | None) -> bool:
        if threading.get_ident() == self.thread_id:
            raise RuntimeError(
                "a broker module cannot block on a future; use then() or await it in an async handler"
            )
        deadline = None if timeout is None else time.monotonic() + timeout
        ev = threading.Event()
        while not fut.is_ready():
            if deadline is not None and time.monotonic() >= deadline:
                return False
            ev.wait(0.005)
        return True

    def _future_schedule(self, fut: Future) -> None:
        if threading.get_ident() == self.thread_id:
            self._soon.append((fut._run_callback, ()))
        else:
            self.call_soon_threadsafe(fut._run_callback)

    # -- running --------------------------------------------------------------
    def _on_wake(self) -> None:
        while True:
            try:
                self._wake_r.recv(zmq.NOBLOCK)
            except zmq.Again:
                break
        with self._ts_lock:
            items, self._ts_queue = self._ts_queue, deque()
        self._soon.extend(items)

    def _run_soon(self) -> None:
        """Run queued callbacks, and those they queue, up to a turn's worth.

        Callbacks queued while the turn runs join it (up to :data:`TURN`
        callbacks, or all that were queued at its start if more): a message
        handed from module to module then costs no extra poll of every
        socket, which took ~12% of a busy broker's time.  Sockets and timers
        are served between turns; work that must yield to them (a long job
        in slices) schedules its next slice with ``call_later(0, ...)``.
        """
        soon = self._soon
        n = max(len(soon), TURN)
        while n and soon:
            n -= 1
            cb, args = soon.popleft()
            try:
                cb(*args)
            except Exception:
                log.exception("%s: callback %r failed", self.name, cb)

    def run(self) -> None:
        """Run until :meth:`stop` is called."""
        self.thread_id = threading.get_ident()
        self._running = True
        poll = self._poller.poll
        readers = self._readers
        timers = self._timers
        soon = self._soon
        idle = self._idle
        while self._running:
            if soon:
                self._run_soon()
            for check in list(self._checks):
                try:
                    check()
                except Exception:
                    log.exception("%s: check callback failed", self.name)
            if not self._running:
                break
            if soon or idle:
                timeout = 0
            elif timers:
                timeout = max(0, (timers[0][0] - time.monotonic()) * 1000)
            else:
                timeout = None
            try:
                events = poll(timeout)
            except zmq.ZMQError as e:
                if e.errno == zmq.ETERM:
                    break
                raise
            for sock, _ in events:
                cb = readers.get(sock)
                if cb is not None:
                    try:
                        cb()
                    except Exception:
                        log.exception("%s: reader callback failed", self.name)
            if timers:
                now = time.monotonic()
                while timers and timers[0][0] <= now:
                    d, _, t = heapq.heappop(timers)
                    if not t.active or d != t.deadline:
                        continue
                    if t.repeat > 0:
                        t.deadline = now + t.repeat
                        self._push_timer(t)
                    else:
                        t.active = False
                    try:
                        t.callback(*t.args)
                    except Exception:
                        log.exception("%s: timer callback failed", self.name)
            if idle and not events and not soon and (not timers or timers[0][0] > time.monotonic()):
                self._run_idle()

    def stop(self) -> None:
        """Stop the loop (thread-safe)."""
        if threading.get_ident() == self.thread_id:
            self._running = False
        else:
            self.call_soon_threadsafe(self._stop_now)

    def _stop_now(self) -> None:
        self._running = False

    def close(self) -> None:
        for s in (self._wake_r, self._wake_w):
            s.close(linger=0)


_wake_ids = itertools.count()
