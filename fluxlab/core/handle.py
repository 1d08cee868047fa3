"""The client handle: ``fluxlab.Flux(uri)``, compatible with ``flux.Flux``.

A handle owns one connector to a broker (:mod:`fluxlab.core.connector`):

* a direct in-process channel when the broker is an embedded one in this
  process (unless ``FLUXLAB_NO_DIRECT`` is set);
* for an ``ipc://`` endpoint, a plain UNIX socket speaking ZMTP to the
  broker's zmq ROUTER (:class:`~fluxlab.core.connector.ZmtpConnector`), as
  Flux's own local connector is a plain UNIX socket: a client process — the
  CLI above all — then never imports pyzmq.  ``FLUXLAB_CONNECTOR=zmq`` forces
  a pyzmq DEALER instead;
* a pyzmq DEALER socket for ``inproc://`` (an embedded broker reached
  through zmq) and ``tcp://``.

It is safe to use from several threads:

* every socket operation holds the connector's lock;
* a thread that waits on a future becomes the *leader* if nobody else is
  pumping the socket: it selects on the socket's fd, drains whatever arrived
  and hands each message to its future or queue, then wakes the *followers*
  (other waiting threads) through ``_cv``;
* a thread that sends also drains what is readable, so an edge of the
  (edge-triggered) zmq fd is never lost, and pokes the leader's wake pipe.
  (The ZMTP connector's fd is level-triggered; once it reports the
  connection lost, the handle stops watching it.)

Then-callbacks never run inside that machinery: they run in the handle's
callback context — ``h.reactor_run()`` in the calling thread, or, once the
handle is attached to an asyncio loop (automatically when a callback is
registered or a future awaited inside a running loop, e.g. a Jupyter
kernel), on that loop.
"""

from __future__ import annotations

import errno
import itertools
import json
import os
import select
import sys
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable

from fluxlab._proto import (
    EVENT,
    FLAG_NORESPONSE,
    FLAG_STREAMING,
    NODEID_ANY,
    REQUEST,
    RESPONSE,
    Message,
    ProtocolError,
)
from fluxlab.core._handle_reactor import MsgWatcher, ReactorMixin, TimerWatcher
from fluxlab.core.connector import LOST, DirectConnector, WakePipe, connect_socket
from fluxlab.core.errors import FluxError, error_from_response
from fluxlab.core.future import Future, FutureOwner

TYPE_CHECKING = False  # typing itself costs ~4 ms of every CLI start
if TYPE_CHECKING:  # annotations only (they are never evaluated)
    from typing import Any

__all__ = ["Flux", "MsgWatcher", "TimerWatcher", "resolve_uri"]


#: in-process brokers: ``local-uri -> inproc endpoint`` (filled by embedded instances)
_INPROC: dict[str, str] = {}
#: in-process embedded brokers by local-uri (handles talk to them directly)
_DIRECT: dict[str, Any] = {}
#: live handles per local-uri, so a stopping embedded instance can fail them
_HANDLES: dict[str, weakref.WeakSet] = {}


def resolve_uri(uri: str | None) -> str:
    """Turn a user-supplied URI (or ``$FLUXLAB_URI``) into a zmq endpoint.

    ``local:///path`` is accepted as a synonym of ``ipc:///path``.

    Raises
    ------
    FluxError
        ``ENOENT`` with advice when no URI is given and ``FLUXLAB_URI`` is unset.
    """
    if not uri:
        uri = os.environ.get("FLUXLAB_URI", "")
    if not uri:
        raise FluxError(
            errno.ENOENT,
            "no fluxlab instance: FLUXLAB_URI is not set. Start one with "
            "fluxlab.start() in Python, `%flux start` in a notebook, or "
            "`fluxlab start` in a shell",
        )
    if uri.startswith("local://"):
        uri = "ipc://" + uri[len("local://") :]
    return uri


class RPCContext:
    __slots__ = ("matchtag", "nodeid", "topic")

    def __init__(self, topic: str, nodeid: int, matchtag: int):
        self.topic, self.nodeid, self.matchtag = topic, nodeid, matchtag

    def __repr__(self) -> str:
        return f"rpc {self.topic}"


class Flux(FutureOwner, ReactorMixin):
    """A connection to a fluxlab instance (``flux.Flux``).

    Parameters
    ----------
    url : str, optional
        The instance URI (``ipc:///...``, ``local:///...`` or ``inproc://...``);
        default ``$FLUXLAB_URI``.
    flags : int
        Accepted for compatibility; unused.
    handle : Flux, optional
        Accepted for compatibility: another handle whose URI to reuse.

    Raises
    ------
    FluxError
        ``ENOENT``/``ECONNREFUSED`` when nothing listens at the URI.
    """

    def __init__(self, url: str | None = None, flags: int = 0, handle: Flux | None = None):
        if handle is not None and url is None:
            url = handle.uri
        self.uri = resolve_uri(url)
        self._pid = os.getpid()
        self._leader = threading.Lock()
        self._cv = threading.Condition(threading.Lock())
        self._wake = WakePipe()
        self._wake_r = self._wake.r
        self._wake_finalizer = weakref.finalize(self, self._wake.close)
        self._tags = itertools.count(1)
        self._rpcs: dict[int, Future] = {}
        self._events: deque[Message] = deque()
        self._requests: deque[Message] = deque()
        self._watchers: set[MsgWatcher] = set()
        self._timers: list = []
        self._timer_seq = itertools.count()
        self._pending: deque[Future | Callable] = deque()
        self._pending_lock = threading.Lock()
        self._loop = None  # an asyncio event loop once attached
        self._loop_scheduled = False
        self._reactor_threads = 0
        self._reactor_stop = False
        self._dead: FluxError | None = None
        self._closed = False
        self._rank: int | None = None
        self._aux: dict[str, Any] = {}
        broker = _DIRECT.get(self.uri)
        if broker is not None and not os.environ.get("FLUXLAB_NO_DIRECT"):
            self._conn = DirectConnector(self, broker, self._wake)
        else:
            self._conn = connect_socket(self, _INPROC.get(self.uri, self.uri))
        _HANDLES.setdefault(self.uri, weakref.WeakSet()).add(self)

    # -- context manager / teardown --------------------------------------------
    def __enter__(self) -> Flux:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Say goodbye to the broker and close the socket."""
        if self._closed:
            return
        self._closed = True
        self._detach_loop()
        self._conn.close()
        self._wake_finalizer()
        self._fail_all(FluxError(errno.ECONNRESET, "handle closed"))

    def _mark_dead(self, why: str) -> None:
        """The instance went away: fail every outstanding RPC (any thread)."""
        if self._dead is None:
            self._dead = FluxError(errno.ECONNRESET, why)
        self._fail_all(self._dead)
        self._poke()

    def _fail_all(self, exc: FluxError) -> None:
        rpcs, self._rpcs = self._rpcs, {}
        for fut in rpcs.values():
            fut.fail(exc)
        with self._cv:
            self._cv.notify_all()

    def _check_usable(self) -> None:
        if self._closed:
            raise FluxError(errno.EBADF, "the handle is closed")
        if self._pid != os.getpid():
            raise FluxError(
                errno.EINVAL, "a handle cannot be used after fork(); create a new fluxlab.Flux()"
            )
        if self._dead is not None:
            raise FluxError(self._dead.errno, str(self._dead))

    # -- sending ------------------------------------------------------------
    def _send(self, msg: Message) -> None:
        got = self._conn.send(msg)
        if got:
            self._dispatch(got)
            self._poke()

    def _poke(self) -> None:
        try:
            self._wake.poke()
        except OSError:
            pass

    def rpc(
        self, topic: str, payload: Any = None, nodeid: int = NODEID_ANY, flags: int = 0
    ) -> Future:
        """Send a request; returns a future (``.get()``, ``.then()``, ``await``).

        ``payload`` may be a dict (or any JSON value) or a JSON string.
        """
        self._check_usable()
        if isinstance(payload, (str, bytes)):
            try:
                payload = json.loads(payload)
            except ValueError as e:
                raise FluxError(
                    errno.EPROTO, f"rpc {topic}: payload string is not JSON: {e}"
                ) from None
        streaming = bool(flags & FLAG_STREAMING)
        fut = Future(self, streaming=streaming)
        if flags & FLAG_NORESPONSE:
            tag = 0
        else:
            tag = next(self._tags)
            self._rpcs[tag] = fut
        fut.context = RPCContext(topic, nodeid, tag)
        try:
            self._send(Message.request(topic, payload, nodeid=nodeid, matchtag=tag, flags=flags))
        except (TypeError, ValueError) as e:
            self._rpcs.pop(tag, None)
            raise FluxError(
                errno.EPROTO, f"rpc {topic}: payload is not JSON-serialisable: {e}"
            ) from None
        if not tag:
            fut.fulfill(None)
        return fut

    def send(self, msg: Message, flags: int = 0) -> None:
        self._check_usable()
        self._send(msg)

    def respond(self, message: Message, payload: Any = None) -> None:
        """Answer a request received by a service this handle registered."""
        if isinstance(payload, (str, bytes)):
            payload = json.loads(payload)
        self.send(message.response(payload))

    def respond_error(self, message: Message, errnum: int, errstr: str = "") -> None:
        self.send(message.response(None, errnum, errstr))

    # -- receiving ------------------------------------------------------------
    def _dispatch(self, batch: list) -> None:
        schedule = []
        with self._cv:
            for msg in batch:
                if msg is LOST:
                    self._dead = FluxError(
                        errno.ECONNRESET, f"lost connection to the fluxlab broker at {self.uri}"
                    )
                    continue
                mtype = msg.type
                if mtype == RESPONSE:
                    fut = self._rpcs.get(msg.aux2)
                    if fut is None:
                        continue
                    if msg.aux1:
                        del self._rpcs[msg.aux2]
                        fut.fail(error_from_response(msg.aux1, msg.errstr))
                    else:
                        if not fut.streaming:
                            del self._rpcs[msg.aux2]
                        try:
                            fut.fulfill(msg.payload)
                        except ProtocolError as e:
                            self._rpcs.pop(msg.aux2, None)
                            fut.fail(FluxError(errno.EPROTO, str(e)))
                else:
                    matched = [w for w in self._watchers if w.matches(msg)]
                    if matched:
                        schedule.extend((w, msg) for w in matched)
                    elif mtype == EVENT:
                        self._events.append(msg)
                    elif mtype == REQUEST:
                        self._requests.append(msg)
            if self._dead is not None:
                rpcs, self._rpcs = self._rpcs, {}
                for fut in rpcs.values():
                    fut.fail(self._dead)
            self._cv.notify_all()
        for w, msg in schedule:
            self._schedule(lambda w=w, m=msg: w.active and w.callback(self, w, m, w.args))

    def _pump(self, timeout: float | None) -> None:
        """One leader step: wait up to ``timeout`` for input, then dispatch it."""
        got = self._conn.drain()
        if not got:
            fds = [*self._conn.fds(), self._wake_r]
            try:
                ready, _, _ = select.select(fds, [], [], timeout)
            except (OSError, ValueError):
                return
            if self._wake_r in ready:
                self._wake.drain()
            got = self._conn.drain()
        if got:
            self._dispatch(got)

    def _wait_until(self, cond: Callable[[], bool], timeout: float | None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not cond():
            if self._dead is not None or self._closed:
                return cond()
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return False
            if self._leader.acquire(blocking=False):
                try:
                    if cond():
                        break
                    self._pump(remaining if remaining is None or remaining < 1.0 else 1.0)
                finally:
                    with self._cv:
                        self._leader.release()
                        self._cv.notify_all()
            else:
                with self._cv:
                    if not cond() and self._leader.locked():
                        self._cv.wait(0.05 if remaining is None else min(remaining, 0.05))
        return True

    # -- FutureOwner ----------------------------------------------------------
    def _future_wait(self, fut: Future, timeout: float | None) -> bool:
        if self._pid != os.getpid():
            raise FluxError(
                errno.EINVAL, "a handle cannot be used after fork(); create a new fluxlab.Flux()"
            )
        return self._wait_until(fut.is_ready, timeout)

    def _future_schedule(self, fut: Future) -> None:
        self._schedule(fut)

    def _future_then(self, fut: Future) -> None:
        if self._loop is None and not self._reactor_threads:
            asyncio = sys.modules.get("asyncio")  # no asyncio imported: no loop running
            if asyncio is None:
                return
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return
            self.attach_loop(loop)

    def _future_await(self, fut: Future):
        import asyncio

        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return None
        self.attach_loop(loop)
        return self._await(fut, loop)

    async def _await(self, fut: Future, loop) -> Any:
        while not fut.is_ready():
            af = loop.create_future()

            def wake(af=af):
                loop.call_soon_threadsafe(lambda: af.done() or af.set_result(None))

            fut.add_waiter(wake)
            if self._dead is not None:
                raise FluxError(self._dead.errno, str(self._dead))
            await af
        return fut.get(0)

    def _future_cancel(self, fut: Future) -> None:
        ctx = fut.context
        if isinstance(ctx, RPCContext) and ctx.matchtag:
            service = ctx.topic.partition(".")[0]
            self.rpc(f"{service}.cancel", {"matchtag": ctx.matchtag}, ctx.nodeid, FLAG_NORESPONSE)

    # -- callback context -------------------------------------------------------
    def _schedule(self, item: Future | Callable) -> None:
        with self._pending_lock:
            self._pending.append(item)
            loop = self._loop
            kick = loop is not None and not self._loop_scheduled
            if kick:
                self._loop_scheduled = True
        if kick:
            try:
                loop.call_soon_threadsafe(self._run_pending_loop)
            except RuntimeError:  # loop closed
                self._loop = None
        elif loop is None:
            self._poke()

    def _run_pending_loop(self) -> None:
        with self._pending_lock:
            self._loop_scheduled = False
        self._run_pending()

    def _run_pending(self) -> None:
        while True:
            with self._pending_lock:
                if not self._pending:
                    return
                item = self._pending.popleft()
            try:
                if isinstance(item, Future):
                    item._run_callback()
                else:
                    item()
            except Exception as e:
                self._aux["exception"] = e
                if self._reactor_threads:
                    self._reactor_stop = True
                else:
                    import logging

                    logging.getLogger("fluxlab.handle").exception("callback failed: %s", e)

    def call_soon_threadsafe(self, fn: Callable[[], Any]) -> None:
        """Run ``fn()`` in this handle's callback context (reactor or loop); any thread."""
        self._schedule(fn)

    def attach_loop(self, loop) -> None:
        """Run this handle's callbacks on ``loop`` and pump the socket from it."""
        if self._loop is loop:
            return
        self._detach_loop()
        self._loop = loop
        for fd in self._loop_fds():
            loop.add_reader(fd, self._on_loop_readable)
        with self._pending_lock:
            kick = bool(self._pending)
        if kick:
            loop.call_soon(self._run_pending_loop)
        loop.call_soon(self._on_loop_readable)

    def _detach_loop(self) -> None:
        loop, self._loop = self._loop, None
        if loop is not None and not loop.is_closed():
            try:
                for fd in self._loop_fds():
                    loop.remove_reader(fd)
            except (ValueError, RuntimeError, OSError):
                pass

    def _loop_fds(self) -> list[int]:
        # a direct connector signals through the wake pipe; a socket through its fds
        return self._conn.fds() or [self._wake_r]

    def _on_loop_readable(self) -> None:
        if not self._conn.fds():
            self._wake.drain()
        if self._closed:
            return
        if self._leader.acquire(blocking=False):
            try:
                got = self._conn.drain()
                if got:
                    self._dispatch(got)
            finally:
                with self._cv:
                    self._leader.release()
                    self._cv.notify_all()
            if self._dead is not None and self._loop is not None:
                # a lost socket stays readable (EOF): stop watching it, or the loop spins
                for fd in self._conn.fds():
                    self._loop.remove_reader(fd)
        self._run_pending()

    # -- services -------------------------------------------------------------
    def service_register(self, name: str) -> Future:
        return self.rpc("service.add", {"service": name})

    def service_unregister(self, name: str) -> Future:
        return self.rpc("service.remove", {"service": name})

    # -- attributes and misc -----------------------------------------------------
    def attr_get(self, attr_name: str) -> str:
        return self.rpc("attr.get", {"name": attr_name}).get()["value"]

    def attr_set(self, attr: str, value: Any) -> None:
        self.rpc("attr.set", {"name": attr, "value": str(value)}).get()

    def attr_remove(self, attr: str) -> None:
        self.rpc("attr.rm", {"name": attr}).get()

    def get_rank(self) -> int:
        if self._rank is None:
            self._rank = int(self.attr_get("rank"))
        return self._rank

    def log(self, level: int, fstring: str) -> None:
        self.rpc(
            "log.append",
            {"level": int(level), "message": str(fstring), "component": "user"},
            flags=FLAG_NORESPONSE,
        )

    def conf_get(self, key: str | None = None, default: Any = None, update: bool = False) -> Any:
        conf = self.rpc("config.get").get()
        if key is None:
            return conf
        node = conf
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node

    def aux_get(self, key: str) -> Any:
        return self._aux.get(key)

    def aux_set(self, key: str, value: Any) -> None:
        self._aux[key] = value

    def __repr__(self) -> str:
        return f"<fluxlab.Flux {self.uri}>"

    def _repr_html_(self) -> str:  # notebook display, rendered by fluxlab.jupyter.display
        return __import__("fluxlab.jupyter.display", fromlist=["_"]).repr_html(self)
