"""Broker socket I/O: client, child and parent sockets, in-process clients,
control messages and sending (a mixin of :class:`fluxlab.broker.broker.Broker`).

Kept apart from routing, events and the life cycle so each module stays
small; the methods use the broker's state exactly as if defined there.
"""

from __future__ import annotations

import errno
import logging
import os
import time

import zmq

from fluxlab._proto import (
    CONTROL,
    EVENT,
    FLAG_NORESPONSE,
    MAX_PAYLOAD,
    REQUEST,
    RESPONSE,
    Message,
    ProtocolError,
    decode,
)
from fluxlab.broker.config import CT
from fluxlab.broker.peers import ChildPeer, ClientPeer
from fluxlab.broker.state import BrokerState
from fluxlab.transport.fastio import recv_frames, send_frames

__all__ = ["PeerIO"]

log = logging.getLogger("fluxlab.broker")
_DRAIN = 512  # messages handled per socket wake-up before yielding to others


class PeerIO:
    """Socket input, control messages and sending for :class:`Broker`."""

    # -- socket input ----------------------------------------------------------
    def _on_client(self) -> None:
        sock = self.client_sock
        for _ in range(_DRAIN):
            try:
                frames = recv_frames(sock)
            except zmq.Again:
                return
            ident = frames[0]
            hop = "c" + ident.decode("ascii", "replace")
            try:
                msg = decode(frames[1:])
            except ProtocolError as e:
                self.log(4, f"dropped malformed message from client {hop[1:9]}: {e}", "broker")
                continue
            mtype = msg.type
            if mtype == REQUEST:
                if len(frames[2]) > MAX_PAYLOAD:
                    msg.route.append(hop)
                    self._error(
                        msg,
                        errno.EMSGSIZE,
                        f"payload of {len(frames[2])} bytes exceeds the {MAX_PAYLOAD} byte limit",
                    )
                    continue
                client = self.clients.get(hop)
                if client is None:
                    client = self.clients[hop] = ClientPeer(hop, ident)
                client.used.add((msg.topic.partition(".")[0], msg.aux1))
                self.route_request(msg, hop)
            elif mtype == RESPONSE:
                if self._procmods:
                    pm = self._procmods.get(hop)
                    if pm is not None:
                        pm.forget(msg)
                self.route_response(msg)
            elif mtype == CONTROL:
                self._client_control(hop, ident, msg)
            else:
                self.log(
                    4,
                    f"client {hop[1:9]} sent a {mtype} message; only rank 0 publishes events",
                    "broker",
                )

    # -- in-process clients ------------------------------------------------------
    def direct_submit(self, hop: str, item) -> None:
        """Hand a message (or a new DirectConnector) to this broker; any thread."""
        if self._closed:
            return
        self._direct_q.append((hop, item))
        if not self._direct_flag:
            self._direct_flag = True
            with self._direct_lock:
                if self._direct_efd >= 0:
                    try:
                        os.eventfd_write(self._direct_efd, 1)
                    except OSError:
                        pass

    def _on_direct(self) -> None:
        try:
            os.eventfd_read(self._direct_efd)
        except OSError:
            pass
        self._direct_flag = False
        q = self._direct_q
        while q:
            hop, item = q.popleft()
            if not isinstance(item, Message):
                self.clients[hop] = ClientPeer(hop, b"", direct=item)
                continue
            mtype = item.type
            if mtype == REQUEST:
                size = len(item.raw_payload)
                if size > MAX_PAYLOAD:
                    item.route.append(hop)
                    self._error(
                        item,
                        errno.EMSGSIZE,
                        f"payload of {size} bytes exceeds the {MAX_PAYLOAD} byte limit",
                    )
                    continue
                client = self.clients.get(hop)
                if client is not None:
                    client.used.add((item.topic.partition(".")[0], item.aux1))
                self.route_request(item, hop)
            elif mtype == RESPONSE:
                self.route_response(item)
            elif mtype == CONTROL and item.aux1 == CT.CLIENT_GOODBYE:
                self._client_gone(hop, "closed")

    def _on_child(self) -> None:
        sock = self.child_sock
        for _ in range(_DRAIN):
            try:
                frames = recv_frames(sock)
            except zmq.Again:
                return
            try:
                rank = int(frames[0][1:])
                msg = decode(frames[1:])
            except (ValueError, ProtocolError) as e:
                self.log(4, f"dropped malformed overlay message: {e}", "broker")
                continue
            child = self.children.get(rank)
            if child is None:
                continue
            child.last_seen = time.monotonic()
            if msg.type == REQUEST:
                self.route_request(msg, f"r{rank}")
            elif msg.type == RESPONSE:
                child.forget(msg)
                self.route_response(msg)
            elif msg.type == CONTROL:
                self._child_control(child, msg)

    def _on_parent(self) -> None:
        sock = self.parent_sock
        for _ in range(_DRAIN):
            try:
                frames = recv_frames(sock)
            except zmq.Again:
                return
            self._parent_seen = time.monotonic()
            try:
                msg = decode(frames)
            except ProtocolError as e:
                self.log(4, f"dropped malformed message from parent: {e}", "broker")
                continue
            if msg.type == REQUEST:
                self.route_request(msg, "p")
            elif msg.type == RESPONSE:
                self.route_response(msg)
            elif msg.type == EVENT:
                self._event_from_parent(msg)
            elif msg.type == CONTROL:
                self._parent_control(msg)

    # -- control messages ------------------------------------------------------
    def _client_control(self, hop: str, ident: bytes, msg: Message) -> None:
        if msg.aux1 == CT.CLIENT_HELLO:
            client = self.clients.get(hop)
            if client is None:
                client = self.clients[hop] = ClientPeer(hop, ident)
            p = msg.payload if isinstance(msg.payload, dict) else {}
            pid = p.get("pid")
            if (
                isinstance(pid, int)
                and pid != os.getpid()
                and p.get("hostname") == self.cfg.hostname
            ):
                fd = client.watch_pid(pid)
                if fd is not None:
                    self.reactor.add_reader(
                        fd, lambda h=hop: self._client_gone(h, "process exited")
                    )
            pm = self._procmods.get(hop)
            if pm is not None:
                self._procmod_hello(pm)
        elif msg.aux1 == CT.CLIENT_GOODBYE:
            self._client_gone(hop, "closed")

    def _client_gone(self, hop: str, why: str) -> None:
        client = self.clients.pop(hop, None)
        if client is None:
            return
        if client.pidfd is not None:
            self.reactor.remove_reader(client.pidfd)
        client.close()
        for svc in [s for s, v in self.services.items() if v.client == hop]:
            del self.services[svc]
        pm = self._procmods.pop(hop, None) if self._procmods else None
        if pm is not None:
            self._procmod_gone(pm, why)
        for service, nodeid in client.used:
            m = Message.request(f"{service}.disconnect", None, nodeid=nodeid, flags=FLAG_NORESPONSE)
            self.route_request(m, hop)

    def _child_control(self, child: ChildPeer, msg: Message) -> None:
        ct = msg.aux1
        if ct == CT.HELLO:
            p = msg.payload if isinstance(msg.payload, dict) else {}
            child.online = True
            child.lost = False
            child.t_change = time.time()
            pid = p.get("pid")
            if (
                isinstance(pid, int)
                and p.get("hostname") == self.cfg.hostname
                and pid != os.getpid()
            ):
                fd = child.watch_pid(pid)
                if fd is not None:
                    self.reactor.add_reader(
                        fd, lambda r=child.rank: self._child_lost(r, "process exited")
                    )
            self.log(6, f"rank {child.rank} joined", "overlay")
            if self.state.state == BrokerState.RUN:
                self._send_child(child.rank, Message.control(CT.RUN))
        elif ct == CT.READY:
            self._ready_children.add(child.rank)
            self._check_ready()
        elif ct == CT.GOODBYE:
            child.online = False
            child.t_change = time.time()
            self._drop_child_watch(child)
            child.fail_pending(self, errno.EHOSTUNREACH, f"rank {child.rank} has shut down")
            self.log(6, f"rank {child.rank} left", "overlay")
            if self.state.state == BrokerState.SHUTDOWN:
                self._check_children_gone()

    def _drop_child_watch(self, child: ChildPeer) -> None:
        if child.pidfd is not None:
            self.reactor.remove_reader(child.pidfd)
            child.close()

    def _child_lost(self, rank: int, why: str) -> None:
        child = self.children[rank]
        self._drop_child_watch(child)
        if not child.online:
            return
        child.online = False
        child.t_change = time.time()
        if self.state.at_least(BrokerState.SHUTDOWN):
            self.log(7, f"rank {rank} exited during shutdown", "overlay")
        else:
            child.lost = True
            self.log(3, f"rank {rank} lost: {why}", "overlay")
        child.fail_pending(self, errno.EHOSTUNREACH, f"rank {rank} is lost ({why})")
        if self.state.state == BrokerState.SHUTDOWN:
            self._check_children_gone()

    def _parent_control(self, msg: Message) -> None:
        ct = msg.aux1
        if ct == CT.RUN and self.state.state == BrokerState.QUORUM:
            self._post("quorum")
        elif ct == CT.SHUTDOWN:
            self.shutdown("parent shut down")

    def _keepalive(self) -> None:
        now = time.monotonic()
        if self.parent_sock is not None and not self.state.at_least(BrokerState.EXIT):
            self._send_parent(Message.control(CT.KEEPALIVE))
            if now - self._parent_seen > self.cfg.timeout and not self.state.at_least(
                BrokerState.SHUTDOWN
            ):
                self.log(2, f"parent silent for {self.cfg.timeout}s; shutting down", "overlay")
                self.shutdown("parent lost")
        for rank, child in self.children.items():
            if child.online:
                self._send_child(rank, Message.control(CT.KEEPALIVE))
                if now - child.last_seen > self.cfg.timeout:
                    self._child_lost(rank, f"no keepalive for {self.cfg.timeout}s")

    # -- sending ---------------------------------------------------------------
    def _send_parent(self, msg: Message) -> None:
        try:
            send_frames(self.parent_sock, msg.encode())
        except zmq.ZMQError as e:
            log.warning("rank %d: send to parent failed: %s", self.rank, e)

    def _send_child(self, rank: int, msg: Message) -> bool:
        try:
            send_frames(self.child_sock, [f"r{rank}".encode(), *msg.encode()])
            return True
        except zmq.ZMQError as e:
            if e.errno == zmq.EHOSTUNREACH:
                self._child_lost(rank, "not connected")
            return False

    def _send_client(self, hop: str, msg: Message) -> None:
        client = self.clients.get(hop)
        if client is not None and client.direct is not None:
            client.direct.deliver(msg)
            return
        ident = client.ident if client is not None else hop[1:].encode()
        try:
            send_frames(self.client_sock, [ident, *msg.encode()])
        except zmq.ZMQError as e:
            if e.errno == zmq.EHOSTUNREACH:
                self._client_gone(hop, "unreachable")
