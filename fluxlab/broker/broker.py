"""One broker: sockets, message routing, service registry, life-cycle.

Routing rules (RFC 3 in fluxlab form, see ``docs/spec/broker.md``):

* A request to ``NODEID_ANY`` goes to the local service if this rank has it,
  else upstream toward rank 0; unknown at rank 0 -> ``ENOSYS``.
* A request to rank N goes to the local service when N is this rank (else
  ``ENOSYS``), otherwise one hop along the tree: down into the child whose
  subtree holds N, or up to the parent.  A lost or absent child, or N outside
  the instance -> ``EHOSTUNREACH``.
* ``FLAG_UPSTREAM`` with ``nodeid`` = this rank skips the local service.
* Every hop pushes where the request came from on its route stack; responses
  pop it (see :mod:`fluxlab._proto.message`).
* Events are sequenced on rank 0 (``event.pub``) and flow down the tree;
  each broker hands them to local module handlers and subscribed clients by
  topic prefix, in sequence order.

Service modules and built-in services run on this broker's reactor thread;
messages between them are passed as objects, never encoded.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

import zmq

from fluxlab._proto import (
    EVENT,
    FLAG_NORESPONSE,
    FLAG_UPSTREAM,
    NODEID_ANY,
    Message,
)
from fluxlab.broker._peerio import PeerIO
from fluxlab.broker._procmod import ProcModule, ProcModules
from fluxlab.broker.attrs import ATTR_IMMUTABLE, ATTR_READONLY, Attributes
from fluxlab.broker.config import CT, BrokerConfig
from fluxlab.broker.logbuf import LogBuffer, level_name, parse_level
from fluxlab.broker.modhandle import ModuleHandle
from fluxlab.broker.peers import ChildPeer, ClientPeer
from fluxlab.broker.state import BrokerState, StateMachine
from fluxlab.broker.topology import Topology
from fluxlab.core.errors import ServiceError
from fluxlab.core.reactor import Reactor
from fluxlab.transport import context, get_transport

__all__ = ["Broker"]

log = logging.getLogger("fluxlab.broker")


class _Service:
    """A registered service: a local module handler table or a client."""

    __slots__ = ("client", "module", "name", "topics")

    def __init__(self, name: str, module=None, client: str | None = None):
        self.name = name
        self.module = module
        self.client = client
        self.topics: dict[str, tuple[Callable, bool]] = {}


class Broker(PeerIO, ProcModules):
    """A broker of one rank; ``run()`` blocks in its reactor until EXIT."""

    def __init__(self, cfg: BrokerConfig):
        self.cfg = cfg
        self.rank = cfg.rank
        self.size = cfg.size
        self.topo = Topology(cfg.size, cfg.fanout)
        self.uuid = uuid.uuid4().hex
        self.reactor = Reactor(f"broker-{cfg.rank}")
        self.state = StateMachine(cfg.rank)
        self.attrs = Attributes()
        self.logbuf = LogBuffer(int(cfg.attrs.get("log-ring-size", 1024)))
        # embedded brokers keep quiet on the kernel's stderr; processes print errors
        self.stderr_level = -1 if cfg.embedded else 3
        self.t_start = time.time()
        self.services: dict[str, _Service] = {}
        self.modules: dict[str, ModuleHandle] = {}  # module name -> handle (load order kept)
        self._hops: dict[str, ModuleHandle] = {}
        self._procmods: dict[str, ProcModule] = {}  # client hop -> module process
        self._subs: list[tuple[str, ModuleHandle, Callable]] = []
        self.clients: dict[str, ClientPeer] = {}
        self.children: dict[int, ChildPeer] = {
            r: ChildPeer(r) for r in self.topo.children(self.rank)
        }
        self.event_seq = 0
        self._ready_children: set[int] = set()
        self._parent_seen = time.monotonic()
        self._state_waiters: list[Callable[[str], None]] = []
        self.builtin_names: set[str] = set()
        self.log_listeners: list[Callable[[], None]] = []
        self.exit_event = threading.Event()
        self.run_event = threading.Event()
        self.exit_status = 0
        self._closed = False
        # in-process clients (DirectConnector): a queue the broker drains when
        # the eventfd fires; the flag avoids a syscall per message under load
        self._direct_q: deque = deque()
        self._direct_flag = False
        self._direct_efd = os.eventfd(0, os.EFD_NONBLOCK) if cfg.embedded else -1
        # guards the eventfd against being written after close: a reused fd
        # number could belong to a zmq socket, and writing to it corrupts libzmq
        self._direct_lock = threading.Lock()

        ctx = context()
        tr = get_transport(cfg.transport)
        # clients: ROUTER on ipc (always) + inproc (embedded)
        self.client_sock = ctx.socket(zmq.ROUTER)
        self.client_sock.setsockopt(zmq.ROUTER_MANDATORY, 1)
        self.client_sock.setsockopt(zmq.SNDHWM, 0)
        self.client_sock.setsockopt(zmq.RCVHWM, 0)
        ipc = get_transport("ipc")
        self.local_uri = ipc.bind(
            self.client_sock, ipc.bind_address(cfg.rundir, f"local-{self.rank}")
        )
        self.inproc_uri = ""
        if cfg.embedded:
            inp = get_transport("inproc")
            self.inproc_uri = inp.bind(
                self.client_sock, inp.bind_address(cfg.rundir, f"local-{self.rank}")
            )
        # children: ROUTER on the overlay transport
        self.child_sock = None
        self.tbon_endpoint = ""
        if self.children:
            self.child_sock = ctx.socket(zmq.ROUTER)
            self.child_sock.setsockopt(zmq.ROUTER_MANDATORY, 1)
            self.child_sock.setsockopt(zmq.SNDHWM, 0)
            self.child_sock.setsockopt(zmq.RCVHWM, 0)
            self.tbon_endpoint = tr.bind(
                self.child_sock, tr.bind_address(cfg.rundir, f"tbon-{self.rank}"), cfg.cert
            )
        self.parent_sock = None
        self.parent_endpoint = ""
        self._init_attrs()

    # -- setup -----------------------------------------------------------
    def _init_attrs(self) -> None:
        cfg, a, ro = self.cfg, self.attrs, ATTR_READONLY | ATTR_IMMUTABLE
        from fluxlab._version import __version__

        a.add("rank", self.rank, ro)
        a.add("size", self.size, ro)
        a.add("version", __version__, ro)
        a.add("instance-level", cfg.instance_level, ro)
        a.add("local-uri", self.local_uri, ro)
        a.add("parent-uri", cfg.parent_uri, ro)
        a.add("rundir", cfg.rundir, ro)
        a.add("statedir", cfg.statedir or "", ro)
        a.add("hostname", cfg.hostname, ro)
        a.add("broker.pid", os.getpid(), ro)
        a.add("broker.uuid", self.uuid, ro)
        a.add("broker.starttime", f"{self.t_start:.6f}", ro)
        a.add("broker.quorum", self.size, ro)
        a.add("broker.boot-method", "embedded" if cfg.embedded else "process", ro)
        a.add("tbon.fanout", self.topo.k, ro)
        a.add("tbon.topo", f"kary:{self.topo.k}", ro)
        a.add("tbon.level", self.topo.level(self.rank), ro)
        a.add("tbon.maxlevel", self.topo.maxlevel(), ro)
        a.add("tbon.descendants", self.topo.descendants(self.rank), ro)
        a.add("tbon.transport", cfg.transport, ro)
        a.add("tbon.endpoint", self.tbon_endpoint, ro)
        a.add("tbon.parent-endpoint", "", ATTR_READONLY)
        a.add("tbon.keepalive", cfg.keepalive, ro)
        a.add("tbon.timeout", cfg.timeout, ro)
        a.add("content.hash", "sha1", ro)
        a.add("instance-id", cfg.instance_id, ro)
        a.add("jobid", cfg.attrs.get("jobid", ""), ro)
        a.add("jobid-path", cfg.attrs.get("jobid-path", "/"), ro)
        a.add("log-ring-size", self.logbuf.size, 0, self._set_ring_size)
        a.add("log-stderr-level", self.stderr_level, 0, self._set_stderr_level)
        for name, value in cfg.attrs.items():
            if name in ("log-ring-size", "log-stderr-level"):
                a.set(name, str(value))
            elif name not in ("jobid", "jobid-path"):
                if self.attrs.names().count(name) and self.attrs.flags(name) & ATTR_READONLY:
                    raise ValueError(f"attribute {name!r} is read-only and cannot be set at start")
                a.add(name, value, 0)

    def _set_ring_size(self, value: str) -> str:
        try:
            self.logbuf.resize(int(value))
        except ValueError:
            raise ServiceError(
                errno.EINVAL, f"log-ring-size must be a positive integer, not {value!r}"
            ) from None
        return value

    def _set_stderr_level(self, value: str) -> str:
        try:
            self.stderr_level = -1 if value.strip() == "-1" else parse_level(value)
        except ValueError as e:
            raise ServiceError(errno.EINVAL, f"log-stderr-level: {e}") from None
        return str(self.stderr_level)

    def connect_parent(self, endpoint: str) -> None:
        """Connect to the parent broker's overlay endpoint (rank > 0)."""
        tr = get_transport(endpoint.partition("://")[0])
        sock = context().socket(zmq.DEALER)
        sock.setsockopt(zmq.IDENTITY, f"r{self.rank}".encode())
        sock.setsockopt(zmq.SNDHWM, 0)
        sock.setsockopt(zmq.RCVHWM, 0)
        tr.connect(sock, endpoint, self.cfg.cert)
        self.parent_sock = sock
        self.parent_endpoint = endpoint
        self.attrs.add("tbon.parent-endpoint", endpoint, ATTR_READONLY)

    # -- running -----------------------------------------------------------
    def run(self) -> int:
        """Run the broker until it reaches EXIT; returns its exit status."""
        r = self.reactor
        r.add_reader(self.client_sock, self._on_client)
        if self._direct_efd >= 0:
            r.add_reader(self._direct_efd, self._on_direct)
        if self.child_sock is not None:
            r.add_reader(self.child_sock, self._on_child)
        if self.parent_sock is not None:
            r.add_reader(self.parent_sock, self._on_parent)
        r.call_soon(self._join)
        r.call_every(self.cfg.keepalive, self._keepalive)
        try:
            r.run()
        finally:
            self._close()
        return self.exit_status

    def _post(self, event: str) -> None:
        old, new = self.state.post(event)
        self.log(6, f"state {old} -> {new} ({event})", "broker")
        for cb in list(self._state_waiters):
            try:
                cb(new)
            except Exception:
                log.exception("state waiter failed")
        handler = getattr(self, f"_enter_{new}", None)
        if handler is not None:
            handler()

    def _join(self) -> None:
        from fluxlab.broker.builtins import load_builtins

        load_builtins(self)
        if self.parent_sock is not None:
            self._send_parent(
                Message.control(
                    CT.HELLO,
                    0,
                    {"rank": self.rank, "pid": os.getpid(), "hostname": self.cfg.hostname},
                )
            )
        self._post("joined")

    def _enter_init(self) -> None:
        procs = self._module_processes()
        for name, ranks, args in self.cfg.modules:
            if (
                ranks == "all"
                or (ranks == "0" and self.rank == 0)
                or (ranks not in ("all", "0") and str(self.rank) in ranks.split(","))
            ):
                try:
                    if name in procs:
                        self.load_module_process(name, list(args))
                    else:
                        self.load_module(name, list(args))
                except Exception as e:  # noqa: BLE001 - a bad module must not stop the broker
                    self.log(3, f"rc1: failed to load module {name}: {e}", "broker")
        self._post("rc1-done")

    def _enter_quorum(self) -> None:
        self._check_ready()

    def _check_ready(self) -> None:
        if self.state.state != BrokerState.QUORUM:
            return
        if self._ready_children >= set(self.children):
            if self.rank == 0:
                self._post("quorum")
            else:
                self._send_parent(Message.control(CT.READY))

    def _enter_run(self) -> None:
        for rank, child in self.children.items():
            if child.online:
                self._send_child(rank, Message.control(CT.RUN))
        self.run_event.set()

    def shutdown(self, reason: str = "shutdown requested") -> None:
        """Begin an orderly shutdown of this broker and its subtree."""
        if self.state.at_least(BrokerState.SHUTDOWN):
            return
        self.log(5, f"shutdown: {reason}", "broker")
        self._post("shutdown")

    def _enter_cleanup(self) -> None:
        self._post("cleanup-done")

    def _enter_shutdown(self) -> None:
        for rank, child in self.children.items():
            if child.online:
                self._send_child(rank, Message.control(CT.SHUTDOWN))
        self._shutdown_deadline = time.monotonic() + self.cfg.shutdown_grace
        self._check_children_gone()

    def _check_children_gone(self) -> None:
        if self.state.state != BrokerState.SHUTDOWN:
            return
        if (
            any(c.online for c in self.children.values())
            and time.monotonic() < self._shutdown_deadline
        ):
            self.reactor.call_later(0.05, self._check_children_gone)
            return
        for name in reversed([n for n in self.modules if n not in self.builtin_names]):
            try:
                self.remove_module(name)
            except Exception as e:  # noqa: BLE001
                self.log(3, f"shutdown: removing module {name} failed: {e}", "broker")
        self._post("children-gone")

    def _enter_exit(self) -> None:
        if self.parent_sock is not None:
            self._send_parent(Message.control(CT.GOODBYE))
        self.reactor.stop()

    def _close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for pm in list(self._procmods.values()):
            if pm.proc.poll() is None:
                pm.proc.kill()
                pm.proc.wait()
        for c in self.clients.values():
            if c.direct is not None:
                c.direct.lost = True
                c.direct.deliver(Message.control(0))
            c.close()
        with self._direct_lock:
            if self._direct_efd >= 0:
                os.close(self._direct_efd)
                self._direct_efd = -1
        for child in self.children.values():
            child.close()
        # what is still queued for clients and the parent (the reply to
        # broker.shutdown, last stream errors, the goodbye) gets 200 ms to
        # leave; nothing queued means no wait
        for s in (self.client_sock, self.child_sock, self.parent_sock):
            if s is not None:
                s.close(linger=0 if s is self.child_sock else 200)
        self.reactor.close()
        self.exit_event.set()

    def on_state(self, cb: Callable[[str], None]) -> None:
        """Call ``cb(new_state)`` on every transition (reactor thread)."""
        self._state_waiters.append(cb)

    # -- logging ------------------------------------------------------------
    def log(
        self,
        level: int,
        text: str,
        component: str = "broker",
        rank: int | None = None,
        timestamp: float | None = None,
    ) -> None:
        """Append to the ring buffer; ranks > 0 also forward to rank 0."""
        origin = self.rank if rank is None else rank
        self.logbuf.append(origin, level, component, text, timestamp)
        for cb in self.log_listeners:
            cb()
        if level <= self.stderr_level:
            ts = time.strftime("%H:%M:%S")
            os.write(2, f"{ts} {component}.{level_name(level)}[{origin}]: {text}\n".encode())
        if self.rank != 0 and self.parent_sock is not None and not self._closed:
            msg = Message.request(
                "log.append",
                {
                    "rank": origin,
                    "level": level,
                    "component": component,
                    "message": text,
                    "timestamp": timestamp or time.time(),
                },
                nodeid=NODEID_ANY,
                flags=FLAG_NORESPONSE,
            )
            self._send_parent(msg)

    # -- modules -------------------------------------------------------------
    def load_module(
        self, name: str, args: list[str] | None = None, cls=None, as_name: str | None = None
    ):
        """Load a service module by name (or class) and register its services."""
        from fluxlab.broker.modules import ModuleLoadError, find_module_class

        if cls is None:
            cls = find_module_class(name)
        modname = as_name or getattr(cls, "name", "") or name
        if modname in self.modules:
            raise ModuleLoadError(f"module {modname!r} is already loaded on rank {self.rank}")
        h = ModuleHandle(self, modname, self.cfg.conf)
        mod = cls(h, *(args or []))
        h.module = mod
        reqs, evts = mod._handlers()
        owned = {t.partition(".")[0] for t in reqs}
        clash = [s for s in owned if s in self.services and self.services[s].module is not mod]
        if clash:
            raise ModuleLoadError(
                f"module {modname!r}: service(s) {', '.join(sorted(clash))} already "
                f"provided on rank {self.rank}"
            )
        for svc in owned:
            self.services[svc] = _Service(svc, module=mod)
        for topic, (fn, streaming) in reqs.items():
            self.services[topic.partition(".")[0]].topics[topic] = (fn, streaming)
        self.modules[modname] = h
        self._hops[h.hop] = h
        for prefix, fn in evts:
            self.module_subscribe(h, prefix, fn)
        try:
            mod.start()
        except Exception:
            self._unregister_module(modname)
            raise
        self.log(6, f"loaded module {modname}", "broker")
        return mod

    def remove_module(self, name: str) -> None:
        from fluxlab.broker.modules import ModuleLoadError

        h = self.modules.get(name)
        if h is None or name in self.builtin_names:
            raise ModuleLoadError(f"module {name!r} is not loaded on rank {self.rank}")
        if type(h) is ProcModule:
            self.remove_module_process(h)
            return
        try:
            h.module.stop()
        finally:
            # end streams of this module's clients so nobody waits forever
            for req in list(h.module.streams.values()):
                h.respond_error(req, errno.ENOSYS, f"module {name} was unloaded")
            h.module.streams.clear()
            self._unregister_module(name)
            h.fail_all(errno.ENOSYS, f"module {name} was unloaded")
            self.log(6, f"removed module {name}", "broker")

    def _unregister_module(self, name: str) -> None:
        h = self.modules.pop(name, None)
        if h is None:
            return
        self._hops.pop(h.hop, None)
        for svc in [s for s, v in self.services.items() if v.module is h.module]:
            del self.services[svc]
        self._subs = [s for s in self._subs if s[1] is not h]

    def module_subscribe(self, h: ModuleHandle, prefix: str, fn: Callable) -> None:
        self._subs.append((prefix, h, fn))

    def module_unsubscribe(self, h: ModuleHandle, prefix: str) -> None:
        self._subs = [s for s in self._subs if not (s[1] is h and s[0] == prefix)]

    # -- routing -----------------------------------------------------------------
    def route_request(self, msg: Message, hop: str) -> None:
        """Route a request that arrived from ``hop`` (see module docstring)."""
        msg.route.append(hop)
        nodeid = msg.aux1
        if msg.flags & FLAG_UPSTREAM:
            if nodeid == self.rank:
                if self.rank == 0:
                    self._error(msg, errno.ENOSYS, f"no service upstream of rank 0 for {msg.topic}")
                else:
                    self._send_parent(msg)
                return
            nodeid = NODEID_ANY
        if nodeid == NODEID_ANY:
            svc = self.services.get(msg.service)
            if svc is not None:
                self._deliver(svc, msg)
            elif self.rank != 0:
                self._send_parent(msg)
            else:
                self._error(
                    msg, errno.ENOSYS, f"unknown service {msg.service!r} (topic {msg.topic!r})"
                )
        elif nodeid == self.rank:
            svc = self.services.get(msg.service)
            if svc is not None:
                self._deliver(svc, msg)
            else:
                self._error(
                    msg,
                    errno.ENOSYS,
                    f"unknown service {msg.service!r} on rank {self.rank} (topic {msg.topic!r})",
                )
        elif nodeid >= self.size:
            self._error(
                msg, errno.EHOSTUNREACH, f"rank {nodeid} is not in this instance (size {self.size})"
            )
        else:
            nxt = self.topo.next_hop(self.rank, nodeid)
            if nxt is None or nxt == self.topo.parent(self.rank):
                self._send_parent(msg)
                return
            child = self.children[nxt]
            if not child.online:
                why = "lost" if child.lost else "not online"
                self._error(
                    msg, errno.EHOSTUNREACH, f"rank {nodeid} is unreachable (rank {nxt} is {why})"
                )
                return
            child.remember(msg)
            if not self._send_child(nxt, msg):
                child.forget(msg)

    def _deliver(self, svc: _Service, msg: Message) -> None:
        if svc.client is not None:
            pm = self._procmods.get(svc.client) if self._procmods else None
            if pm is not None:
                pm.forward(self, msg)
            else:
                self._send_client(svc.client, msg)
            return
        entry = svc.topics.get(msg.topic)
        if entry is None:
            self._error(msg, errno.ENOSYS, f"service {svc.name!r} has no method {msg.topic!r}")
            return
        fn, streaming = entry
        self.reactor.call_soon(svc.module._dispatch_request, fn, streaming, msg)

    def _error(self, msg: Message, errnum: int, text: str) -> None:
        if msg.flags & FLAG_NORESPONSE:
            return
        self.route_response(msg.response(None, errnum, text))

    def route_response(self, msg: Message) -> None:
        """Send a response one hop back along its route stack."""
        if not msg.route:
            return
        hop = msg.route.pop()
        kind = hop[0]
        if kind == "m":
            h = self._hops.get(hop)
            if h is not None:
                self.reactor.call_soon(h.deliver_response, msg)
        elif kind == "c":
            self._send_client(hop, msg)
        elif kind == "r":
            rank = int(hop[1:])
            if self.children.get(rank) is not None and self.children[rank].online:
                self._send_child(rank, msg)
        elif kind == "p":
            if self.parent_sock is not None:
                self._send_parent(msg)

    # -- events ------------------------------------------------------------------
    def publish(self, topic: str, payload: Any = None, raw: bytes | None = None) -> int:
        """Sequence and distribute an event (rank 0 only)."""
        if self.rank != 0:
            raise ServiceError(errno.EINVAL, "events are published by rank 0")
        self.event_seq += 1
        msg = Message(EVENT, topic, payload, aux1=self.event_seq, raw=raw)
        self._distribute(msg)
        return self.event_seq

    def _event_from_parent(self, msg: Message) -> None:
        if self.event_seq and msg.aux1 != self.event_seq + 1:
            self.log(
                4, f"event sequence gap: expected {self.event_seq + 1}, got {msg.aux1}", "broker"
            )
        self.event_seq = msg.aux1
        self._distribute(msg)

    def _distribute(self, msg: Message) -> None:
        for rank, child in self.children.items():
            if child.online:
                self._send_child(rank, msg)
        topic = msg.topic
        for prefix, h, fn in self._subs:
            if topic.startswith(prefix):
                self.reactor.call_soon(h.module._dispatch_event, fn, msg)
        for hop, client in list(self.clients.items()):
            if client.subscribed(topic):
                self._send_client(hop, msg)
