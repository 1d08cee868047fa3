"""A minimal ZMTP 3 DEALER client over a plain UNIX socket, without pyzmq.

Flux's own clients reach their broker through a plain UNIX-socket "local
connector".  A fluxlab broker's client endpoint is a zmq ROUTER bound to
``ipc://PATH``, which is a UNIX stream socket speaking ZMTP (ZeroMQ RFC 23)
on the wire.  This module speaks just enough of it to be a DEALER peer of that
ROUTER, so that a short-lived client — every ``fluxlab run`` — never imports
pyzmq (``import zmq`` alone is about half of a CLI start).

What is implemented
-------------------
* Greeting: signature ``FF 00*8 7F``, version 3.1, mechanism ``NULL``,
  as-server 0, 31 bytes of filler (64 bytes).  A peer must answer with the
  same signature, major version >= 3 and mechanism ``NULL``.
* Handshake: a ``READY`` command with ``Socket-Type=DEALER`` and
  ``Identity=<routing id>`` (the ROUTER uses it as the peer's routing id,
  as for a pyzmq DEALER with ``IDENTITY`` set); the peer's ``READY`` must say
  ``Socket-Type=ROUTER``.
* Traffic: frames are ``flags`` (bit 0 MORE, bit 1 LONG, bit 2 COMMAND; the
  other bits must be 0), a size (1 byte, or 8 bytes big-endian when LONG) and
  the body.  A message is a run of frames ending with one without MORE.
  ``PING`` is answered with ``PONG`` (same context), ``ERROR`` ends the
  session, other commands are ignored.

:class:`Session` is the protocol alone — bytes in, messages and bytes to send
out, no I/O — so it can be tested with any chunking.  :class:`ZmtpDealer`
puts it on a socket: a bounded, timed connect and handshake, then blocking
sends and non-blocking reads.  It is not thread-safe; its owner serialises
calls (see :class:`fluxlab.core.connector.ZmtpConnector`).
"""

from __future__ import annotations

import _socket  # the C module: ``socket``'s enum set-up would slow every CLI start
import errno
import select
import struct
import time

__all__ = [
    "FLAG_COMMAND",
    "FLAG_LONG",
    "FLAG_MORE",
    "GREETING_SIZE",
    "Session",
    "ZmtpDealer",
    "ZmtpError",
    "check_greeting",
    "encode_command",
    "encode_message",
    "encode_properties",
    "greeting",
    "parse_properties",
]

FLAG_MORE = 0x01
FLAG_LONG = 0x02
FLAG_COMMAND = 0x04
_RESERVED = 0xF8
GREETING_SIZE = 64
SIGNATURE = b"\xff" + b"\x00" * 8 + b"\x7f"
VERSION = (3, 1)
MECHANISM = b"NULL"
#: a frame this large means a corrupt stream, not a message
MAX_FRAME = 1 << 40

_LONG_HDR = struct.Struct("!BQ")
_U32 = struct.Struct("!I")
_NOSIGNAL = getattr(_socket, "MSG_NOSIGNAL", 0)
_DONTWAIT = _socket.MSG_DONTWAIT


class ZmtpError(OSError):
    """A failed connect or handshake, or a protocol violation (``errno`` set)."""


# -- encoding (pure) ----------------------------------------------------------
def greeting() -> bytes:
    """This client's 64-byte greeting (NULL mechanism, not as-server)."""
    return SIGNATURE + bytes(VERSION) + MECHANISM.ljust(20, b"\x00") + b"\x00" + b"\x00" * 31


def _frame(flags: int, body: bytes) -> bytes:
    n = len(body)
    if n < 256:
        return bytes((flags, n)) + body
    return _LONG_HDR.pack(flags | FLAG_LONG, n) + body


def encode_message(frames: list[bytes]) -> bytes:
    """The wire bytes of one multipart message (MORE on all frames but the last)."""
    out = []
    last = len(frames) - 1
    for i, f in enumerate(frames):
        n = len(f)
        flags = 0 if i == last else FLAG_MORE
        out.append(bytes((flags, n)) if n < 256 else _LONG_HDR.pack(flags | FLAG_LONG, n))
        out.append(f)
    return b"".join(out)


def encode_command(name: bytes, data: bytes = b"") -> bytes:
    """A command frame: ``len(name) name data``."""
    return _frame(FLAG_COMMAND, bytes((len(name),)) + name + data)


def encode_properties(props: dict[str, bytes]) -> bytes:
    """Metadata for ``READY``: ``u8 len, name, u32 len, value`` per property."""
    out = []
    for name, value in props.items():
        n = name.encode("ascii")
        out.append(bytes((len(n),)) + n + _U32.pack(len(value)) + value)
    return b"".join(out)


# -- decoding (pure) ----------------------------------------------------------
def check_greeting(data: bytes) -> tuple[int, int]:
    """Validate a peer's 64-byte greeting; returns its ``(major, minor)`` version.

    Raises
    ------
    ZmtpError
        ``EPROTO`` for a bad signature, a version below 3 or a mechanism other
        than ``NULL``.  The 8 padding bytes are not significant (libzmq puts
        its routing-id length there for ZMTP 1.0 peers).
    """
    if len(data) < GREETING_SIZE or data[0] != 0xFF or data[9] != 0x7F:
        raise ZmtpError(errno.EPROTO, "peer is not a ZMTP peer (bad greeting signature)")
    major, minor = data[10], data[11]
    if major < 3:
        raise ZmtpError(errno.EPROTO, f"peer speaks ZMTP {major}.{minor}; 3.0 or later is needed")
    mechanism = bytes(data[12:32]).rstrip(b"\x00")
    if mechanism != MECHANISM:
        raise ZmtpError(
            errno.EPROTO, f"peer wants security mechanism {mechanism!r}; only NULL is supported"
        )
    return major, minor


def parse_properties(data: bytes) -> dict[str, bytes]:
    """Decode ``READY`` metadata (names keep their case; ZMTP compares them
    case-insensitively, so look them up lower-cased via :meth:`Session.peer_property`).

    Raises
    ------
    ZmtpError
        ``EPROTO`` when a name or value runs past the end.
    """
    props = {}
    pos, n = 0, len(data)
    while pos < n:
        nlen = data[pos]
        name_end = pos + 1 + nlen
        if name_end + 4 > n:
            raise ZmtpError(errno.EPROTO, "truncated property in READY")
        (vlen,) = _U32.unpack_from(data, name_end)
        value_end = name_end + 4 + vlen
        if value_end > n:
            raise ZmtpError(errno.EPROTO, "truncated property value in READY")
        props[bytes(data[pos + 1 : name_end]).decode("ascii", "replace")] = bytes(
            data[name_end + 4 : value_end]
        )
        pos = value_end
    return props


class Session:
    """The ZMTP state of one DEALER connection, without I/O.

    Feed it whatever bytes the peer sent, in chunks of any size; :meth:`feed`
    returns the multipart messages (lists of frame bodies) completed by them.
    Bytes this side must send collect in :attr:`outbox` (:meth:`take_outbox`):
    the greeting and ``READY`` from the start (NULL needs no round trip before
    ``READY``), then a ``PONG`` per ``PING``.

    Invariants: no complete message is ever held back — a chunk's messages
    are all returned by the call that completes them, so a caller that waits
    for more input never sleeps on buffered data; only an incomplete frame
    (``_have`` bytes in ``_chunks``, parsing resumes once ``_need`` have
    arrived, so a large frame is joined once, not once per chunk) and the
    frames of an unfinished multipart message (``_parts``) are kept.  After a
    protocol error :attr:`error` holds the reason, the rest of the input is
    ignored and ``feed`` returns only what came before the error.
    """

    __slots__ = (
        "_chunks",
        "_greet",
        "_have",
        "_need",
        "_parts",
        "error",
        "outbox",
        "peer_props",
        "peer_version",
        "ready",
    )

    def __init__(self, identity: bytes, socket_type: bytes = b"DEALER"):
        props = encode_properties({"Socket-Type": socket_type, "Identity": identity})
        self.outbox: list[bytes] = [greeting() + encode_command(b"READY", props)]
        self.ready = False
        self.error: str | None = None
        self.peer_version: tuple[int, int] | None = None
        self.peer_props: dict[str, bytes] = {}
        self._greet: bytes | None = b""  # greeting bytes so far; None once checked
        self._chunks: list[bytes] = []
        self._have = 0
        self._need = 2
        self._parts: list[bytes] = []

    def take_outbox(self) -> bytes:
        """Everything queued for the peer, emptying the queue."""
        data = b"".join(self.outbox)
        self.outbox.clear()
        return data

    def peer_property(self, name: str) -> bytes | None:
        """A property of the peer's ``READY``, by case-insensitive name."""
        name = name.lower()
        for k, v in self.peer_props.items():
            if k.lower() == name:
                return v
        return None

    def feed(self, data: bytes) -> list[list[bytes]]:
        """Consume ``data``; return the messages it completes (see class docstring)."""
        if self.error is not None:
            return []
        if self._greet is not None:
            g = self._greet + data
            if len(g) < GREETING_SIZE:
                self._greet = g
                return []
            self._greet = None
            try:
                self.peer_version = check_greeting(g)
            except ZmtpError as e:
                self.error = e.strerror
                return []
            data = g[GREETING_SIZE:]
        if data:
            self._chunks.append(data)
            self._have += len(data)
        if self._have < self._need:
            return []
        chunks = self._chunks
        buf = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        out: list[list[bytes]] = []
        parts = self._parts
        pos, n = 0, len(buf)
        need = 2
        while True:
            avail = n - pos
            if avail < 2:
                need = 2
                break
            flags = buf[pos]
            if flags & FLAG_LONG:
                if avail < 9:
                    need = 9
                    break
                size = int.from_bytes(buf[pos + 1 : pos + 9], "big")
                start = pos + 9
            else:
                size = buf[pos + 1]
                start = pos + 2
            if flags & _RESERVED or size > MAX_FRAME:
                self.error = f"corrupt frame header (flags {flags:#04x}, size {size})"
                break
            end = start + size
            if end > n:
                need = end - pos
                break
            body = buf[start:end]
            pos = end
            if flags & FLAG_COMMAND:
                if parts or flags & FLAG_MORE:
                    self.error = "command frame inside a multipart message"
                    break
                self._command(body)
                if self.error is not None:
                    break
            elif not self.ready:
                self.error = "message frame before READY"
                break
            else:
                parts.append(body)
                if not flags & FLAG_MORE:
                    out.append(parts)
                    parts = []
        self._parts = parts
        rest = buf[pos:]
        self._chunks = [rest] if rest else []
        self._have = n - pos
        self._need = need
        return out

    def _command(self, body: bytes) -> None:
        nlen = body[0] if body else 0
        name = body[1 : 1 + nlen]
        if not nlen or len(name) != nlen:
            self.error = "malformed command frame"
            return
        data = body[1 + nlen :]
        if name == b"ERROR":
            reason = data[1 : 1 + data[0]] if data else b""
            self.error = f"peer sent ERROR: {reason.decode('utf-8', 'replace') or '(no reason)'}"
        elif not self.ready:
            if name != b"READY":
                self.error = f"expected READY, got {name.decode('ascii', 'replace')}"
                return
            try:
                self.peer_props = parse_properties(data)
            except ZmtpError as e:
                self.error = e.strerror
                return
            stype = self.peer_property("Socket-Type")
            if stype != b"ROUTER":
                self.error = f"peer socket type is {stype!r}, not ROUTER"
                return
            self.ready = True
        elif name == b"PING":
            # ZMTP 3.1: PING = TTL (2 bytes) + context (0-16 bytes); PONG echoes the context
            self.outbox.append(encode_command(b"PONG", data[2:18]))
        # PONG, SUBSCRIBE, CANCEL, unknown: nothing to do for a DEALER


# -- socket I/O ----------------------------------------------------------------
class ZmtpDealer:
    """A DEALER connected to a ROUTER at UNIX socket ``path`` (see module docstring).

    Parameters
    ----------
    path : str
        Socket path (the part of ``ipc://PATH`` after the scheme).
    identity : bytes
        Routing id announced in ``READY``.
    timeout : float
        Seconds for connect + handshake together; the constructor never waits longer.

    Raises
    ------
    OSError
        From ``connect`` (``FileNotFoundError``, ``ConnectionRefusedError`` ...),
        or :class:`ZmtpError` (``ETIMEDOUT``, ``ECONNRESET``, ``EPROTO``) when
        the peer does not complete the handshake.

    Notes
    -----
    After the handshake the socket is blocking: :meth:`send` blocks until the
    kernel took the whole message (a zmq peer's I/O thread always reads, so it
    does not block for long), :meth:`recv` reads with ``MSG_DONTWAIT``.
    :attr:`lost` is ``None`` while the connection is healthy, else the reason
    it ended; once set it stays set.
    """

    _RBUF = 1 << 18

    def __init__(self, path: str, identity: bytes, timeout: float = 5.0):
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        self.session = Session(identity)
        try:
            self.pending = _handshake(sock, path, self.session, timeout)
            sock.settimeout(None)
        except BaseException:
            sock.close()
            raise
        self.sock = sock
        self.closed = False
        self.lost: str | None = self.session.error
        self._eof = self.lost is not None
        self._rbuf = bytearray(self._RBUF)
        self._rview = memoryview(self._rbuf)
        # poll(0) costs a fifth of a recv that fails with EAGAIN (an exception)
        self._poll = select.poll()
        self._poll.register(sock.fileno(), select.POLLIN)

    def fileno(self) -> int:
        return self.sock.fileno()

    def send(self, frames: list[bytes]) -> None:
        """Send one multipart message, blocking until it is all written.

        Raises ``OSError`` (e.g. ``BrokenPipeError``) when the peer is gone,
        after setting :attr:`lost`; what the peer sent before can still be
        read with :meth:`recv`.  An exception from a signal handler (Ctrl-C)
        while ``sendall`` blocks may leave part of a frame written: the
        stream can then not go on, so the connection is shut down and lost.
        """
        self._sendall(encode_message(frames))

    def send_many(self, messages: list[list[bytes]]) -> None:
        """Send several multipart messages, in order, in one write (as :meth:`send`)."""
        self._sendall(b"".join(map(encode_message, messages)))

    def _sendall(self, data: bytes) -> None:
        try:
            self.sock.sendall(data, _NOSIGNAL)
        except OSError as e:
            if self.lost is None:
                self.lost = e.strerror or str(e)
            raise
        except BaseException:
            if self.lost is None:
                self.lost = "interrupted while sending a message"
            try:
                self.sock.shutdown(_socket.SHUT_RDWR)
            except OSError:
                pass
            raise

    def recv(self, max_reads: int = 64) -> list[list[bytes]]:
        """Messages readable without blocking (at most ``max_reads`` reads).

        Stops early after a short read (the socket was empty then); on EOF,
        a read error or a protocol error it sets :attr:`lost`.  Whatever is
        still unread stays readable, so the fd remains ready for a poll.
        """
        out, self.pending = self.pending, []
        if self._eof or self.closed or not self._poll.poll(0):
            return out
        sock, view, size, session = self.sock, self._rview, self._RBUF, self.session
        for _ in range(max_reads):
            try:
                n = sock.recv_into(view, 0, _DONTWAIT)
            except BlockingIOError:
                break
            except OSError as e:
                self._end(e.strerror or str(e))
                break
            if not n:
                self._end("connection closed by the peer")
                break
            got = session.feed(view[:n].tobytes())
            if got:
                out.extend(got)
            if session.outbox:
                try:
                    sock.sendall(session.take_outbox(), _NOSIGNAL)
                except OSError as e:
                    self._end(e.strerror or str(e))
                    break
            if session.error is not None:
                self._end(session.error)
                break
            if n < size:
                break
        return out

    def _end(self, why: str) -> None:
        self._eof = True
        if self.lost is None:
            self.lost = why

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.sock.close()


def _handshake(sock, path: str, session: Session, timeout: float) -> list[list[bytes]]:
    """Connect, exchange greetings and ``READY``; return messages read past it.

    Errors from ``connect`` propagate as they are; any later failure is a
    :class:`ZmtpError` naming the handshake.
    """
    deadline = time.monotonic() + timeout
    sock.settimeout(timeout)
    try:
        sock.connect(path)
    except TimeoutError:
        raise ZmtpError(errno.ETIMEDOUT, f"connect to {path} timed out") from None
    msgs: list[list[bytes]] = []
    try:
        sock.sendall(session.take_outbox(), _NOSIGNAL)
        while not session.ready:
            if session.error is not None:
                raise ZmtpError(errno.EPROTO, f"ZMTP handshake failed: {session.error}")
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            sock.settimeout(left)
            data = sock.recv(4096)
            if not data:
                raise ZmtpError(errno.ECONNRESET, "peer closed the connection during the handshake")
            msgs.extend(session.feed(data))
        if session.outbox:
            sock.sendall(session.take_outbox(), _NOSIGNAL)
    except TimeoutError:
        raise ZmtpError(errno.ETIMEDOUT, f"no ZMTP handshake within {timeout:g}s") from None
    except ZmtpError:
        raise
    except OSError as e:
        raise ZmtpError(
            e.errno or errno.ECONNRESET, f"ZMTP handshake failed: {e.strerror or e}"
        ) from None
    return msgs
