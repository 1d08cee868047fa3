"""Services built into every broker (not loadable modules).

=========  ==========================================================
service    methods
=========  ==========================================================
broker     ping (every rank), info, state, shutdown, uptime
attr       get, set, rm, list
log        append, dmesg (streaming), clear
event      pub (rank 0 sequences), subscribe, unsubscribe (clients)
overlay    health (this rank and its children)
module     list, load, remove
service    add, remove (a client offering a service)
=========  ==========================================================
"""

from __future__ import annotations

import errno
import time
from typing import TYPE_CHECKING

from fluxlab.broker._procmod import ProcModule
from fluxlab.core.errors import ServiceError
from fluxlab.core.module import ServiceModule, request_handler, unpack

if TYPE_CHECKING:
    from fluxlab.broker.broker import Broker

__all__ = ["load_builtins"]


class _Builtin(ServiceModule):
    broker: Broker

    def __init__(self, h, broker: Broker):
        super().__init__(h)
        self.broker = broker


class BrokerService(_Builtin):
    name = "broker"

    @request_handler("info")
    def info(self, msg):
        b = self.broker
        return {
            "rank": b.rank,
            "size": b.size,
            "state": b.state.state,
            "uuid": b.uuid,
            "hostname": b.cfg.hostname,
        }

    @request_handler("state")
    def state(self, msg):
        b = self.broker
        return {"rank": b.rank, "state": b.state.state, "duration": time.time() - b.state.t_entered}

    @request_handler("uptime")
    def uptime(self, msg):
        b = self.broker
        lost = offline = 0
        if b.rank == 0:
            lost = sum(1 for c in b.children.values() if c.lost)
        return {
            "rank": b.rank,
            "size": b.size,
            "state": b.state.state,
            "uptime": time.time() - b.t_start,
            "duration": time.time() - b.state.t_entered,
            "level": int(b.attrs.get("instance-level")),
            "userid": _uid(),
            "lost_children": lost,
            "offline_children": offline,
        }

    @request_handler("state-wait")
    def state_wait(self, msg):
        """Answer once the broker has reached (or passed) ``state``."""
        from fluxlab.broker.state import BrokerState

        (state,) = unpack(msg, ("state", str))
        if state not in BrokerState.ORDER:
            raise ServiceError(errno.EINVAL, f"unknown broker state {state!r}")
        b = self.broker
        if b.state.at_least(state):
            return {"state": b.state.state}
        self.defer(msg)

        def check(new: str) -> None:
            if b.state.at_least(state) and check in b._state_waiters:
                b._state_waiters.remove(check)
                self.respond(msg, {"state": new})

        b.on_state(check)
        return None

    @request_handler("shutdown")
    def shutdown(self, msg):
        (reason,) = unpack(msg, ("reason", str, "shutdown requested"))
        if self.broker.rank != 0:
            raise ServiceError(errno.EINVAL, "shutdown must be sent to rank 0")
        self.broker.reactor.call_soon(self.broker.shutdown, reason)
        return {}


class AttrService(_Builtin):
    name = "attr"

    @request_handler("get")
    def get(self, msg):
        (name,) = unpack(msg, ("name", str))
        a = self.broker.attrs
        return {"value": a.get(name), "flags": a.flags(name)}

    @request_handler("set")
    def set(self, msg):
        name, value = unpack(msg, ("name", str), ("value", (str, int, float)))
        self.broker.attrs.set(name, str(value))
        return {}

    @request_handler("rm")
    def rm(self, msg):
        (name,) = unpack(msg, ("name", str))
        self.broker.attrs.remove(name)
        return {}

    @request_handler("list")
    def list(self, msg):
        return {
            "names": self.broker.attrs.names(),
            "attrs": [[n, v, f] for n, v, f in self.broker.attrs.items()],
        }


class LogService(_Builtin):
    name = "log"

    def __init__(self, h, broker: Broker):
        super().__init__(h, broker)
        self._last: dict[tuple[str, int], int] = {}
        self._notify_pending = False
        broker.log_listeners.append(self._on_entry)

    def _on_entry(self) -> None:
        if self.streams and not self._notify_pending:
            self._notify_pending = True
            self.h.reactor.call_soon(self._notify)

    def _notify(self) -> None:
        self._notify_pending = False
        for req in list(self.streams.values()):
            self._send_new(req)

    def on_cancel(self, msg) -> None:
        self._last.pop((msg.sender, msg.matchtag), None)

    def on_disconnect(self, sender: str) -> None:
        for key in [k for k in self._last if k[0] == sender]:
            del self._last[key]

    @request_handler("append")
    def append(self, msg):
        level, text, component, rank, ts = unpack(
            msg,
            ("level", int, 6),
            ("message", str),
            ("component", str, "user"),
            ("rank", int, self.broker.rank),
            ("timestamp", (int, float), None),
        )
        if not 0 <= level <= 7:
            raise ServiceError(errno.EINVAL, "log.append: level must be 0-7")
        self.broker.log(level, text, component, rank=rank, timestamp=ts)
        return {}

    @request_handler("dmesg", streaming=True)
    def dmesg(self, msg):
        follow, nobacklog = unpack(msg, ("follow", bool, False), ("nobacklog", bool, False))
        buf = self.broker.logbuf
        msg.handled = True
        last = buf._seq if nobacklog else 0
        if not nobacklog:
            for e in buf.entries(0):
                self.respond(msg, e.to_dict())
                last = e.seq
        if follow:
            self.stream_add(msg)
            self._last[(msg.sender, msg.matchtag)] = last
        else:
            self.respond_error(msg, errno.ENODATA)

    def _send_new(self, req) -> None:
        key = (req.sender, req.matchtag)
        last = self._last.get(key, 0)
        for e in self.broker.logbuf.entries(last):
            self.respond(req, e.to_dict())
            last = e.seq
        self._last[key] = last

    @request_handler("clear")
    def clear(self, msg):
        self.broker.logbuf.clear()
        return {}


class EventService(_Builtin):
    name = "event"

    @request_handler("pub")
    def pub(self, msg):
        topic, payload = unpack(
            msg, ("topic", str), ("payload", (dict, list, str, int, float, bool, type(None)), None)
        )
        if not topic:
            raise ServiceError(errno.EINVAL, "event.pub: topic must not be empty")
        if self.broker.rank != 0:
            raise ServiceError(errno.EINVAL, "event.pub must be sent to rank 0")
        return {"seq": self.broker.publish(topic, payload)}

    def _client(self, msg):
        hop = msg.route[-1] if msg.route else ""
        client = self.broker.clients.get(hop)
        if client is None:
            raise ServiceError(errno.EINVAL, f"{msg.topic} must come from a client of this broker")
        return client

    @request_handler("subscribe")
    def subscribe(self, msg):
        (topic,) = unpack(msg, ("topic", str))
        client = self._client(msg)
        if topic not in client.subs:
            client.subs.append(topic)
        return {}

    @request_handler("unsubscribe")
    def unsubscribe(self, msg):
        (topic,) = unpack(msg, ("topic", str))
        client = self._client(msg)
        if topic in client.subs:
            client.subs.remove(topic)
        return {}


class OverlayService(_Builtin):
    name = "overlay"

    @request_handler("health")
    def health(self, msg):
        b = self.broker
        children = [
            {"rank": c.rank, "status": c.status, "duration": time.time() - c.t_change}
            for c in b.children.values()
        ]
        if any(c["status"] == "lost" for c in children):
            status = "degraded"
        elif any(c["status"] != "online" for c in children):
            status = "partial"
        else:
            status = "full"
        return {
            "rank": b.rank,
            "status": status,
            "state": b.state.state,
            "hostname": b.cfg.hostname,
            "duration": time.time() - b.state.t_entered,
            "children": children,
        }

    @request_handler("topology")
    def topology(self, msg):
        b = self.broker
        return {
            "size": b.size,
            "fanout": b.topo.k,
            "parent": b.topo.parent(b.rank),
            "children": b.topo.children(b.rank),
        }


class ModuleService(_Builtin):
    name = "module"

    @request_handler("list")
    def list(self, msg):
        out = []
        for name, h in self.broker.modules.items():
            if name in self.broker.builtin_names:
                continue
            if isinstance(h, ProcModule):
                out.append(h.list_entry(self.broker.rank))
                continue
            mod = h.module
            services = sorted(s for s, v in self.broker.services.items() if v.module is mod)
            out.append(
                {
                    "name": name,
                    "services": services,
                    "rank": self.broker.rank,
                    "uptime": time.time() - mod._t_start,
                    "requests": sum(mod._counters.values()),
                }
            )
        return {"modules": out}

    @request_handler("load")
    def load(self, msg):
        name, args, process = unpack(
            msg, ("name", str), ("args", list, []), ("process", bool, False)
        )
        if not all(isinstance(a, str) for a in args):
            raise ServiceError(errno.EPROTO, "module.load: args must be a list of strings")
        from fluxlab.broker.modules import ModuleLoadError

        try:
            if process:  # answered once the module has started in its process
                pm = self.broker.load_module_process(name, args)
                self.defer(msg)
                pm.on_ready.append(
                    lambda err: (
                        self.respond(msg, {"name": pm.name})
                        if err is None
                        else self.respond_error(msg, errno.EINVAL, err)
                    )
                )
                return None
            mod = self.broker.load_module(name, args)
        except ModuleLoadError as e:
            raise ServiceError(errno.ENOENT, str(e)) from None
        except Exception as e:  # noqa: BLE001 - module start failed
            raise ServiceError(errno.EINVAL, f"module {name}: start failed: {e}") from None
        return {"name": mod.name}

    @request_handler("remove")
    def remove(self, msg):
        (name,) = unpack(msg, ("name", str))
        from fluxlab.broker.modules import ModuleLoadError

        try:
            self.broker.remove_module(name)
        except ModuleLoadError as e:
            raise ServiceError(errno.ENOENT, str(e)) from None
        return {}


class ServiceService(_Builtin):
    name = "service"

    @request_handler("add")
    def add(self, msg):
        (service,) = unpack(msg, ("service", str))
        from fluxlab.broker.broker import _Service

        hop = msg.route[-1] if msg.route else ""
        if hop not in self.broker.clients:
            raise ServiceError(errno.EINVAL, "service.add must come from a client of this broker")
        if not service or "." in service:
            raise ServiceError(errno.EINVAL, f"invalid service name {service!r}")
        if service in self.broker.services:
            raise ServiceError(
                errno.EEXIST, f"service {service!r} already exists on rank {self.broker.rank}"
            )
        self.broker.services[service] = _Service(service, client=hop)
        return {}

    @request_handler("remove")
    def remove(self, msg):
        (service,) = unpack(msg, ("service", str))
        hop = msg.route[-1] if msg.route else ""
        svc = self.broker.services.get(service)
        if svc is None or svc.client != hop:
            raise ServiceError(
                errno.ENOENT, f"service {service!r} is not registered by this client"
            )
        del self.broker.services[service]
        return {}


def _uid() -> int:
    import os

    return os.getuid()


BUILTINS = [
    BrokerService,
    AttrService,
    LogService,
    EventService,
    OverlayService,
    ModuleService,
    ServiceService,
]


def load_builtins(broker: Broker) -> None:
    """Register the built-in services on ``broker`` (not listed as modules)."""
    for cls in BUILTINS:
        broker.load_module(cls.name, cls=_bind(cls, broker))
        broker.builtin_names.add(cls.name)


def _bind(cls, broker):
    class Bound(cls):
        def __init__(self, h, *args):
            super().__init__(h, broker)

    Bound.__name__ = cls.__name__
    return Bound
