"""Fast multipart send/receive for the hot paths.

pyzmq's ``send_multipart``/``recv_multipart`` sugar costs several
microseconds per call in enum arithmetic and argument handling; brokers and
handles move every message through these two functions instead, which call
the Cython socket methods directly with plain-int flags.  Semantics are the
same: ``recv_frames`` returns all parts of one message (raising ``zmq.Again``
when nothing is queued) and ``send_frames`` never blocks.
"""

from __future__ import annotations

import zmq
import zmq.backend

__all__ = ["EVENTS", "NOBLOCK", "POLLIN", "has_input", "recv_frames", "send_frames"]

NOBLOCK = int(zmq.NOBLOCK)
POLLIN = int(zmq.POLLIN)
EVENTS = int(zmq.EVENTS)
_SNDMORE_NB = int(zmq.SNDMORE) | NOBLOCK
_RCVMORE = int(zmq.RCVMORE)
_send = zmq.backend.Socket.send
_recv = zmq.backend.Socket.recv
_get = zmq.backend.Socket.get


def send_frames(sock: zmq.Socket, frames: list[bytes]) -> None:
    """Send ``frames`` as one multipart message without blocking."""
    last = len(frames) - 1
    for i, f in enumerate(frames):
        _send(sock, f, NOBLOCK if i == last else _SNDMORE_NB)


def recv_frames(sock: zmq.Socket) -> list[bytes]:
    """Receive one whole multipart message without blocking (``zmq.Again`` if none)."""
    frames = [_recv(sock, NOBLOCK)]
    while _get(sock, _RCVMORE):
        frames.append(_recv(sock, NOBLOCK))
    return frames


def has_input(sock: zmq.Socket) -> bool:
    """True when a message is ready (also re-arms the edge-triggered fd)."""
    return bool(_get(sock, EVENTS) & POLLIN)
