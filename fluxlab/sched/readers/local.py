"""Readers that need no file: this machine, and N fake nodes of a shape.

``fake_nodes`` generates the same graph a GRUG recipe
``cluster -> rack[R] -> node[N/R] -> socket[S] -> core[C]/gpu[G]/memory[M]``
would (same vertex order, names and ids), but builds the columns in bulk so
a 4,096-node, 140k-vertex graph loads in well under a second.

``local_machine`` describes the host it runs on: one node named after the
host with the cores this process may use (``os.sched_getaffinity``), its
memory in GB (``/proc/meminfo``) and its NVIDIA GPUs (``nvidia-smi -L``,
else ``/proc/driver/nvidia/gpus`` or ``/dev/nvidiaN``); anything missing is
simply left out.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess

from fluxlab.sched.errors import GraphError
from fluxlab.sched.graph import CONTAINMENT, ResourceGraph

__all__ = ["fake_nodes", "local_machine", "detect_local"]


def fake_nodes(
    count: int,
    cores: int = 32,
    *,
    sockets: int = 0,
    gpus: int = 0,
    memory: int = 0,
    memory_unit: str = "GB",
    racks: int = 0,
    cluster: str = "cluster",
    basename: str = "node",
    ranks: bool = True,
) -> ResourceGraph:
    """Generate ``count`` identical nodes.

    Parameters
    ----------
    count : int
        Number of nodes (spread evenly over ``racks`` racks when given).
    cores, gpus, memory : int
        Per socket when ``sockets`` > 0, else per node.  ``memory`` is one
        vertex of that size in ``memory_unit``.
    ranks : bool
        Give node ``i`` broker rank ``i`` (and its children the same rank).
    """
    if count < 1 or cores < 0 or gpus < 0 or memory < 0 or sockets < 0 or racks < 0:
        raise GraphError("fake_nodes: counts must be positive")
    if racks and count % racks:
        raise GraphError(f"fake_nodes: {count} nodes do not divide into {racks} racks")
    g = ResourceGraph()
    root = g.add_vertex("cluster", cluster, f"{cluster}0", 0, paths={CONTAINMENT: f"/{cluster}0"})
    g.roots[CONTAINMENT] = root
    g.v_rt[CONTAINMENT] = [0, 0, 0]
    level = [root]
    if racks:
        level = list(g.add_children([root] * racks, list(range(racks)), "rack", "rack"))
    per_parent = count // len(level)
    parents = [p for p in level for _ in range(per_parent)]
    node_ranks = list(range(count)) if ranks else -1
    nodes = g.add_children(parents, list(range(count)), "node", basename, ranks=node_ranks)
    holders = list(nodes)
    holder_ranks = list(node_ranks) if ranks else -1
    per_node = max(sockets, 1)
    if sockets:
        holders = g.add_children(
            [v for v in nodes for _ in range(sockets)],
            list(range(sockets)) * count,
            "socket",
            "socket",
            ranks=[r for r in node_ranks for _ in range(sockets)] if ranks else -1,
        )
        holder_ranks = [r for r in node_ranks for _ in range(sockets)] if ranks else -1
    for rtype, n, size, unit in (
        ("core", cores, 1, ""),
        ("gpu", gpus, 1, ""),
        ("memory", 1 if memory else 0, memory, memory_unit),
    ):
        if not n:
            continue
        # ids are local to the node: socket j of a node numbers j*n .. j*n+n-1
        ids_per_node = list(range(per_node * n))
        parents = [h for h in holders for _ in range(n)]
        vids = ids_per_node * count
        r = [x for x in holder_ranks for _ in range(n)] if ranks else -1
        g.add_children(parents, vids, rtype, rtype, ranks=r, size=size, unit=unit)
    return g


def detect_local() -> dict:
    """Facts about this host: hostname, cpu ids, memory GB, gpu count."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = list(range(os.cpu_count() or 1))
    mem_gb = 0
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem_gb = int(line.split()[1]) // (1024 * 1024)
                    break
    except OSError:
        pass
    return {
        "hostname": socket.gethostname().split(".")[0] or "localhost",
        "cpus": cpus,
        "memory_gb": mem_gb,
        "gpus": _count_gpus(),
    }


def _count_gpus() -> int:
    exe = shutil.which("nvidia-smi")
    if exe:
        try:
            out = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=10)
            n = sum(1 for line in out.stdout.splitlines() if line.startswith("GPU "))
            if n:
                return n
        except (OSError, subprocess.SubprocessError):
            pass
    try:
        n = len(os.listdir("/proc/driver/nvidia/gpus"))
        if n:
            return n
    except OSError:
        pass
    try:
        return sum(1 for d in os.listdir("/dev") if re.fullmatch(r"nvidia\d+", d))
    except OSError:
        return 0


def local_machine(facts: dict | None = None, rank: int = 0) -> ResourceGraph:
    """One-node graph of this machine (or of ``facts`` from :func:`detect_local`)."""
    f = facts or detect_local()
    host = f["hostname"]
    g = ResourceGraph()
    root = g.add_vertex("cluster", "cluster", "cluster0", 0, paths={CONTAINMENT: "/cluster0"})
    g.roots[CONTAINMENT] = root
    g.v_rt[CONTAINMENT] = [0, 0, 0]
    m = re.match(r"^(.*?)(\d+)$", host)
    base, hid = (m.group(1), int(m.group(2))) if m and m.group(1) else (host, 0)
    npath = f"/cluster0/{host}"
    node = g.add_vertex("node", base, host, hid, rank=rank, paths={CONTAINMENT: npath})
    g.add_edge(root, node)
    for c in f["cpus"]:
        v = g.add_vertex(
            "core", "core", f"core{c}", c, rank=rank, paths={CONTAINMENT: f"{npath}/core{c}"}
        )
        g.add_edge(node, v)
    for i in range(f.get("gpus", 0)):
        v = g.add_vertex(
            "gpu", "gpu", f"gpu{i}", i, rank=rank, paths={CONTAINMENT: f"{npath}/gpu{i}"}
        )
        g.add_edge(node, v)
    if f.get("memory_gb"):
        v = g.add_vertex(
            "memory",
            "memory",
            "memory0",
            0,
            rank=rank,
            size=f["memory_gb"],
            unit="GB",
            paths={CONTAINMENT: f"{npath}/memory0"},
        )
        g.add_edge(node, v)
    return g
