"""Service modules: small classes with decorated handlers, loaded into a broker.

A module subclasses :class:`ServiceModule`, names itself, and decorates
methods::

    class Echo(ServiceModule):
        name = "echo"

        @request_handler("hello")            # answers echo.hello
        def hello(self, msg):
            return {"you-said": msg.payload}

        @request_handler("watch", streaming=True)
        def watch(self, msg):                 # many responses, ended by ENODATA
            self.stream_add(msg)

        @event_handler("heartbeat.pulse")     # events by topic prefix
        def pulse(self, msg): ...

Handler contract
----------------
* Return a value: it is sent as the response payload.
* Return ``None``: an empty success response is sent, unless the handler
  responded itself, deferred (:meth:`ServiceModule.defer`), the request was
  sent with ``FLAG_NORESPONSE``, or the handler is ``streaming``.
* Raise :class:`~fluxlab.core.errors.ServiceError` (or any ``OSError`` with an
  errno) to send an error response; a malformed payload becomes ``EPROTO``.
  Any other exception is logged and answered with ``EPROTO`` naming the
  module — the broker keeps running.
* ``async def`` handlers may ``await`` RPC futures; their return value is the
  response.

Every module answers ``NAME.ping`` and ``NAME.stats`` and handles
``NAME.cancel`` (end a streaming request, RFC 6) and ``NAME.disconnect``
(drop every stream of a client that went away) for the streams it registers
with :meth:`ServiceModule.stream_add`.
"""

from __future__ import annotations

import errno
import inspect
import logging
import time
from collections.abc import Callable
from typing import Any

from fluxlab._proto import FLAG_NORESPONSE, FLAG_STREAMING, Message, ProtocolError
from fluxlab.core.errors import FluxError, ServiceError

__all__ = ["ServiceModule", "event_handler", "request_handler", "unpack"]

log = logging.getLogger("fluxlab.module")
_REQ_ATTR = "_fluxlab_request"
_EVT_ATTR = "_fluxlab_event"
_MISSING = object()


def request_handler(method: str, *, streaming: bool = False) -> Callable:
    """Mark a method as the handler of ``SERVICE.method`` (or a full ``a.b`` topic)."""

    def deco(fn: Callable) -> Callable:
        setattr(fn, _REQ_ATTR, (method, streaming))
        return fn

    return deco


def event_handler(topic: str) -> Callable:
    """Mark a method as a handler of events whose topic starts with ``topic``."""

    def deco(fn: Callable) -> Callable:
        setattr(fn, _EVT_ATTR, topic)
        return fn

    return deco


def unpack(msg: Message, *fields: tuple) -> tuple:
    """Pull typed fields out of a request payload, with errors naming the field.

    Each field is ``(name, type)`` (required) or ``(name, type, default)``.
    ``type`` may be a tuple of types.  ``bool`` is never accepted for ``int``.

    Raises
    ------
    ServiceError
        ``EPROTO`` naming the topic and field when the payload is not an object,
        a required field is missing, or a field has the wrong type.
    """
    try:
        payload = msg.payload
    except ProtocolError as e:
        raise ServiceError(errno.EPROTO, f"{msg.topic}: {e}") from None
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        raise ServiceError(errno.EPROTO, f"{msg.topic}: payload must be a JSON object")
    out = []
    for field in fields:
        name, typ = field[0], field[1]
        value = payload.get(name, _MISSING)
        if type(value) is typ:  # the common case: exactly the type asked for
            out.append(value)
            continue
        if value is _MISSING:
            if len(field) > 2:
                out.append(field[2])
                continue
            raise ServiceError(errno.EPROTO, f"{msg.topic}: missing required field {name!r}")
        types = typ if isinstance(typ, tuple) else (typ,)
        bad_bool = isinstance(value, bool) and bool not in types
        if bad_bool or not isinstance(value, types):
            want = " or ".join(_json_type_name(t) for t in types)
            raise ServiceError(
                errno.EPROTO,
                f"{msg.topic}: field {name!r} must be {want}, not {_json_type_name(type(value))}",
            )
        out.append(value)
    return tuple(out)


def _json_type_name(t: type) -> str:
    return {
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "a boolean",
        dict: "an object",
        list: "an array",
        type(None): "null",
    }.get(t, t.__name__)


class ServiceModule:
    """Base class of broker service modules.

    Class attributes
    ----------------
    name : str
        Module name (``fluxlab module load NAME``); also registered as a service.
    service : str
        Service name the short handler names live under (default: ``name``).
    """

    name: str = ""
    service: str = ""

    def __init__(self, h: Any, *args: str):
        self.h = h
        self.args = list(args)
        self.streams: dict[tuple[str, int], Message] = {}
        self._counters: dict[str, int] = {}
        self._errors = 0
        self._t_start = time.time()

    # -- life-cycle hooks -------------------------------------------------
    def start(self) -> None:
        """Called once after the module's services are registered."""

    def stop(self) -> None:
        """Called once before the module is removed or the broker exits."""

    def stats(self) -> dict:
        """Extra module-specific statistics merged into ``NAME.stats``."""
        return {}

    def on_disconnect(self, sender: str) -> None:
        """A client (route id ``sender``) went away; streams are already dropped."""

    def on_cancel(self, msg: Message) -> None:
        """Streaming request ``msg`` was cancelled; ECANCELED is sent after this."""

    # -- helpers for handlers -------------------------------------------
    def respond(self, msg: Message, payload: Any = None) -> None:
        self.h.respond(msg, payload)

    def respond_error(self, msg: Message, errnum: int, errstr: str = "") -> None:
        self.h.respond_error(msg, errnum, errstr)

    def defer(self, msg: Message) -> None:
        """Declare that ``msg`` will be answered later (no automatic response)."""
        msg.handled = True

    def stream_add(self, msg: Message) -> None:
        """Register a streaming request (cancel/disconnect will end it)."""
        self.streams[(msg.sender, msg.matchtag)] = msg

    def stream_end(self, msg: Message, errnum: int = errno.ENODATA, errstr: str = "") -> None:
        """End a stream with its terminal error (ENODATA = normal end)."""
        if self.streams.pop((msg.sender, msg.matchtag), None) is not None:
            self.h.respond_error(msg, errnum, errstr)

    def stream_ended(self, msg: Message) -> None:
        """Forget a stream whose protocol ended it with a regular response
        (RFC 32: the final ``release``), so no ENODATA follows."""
        self.streams.pop((msg.sender, msg.matchtag), None)

    def log(self, level: int, text: str) -> None:
        self.h.log(level, text, component=self.name)

    # -- built-in handlers ---------------------------------------------------
    def _ping(self, msg: Message) -> dict:
        p = msg.payload if isinstance(msg.payload, dict) else {}
        return {**p, "name": self.name, "rank": self.h.rank, "service": self.service or self.name}

    def _stats(self, msg: Message) -> dict:
        return {
            "name": self.name,
            "rank": self.h.rank,
            "uptime": time.time() - self._t_start,
            "requests": dict(self._counters),
            "errors": self._errors,
            "streams": len(self.streams),
            **self.stats(),
        }

    def _cancel(self, msg: Message) -> None:
        (matchtag,) = unpack(msg, ("matchtag", int))
        req = self.streams.get((msg.sender, matchtag))
        if req is not None:
            try:
                self.on_cancel(req)
            finally:
                self.stream_end(req, errno.ECANCELED, "canceled")

    def _disconnect(self, msg: Message) -> None:
        sender = msg.sender
        for key in [k for k in self.streams if k[0] == sender]:
            del self.streams[key]
        self.on_disconnect(sender)

    # -- dispatch (called by the broker) ------------------------------------
    @classmethod
    def _request_specs(cls) -> dict[str, tuple[str, bool]]:
        """``topic -> (method name, streaming)`` of the decorated request handlers
        (subclasses override their bases)."""
        svc = cls.service or cls.name
        specs: dict[str, tuple[str, bool]] = {}
        for klass in reversed(cls.__mro__):
            for attr, fn in vars(klass).items():
                spec = getattr(fn, _REQ_ATTR, None)
                if spec is not None:
                    method, streaming = spec
                    specs[method if "." in method else f"{svc}.{method}"] = (attr, streaming)
        return specs

    @classmethod
    def service_names(cls) -> set[str]:
        """The services an instance of this class registers (see :meth:`_handlers`)."""
        names = {cls.name, cls.service or cls.name}
        names.update(topic.partition(".")[0] for topic in cls._request_specs())
        return names - {""}

    def _handlers(self) -> tuple[dict[str, tuple[Callable, bool]], list[tuple[str, Callable]]]:
        """The request topics and event prefixes this module handles."""
        svc = self.service or self.name
        reqs: dict[str, tuple[Callable, bool]] = {
            topic: (getattr(self, attr), streaming)
            for topic, (attr, streaming) in self._request_specs().items()
        }
        evts: list[tuple[str, Callable]] = []
        for klass in reversed(type(self).__mro__):
            for attr, fn in vars(klass).items():
                topic = getattr(fn, _EVT_ATTR, None)
                if topic is not None:
                    evts.append((topic, getattr(self, attr)))
        for name in {self.name, svc}:
            reqs.setdefault(f"{name}.ping", (self._ping, False))
            reqs.setdefault(f"{name}.stats", (self._stats, False))
            reqs.setdefault(f"{name}.cancel", (self._cancel, False))
            reqs.setdefault(f"{name}.disconnect", (self._disconnect, False))
        return reqs, evts

    def _dispatch_request(self, handler: Callable, streaming: bool, msg: Message) -> None:
        method = msg.topic
        self._counters[method] = self._counters.get(method, 0) + 1
        if streaming and not msg.flags & FLAG_STREAMING:
            self._error_response(
                msg, errno.EPROTO, f"{method} is a streaming RPC: set the streaming flag"
            )
            return
        try:
            result = handler(msg)
        except Exception as e:  # noqa: BLE001 - converted into an error response
            self._handler_failed(msg, e)
            return
        if inspect.iscoroutine(result):
            self.h.spawn(result, lambda value, exc: self._finish(msg, streaming, value, exc))
            return
        self._finish(msg, streaming, result, None)

    def _finish(
        self, msg: Message, streaming: bool, result: Any, exc: BaseException | None
    ) -> None:
        if exc is not None:
            self._handler_failed(msg, exc)
            return
        if msg.flags & FLAG_NORESPONSE or streaming or msg.handled:
            return
        self.h.respond(msg, result)

    def _handler_failed(self, msg: Message, e: BaseException) -> None:
        self._errors += 1
        if isinstance(e, ProtocolError):
            errnum, text = errno.EPROTO, f"{msg.topic}: {e}"
        elif isinstance(e, FluxError):
            errnum, text = e.errno, str(e)
        elif isinstance(e, OSError) and e.errno:
            errnum, text = e.errno, e.strerror or str(e)
        else:
            log.error("%s: handler for %s failed", self.name, msg.topic, exc_info=e)
            self.h.log(
                3, f"{msg.topic}: internal error: {type(e).__name__}: {e}", component=self.name
            )
            errnum, text = errno.EPROTO, f"{msg.topic}: internal error in module {self.name}: {e}"
        self._error_response(msg, errnum, text)

    def _error_response(self, msg: Message, errnum: int, text: str) -> None:
        if msg.flags & FLAG_NORESPONSE or (msg.handled and not msg.flags & FLAG_STREAMING):
            return
        self.streams.pop((msg.sender, msg.matchtag), None)
        self.h.respond_error(msg, errnum, text)

    def _dispatch_event(self, handler: Callable, msg: Message) -> None:
        try:
            result = handler(msg)
            if inspect.iscoroutine(result):
                self.h.spawn(
                    result,
                    lambda v, exc: (
                        exc and log.error("%s: event handler failed", self.name, exc_info=exc)
                    ),
                )
        except Exception:
            log.exception("%s: event handler for %s failed", self.name, msg.topic)
