"""Futures: the result of an RPC (single or streaming) or any deferred value.

A :class:`Future` is fulfilled with values or failed with an exception by its
*owner* (a client handle or a broker's reactor).  Its API follows Flux's
Python futures:

* ``get(timeout=None)`` blocks for the first unconsumed result and returns it
  (raising :class:`~fluxlab.core.errors.FluxError` for error responses);
* ``reset()`` consumes that result so the next ``get()`` waits for the next
  response of a streaming RPC;
* ``then(cb)`` registers ``cb(future)``, called once per result in the
  owner's callback context (the handle's reactor or asyncio loop, or the
  broker thread for modules) — never from an arbitrary thread;
* ``wait_for(timeout)`` waits without consuming; ``is_ready()`` checks.

Futures are also awaitable (``await h.rpc(...)``) and streaming RPCs are
async-iterable.  A stream's values end with an ``ENODATA`` error, which
iteration turns into ``StopIteration``.

Thread safety: all state changes hold ``_lock``; waiting is delegated to the
owner, which knows how to make progress (pump a socket) while waiting.
"""

from __future__ import annotations

import errno
import threading
from collections import deque
from collections.abc import Callable, Iterator

from fluxlab.core.errors import FluxError

TYPE_CHECKING = False  # typing itself costs ~4 ms of every CLI start
if TYPE_CHECKING:  # annotations only (they are never evaluated)
    from typing import Any

__all__ = ["Future", "FutureOwner"]


class FutureOwner:
    """What a future needs from whoever fulfils it."""

    def _future_wait(self, fut: Future, timeout: float | None) -> bool:
        """Block until ``fut`` has a result or ``timeout`` passes; True if ready."""
        raise NotImplementedError

    def _future_schedule(self, fut: Future) -> None:
        """Arrange for ``fut``'s then-callback to run in the callback context."""
        raise NotImplementedError

    def _future_await(self, fut: Future):
        """Return an awaitable for ``fut`` (asyncio bridge), or None for yield-self."""
        return None

    def _future_cancel(self, fut: Future) -> None:
        """Cancel the operation behind ``fut`` (e.g. a streaming RPC)."""

    def _future_then(self, fut: Future) -> None:
        """A then-callback was just registered on ``fut`` (hook for owners)."""


class Future:
    """A deferred result, possibly a stream of results.

    Parameters
    ----------
    owner : FutureOwner
        Fulfils the future and performs waits and callbacks.
    streaming : bool
        True if the future may receive many results (ended by ENODATA).
    """

    __slots__ = (
        "__weakref__",
        "_cb",
        "_cb_args",
        "_done",
        "_lock",
        "_owner",
        "_results",
        "_scheduled",
        "_waiters",
        "context",
        "streaming",
    )

    def __init__(self, owner: FutureOwner, streaming: bool = False):
        self._owner = owner
        self._lock = threading.Lock()
        self._results: deque = deque()  # ("ok", value) | ("err", exc)
        self._cb: Callable | None = None
        self._cb_args: tuple = ()
        self._done = False  # terminal result received (no more will come)
        self._scheduled = False
        self._waiters: list[Callable[[], None]] | None = None
        self.streaming = streaming
        #: free slot for the owner (e.g. the RPC's matchtag and topic)
        self.context: Any = None

    # -- fulfilment (owner side) -----------------------------------------
    def fulfill(self, value: Any) -> None:
        """Add a successful result."""
        self._add(("ok", value), terminal=not self.streaming)

    def fail(self, exc: BaseException) -> None:
        """Add an error result; errors are terminal."""
        self._add(("err", exc), terminal=True)

    def _add(self, item: tuple, terminal: bool) -> None:
        with self._lock:
            if self._done:
                return
            self._results.append(item)
            if terminal:
                self._done = True
            schedule = self._cb is not None and not self._scheduled
            if schedule:
                self._scheduled = True
            waiters, self._waiters = self._waiters, None
        if schedule:
            self._owner._future_schedule(self)
        if waiters:
            for w in waiters:
                w()

    def add_waiter(self, fn: Callable[[], None]) -> None:
        """Call ``fn()`` (from the fulfilling thread) at the next result; one-shot.

        If a result is already available ``fn`` is called at once.  Used to
        bridge futures into other event loops (asyncio).
        """
        with self._lock:
            if not self._results:
                if self._waiters is None:
                    self._waiters = []
                self._waiters.append(fn)
                return
        fn()

    def _run_callback(self) -> None:
        """Run the then-callback once per available result (owner side)."""
        while True:
            with self._lock:
                cb = self._cb
                if cb is None or not self._results:
                    self._scheduled = False
                    return
                n_before = len(self._results)
            cb(self, *self._cb_args)
            with self._lock:
                # a callback that did not reset() a streaming future would loop
                # forever on the same result; stop and wait for the next one
                if len(self._results) >= n_before and self._results:
                    self._scheduled = False
                    return

    # -- consumer side ----------------------------------------------------
    def is_ready(self) -> bool:
        return bool(self._results)

    def wait_for(self, timeout: float | None = None) -> Future:
        """Wait until a result is available.

        Raises
        ------
        fluxlab.core.errors.TimeoutError_
            If ``timeout`` seconds pass first.
        """
        if not self._results and not self._owner._future_wait(self, timeout):
            from fluxlab.core.errors import TimeoutError_

            topic = getattr(self.context, "topic", None)
            what = f" for {topic}" if topic else ""
            raise TimeoutError_(f"timed out after {timeout}s waiting{what}")
        return self

    def get(self, timeout: float | None = None) -> Any:
        """Return the first unconsumed result (raising it if it is an error)."""
        self.wait_for(timeout)
        kind, value = self._results[0]
        if kind == "err":
            raise value
        return value

    def get_str(self, timeout: float | None = None) -> str:
        import json

        return json.dumps(self.get(timeout))

    def reset(self) -> Future:
        """Consume the current result so ``get()`` waits for the next one."""
        with self._lock:
            if self._results and not (
                self._done and len(self._results) == 1 and self._results[0][0] == "err"
            ):
                self._results.popleft()
        return self

    def then(self, cb: Callable[..., Any], *args: Any, timeout: float = -1.0) -> Future:
        """Call ``cb(self, *args)`` for each result, in the owner's callback context."""
        with self._lock:
            self._cb = cb
            self._cb_args = args
            schedule = bool(self._results) and not self._scheduled
            if schedule:
                self._scheduled = True
        self._owner._future_then(self)
        if schedule:
            self._owner._future_schedule(self)
        return self

    def drop_callback(self) -> None:
        """Forget the :meth:`then` callback (its owner is gone); waiters still wake."""
        with self._lock:
            self._cb = None
            self._cb_args = ()

    def cancel(self) -> None:
        """Cancel a streaming RPC; the stream then ends with ECANCELED."""
        self._owner._future_cancel(self)

    # -- iteration ---------------------------------------------------------
    def stream(self, timeout: float | None = None) -> Iterator[Any]:
        """Yield each result of a streaming future until the stream ends (ENODATA)."""
        while True:
            try:
                value = self.get(timeout)
            except FluxError as e:
                if e.errno == errno.ENODATA:
                    return
                raise
            self.reset()
            yield value

    def __await__(self):
        bridge = self._owner._future_await(self)
        if bridge is not None:
            return (yield from bridge.__await__())
        while not self._results:
            yield self
        return self.get(0)

    def __aiter__(self):
        return self

    async def __anext__(self):
        try:
            value = await self
        except FluxError as e:
            if e.errno == errno.ENODATA:
                raise StopAsyncIteration from None
            raise
        self.reset()
        return value

    def __repr__(self) -> str:
        state = "ready" if self._results else ("done" if self._done else "pending")
        return f"<Future {state} {self.context!r}>"
