"""Static configuration of one broker (what bootstrap decides before it runs)."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field

from fluxlab.transport import CurveCert

__all__ = ["CT", "DEFAULT_MODULES", "DEFAULT_MODULE_PROCESSES", "BrokerConfig"]

#: Modules loaded at start (rc1) as ``(name, ranks, args)``; ranks "0" or "all".
DEFAULT_MODULES: list[tuple[str, str, list[str]]] = [
    ("heartbeat", "0", []),
    ("kvs", "0", []),
    ("resource", "all", []),
    ("job-ingest", "0", []),
    ("job-manager", "0", []),
    ("job-list", "0", []),
    ("job-info", "0", []),
    ("sched", "0", []),
    ("job-exec", "0", []),
    ("exec", "all", []),
]

#: Modules a broker that runs as a process of its own starts in child
#: processes (embedded brokers keep every module in their thread).
DEFAULT_MODULE_PROCESSES: tuple[str, ...] = ("kvs",)

#: ``gc.set_threshold`` of broker and module processes (not of an embedded
#: broker: the kernel's collector is the user's).  Every job allocates
#: thousands of short-lived objects that reference counting frees; the
#: default 700-object young generation ran the cyclic collector about once
#: per job and cost ~7% of a busy broker's time.  With (20,000, 10, 10) a
#: 20,000-job run still spent 0.30 s collecting, 0.17 s of it in four
#: middle-generation passes of ~43 ms each (pauses every request waits out);
#: (50,000, 50, 10) spent 0.17 s, in 19 young passes of ~9 ms and none older.
PROCESS_GC_THRESHOLD: tuple[int, int, int] = (50_000, 50, 10)


class CT:
    """Control message types (``Message.control(ctype, status)``)."""

    HELLO = 1  # child -> parent: {"rank", "pid", "hostname"}
    KEEPALIVE = 2  # both ways
    READY = 3  # child -> parent: my whole subtree finished INIT
    RUN = 4  # parent -> child: quorum reached, enter RUN
    SHUTDOWN = 5  # parent -> child: shut down
    GOODBYE = 6  # child -> parent: I am exiting
    CLIENT_HELLO = 7  # client -> broker: {"pid", "hostname"}
    CLIENT_GOODBYE = 8  # client -> broker
    MODULE_STOP = 9  # broker -> module process: stop the module and exit


@dataclass
class BrokerConfig:
    """Everything one broker needs to know at construction time.

    Attributes
    ----------
    rank, size, fanout
        Position in the k-ary tree (``tbon.fanout``).
    transport
        Overlay scheme between brokers: ``inproc``, ``ipc`` or ``tcp``.
    rundir
        Directory for ipc sockets and runtime files (must exist).
    statedir
        Directory for persistent state (KVS content), or None for memory only.
    cert
        CURVE certificate shared by the instance (required for ``tcp``).
    embedded
        True when the broker runs as a thread in the client's process: its
        client socket also binds an ``inproc://`` endpoint.
    modules
        ``(name, ranks, args)`` to load in INIT.
    module_processes
        Names of modules to run in a child process each instead of in the
        broker's thread (:mod:`fluxlab.broker._procmod`); conf
        ``broker.module-processes`` overrides it.
    attrs
        Extra/overriding broker attributes (``-S name=value``).
    conf
        Instance configuration (TOML/YAML-like dict), readable by modules.
    """

    rank: int = 0
    size: int = 1
    fanout: int = 2
    transport: str = "ipc"
    rundir: str = ""
    statedir: str | None = None
    cert: CurveCert | None = None
    embedded: bool = False
    instance_id: str = ""
    modules: list[tuple[str, str, list[str]]] = field(default_factory=lambda: list(DEFAULT_MODULES))
    module_processes: list[str] = field(default_factory=list)
    attrs: dict[str, str] = field(default_factory=dict)
    conf: dict = field(default_factory=dict)
    hostname: str = field(default_factory=socket.gethostname)
    keepalive: float = 1.0
    timeout: float = 15.0
    shutdown_grace: float = 10.0
    parent_uri: str = ""
    instance_level: int = 0
