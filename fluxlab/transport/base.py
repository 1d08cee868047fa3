"""Transport registry keyed by URI scheme.

Each transport knows how to make a bind address for a broker socket, how to
bind it (returning the concrete URI, e.g. with the kernel-chosen TCP port),
and how to connect to one.  All sockets of one process share
:func:`context`, which is what makes ``inproc://`` work between the brokers of
an embedded instance and the handles in the same process.
"""

from __future__ import annotations

import os
import threading
import uuid

import zmq

from fluxlab.transport.curve import CurveCert, allow_client_key

__all__ = [
    "SCHEMES",
    "Transport",
    "TransportError",
    "context",
    "context_term",
    "get_transport",
    "transport_for_uri",
]

_ctx: zmq.Context | None = None
_ctx_pid = 0
_ctx_lock = threading.Lock()


class TransportError(ValueError):
    """An unknown scheme, a bad URI, or a bind/connect failure."""


def context() -> zmq.Context:
    """The process-wide zmq context used by every fluxlab socket.

    A forked child gets a fresh context (zmq contexts do not survive fork).
    """
    global _ctx, _ctx_pid
    pid = os.getpid()
    if _ctx is None or _ctx_pid != pid:
        with _ctx_lock:
            if _ctx is None or _ctx_pid != pid:
                _ctx = zmq.Context()
                _ctx.setsockopt(zmq.LINGER, 0)
                _ctx_pid = pid
    return _ctx


def context_term(linger_ms: int = 200) -> None:
    """Close this process's context if it has one, without ever hanging.

    Sockets still open are closed with ``linger_ms``; messages already queued
    on closed sockets (e.g. a handle's goodbye, sent with a short linger) are
    handed to the peer first.  A later :func:`context` makes a new context.
    """
    global _ctx
    with _ctx_lock:
        ctx, _ctx = (_ctx, None) if _ctx_pid == os.getpid() else (None, _ctx)
    if ctx is not None:
        ctx.destroy(linger=linger_ms)


class Transport:
    """One transport scheme.

    Subclasses set :attr:`scheme` and override :meth:`bind_address`; secure
    transports override :meth:`secure_server` / :meth:`secure_client`.
    """

    scheme = ""
    secure = False

    def bind_address(self, rundir: str, label: str) -> str:
        raise NotImplementedError

    def secure_server(self, sock: zmq.Socket, cert: CurveCert | None) -> None:
        """Configure ``sock`` as an authenticating server (no-op when insecure)."""

    def secure_client(self, sock: zmq.Socket, cert: CurveCert | None) -> None:
        """Configure ``sock`` as a client of a secured server (no-op when insecure)."""

    def bind(self, sock: zmq.Socket, address: str, cert: CurveCert | None = None) -> str:
        """Bind ``sock`` to ``address`` and return the concrete URI."""
        self.secure_server(sock, cert)
        try:
            sock.bind(address)
        except zmq.ZMQError as e:
            raise TransportError(f"cannot bind {address}: {e}") from None
        return sock.getsockopt_string(zmq.LAST_ENDPOINT) or address

    def connect(self, sock: zmq.Socket, uri: str, cert: CurveCert | None = None) -> None:
        """Connect ``sock`` to ``uri``."""
        self.secure_client(sock, cert)
        try:
            sock.connect(uri)
        except zmq.ZMQError as e:
            raise TransportError(f"cannot connect to {uri}: {e}") from None


class InprocTransport(Transport):
    """Threads of one process (the embedded instance)."""

    scheme = "inproc"

    def bind_address(self, rundir: str, label: str) -> str:
        return f"inproc://fluxlab-{uuid.uuid4().hex[:12]}-{label}"


class IpcTransport(Transport):
    """Processes on one host, through UNIX-domain sockets in the run directory."""

    scheme = "ipc"

    def bind_address(self, rundir: str, label: str) -> str:
        path = os.path.join(rundir, label)
        if len(path.encode()) > 100:
            raise TransportError(f"ipc path too long for a UNIX socket ({len(path)} bytes): {path}")
        return f"ipc://{path}"


class TcpTransport(Transport):
    """Hosts over TCP, CURVE-encrypted and authenticated with the instance cert."""

    scheme = "tcp"
    secure = True

    def __init__(self, host: str | None = None):
        self.host = host

    def bind_address(self, rundir: str, label: str) -> str:
        host = self.host or os.environ.get("FLUXLAB_TCP_HOST", "127.0.0.1")
        return f"tcp://{host}:*"

    def secure_server(self, sock: zmq.Socket, cert: CurveCert | None) -> None:
        if cert is None:
            raise TransportError(
                "tcp:// needs a CURVE certificate (create one with `fluxlab keygen`)"
            )
        allow_client_key(cert.public)
        sock.curve_secretkey = cert.secret
        sock.curve_publickey = cert.public
        sock.zap_domain = b"fluxlab"
        sock.curve_server = True

    def secure_client(self, sock: zmq.Socket, cert: CurveCert | None) -> None:
        if cert is None:
            raise TransportError(
                "tcp:// needs a CURVE certificate (create one with `fluxlab keygen`)"
            )
        sock.curve_serverkey = cert.public
        sock.curve_publickey = cert.public
        sock.curve_secretkey = cert.secret


SCHEMES: dict[str, type[Transport]] = {
    "inproc": InprocTransport,
    "ipc": IpcTransport,
    "tcp": TcpTransport,
}


def get_transport(scheme: str) -> Transport:
    """The transport for ``scheme`` (``inproc``, ``ipc`` or ``tcp``)."""
    try:
        return SCHEMES[scheme]()
    except KeyError:
        raise TransportError(
            f"unknown transport {scheme!r}: choose one of {', '.join(SCHEMES)}"
        ) from None


def transport_for_uri(uri: str) -> Transport:
    """The transport that handles ``uri`` (by its scheme)."""
    scheme, sep, _ = uri.partition("://")
    if not sep:
        raise TransportError(f"not a transport URI: {uri!r} (expected scheme://address)")
    return get_transport(scheme)
