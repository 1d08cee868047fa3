"""The ``resource`` service module: R and per-rank state (docs/spec/resource.md).

Loaded on every rank.  Each rank works out its shape (discovered, or fake
from the ``resource`` configuration and ``cores=N gpus=N`` arguments, see
:mod:`fluxlab.resource.shape`).  Rank 0 holds the inventory
(:class:`~fluxlab.resource.inventory.Inventory`) and answers every client
method; other ranks relay those to rank 0.

Liveness
--------
Rank 0 keeps one streaming ``resource.monitor`` request open to every other
rank; its first response carries that rank's shape and marks it online.
The broker remembers requests forwarded to a child and fails them with
``EHOSTUNREACH`` the moment that child (or any broker between) is lost, so
a lost rank ends its monitor stream at once and is marked offline — no
polling, and no change to the broker.  A rank whose module stops ends the
stream with ``ENODATA`` (offline, orderly); ``ENOSYS`` (module not loaded
there yet) is retried with back-off, and a rank that loads the module later
announces itself with ``resource.hello``.

Rank 0 builds R once every rank has reported or is known gone (or at once
from a configured R); requests that need R wait for it.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import Any

from fluxlab._proto import FLAG_STREAMING, Message
from fluxlab.core.errors import FluxError, ServiceError
from fluxlab.core.module import ServiceModule, request_handler, unpack
from fluxlab.resource.discover import local_resources
from fluxlab.resource.idset import IDset
from fluxlab.resource.inventory import Inventory, InventoryError
from fluxlab.resource.rv1 import RvError
from fluxlab.resource.shape import (
    NodeShape,
    ResourceConfig,
    ResourceConfigError,
    build_R,
    parse_module_args,
    rank_shape,
)

__all__ = ["ResourceModule"]

#: Seconds between ``resource.monitor`` retries of a rank answering ENOSYS.
_RETRY_DELAYS = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2)
_GONE_WHY = {
    errno.EHOSTUNREACH: "broker lost or shut down",
    errno.ENODATA: "resource module stopped",
    errno.ENOSYS: "resource module not loaded",
}


class ResourceModule(ServiceModule):
    """Resource inventory (rank 0) and shape reporting (every rank)."""

    name = "resource"

    def start(self) -> None:
        h = self.h
        conf = h.conf.get("resource") if isinstance(h.conf, dict) else None
        self.cfg = ResourceConfig.parse(conf, h.size)
        self.modargs = parse_module_args(self.args)
        self.shape = self._own_shape(h.rank)
        self.inv: Inventory | None = None
        self._shapes: dict[int, NodeShape] = {h.rank: self.shape}
        self._monitors: dict[int, Any] = {}
        self._gone: dict[int, str] = {}
        self._retries: dict[int, int] = {}
        self._timers: dict[int, Any] = {}
        self._waiting: list[tuple[Callable, bool, Message]] = []
        self._build_error = ""
        self._acquired: dict[tuple[str, int], IDset] = {}
        if h.rank != 0:
            h.send_noresponse("resource.hello", {"rank": h.rank}, nodeid=0)
            return
        if self.cfg.R is not None or h.size == 1:
            self._build()
        if h.size > 1:
            h.rpc("broker.state-wait", {"state": "run"}, nodeid=0).then(self._on_run)

    def _own_shape(self, rank: int) -> NodeShape:
        need_discovery = "cores" not in self.modargs and self.cfg.cores_per_node is None
        need_discovery |= "gpus" not in self.modargs and self.cfg.gpus_per_node is None
        local = local_resources() if need_discovery else _NO_LOCAL
        return rank_shape(rank, self.cfg, self.modargs, local, self.h.attr_get("hostname"))

    def stop(self) -> None:
        for fut in self._monitors.values():
            fut.cancel()
        self._monitors.clear()
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        for msg in list(self.streams.values()):
            if msg.topic == "resource.monitor":
                self.stream_end(msg, errno.ENODATA, "resource module stopping")
        self._fail_waiting(errno.ENOSYS, "resource module was unloaded before R was known")

    def stats(self) -> dict:
        inv = self.inv
        return {
            "R-ready": inv is not None,
            "online": inv.online.encode() if inv else "",
            "drained": IDset(inv.drained).encode() if inv else "",
            "acquire-streams": len(self._acquired),
            "history": [list(e) for e in inv.history] if inv else [],
        }

    def on_cancel(self, msg: Message) -> None:
        self._acquired.pop((msg.sender, msg.matchtag), None)

    def on_disconnect(self, sender: str) -> None:
        for key in [k for k in self._acquired if k[0] == sender]:
            del self._acquired[key]

    # -- every rank ---------------------------------------------------------
    @request_handler("monitor", streaming=True)
    def monitor(self, msg: Message) -> None:
        """Rank 0 watches this rank: answer the shape, keep the stream open."""
        self.stream_add(msg)
        self.respond(msg, self.shape.to_dict())

    # -- rank 0: liveness -----------------------------------------------------
    @request_handler("hello")
    def hello(self, msg: Message) -> None:
        (rank,) = unpack(msg, ("rank", int))
        if self.h.rank != 0 or not 0 < rank < self.h.size:
            raise ServiceError(errno.EINVAL, f"resource.hello: unexpected rank {rank}")
        # A new module instance on that rank: always watch it afresh.  The old
        # stream may have ended without its failure being handled yet (the
        # hello can overtake it on this reactor); its callback is then ignored.
        old = self._monitors.pop(rank, None)
        if old is not None:
            old.cancel()
        self._retries.pop(rank, None)
        timer = self._timers.pop(rank, None)
        if timer is not None:
            timer.cancel()
        self._monitor(rank)

    def _on_run(self, fut) -> None:
        try:
            fut.get(0)
        except FluxError as exc:
            self.log(3, f"cannot wait for the broker to run: {exc}")
            return
        for rank in range(1, self.h.size):
            if rank not in self._monitors and rank not in self._timers:
                self._monitor(rank)

    def _monitor(self, rank: int) -> None:
        self._timers.pop(rank, None)
        fut = self.h.rpc("resource.monitor", None, nodeid=rank, flags=FLAG_STREAMING)
        self._monitors[rank] = fut
        fut.then(self._on_monitor, rank)

    def _on_monitor(self, fut, rank: int) -> None:
        if self._monitors.get(rank) is not fut:
            fut.reset()
            return
        try:
            payload = fut.get(0)
        except FluxError as exc:
            del self._monitors[rank]
            self._monitor_failed(rank, exc.errno, str(exc))
            return
        fut.reset()
        try:
            shape = NodeShape.from_dict(payload, f"rank {rank} shape")
            if shape.rank != rank:
                raise ResourceConfigError(f"rank {rank} reported itself as rank {shape.rank}")
        except ResourceConfigError as exc:
            self.log(3, str(exc))
            del self._monitors[rank]
            fut.cancel()
            self._monitor_failed(rank, errno.EPROTO, str(exc))
            return
        self._shapes[rank] = shape
        self._gone.pop(rank, None)
        self._retries.pop(rank, None)
        if self.inv is None:
            self._check_ready()
        elif rank in self.inv.ranks:
            if self.inv.set_online([rank], True):
                self.log(6, f"rank {rank} ({shape.hostname}) is online")
                self._notify()
        else:
            self.log(4, f"rank {rank} reported after R was built; it is not in R")

    def _monitor_failed(self, rank: int, errnum: int, text: str) -> None:
        if self.inv is not None and self.inv.set_online([rank], False):
            self.log(4, f"rank {rank} is offline: {text}")
            self._notify()
        tries = self._retries.get(rank, 0)
        if errnum == errno.ENOSYS and tries < len(_RETRY_DELAYS):
            self._retries[rank] = tries + 1
            self._timers[rank] = self.h.reactor.call_later(
                _RETRY_DELAYS[tries], self._monitor, rank
            )
            return
        self._gone[rank] = _GONE_WHY.get(errnum, text)
        if self.inv is None:
            self._check_ready()

    # -- rank 0: building R -------------------------------------------------------
    def _check_ready(self) -> None:
        pending = [
            r for r in range(1, self.h.size) if r not in self._shapes and r not in self._gone
        ]
        if not pending:
            self._build()

    def _build(self) -> None:
        shapes = dict(self._shapes)
        for rank, why in sorted(self._gone.items()):
            if rank in shapes:
                continue
            if self.cfg.fake_shape:
                shapes[rank] = rank_shape(
                    rank, self.cfg, self.modargs, _NO_LOCAL, self.shape.hostname
                )
            elif self.cfg.R is None:
                self.log(3, f"rank {rank} did not report its resources ({why}); not in R")
        try:
            R = build_R(shapes.values(), self.cfg)
        except RvError as exc:
            self._build_error = f"resource: cannot build R: {exc}"
            self.log(2, self._build_error)
            self._fail_waiting(errno.EINVAL, self._build_error)
            return
        inv = Inventory(R, self.cfg.exclude)
        online = [r for r in shapes if r == 0 or r in self._monitors]
        inv.set_online(online, True)
        self.inv = inv
        self.log(6, f"R: {R.nnodes} nodes, {R.ncores} cores, {R.ngpus} gpus; online {inv.online}")
        waiting, self._waiting = self._waiting, []
        for handler, streaming, msg in waiting:
            if streaming and (msg.sender, msg.matchtag) not in self.streams:
                continue  # cancelled while waiting
            msg.handled = False
            self._dispatch_request(handler, streaming, msg)

    def _fail_waiting(self, errnum: int, text: str) -> None:
        waiting, self._waiting = self._waiting, []
        for _handler, _streaming, msg in waiting:
            self.streams.pop((msg.sender, msg.matchtag), None)
            self.respond_error(msg, errnum, text)

    def _ready(self, msg: Message, handler: Callable, streaming: bool = False) -> bool:
        """True when R exists; otherwise park ``msg`` until it does."""
        if self.inv is not None:
            return True
        if self._build_error:
            raise ServiceError(errno.EINVAL, self._build_error)
        self.defer(msg)
        if streaming:
            self.stream_add(msg)
        self._waiting.append((handler, streaming, msg))
        return False

    # -- rank 0: client methods ----------------------------------------------------
    async def _relay(self, msg: Message) -> Any:
        return await self.h.rpc(msg.topic, msg.payload, nodeid=0)

    @request_handler("status")
    def status(self, msg: Message):
        if self.h.rank != 0:
            return self._relay(msg)
        if self._ready(msg, self.status):
            return self.inv.status_payload()
        return None

    @request_handler("sched-status")
    def sched_status(self, msg: Message):
        if self.h.rank != 0:
            return self._relay(msg)
        if self._ready(msg, self.sched_status):
            return self.inv.sched_status_payload()
        return None

    @request_handler("get-R")
    def get_R(self, msg: Message):
        if self.h.rank != 0:
            return self._relay(msg)
        if self._ready(msg, self.get_R):
            return self.inv.R.to_dict()
        return None

    @request_handler("drain")
    def drain(self, msg: Message):
        if self.h.rank != 0:
            return self._relay(msg)
        targets, reason, mode = unpack(
            msg, ("targets", str), ("reason", str, ""), ("mode", (str, type(None)), None)
        )
        if not self._ready(msg, self.drain):
            return None
        try:
            self.inv.drain(targets, reason, mode)
        except InventoryError as exc:
            raise ServiceError(exc.errno, f"resource.drain: {exc}") from None
        self.log(5, f"drain {self.inv.targets(targets)}: {reason or '(no reason)'}")
        self._notify()
        return {}

    @request_handler("undrain")
    def undrain(self, msg: Message):
        if self.h.rank != 0:
            return self._relay(msg)
        targets, mode, reason = unpack(
            msg, ("targets", str), ("mode", (str, type(None)), None), ("reason", str, "")
        )
        if not self._ready(msg, self.undrain):
            return None
        try:
            done = self.inv.undrain(targets, mode)
        except InventoryError as exc:
            raise ServiceError(exc.errno, f"resource.undrain: {exc}") from None
        if done:
            self.log(5, f"undrain {done}" + (f": {reason}" if reason else ""))
        self._notify()
        return {}

    @request_handler("acquire", streaming=True)
    def acquire(self, msg: Message) -> None:
        """RFC 28: ``{resources, up}`` first, then ``{up?, down?}`` changes."""
        if self.h.rank != 0:
            raise ServiceError(
                errno.EINVAL, "resource.acquire is served by rank 0: send it to nodeid 0"
            )
        if not self._ready(msg, self.acquire, streaming=True):
            return
        self.stream_add(msg)
        up = self.inv.up
        self._acquired[(msg.sender, msg.matchtag)] = up.copy()
        self.respond(msg, {"resources": self.inv.sched_R().to_dict(), "up": up.encode()})

    def _notify(self) -> None:
        """Send every acquire stream the ranks that went up or down since its last response."""
        up = self.inv.up
        for key, last in list(self._acquired.items()):
            msg = self.streams.get(key)
            if msg is None:
                del self._acquired[key]
                continue
            payload = {}
            if up - last:
                payload["up"] = (up - last).encode()
            if last - up:
                payload["down"] = (last - up).encode()
            if payload:
                self.respond(msg, payload)
                self._acquired[key] = up.copy()


class _NoLocal:
    """Stand-in for discovery when configuration fixes cores and gpus."""

    cores: tuple[int, ...] = ()
    gpus: tuple[int, ...] = ()


_NO_LOCAL: Any = _NoLocal()
