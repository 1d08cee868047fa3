"""The fluxlab message envelope.

A message has one of four types (request, response, event, control), a topic
string ``service.method``, a JSON payload and a small fixed header.  The header
field that follows the user id means different things per type, exactly as in
Flux's RFC 3: a request carries the destination ``nodeid`` and a ``matchtag``;
a response carries an ``errnum`` and the request's ``matchtag``; an event
carries its ``seq`` number; a control message carries a ``ctype`` and a
``status``.

Requests accumulate a *route stack* as they travel: every broker they pass
pushes a hop id that names, in that broker's own terms, where the request
came from (``c<uuid>`` a client, ``m<name>`` a local module, ``r<rank>`` a
child broker, ``p`` the parent).  A response copies the stack and every broker
pops its own hop to find where to send it next, so routing a response needs no
state.

Wire form (two zmq frames, see ``docs/spec/messages.md``)::

    frame 0: header = struct "!BBBBIIII" (magic 0x8E, version 1, type, flags,
             userid, aux1, aux2, rolemask) + u16 topic length + topic
             + u8 route count + (u8 length + hop)* + u16 errstr length + errstr
    frame 1: payload (UTF-8 JSON, possibly empty)

Payloads stay as raw bytes until someone reads :attr:`Message.payload`, so a
broker forwarding a message never decodes or re-encodes its JSON.
"""

from __future__ import annotations

import json
import struct

from fluxlab._json import encoder as _json_encoder

__all__ = [
    "CONTROL",
    "EVENT",
    "FLAG_NORESPONSE",
    "FLAG_PRIVATE",
    "FLAG_STREAMING",
    "FLAG_UPSTREAM",
    "MATCHTAG_NONE",
    "MAX_PAYLOAD",
    "NODEID_ANY",
    "NODEID_UPSTREAM",
    "REQUEST",
    "RESPONSE",
    "TYPE_ANY",
    "Message",
    "ProtocolError",
    "decode",
    "type_name",
]

REQUEST = 0x01
RESPONSE = 0x02
EVENT = 0x04
CONTROL = 0x08
TYPE_ANY = 0x0F

FLAG_NORESPONSE = 0x04
FLAG_UPSTREAM = 0x10
FLAG_PRIVATE = 0x20
FLAG_STREAMING = 0x40

NODEID_ANY = 0xFFFFFFFF
NODEID_UPSTREAM = 0xFFFFFFFE
MATCHTAG_NONE = 0

#: Largest payload a broker accepts (bytes); bigger requests get EMSGSIZE.
MAX_PAYLOAD = 64 * 1024 * 1024

_MAGIC = 0x8E
_VERSION = 1
_HDR = struct.Struct("!BBBBIIII")
_U16 = struct.Struct("!H")
_TYPES = {REQUEST: "request", RESPONSE: "response", EVENT: "event", CONTROL: "control"}
_dumps = _json_encoder()
_loads = json.loads
_UNSET = object()


class ProtocolError(ValueError):
    """A malformed message: bad magic, truncated header, undecodable payload."""


def type_name(mtype: int) -> str:
    """Human name of a message type (``request`` ...)."""
    return _TYPES.get(mtype, f"type-{mtype}")


class Message:
    """One fluxlab message.

    Parameters
    ----------
    mtype : int
        ``REQUEST``, ``RESPONSE``, ``EVENT`` or ``CONTROL``.
    topic : str
        ``service.method`` for requests and responses, the event topic for
        events, empty for control messages.
    payload : object, optional
        A JSON-serialisable value (usually a dict).  ``None`` means no payload.

    Notes
    -----
    ``aux1`` is ``nodeid`` (request), ``errnum`` (response), ``seq`` (event) or
    ``ctype`` (control); ``aux2`` is ``matchtag`` (request/response) or
    ``status`` (control).  Named properties expose them.  ``handled`` is a
    local flag (not sent) that service code sets once a request has been
    answered or deferred, so it is never answered twice.
    """

    __slots__ = (
        "_payload",
        "_raw",
        "aux1",
        "aux2",
        "errstr",
        "flags",
        "handled",
        "rolemask",
        "route",
        "topic",
        "type",
        "userid",
    )

    def __init__(
        self,
        mtype: int,
        topic: str = "",
        payload: object = None,
        *,
        flags: int = 0,
        aux1: int = 0,
        aux2: int = 0,
        route: list[str] | None = None,
        userid: int = 0,
        rolemask: int = 0,
        errstr: str = "",
        raw: bytes | None = None,
    ):
        self.type = mtype
        self.topic = topic
        self.flags = flags
        self.aux1 = aux1
        self.aux2 = aux2
        self.route = route if route is not None else []
        self.userid = userid
        self.rolemask = rolemask
        self.errstr = errstr
        #: set (locally, never on the wire) once a request is answered or deferred
        self.handled = False
        if raw is not None:
            self._raw = raw
            self._payload = _UNSET
        else:
            self._raw = None
            self._payload = payload

    # -- constructors -----------------------------------------------------
    @classmethod
    def request(
        cls,
        topic: str,
        payload: object = None,
        nodeid: int = NODEID_ANY,
        matchtag: int = MATCHTAG_NONE,
        flags: int = 0,
    ) -> Message:
        return cls(REQUEST, topic, payload, flags=flags, aux1=nodeid, aux2=matchtag)

    @classmethod
    def event(cls, topic: str, payload: object = None, seq: int = 0) -> Message:
        return cls(EVENT, topic, payload, aux1=seq)

    @classmethod
    def control(cls, ctype: int, status: int = 0, payload: object = None) -> Message:
        return cls(CONTROL, "", payload, aux1=ctype, aux2=status)

    def response(self, payload: object = None, errnum: int = 0, errstr: str = "") -> Message:
        """Build the response to this request (copies route, topic, matchtag)."""
        return Message(
            RESPONSE,
            self.topic,
            payload,
            flags=self.flags & FLAG_STREAMING,
            aux1=errnum,
            aux2=self.aux2,
            route=list(self.route),
            userid=self.userid,
            rolemask=self.rolemask,
            errstr=errstr,
        )

    # -- named header fields --------------------------------------------
    @property
    def nodeid(self) -> int:
        return self.aux1

    @nodeid.setter
    def nodeid(self, v: int) -> None:
        self.aux1 = v

    @property
    def matchtag(self) -> int:
        return self.aux2

    @matchtag.setter
    def matchtag(self, v: int) -> None:
        self.aux2 = v

    @property
    def errnum(self) -> int:
        return self.aux1 if self.type == RESPONSE else 0

    @property
    def seq(self) -> int:
        return self.aux1

    @property
    def service(self) -> str:
        """The service a request is addressed to: the topic up to the first dot."""
        return self.topic.partition(".")[0]

    @property
    def sender(self) -> str:
        """The first hop on the route stack: who originated the request."""
        return self.route[0] if self.route else ""

    # -- payload ----------------------------------------------------------
    @property
    def payload(self) -> object:
        """The decoded JSON payload (``None`` when empty).

        Raises
        ------
        ProtocolError
            If the bytes on the wire are not valid UTF-8 JSON.
        """
        p = self._payload
        if p is _UNSET:
            raw = self._raw
            if not raw:
                p = None
            else:
                try:
                    p = _loads(raw.decode() if isinstance(raw, bytes) else raw)
                except (ValueError, UnicodeDecodeError) as e:
                    raise ProtocolError(
                        f"payload of {self.topic!r} is not valid JSON: {e}"
                    ) from None
            self._payload = p
        return p

    @payload.setter
    def payload(self, value: object) -> None:
        self._payload = value
        self._raw = None

    @property
    def raw_payload(self) -> bytes:
        """The payload as JSON bytes (encoded once, then cached)."""
        raw = self._raw
        if raw is None:
            p = self._payload
            raw = b"" if p is None else _dumps(p).encode()
            self._raw = raw
        return raw

    def freeze_payload(self) -> None:
        """Serialise the payload now and drop the object, so a message handed
        to another thread shares no mutable data with its sender."""
        self.raw_payload  # noqa: B018 - encodes and caches
        self._payload = _UNSET

    def copy(self) -> Message:
        m = Message(
            self.type,
            self.topic,
            flags=self.flags,
            aux1=self.aux1,
            aux2=self.aux2,
            route=list(self.route),
            userid=self.userid,
            rolemask=self.rolemask,
            errstr=self.errstr,
        )
        m._raw = self._raw
        m._payload = self._payload
        return m

    # -- wire -------------------------------------------------------------
    def encode(self) -> list[bytes]:
        """Encode to the two wire frames ``[header, payload]``."""
        topic = self.topic.encode()
        parts = [
            _HDR.pack(
                _MAGIC,
                _VERSION,
                self.type,
                self.flags,
                self.userid,
                self.aux1,
                self.aux2,
                self.rolemask,
            ),
            _U16.pack(len(topic)),
            topic,
            bytes((len(self.route),)),
        ]
        for hop in self.route:
            b = hop.encode()
            parts.append(bytes((len(b),)))
            parts.append(b)
        err = self.errstr.encode()[:65535] if self.errstr else b""
        parts.append(_U16.pack(len(err)))
        parts.append(err)
        return [b"".join(parts), self.raw_payload]

    def __repr__(self) -> str:
        return (
            f"<Message {type_name(self.type)} topic={self.topic!r} aux=({self.aux1},{self.aux2})"
            f" flags={self.flags:#x} route={self.route}>"
        )


def decode(frames: list[bytes]) -> Message:
    """Decode wire frames into a :class:`Message`.

    Raises
    ------
    ProtocolError
        For a wrong frame count, bad magic/version, or a truncated header.
    """
    if len(frames) != 2:
        raise ProtocolError(f"expected 2 frames, got {len(frames)}")
    hdr, raw = frames
    try:
        magic, version, mtype, flags, userid, aux1, aux2, rolemask = _HDR.unpack_from(hdr, 0)
        if magic != _MAGIC or version != _VERSION:
            raise ProtocolError(f"bad magic/version {magic:#x}/{version}")
        if mtype not in _TYPES:
            raise ProtocolError(f"unknown message type {mtype}")
        off = _HDR.size
        (n,) = _U16.unpack_from(hdr, off)
        off += 2
        topic = hdr[off : off + n].decode()
        off += n
        nroute = hdr[off]
        off += 1
        route = []
        for _ in range(nroute):
            ln = hdr[off]
            off += 1
            route.append(hdr[off : off + ln].decode())
            off += ln
        (n,) = _U16.unpack_from(hdr, off)
        off += 2
        errstr = hdr[off : off + n].decode() if n else ""
        if off + n != len(hdr):
            raise ProtocolError("header has trailing bytes")
    except (struct.error, IndexError, UnicodeDecodeError) as e:
        raise ProtocolError(f"truncated or malformed header: {e}") from None
    return Message(
        mtype,
        topic,
        flags=flags,
        aux1=aux1,
        aux2=aux2,
        route=route,
        userid=userid,
        rolemask=rolemask,
        errstr=errstr,
        raw=raw,
    )
