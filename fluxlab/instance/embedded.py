"""Embedded instances: every broker is a thread of this process.

This is what ``%flux start`` uses in a notebook kernel.  Brokers are linked
over ``inproc://`` (or ``ipc``/``tcp`` when asked, which is how the transport
tests run one suite over all three), and each rank's client socket also binds
an ``ipc://`` endpoint in the run directory so that subprocesses — jobs,
``!fluxlab`` shell cells — reach the same instance through ``FLUXLAB_URI``.
Handles created in this process are transparently switched to ``inproc``.
"""

from __future__ import annotations

import atexit
import errno
import shutil
import tempfile
import threading
import time
import uuid
import weakref

from fluxlab.broker import Broker, BrokerConfig
from fluxlab.broker.config import DEFAULT_MODULES
from fluxlab.core.errors import FluxError
from fluxlab.core.handle import _DIRECT, _HANDLES, _INPROC, Flux
from fluxlab.transport import CurveCert

__all__ = ["Instance", "start"]

_LIVE: weakref.WeakSet = weakref.WeakSet()


class Instance:
    """A running embedded instance (a context manager).

    Parameters
    ----------
    size : int
        Number of brokers (ranks).
    fanout : int
        Tree fanout (``tbon.fanout``), default 2.
    transport : str
        Overlay between brokers: ``inproc`` (default), ``ipc`` or ``tcp``.
    statedir : str, optional
        Keep the KVS content store here (sqlite) so state survives restarts.
    rundir : str, optional
        Where sockets go; default a fresh temporary directory removed on stop.
    modules : list of (name, ranks, args), optional
        Modules to load at start (default :data:`fluxlab.broker.DEFAULT_MODULES`).
    attrs : dict, optional
        Broker attributes to set (``-S name=value``).
    conf : dict, optional
        Instance configuration readable by modules.
    cert : CurveCert, optional
        CURVE certificate for ``tcp`` (generated when omitted).
    timeout : float
        Seconds to wait for the instance to come up.

    Raises
    ------
    FluxError
        ``ETIMEDOUT`` if the brokers do not reach RUN in time.
    """

    def __init__(
        self,
        size: int = 1,
        *,
        fanout: int = 2,
        transport: str = "inproc",
        statedir: str | None = None,
        rundir: str | None = None,
        modules: list | None = None,
        attrs: dict | None = None,
        conf: dict | None = None,
        cert: CurveCert | None = None,
        timeout: float = 30.0,
        instance_level: int = 0,
        parent_uri: str = "",
    ):
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise ValueError(f"size must be a positive integer, not {size!r}")
        self.size = size
        self._own_rundir = rundir is None
        self.rundir = rundir or tempfile.mkdtemp(prefix="fluxlab-")
        if transport == "tcp" and cert is None:
            cert = CurveCert.generate()
        self.id = uuid.uuid4().hex[:12]
        self.brokers: list[Broker] = []
        self.threads: list[threading.Thread] = []
        self._stopped = False
        mods = list(DEFAULT_MODULES if modules is None else modules)
        try:
            for rank in range(size):
                cfg = BrokerConfig(
                    rank=rank,
                    size=size,
                    fanout=fanout,
                    transport=transport,
                    rundir=self.rundir,
                    statedir=statedir,
                    cert=cert,
                    embedded=True,
                    instance_id=self.id,
                    modules=mods,
                    attrs=dict(attrs or {}),
                    conf=dict(conf or {}),
                    instance_level=instance_level,
                    parent_uri=parent_uri,
                )
                b = Broker(cfg)
                if rank > 0:
                    parent = self.brokers[b.topo.parent(rank)]
                    b.connect_parent(parent.tbon_endpoint)
                self.brokers.append(b)
                _INPROC[b.local_uri] = b.inproc_uri
                _DIRECT[b.local_uri] = b
        except Exception:
            self._teardown()
            raise
        for b in self.brokers:
            t = threading.Thread(target=b.run, name=f"fluxlab-broker-{b.rank}", daemon=True)
            self.threads.append(t)
            t.start()
        _LIVE.add(self)
        if not self.brokers[0].run_event.wait(timeout):
            self.stop()
            raise FluxError(errno.ETIMEDOUT, f"embedded instance did not start within {timeout}s")

    @property
    def uri(self) -> str:
        """``FLUXLAB_URI`` of this instance (rank 0's ``ipc://`` local URI)."""
        return self.brokers[0].local_uri

    def handle(self, rank: int = 0) -> Flux:
        """A new client handle connected to ``rank`` (in-process: inproc)."""
        if self._stopped:
            raise FluxError(errno.ECONNREFUSED, "the instance is stopped")
        return Flux(self.brokers[rank].local_uri)

    def stop(self, timeout: float = 30.0) -> None:
        """Shut the instance down (orderly: modules stop, state is saved)."""
        if self._stopped:
            return
        self._stopped = True
        if self.threads:
            b0 = self.brokers[0]
            b0.reactor.call_soon_threadsafe(b0.shutdown, "instance stopped")
            deadline = time.monotonic() + timeout
            for b, t in zip(self.brokers, self.threads, strict=False):
                t.join(max(0.0, deadline - time.monotonic()))
                if t.is_alive():
                    b.reactor.call_soon_threadsafe(b.reactor._stop_now)
                    t.join(1.0)
        self._teardown()

    def _teardown(self) -> None:
        for b in self.brokers:
            _INPROC.pop(b.local_uri, None)
            _DIRECT.pop(b.local_uri, None)
            for h in list(_HANDLES.pop(b.local_uri, ())):
                h._mark_dead("the embedded instance was stopped")
            if not self.threads:
                b._close()
        if self._own_rundir:
            shutil.rmtree(self.rundir, ignore_errors=True)

    @property
    def running(self) -> bool:
        return not self._stopped

    def __enter__(self) -> Instance:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "stopped" if self._stopped else "running"
        return f"<fluxlab.Instance size={self.size} {state} uri={self.uri}>"

    def _repr_html_(self) -> str:  # notebook display, rendered by fluxlab.jupyter.display
        return __import__("fluxlab.jupyter.display", fromlist=["_"]).repr_html(self)


def start(size: int = 1, **kwargs) -> Instance:
    """Start an embedded instance of ``size`` ranks (see :class:`Instance`)."""
    return Instance(size, **kwargs)


@atexit.register
def _stop_all() -> None:
    for inst in list(_LIVE):
        try:
            inst.stop(timeout=5.0)
        except Exception:  # noqa: BLE001 - interpreter is exiting
            pass
