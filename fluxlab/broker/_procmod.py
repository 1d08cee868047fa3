"""Service modules in child processes (the broker side).

Why: Flux gives each broker module its own thread, so the KVS and the
job-manager work on two cores at once.  Python threads share one interpreter
lock, so a module named in ``BrokerConfig.module_processes`` (by default the
KVS, on rank 0 of a broker that runs as a process) is run instead by
:mod:`fluxlab.broker.modproc` in a child process connected to this broker's
client socket.  Other modules and clients see no difference: the module's
services are registered here at load, so requests route to it as to any
client-provided service.

Invariants (``docs/spec/broker.md``, "Module processes"):

* the broker picks the child's route id before starting it, so requests sent
  to its services before it has connected are queued, in order, and handed
  over when its hello arrives;
* every forwarded request that expects a response is remembered until its
  terminal response comes back, so when the child dies each requester gets an
  ``ENOSYS`` error at once instead of waiting forever;
* removing the module sends ``MODULE_STOP`` after every request already
  forwarded, waits for the child to exit (killing it after
  ``shutdown_grace``), then reads the child's final responses before the
  services go away.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import time
from typing import TYPE_CHECKING

from fluxlab._proto import Message
from fluxlab.broker.config import CT
from fluxlab.broker.peers import ClientPeer, InFlight
from fluxlab.transport.fastio import has_input

if TYPE_CHECKING:
    from fluxlab.broker.broker import Broker

__all__ = ["ProcModule", "ProcModules"]


class ProcModule(InFlight):
    """The broker's record of one module running in a child process; as an
    :class:`~fluxlab.broker.peers.InFlight` it remembers the requests it owes."""

    def __init__(self, name: str, hop: str, proc: subprocess.Popen, services: list[str]):
        super().__init__()
        self.name = name
        self.hop = hop
        self.proc = proc
        self.pid = proc.pid
        self.services = services
        self.t_start = time.time()
        self.ready = False
        self.stopping = False
        self.nrequests = 0
        #: requests forwarded before the child said hello, in order
        self.queue: list[Message] = []
        #: ``fn(error_text_or_None)`` called once: started, or gone before that
        self.on_ready: list = []

    def list_entry(self, rank: int) -> dict:
        """``module list`` entry: an in-broker module's fields, plus the pid."""
        return {
            "name": self.name,
            "services": list(self.services),
            "rank": rank,
            "uptime": time.time() - self.t_start,
            "requests": self.nrequests,
            "pid": self.pid,
        }

    def forward(self, broker: Broker, msg: Message) -> None:
        """Send (or queue, until hello) a request for one of its services."""
        self.nrequests += 1
        self.remember(msg)
        if self.ready:
            broker._send_client(self.hop, msg)
        else:
            self.queue.append(msg)


def _notify(pm: ProcModule, error: str | None) -> None:
    waiters, pm.on_ready = pm.on_ready, []
    for fn in waiters:
        fn(error)


def spawn_spec(broker: Broker, name: str, modname: str, ident: str, args: list[str]) -> dict:
    """What the child needs to start (read by :func:`fluxlab.broker.modproc.main`)."""
    return {
        "name": modname,
        "module": name,
        "args": args,
        "ident": ident,
        "uri": broker.local_uri,
        "rank": broker.rank,
        "size": broker.size,
        "conf": broker.cfg.conf,
        "attrs": {n: v for n, v, _flags in broker.attrs.items()},
    }


class ProcModules:
    """:class:`~fluxlab.broker.broker.Broker` methods for module processes."""

    def _module_processes(self: Broker) -> set[str]:
        """Modules to run in child processes: conf ``broker.module-processes``
        when given, else ``cfg.module_processes``."""
        conf = self.cfg.conf.get("broker") if isinstance(self.cfg.conf, dict) else None
        names = conf.get("module-processes") if isinstance(conf, dict) else None
        if names is None:
            return set(self.cfg.module_processes)
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            self.log(3, "config: broker.module-processes must be a list of module names", "broker")
            return set(self.cfg.module_processes)
        return set(names)

    def load_module_process(self: Broker, name: str, args: list[str] | None = None) -> ProcModule:
        """Start module ``name`` in a child process and register its services."""
        from fluxlab.broker.modules import ModuleLoadError, find_module_class

        cls = find_module_class(name)
        modname = getattr(cls, "name", "") or name
        if modname in self.modules:
            raise ModuleLoadError(f"module {modname!r} is already loaded on rank {self.rank}")
        services = sorted(cls.service_names())
        clash = [s for s in services if s in self.services]
        if clash:
            raise ModuleLoadError(
                f"module {modname!r}: service(s) {', '.join(clash)} already "
                f"provided on rank {self.rank}"
            )
        ident = "m" + os.urandom(15).hex()
        spec = spawn_spec(self, name, modname, ident, list(args or []))
        proc = subprocess.Popen(
            [sys.executable, "-m", "fluxlab.broker.modproc"], stdin=subprocess.PIPE
        )
        try:
            proc.stdin.write(json.dumps(spec).encode())
            proc.stdin.close()
        except OSError as e:
            proc.kill()
            proc.wait()
            raise ModuleLoadError(f"module {modname!r}: cannot start its process: {e}") from None
        hop = "c" + ident
        pm = ProcModule(modname, hop, proc, services)
        client = self.clients[hop] = ClientPeer(hop, ident.encode())
        fd = client.watch_pid(proc.pid)
        if fd is not None:
            self.reactor.add_reader(fd, lambda: self._client_gone(hop, "process exited"))
        self._procmods[hop] = pm
        self.modules[modname] = pm
        from fluxlab.broker.broker import _Service

        for svc in services:
            self.services[svc] = _Service(svc, client=hop)
        self.log(6, f"loaded module {modname} in process {proc.pid}", "broker")
        return pm

    def _procmod_hello(self: Broker, pm: ProcModule) -> None:
        pm.ready = True
        queue, pm.queue = pm.queue, []
        for msg in queue:
            self._send_client(pm.hop, msg)
        _notify(pm, None)

    def remove_module_process(self: Broker, pm: ProcModule) -> None:
        """Stop the module's process (it flushes first) and unregister it."""
        pm.stopping = True
        if pm.ready and pm.proc.poll() is None:
            self._send_client(pm.hop, Message.control(CT.MODULE_STOP))
            try:
                pm.proc.wait(timeout=self.cfg.shutdown_grace)
            except subprocess.TimeoutExpired:
                self.log(3, f"module {pm.name} did not stop in time; killing it", "broker")
        if pm.proc.poll() is None:
            pm.proc.kill()
            pm.proc.wait()
        self._drain_clients()  # its last responses (and goodbye) are already queued here
        self._client_gone(pm.hop, "module removed")

    def _drain_clients(self: Broker) -> None:
        for _ in range(1000):
            if not has_input(self.client_sock):
                return
            self._on_client()

    def _procmod_gone(self: Broker, pm: ProcModule, why: str) -> None:
        """The child's connection ended: fail what it still owed, drop the module."""
        status = pm.proc.poll()
        if self.modules.get(pm.name) is pm:
            del self.modules[pm.name]
        if pm.stopping:
            self.log(6, f"removed module {pm.name}", "broker")
            text = f"module {pm.name} was unloaded"
        else:
            self.log(
                2,
                f"module {pm.name} (process {pm.pid}) went away: {why}"
                + (f", exit status {status}" if status is not None else ""),
                "broker",
            )
            text = f"module {pm.name} is gone ({why})"
        if not pm.ready:
            _notify(pm, f"module {pm.name}: its process ended before it started ({why})")
        pm.queue = []
        pm.fail_pending(self, errno.ENOSYS, text)
