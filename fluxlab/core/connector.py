"""How a handle reaches its broker: over zmq, or directly within the process.

:class:`ZmqConnector` is a DEALER socket to a broker's client endpoint
(``ipc://`` or ``inproc://``).  :class:`DirectConnector` is used when the
broker is an embedded one in this very process: requests are handed to the
broker thread as message objects through a queue and an eventfd, and
responses come back the same way — no encoding of headers, no socket hops,
which roughly halves the cost of an RPC in a notebook kernel.  Payloads are
still serialised to JSON bytes on the way in and out, so neither side ever
sees the other's mutable objects.

Both expose the same small interface to :class:`fluxlab.core.handle.Flux`:
``send(msg) -> list``, ``drain() -> list``, ``fds()``, ``close()``.  The lists
hold decoded :class:`~fluxlab._proto.Message` objects, or :data:`LOST` when the
connection to the broker went away.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import deque

import zmq

from fluxlab._proto import Message, ProtocolError, decode
from fluxlab.transport.fastio import has_input, recv_frames, send_frames

__all__ = [
    "CT_CLIENT_GOODBYE",
    "CT_CLIENT_HELLO",
    "LOST",
    "DirectConnector",
    "WakePipe",
    "ZmqConnector",
]

CT_CLIENT_HELLO = 7
CT_CLIENT_GOODBYE = 8
#: marker in a drained batch: the broker connection was lost
LOST = object()


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


def _goodbye(sock: zmq.Socket, lock: threading.Lock) -> None:
    try:
        with lock:
            if not sock.closed:
                send_frames(sock, Message.control(CT_CLIENT_GOODBYE).encode())
                sock.close(linger=100)
    except Exception:  # noqa: BLE001 - best effort at teardown
        pass


class ZmqConnector:
    """A DEALER socket; every socket operation holds ``lock`` (zmq sockets are
    not thread-safe), and any thread that touches the socket drains it, so
    an edge of the edge-triggered zmq fd is never lost."""

    def __init__(self, owner, endpoint: str):
        from fluxlab.transport import context, transport_for_uri

        sock = context().socket(zmq.DEALER)
        sock.setsockopt(zmq.IDENTITY, os.urandom(16).hex().encode())
        sock.setsockopt(zmq.SNDHWM, 0)
        sock.setsockopt(zmq.RCVHWM, 0)
        self.monitor = None
        if endpoint.startswith(("ipc://", "tcp://")):
            self.monitor = sock.get_monitor_socket(zmq.EVENT_DISCONNECTED)
        transport_for_uri(endpoint).connect(sock, endpoint)
        self.sock = sock
        self.lock = threading.Lock()
        self._fds = [sock.getsockopt(zmq.FD)]
        if self.monitor is not None:
            self._fds.append(self.monitor.getsockopt(zmq.FD))
        self.send(
            Message.control(
                CT_CLIENT_HELLO, 0, {"pid": os.getpid(), "hostname": os.uname().nodename}
            )
        )
        self._finalizer = weakref.finalize(owner, _goodbye, sock, self.lock)

    def send(self, msg: Message) -> list:
        frames = msg.encode()
        with self.lock:
            send_frames(self.sock, frames)
            return self._drain_locked()

    def drain(self) -> list:
        with self.lock:
            return self._drain_locked()

    def _drain_locked(self) -> list:
        out = []
        sock = self.sock
        try:
            while has_input(sock):
                try:
                    out.append(decode(recv_frames(sock)))
                except ProtocolError:
                    continue
        except zmq.ZMQError:
            pass
        mon = self.monitor
        if mon is not None:
            try:
                while has_input(mon):
                    recv_frames(mon)
                    out.append(LOST)
            except zmq.ZMQError:
                pass
        return out

    def fds(self) -> list[int]:
        return self._fds

    def close(self) -> None:
        with self.lock:
            if self.monitor is not None:
                try:
                    self.sock.disable_monitor()
                except zmq.ZMQError:
                    pass
                self.monitor.close(linger=0)
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
