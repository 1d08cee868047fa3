"""What a broker remembers about its clients and child brokers."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from fluxlab._proto import FLAG_NORESPONSE, FLAG_STREAMING, Message

if TYPE_CHECKING:
    from fluxlab.broker.broker import Broker

__all__ = ["ChildPeer", "ClientPeer", "InFlight"]


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


class ClientPeer:
    """A connected client: event subscriptions, services used, liveness."""

    __slots__ = ("direct", "hop", "ident", "pidfd", "subs", "used")

    def __init__(self, hop: str, ident: bytes, direct=None):
        self.hop = hop
        self.ident = ident
        #: a DirectConnector for in-process clients (messages are handed over, not sent)
        self.direct = direct
        self.subs: list[str] = []
        #: (service, nodeid) pairs it sent requests to: who gets `.disconnect`
        self.used: set[tuple[str, int]] = set()
        self.pidfd: int | None = None

    def subscribed(self, topic: str) -> bool:
        for prefix in self.subs:
            if topic.startswith(prefix):
                return True
        return False

    def watch_pid(self, pid: int) -> int | None:
        """Open a pidfd so the broker learns at once when the process dies."""
        if self.pidfd is None:
            self.pidfd = _pidfd(pid)
        return self.pidfd

    def close(self) -> None:
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None


class InFlight:
    """Requests forwarded to one peer that still owe a response.

    ``pending`` maps ``(route, matchtag)`` of each request forwarded (and
    expecting a response) to the request; a response comes back with the same
    route stack, so a terminal one (an error, or any non-streaming response)
    removes it.  If the peer goes away, :meth:`fail_pending` answers every
    waiting requester at once.
    """

    __slots__ = ("pending",)

    def __init__(self):
        self.pending: dict[tuple, Message] = {}

    def remember(self, msg: Message) -> None:
        if not msg.flags & FLAG_NORESPONSE:
            self.pending[(tuple(msg.route), msg.aux2)] = msg

    def forget(self, resp: Message) -> None:
        """A response came back from the peer; drop its request if terminal."""
        if self.pending and (resp.aux1 or not resp.flags & FLAG_STREAMING):
            self.pending.pop((tuple(resp.route), resp.aux2), None)

    def fail_pending(self, broker: Broker, errnum: int, text: str) -> None:
        pending, self.pending = self.pending, {}
        for msg in pending.values():
            resp = msg.response(None, errnum, text)
            broker.route_response(resp)


class ChildPeer(InFlight):
    """A child broker: online/lost status and requests forwarded to it
    (lost child: every waiting requester gets ``EHOSTUNREACH`` at once)."""

    __slots__ = ("last_seen", "lost", "online", "pidfd", "rank", "t_change")

    def __init__(self, rank: int):
        super().__init__()
        self.rank = rank
        self.online = False
        self.lost = False
        self.t_change = time.time()
        self.last_seen = time.monotonic()
        self.pidfd: int | None = None

    @property
    def status(self) -> str:
        return "online" if self.online else ("lost" if self.lost else "offline")

    def watch_pid(self, pid: int) -> int | None:
        if self.pidfd is None:
            self.pidfd = _pidfd(pid)
        return self.pidfd

    def close(self) -> None:
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None
