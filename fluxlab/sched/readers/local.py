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
    level = [(root, f"/{cluster}0", -1)]
    if racks:
        nxt = []
        for r in range(racks):
            name = f"rack{r}"
            path = f"/{cluster}0/{name}"
            v = g.add_vertex("rack", "rack", name, r, paths={CONTAINMENT: path})
            g.add_edge(root, v)
            nxt.append((v, path, -1))
        level = nxt
    per_parent = count // len(level)
    nodes = []
    i = 0
    for parent, ppath, _ in level:
        for _k in range(per_parent):
            name = f"{basename}{i}"
            path = f"{ppath}/{name}"
            rank = i if ranks else -1
            v = g.add_vertex("node", basename, name, i, rank=rank, paths={CONTAINMENT: path})
            g.add_edge(parent, v)
            nodes.append((v, path, rank))
            i += 1
    holders = nodes
    if sockets:
        holders = []
        for v, path, rank in nodes:
            for s in range(sockets):
                name = f"socket{s}"
                sp = f"{path}/{name}"
                sv = g.add_vertex("socket", "socket", name, s, rank=rank, paths={CONTAINMENT: sp})
                g.add_edge(v, sv)
                holders.append((sv, sp, rank))
    per_node = max(sockets, 1)
    for rtype, n, size, unit in (
        ("core", cores, 1, ""),
        ("gpu", gpus, 1, ""),
        ("memory", 1 if memory else 0, memory, memory_unit),
    ):
        if not n:
            continue
        g.types.add(rtype)
        _bulk_children(g, holders, rtype, n, size, unit, per_node)
    return g


def _bulk_children(g, holders, rtype, n, size, unit, per_node) -> None:
    """Append ``n`` children of ``rtype`` under every holder, columns at once.

    Holder ``j`` is the ``j % per_node``-th holder of its node; ids are local
    to the node (GRUG ``id_scope=1``), so names repeat from node to node and
    the per-name index can be built with ranges.
    """
    start = len(g.vtype)
    nh = len(holders)
    total = nh * n
    if not total:
        return
    idx = range(start, start + total)
    per_slot_names = [
        [f"{rtype}{(j % per_node) * n + k}" for k in range(n)] for j in range(per_node)
    ]
    suffixes = [["/" + name for name in names] for names in per_slot_names]
    names = []
    vids = []
    ranks = []
    paths_str = []
    for j, (_h, hp, rank) in enumerate(holders):
        slot = j % per_node
        names += per_slot_names[slot]
        base = slot * n
        vids += range(base, base + n)
        ranks += [rank] * n
        paths_str += [hp + sfx for sfx in suffixes[slot]]
    parents = [h for h, _hp, _r in holders for _ in range(n)]
    g.vtype += [rtype] * total
    g.basename += [rtype] * total
    g.name += names
    g.vid += vids
    g.rank += ranks
    g.size += [size] * total
    g.unit += [unit] * total
    g.uniq_id += idx
    g.props += [None] * total
    g.status += [0] * total
    g.paths += [{CONTAINMENT: p} for p in paths_str]
    g.alive += [True] * total
    g.out += [[] for _ in idx]
    e0 = len(g.esrc)
    g.inn += [[e] for e in range(e0, e0 + total)]
    nones = [None] * total
    for col in (
        g.plans,
        g.xchk,
        g.allocs,
        g.resvs,
        g.tags,
        g.xspans,
        g.job2span,
        g.subplans,
        g.ephemeral,
    ):
        col += nones
    g.by_uniq.update(zip(idx, idx, strict=True))
    g.drop_lazy_indexes()
    g.by_type.setdefault(rtype, []).extend(idx)
    by_rank = g.by_rank
    pos = start
    for _h, _hp, rank in holders:
        by_rank.setdefault(rank, []).extend(range(pos, pos + n))
        pos += n
    g.esrc += parents
    g.etgt += idx
    g.esub += [CONTAINMENT] * total
    g.e_needs += [0] * total
    g.e_excl += [0] * total
    g.e_seq += [0] * total
    g.e_weight += [2**64 - 1] * total
    g.e_alive += [True] * total
    out = g.out
    e = e0
    for h, _hp, _r in holders:
        out[h] += range(e, e + n)
        e += n


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
