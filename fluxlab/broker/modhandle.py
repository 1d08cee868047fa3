"""The handle a loaded service module uses to talk to its broker.

Everything happens on the broker's reactor thread: RPC futures are fulfilled
there, then-callbacks run there, and ``async def`` handlers run as
:class:`Task` objects stepped there.  A module therefore never blocks: it
chains ``then`` or ``await``s.
"""

from __future__ import annotations

import errno
import itertools
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from fluxlab._proto import (
    FLAG_NORESPONSE,
    FLAG_STREAMING,
    NODEID_ANY,
    Message,
)
from fluxlab.core.errors import FluxError, error_from_response
from fluxlab.core.future import Future, FutureOwner

if TYPE_CHECKING:
    from fluxlab.broker.broker import Broker
    from fluxlab.core.module import ServiceModule

__all__ = ["ModuleHandle", "RPCContext", "Task"]


class RPCContext:
    """What an RPC future remembers about its request."""

    __slots__ = ("matchtag", "nodeid", "topic")

    def __init__(self, topic: str, nodeid: int, matchtag: int):
        self.topic = topic
        self.nodeid = nodeid
        self.matchtag = matchtag

    def __repr__(self) -> str:
        return f"rpc {self.topic} nodeid={self.nodeid} tag={self.matchtag}"


class Task:
    """Runs a coroutine on the reactor; each ``await``ed future resumes it."""

    __slots__ = ("coro", "done_cb")

    def __init__(
        self, coro: Coroutine, done_cb: Callable[[Any, BaseException | None], None] | None
    ):
        self.coro = coro
        self.done_cb = done_cb

    def step(self, value: Any = None, exc: BaseException | None = None) -> None:
        try:
            fut = self.coro.throw(exc) if exc is not None else self.coro.send(value)
        except StopIteration as stop:
            if self.done_cb:
                self.done_cb(stop.value, None)
            return
        except BaseException as e:
            if self.done_cb:
                self.done_cb(None, e)
            else:
                raise
            return
        if not isinstance(fut, Future):
            self.step(
                None, TypeError(f"module coroutines may only await fluxlab futures, not {fut!r}")
            )
            return
        fut.then(self._resume)

    def _resume(self, fut: Future) -> None:
        fut._cb = None  # one-shot: the coroutine re-registers if it awaits again
        try:
            value = fut.get(0)
        except BaseException as e:  # noqa: BLE001
            self.step(None, e)
            return
        self.step(value)


class ModuleHandle(FutureOwner):
    """A module's view of its broker (rank, RPC, events, timers, logging)."""

    def __init__(self, broker: Broker, name: str, conf: dict | None = None):
        self.broker = broker
        self.name = name
        self.rank = broker.rank
        self.size = broker.size
        self.reactor = broker.reactor
        self.conf = conf or {}
        self.hop = f"m{broker.rank}:{name}"
        self.module: ServiceModule | None = None
        self._tags = itertools.count(1)
        self._rpcs: dict[int, Future] = {}

    # -- RPC ----------------------------------------------------------------
    def rpc(
        self, topic: str, payload: Any = None, nodeid: int = NODEID_ANY, flags: int = 0
    ) -> Future:
        """Send a request; returns a future for its response(s)."""
        streaming = bool(flags & FLAG_STREAMING)
        fut = Future(self, streaming=streaming)
        if flags & FLAG_NORESPONSE:
            tag = 0
            fut.fulfill(None)
        else:
            tag = next(self._tags)
            self._rpcs[tag] = fut
        fut.context = RPCContext(topic, nodeid, tag)
        msg = Message.request(topic, payload, nodeid=nodeid, matchtag=tag, flags=flags)
        self.broker.route_request(msg, self.hop)
        return fut

    def forget(self, fut: Future) -> None:
        """Stop routing responses to ``fut`` (a stream the caller considers done)."""
        ctx = fut.context
        if isinstance(ctx, RPCContext):
            self._rpcs.pop(ctx.matchtag, None)

    def send_noresponse(self, topic: str, payload: Any = None, nodeid: int = NODEID_ANY) -> None:
        msg = Message.request(topic, payload, nodeid=nodeid, flags=FLAG_NORESPONSE)
        self.broker.route_request(msg, self.hop)

    def deliver_response(self, msg: Message) -> None:
        fut = self._rpcs.get(msg.matchtag)
        if fut is None:
            return
        errnum = msg.aux1
        if errnum:
            del self._rpcs[msg.matchtag]
            fut.fail(error_from_response(errnum, msg.errstr))
            return
        if not fut.streaming:
            del self._rpcs[msg.matchtag]
        try:
            fut.fulfill(msg.payload)
        except Exception as e:  # noqa: BLE001 - a malformed payload fails the future
            self._rpcs.pop(msg.matchtag, None)
            fut.fail(FluxError(errno.EPROTO, str(e)))

    def respond(self, msg: Message, payload: Any = None) -> None:
        if msg.flags & FLAG_NORESPONSE:
            return
        if not msg.flags & FLAG_STREAMING:
            msg.handled = True
        self.broker.route_response(msg.response(payload))

    def respond_error(self, msg: Message, errnum: int, errstr: str = "") -> None:
        if msg.flags & FLAG_NORESPONSE:
            return
        msg.handled = True
        self.broker.route_response(msg.response(None, errnum, errstr))

    # -- events -------------------------------------------------------------
    def event_publish(self, topic: str, payload: Any = None) -> Future:
        """Publish an event (sequenced by rank 0); the future yields ``{"seq": N}``."""
        return self.rpc("event.pub", {"topic": topic, "payload": payload}, nodeid=0)

    def event_subscribe(self, prefix: str, handler: Callable[[Message], None]) -> None:
        self.broker.module_subscribe(self, prefix, handler)

    def event_unsubscribe(self, prefix: str) -> None:
        self.broker.module_unsubscribe(self, prefix)

    # -- misc ------------------------------------------------------------------
    def attr_get(self, name: str) -> str:
        return self.broker.attrs.get(name)

    def log(self, level: int, text: str, component: str | None = None) -> None:
        self.broker.log(level, text, component or self.name)

    def spawn(
        self, coro: Coroutine, done_cb: Callable[[Any, BaseException | None], None] | None = None
    ) -> Task:
        """Run ``coro`` on the reactor; ``done_cb(value, exc)`` when it ends."""
        task = Task(coro, done_cb)
        self.reactor.call_soon(task.step)
        return task

    def fail_all(self, errnum: int, text: str) -> None:
        """Fail every outstanding RPC of a module being removed.

        The module has stopped, so its callbacks are dropped first: none of
        its code runs after ``stop()`` (a thread waiting on a future still
        gets the error).
        """
        rpcs, self._rpcs = self._rpcs, {}
        for fut in rpcs.values():
            fut.drop_callback()
            fut.fail(FluxError(errnum, text))

    # -- FutureOwner ----------------------------------------------------------
    def _future_wait(self, fut: Future, timeout: float | None) -> bool:
        return self.reactor._future_wait(fut, timeout)

    def _future_schedule(self, fut: Future) -> None:
        self.reactor._future_schedule(fut)

    def _future_cancel(self, fut: Future) -> None:
        ctx = fut.context
        if not isinstance(ctx, RPCContext) or not ctx.matchtag:
            return
        service = ctx.topic.partition(".")[0]
        self.send_noresponse(f"{service}.cancel", {"matchtag": ctx.matchtag}, ctx.nodeid)
