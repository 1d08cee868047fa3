"""The pyzmq DEALER connector (:class:`ZmqConnector`), kept apart from
:mod:`fluxlab.core.connector` so that ``zmq`` is imported only by a process
that actually opens one: ``inproc://`` and ``tcp://`` endpoints, or ``ipc://``
with ``FLUXLAB_CONNECTOR=zmq``.
"""

from __future__ import annotations

import os
import threading
import weakref

import zmq

from fluxlab._proto import Message, ProtocolError, decode
from fluxlab.core.connector import CT_CLIENT_GOODBYE, CT_CLIENT_HELLO, LOST
from fluxlab.transport.fastio import has_input, recv_frames, send_frames

__all__ = ["ZmqConnector"]


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
