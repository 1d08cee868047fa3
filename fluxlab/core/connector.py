"""How a handle reaches its broker: over a socket, or directly within the process.

Three connectors, picked by :class:`fluxlab.core.handle.Flux`:

* :class:`ZmtpConnector` — the default for ``ipc://`` endpoints (every
  out-of-process client, the CLI among them).  Like Flux's own "local
  connector", it is a plain UNIX stream socket: it speaks ZMTP 3
  (:mod:`fluxlab.transport.zmtp`) to the broker's zmq ROUTER as a DEALER
  peer, so a client process never imports pyzmq (``import zmq`` alone was
  about half of a ``fluxlab run``'s start-up).
* :class:`ZmqConnector` — a pyzmq DEALER socket, for ``inproc://`` and
  ``tcp://`` endpoints, and for ``ipc://`` when ``FLUXLAB_CONNECTOR=zmq``.  It
  lives in :mod:`fluxlab.core._zmq_connector` and is imported (with ``zmq``)
  only when first named.
* :class:`DirectConnector` — used when the broker is an embedded one in this
  very process: requests are handed to the broker thread as message objects
  through a queue and an eventfd, and responses come back the same way — no
  encoding of headers, no socket hops, which roughly halves the cost of an RPC
  in a notebook kernel.  Payloads are still serialised to JSON bytes on the
  way in and out, so neither side ever sees the other's mutable objects.

All expose the same small interface to :class:`fluxlab.core.handle.Flux`:
``send(msg) -> list``, ``drain() -> list``, ``fds()``, ``close()``.  The lists
hold decoded :class:`~fluxlab._proto.Message` objects, or :data:`LOST` (once)
when the connection to the broker went away.  A socket connector sends
``CT_CLIENT_HELLO`` when it connects and ``CT_CLIENT_GOODBYE`` when its handle
is closed or collected.
"""

from __future__ import annotations

import errno
import os
import threading
import weakref
from collections import deque

from fluxlab._proto import Message, ProtocolError, decode
from fluxlab.core.errors import FluxError

__all__ = [
    "CT_CLIENT_GOODBYE",
    "CT_CLIENT_HELLO",
    "LOST",
    "DirectConnector",
    "WakePipe",
    "ZmtpConnector",
    "connect_socket",
]

CT_CLIENT_HELLO = 7
CT_CLIENT_GOODBYE = 8
#: marker in a drained batch: the broker connection was lost
LOST = object()
#: seconds a :class:`ZmtpConnector` allows for connect + handshake
CONNECT_TIMEOUT = 5.0


class WakePipe:
    """A self-pipe that other threads poke to wake a handle.

    Writes after :meth:`close` are ignored (under a lock): the fd numbers may
    already belong to something else, e.g. a zmq socket's signaller, and a
    stray write there corrupts libzmq.
    """

    def __init__(self):
        self.r, self.w = os.pipe()
        os.set_blocking(self.r, False)
        os.set_blocking(self.w, False)
        self._lock = threading.Lock()
        self.closed = False

    def poke(self, data: bytes = b"x") -> None:
        with self._lock:
            if not self.closed:
                try:
                    os.write(self.w, data)
                except OSError:
                    pass

    def drain(self) -> None:
        with self._lock:
            if not self.closed:
                try:
                    os.read(self.r, 4096)
                except OSError:
                    pass

    def close(self) -> None:
        with self._lock:
            if not self.closed:
                self.closed = True
                os.close(self.r)
                os.close(self.w)


def _zmtp_goodbye(link, lock: threading.Lock, pid: int) -> None:
    """Finalizer: say goodbye (only from the process that said hello), then close.

    A forked child that inherited the socket just closes its copy: a goodbye
    from it would end the parent's session at the broker.
    """
    try:
        with lock:
            if link.closed:
                return
            try:
                if os.getpid() == pid and link.lost is None:
                    link.sock.settimeout(1.0)  # never hang an exit on a stopped broker
                    link.send(Message.control(CT_CLIENT_GOODBYE).encode())
            finally:
                link.close()
    except Exception:  # noqa: BLE001 - best effort at teardown
        pass


class ZmtpConnector:
    """A DEALER over a plain UNIX socket, speaking ZMTP without pyzmq.

    Parameters
    ----------
    owner : object
        The handle; when it is collected (or :meth:`close` is called) the
        broker gets ``CT_CLIENT_GOODBYE`` and the socket is closed.
    path : str
        The broker's client socket (``ipc://PATH`` without the scheme).
    timeout : float, optional
        Seconds allowed for connect and handshake (default :data:`CONNECT_TIMEOUT`).

    Raises
    ------
    OSError
        ``FileNotFoundError``/``ConnectionRefusedError`` from connect, or a
        :class:`~fluxlab.transport.zmtp.ZmtpError` from the handshake.

    Notes
    -----
    Every socket operation holds ``lock`` (the ZMTP session is shared
    state).  The fd is level-triggered: :meth:`drain` reads what is there
    (bounded, so one busy peer cannot starve the caller — what it leaves
    keeps the fd readable) and returns every complete message, keeping only
    an unfinished one, whose remaining bytes will make the fd readable again.
    So a poll on :meth:`fds` never misses a wake-up and never spins on a
    partial message.  After end-of-file the fd stays readable forever: the
    handle stops polling it once it has seen :data:`LOST`, which is
    reported exactly once.
    """

    def __init__(self, owner, path: str, timeout: float | None = None):
        from fluxlab.transport.zmtp import ZmtpDealer

        if timeout is None:
            timeout = CONNECT_TIMEOUT
        link = ZmtpDealer(path, os.urandom(16).hex().encode(), timeout)
        self.link = link
        self.lock = threading.Lock()
        self._lost_told = False
        self._fds = [link.fileno()]
        hello = {"pid": os.getpid(), "hostname": os.uname().nodename}
        try:
            link.send(Message.control(CT_CLIENT_HELLO, 0, hello).encode())
        except OSError:
            pass  # link.lost is set: the first drain reports LOST
        self._finalizer = weakref.finalize(owner, _zmtp_goodbye, link, self.lock, os.getpid())

    def send(self, msg: Message) -> list:
        frames = msg.encode()
        with self.lock:
            link = self.link
            if link.closed:
                return []
            if link.lost is None:
                try:
                    link.send(frames)
                except OSError:
                    pass  # link.lost is set; still read what the broker sent before
            return self._drain_locked()

    def drain(self) -> list:
        with self.lock:
            return self._drain_locked()

    def _drain_locked(self) -> list:
        link = self.link
        if link.closed:
            return []
        out = []
        for frames in link.recv():
            try:
                out.append(decode(frames))
            except ProtocolError:
                continue
        if link.lost is not None and not self._lost_told:
            self._lost_told = True
            out.append(LOST)
        return out

    def fds(self) -> list[int]:
        return self._fds

    def close(self) -> None:
        self._finalizer()


def _direct_goodbye(broker, hop: str) -> None:
    try:
        broker.direct_submit(hop, Message.control(CT_CLIENT_GOODBYE))
    except Exception:  # noqa: BLE001 - the broker may be gone
        pass


class DirectConnector:
    """A client of an embedded broker in this process (see module docstring)."""

    def __init__(self, owner, broker, wake: WakePipe):
        self.broker = broker
        self.hop = "c" + os.urandom(16).hex()
        self.inbox: deque[Message] = deque()
        self.signaled = False
        self.wake = wake
        self.lost = False
        broker.direct_submit(self.hop, self)
        self._finalizer = weakref.finalize(owner, _direct_goodbye, broker, self.hop)

    def send(self, msg: Message) -> list:
        msg.freeze_payload()
        self.broker.direct_submit(self.hop, msg)
        return []

    def deliver(self, msg: Message) -> None:
        """Called by the broker thread with a response, request or event."""
        msg.freeze_payload()
        self.inbox.append(msg)
        if not self.signaled:
            self.signaled = True
            self.wake.poke(b"d")

    def drain(self) -> list:
        self.signaled = False
        out = []
        inbox = self.inbox
        while inbox:
            out.append(inbox.popleft())
        if self.lost:
            out.append(LOST)
        return out

    def fds(self) -> list[int]:
        return []

    def close(self) -> None:
        self._finalizer()


def connect_socket(owner, endpoint: str):
    """The socket connector for ``endpoint``: see the module docstring.

    Raises
    ------
    FluxError
        ``ENOENT``/``ECONNREFUSED`` when nothing listens at an ``ipc://``
        endpoint, ``ETIMEDOUT``/``EPROTO`` when what listens does not speak
        ZMTP, ``EINVAL`` for an unknown ``FLUXLAB_CONNECTOR``.
    """
    choice = os.environ.get("FLUXLAB_CONNECTOR", "")
    if choice not in ("", "zmtp", "zmq"):
        raise FluxError(errno.EINVAL, f"FLUXLAB_CONNECTOR={choice!r}: use zmtp or zmq")
    if endpoint.startswith("ipc://"):
        if choice != "zmq":
            try:
                return ZmtpConnector(owner, endpoint[len("ipc://") :])
            except OSError as e:
                raise _no_instance(endpoint, e) from None
        _check_ipc(endpoint)
    from fluxlab.core._zmq_connector import ZmqConnector

    return ZmqConnector(owner, endpoint)


def _no_instance(endpoint: str, e: OSError) -> FluxError:
    if e.errno == errno.ENOENT:
        why = "socket not found (is the instance running?)"
    elif e.errno == errno.ECONNREFUSED:
        why = f"{e.strerror} (stale socket?)"
    else:
        why = e.strerror or str(e)
    return FluxError(e.errno or errno.ECONNREFUSED, f"no fluxlab instance at {endpoint}: {why}")


def _check_ipc(endpoint: str) -> None:
    """Fail fast and clearly before pyzmq would connect in the background."""
    path = endpoint[len("ipc://") :]
    if not os.path.exists(path):
        raise _no_instance(endpoint, FileNotFoundError(errno.ENOENT, "not found"))
    import _socket  # the C module: ``socket``'s enum set-up would slow every CLI start

    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        s.connect(path)
    except OSError as e:
        raise _no_instance(endpoint, e) from None
    finally:
        s.close()


def __getattr__(name: str):
    # ZmqConnector lives apart so that importing this module never imports zmq
    if name == "ZmqConnector":
        from fluxlab.core._zmq_connector import ZmqConnector

        return ZmqConnector
    raise AttributeError(f"module 'fluxlab.core.connector' has no attribute {name!r}")
