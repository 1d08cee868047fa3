"""A broker running as its own process, bootstrapped by a launcher.

Bootstrap protocol (a tiny PMI-like key exchange over zmq, see
``docs/spec/broker.md``): the launcher serves a ROUTER socket; each broker
binds its overlay socket, sends ``{"op": "put", "rank": r, "endpoint": ep}``,
then ``{"op": "get", "rank": parent}`` and waits for the parent's endpoint.
"""

from __future__ import annotations

import gc
import os
import signal

import zmq

from fluxlab.broker.broker import Broker
from fluxlab.broker.config import DEFAULT_MODULE_PROCESSES, PROCESS_GC_THRESHOLD, BrokerConfig
from fluxlab.transport import context, load_cert

__all__ = ["broker_main", "config_from_dict"]


def config_from_dict(rank: int, size: int, d: dict) -> BrokerConfig:
    cert = load_cert(d["cert"]) if d.get("cert") else None
    mods = [tuple(m) for m in d["modules"]] if "modules" in d else None
    kw = {
        k: v
        for k, v in d.items()
        if k
        in {
            "fanout",
            "transport",
            "rundir",
            "statedir",
            "instance_id",
            "attrs",
            "conf",
            "keepalive",
            "timeout",
            "shutdown_grace",
            "parent_uri",
            "instance_level",
            "module_processes",
        }
    }
    # a broker with a process of its own gives the KVS one too: two cores at work
    kw.setdefault("module_processes", list(DEFAULT_MODULE_PROCESSES))
    cfg = BrokerConfig(rank=rank, size=size, cert=cert, embedded=False, **kw)
    if mods is not None:
        cfg.modules = [(n, r, list(a)) for n, r, a in mods]
    return cfg


def _bootstrap(sock: zmq.Socket, req: dict, timeout: float = 60.0) -> dict:
    sock.send_json(req)
    if not sock.poll(timeout * 1000):
        raise RuntimeError(
            f"bootstrap: no answer from the launcher to {req['op']} within {timeout}s"
        )
    return sock.recv_json()


def broker_main(rank: int, size: int, bootstrap_uri: str, cfgdict: dict) -> int:
    """Bootstrap, run a broker until it exits, and return its exit status."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the launcher owns Ctrl-C
    gc.set_threshold(*PROCESS_GC_THRESHOLD)
    cfg = config_from_dict(rank, size, cfgdict)
    broker = Broker(cfg)
    boot = context().socket(zmq.DEALER)
    boot.connect(bootstrap_uri)
    try:
        _bootstrap(
            boot,
            {
                "op": "put",
                "rank": rank,
                "endpoint": broker.tbon_endpoint,
                "uri": broker.local_uri,
                "pid": os.getpid(),
            },
        )
        parent = broker.topo.parent(rank)
        if parent is not None:
            reply = _bootstrap(boot, {"op": "get", "rank": parent})
            broker.connect_parent(reply["endpoint"])
    finally:
        boot.close(linger=0)
    # SIGTERM: orderly shutdown from the reactor (wakeup fd -> reader)
    r, w = os.pipe()
    os.set_blocking(r, False)
    os.set_blocking(w, False)
    signal.signal(signal.SIGTERM, lambda *a: None)
    signal.set_wakeup_fd(w)

    def on_signal() -> None:
        try:
            data = os.read(r, 64)
        except BlockingIOError:
            return
        if signal.SIGTERM in data:
            broker.shutdown("SIGTERM")

    broker.reactor.add_reader(r, on_signal)
    return broker.run()
