"""The resource graph as the explorer shows it: a hierarchy with states.

Levels: cluster -> (node groups, when there are many nodes) -> node ->
(socket, when R's ``scheduling`` key carries a JGF graph) -> core / gpu.
Every element is *free*, *allocated* (to which job), *down* or *drained*;
aggregates carry the fractions of each, so a view never needs more than
:data:`MAX_CELLS` cells whatever the size of the instance.

Inputs are what public services return: R (Rv1) of the whole instance,
the down/drained ranks, and the allocations of running jobs
(``{jobid: {rank: (core ids, gpu ids)}}``, from the jobs' R).  All methods
are pure; :meth:`ResourceModel.cells` and :meth:`ResourceModel.graph` answer
in time proportional to the cells shown plus the number of ranks.

Paths name a view: ``[]`` (cluster), ``["g3"]`` (node group 3),
``["g3", "n51"]`` (rank 51), ``[..., "s1"]`` (socket 1 of that node).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping
from typing import Any

from fluxlab.resource.hostlist import Hostlist
from fluxlab.resource.idset import IDset
from fluxlab.resource.rv1 import ResourceSet

__all__ = ["COLORS", "MAX_CELLS", "PathError", "ResourceModel", "job_color"]

#: most cells one level shows before nodes are grouped
MAX_CELLS = 64
COLORS = {"free": "#a8dba8", "down": "#9e9e9e", "drained": "#f4a261", "allocated": "#1f77b4"}
_PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#9467bd",
    "#d62728",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#393b79",
    "#843c39",
    "#7b4173",
    "#3182bd",
    "#e6550d",
    "#756bb1",
    "#637939",
    "#ad494a",
)


def job_color(jobid: int) -> str:
    """A stable colour per job (the same in the graph, the table and the timeline)."""
    return _PALETTE[(int(jobid) * 2654435761 >> 7) % len(_PALETTE)]


class PathError(ValueError):
    """A view path that names no element of the graph."""


class _Node:
    __slots__ = ("cores", "gpus", "host", "rank", "sockets")

    def __init__(self, rank: int, host: str, cores: frozenset, gpus: frozenset):
        self.rank, self.host, self.cores, self.gpus = rank, host, cores, gpus
        #: [(socket id, core ids, gpu ids)] when R carries a JGF graph
        self.sockets: list[tuple[int, frozenset, frozenset]] = []


def _sockets_from_jgf(scheduling: Any) -> dict[int, dict[int, tuple[set, set]]]:
    """``{rank: {socket id: (core ids, gpu ids)}}`` from a JGF ``scheduling`` key."""
    out: dict[int, dict[int, tuple[set, set]]] = {}
    graph = scheduling.get("graph") if isinstance(scheduling, Mapping) else None
    nodes = graph.get("nodes") if isinstance(graph, Mapping) else None
    if not isinstance(nodes, list):
        return out
    for v in nodes:
        md = v.get("metadata") if isinstance(v, Mapping) else None
        if not isinstance(md, Mapping) or md.get("type") not in ("core", "gpu"):
            continue
        rank, vid = md.get("rank"), md.get("id")
        paths = md.get("paths")
        path = paths.get("containment", "") if isinstance(paths, Mapping) else ""
        if not isinstance(rank, int) or not isinstance(vid, int) or not isinstance(path, str):
            continue
        sock = next((p for p in path.split("/") if p.startswith("socket")), None)
        if sock is None or not sock[6:].isdigit():
            continue
        cores, gpus = out.setdefault(rank, {}).setdefault(int(sock[6:]), (set(), set()))
        (cores if md["type"] == "core" else gpus).add(vid)
    return out


class ResourceModel:
    """Resources, their states and allocations; views by path.

    Parameters
    ----------
    R : mapping, str or ResourceSet
        All resources of the instance (Rv1, with an optional JGF
        ``scheduling`` key).
    max_cells : int
        Group nodes when there are more than this many.
    """

    def __init__(self, R: Any = None, max_cells: int = MAX_CELLS):
        self.max_cells = max_cells
        self.nodes: dict[int, _Node] = {}
        self.down: set[int] = set()
        self.drained: dict[int, str] = {}
        #: {rank: {jobid: (core ids, gpu ids)}}
        self.by_rank: dict[int, dict[int, tuple[frozenset, frozenset]]] = {}
        self.version = 0
        self._labels: dict[tuple, str] = {}
        self._group_cache: list[list[int]] | None = None
        self._rank_cache: dict = {}
        if R is not None:
            self.set_R(R)

    # -- inputs -------------------------------------------------------------------
    def set_R(self, R: Any) -> None:
        rs = R if isinstance(R, ResourceSet) else ResourceSet(R)
        jgf = _sockets_from_jgf(rs.scheduling)
        self.nodes = {}
        self._labels = {}
        self._group_cache = None
        for rank in rs.ranks:
            kids = rs.children(rank)
            node = _Node(
                rank,
                rs.hostname(rank) or f"rank{rank}",
                frozenset(kids.get("core", ())),
                frozenset(kids.get("gpu", ())),
            )
            for sid, (cores, gpus) in sorted(jgf.get(rank, {}).items()):
                node.sockets.append((sid, frozenset(cores), frozenset(gpus)))
            self.nodes[rank] = node
        self.version += 1

    def set_status(self, down: Iterable[int] = (), drained: Mapping[int, str] | None = None):
        """Ranks that are down (offline) and drained (with reasons)."""
        self.down = set(down)
        self.drained = dict(drained or {})
        self.version += 1

    def set_allocations(self, allocs: Mapping[int, Mapping[int, tuple[Iterable, Iterable]]]):
        """Allocations of running jobs: ``{jobid: {rank: (core ids, gpu ids)}}``."""
        by_rank: dict[int, dict[int, tuple[frozenset, frozenset]]] = {}
        for jobid, ranks in allocs.items():
            for rank, (cores, gpus) in ranks.items():
                by_rank.setdefault(rank, {})[int(jobid)] = (frozenset(cores), frozenset(gpus))
        self.by_rank = by_rank
        self.version += 1

    # -- structure ------------------------------------------------------------------
    @property
    def ranks(self) -> list[int]:
        return sorted(self.nodes)

    def group_size(self) -> int:
        """Nodes per group at the cluster level (1: no grouping)."""
        n = len(self.nodes)
        if n <= self.max_cells:
            return 1
        return 2 ** math.ceil(math.log2(math.ceil(n / self.max_cells)))

    def _groups(self) -> list[list[int]]:
        if self._group_cache is None:
            size, ranks = self.group_size(), self.ranks
            self._group_cache = [ranks[i : i + size] for i in range(0, len(ranks), size)]
        return self._group_cache

    def _node_state(self, rank: int) -> str:
        if rank in self.down:
            return "down"
        if rank in self.drained:
            return "drained"
        return "up"

    def _stats(self, ranks: Iterable[int]) -> dict[str, Any]:
        st = {"nnodes": 0, "cores": 0, "gpus": 0, "free": 0, "allocated": 0, "down": 0}
        st["drained"] = 0
        jobs: dict[int, int] = {}
        cache = self._rank_cache
        if cache.get("version") != self.version:
            cache.clear()
            cache["version"] = self.version
        for rank in ranks:
            entry = cache.get(rank)
            if entry is None:
                entry = cache[rank] = self._rank_stats(rank)
            ncores, ngpus, state, used, per_job = entry
            st["nnodes"] += 1
            st["cores"] += ncores
            st["gpus"] += ngpus
            if state != "up":
                st[state] += ncores + ngpus
                continue
            for jobid, k in per_job:
                jobs[jobid] = jobs.get(jobid, 0) + k
            st["allocated"] += used
            st["free"] += ncores + ngpus - used
        st["jobs"] = jobs
        return st

    def _rank_stats(self, rank: int) -> tuple:
        """``(ncores, ngpus, state, used, [(jobid, n), ...])`` of one rank."""
        node = self.nodes[rank]
        state = self._node_state(rank)
        per_job = []
        used = 0
        if state == "up":
            for jobid, (c, g) in self.by_rank.get(rank, {}).items():
                k = len(c & node.cores) + len(g & node.gpus)
                per_job.append((jobid, k))
                used += k
        return len(node.cores), len(node.gpus), state, used, per_job

    @staticmethod
    def _segments(st: Mapping[str, Any]) -> list[list]:
        total = st["free"] + st["allocated"] + st["down"] + st["drained"]
        if not total:
            return []
        segs = [
            [job_color(j), n / total, f"job {_f58(j)}"]
            for j, n in sorted(st["jobs"].items(), key=lambda kv: -kv[1])
            if n
        ]
        for state in ("free", "drained", "down"):
            if st[state]:
                segs.append([COLORS[state], st[state] / total, state])
        return segs

    @staticmethod
    def _summary_state(st: Mapping[str, Any]) -> str:
        total = st["free"] + st["allocated"] + st["down"] + st["drained"]
        for state in ("free", "allocated", "down", "drained"):
            if st[state] == total:
                return state
        return "mixed"

    def _agg_cell(self, key: str, label: str, kind: str, ranks: list[int]) -> dict[str, Any]:
        st = self._stats(ranks)
        state = self._summary_state(st)
        jobs = sorted(st["jobs"], key=lambda j: -st["jobs"][j])
        tip = [
            f"{kind} {label}",
            f"{st['nnodes']} node(s), {st['cores']} cores, {st['gpus']} GPUs",
            f"free {st['free']}, allocated {st['allocated']}, "
            f"down {st['down']}, drained {st['drained']}",
        ]
        if kind == "node":
            tip.append(f"rank {ranks[0]}")
            if ranks[0] in self.drained:
                tip.append(f"drained: {self.drained[ranks[0]] or '(no reason)'}")
        if jobs:
            tip.append("jobs: " + ", ".join(_f58(j) for j in jobs[:8]) + (" ..." * (len(jobs) > 8)))
        if jobs:  # the job holding most of it
            color = job_color(jobs[0])
        else:  # the most common of free / down / drained
            color = COLORS[max(("free", "down", "drained"), key=lambda k: st[k])]
        return {
            "key": key,
            "label": label,
            "kind": kind,
            "drill": True,
            "state": state,
            "color": color,
            "segments": self._segments(st),
            "jobs": [_f58(j) for j in jobs],
            "tip": "\n".join(tip),
            "free": st["free"],
            "allocated": st["allocated"],
            "down": st["down"],
            "drained": st["drained"],
        }

    def _leaf_cells(self, rank: int, cores: Iterable[int], gpus: Iterable[int]) -> list[dict]:
        node = self.nodes[rank]
        state = self._node_state(rank)
        owner: dict[tuple[str, int], int] = {}
        for jobid, (c, g) in self.by_rank.get(rank, {}).items():
            for i in c:
                owner[("core", i)] = jobid
            for i in g:
                owner[("gpu", i)] = jobid
        out = []
        for kind, ids in (("core", sorted(cores)), ("gpu", sorted(gpus))):
            for i in ids:
                job = owner.get((kind, i))
                if state != "up":
                    st, color = state, COLORS[state]
                elif job is not None:
                    st, color = "allocated", job_color(job)
                else:
                    st, color = "free", COLORS["free"]
                tip = f"{kind}{i} on {node.host} (rank {rank}): {st}"
                if job is not None:
                    tip += f" by job {_f58(job)}"
                out.append(
                    {
                        "key": f"{kind[0]}{i}",
                        "label": f"{kind}{i}",
                        "kind": kind,
                        "drill": False,
                        "state": st,
                        "color": color,
                        "segments": [],
                        "jobs": [_f58(job)] if job is not None else [],
                        "tip": tip,
                    }
                )
        return out

    # -- views --------------------------------------------------------------------
    def resolve(self, path: list[str]) -> tuple[str, Any]:
        """``(kind, target)`` a path names: ``("cluster", None)``, ``("group", i)``,
        ``("node", rank)`` or ``("socket", (rank, socket id))``.

        Raises
        ------
        PathError
            If a path element does not exist (the message names it).
        """
        kind: str = "cluster"
        target: Any = None
        for part in path:
            if not isinstance(part, str) or len(part) < 2 or not part[1:].isdigit():
                raise PathError(f"path element {part!r} is not like g3, n12 or s0")
            tag, num = part[0], int(part[1:])
            if tag == "g" and kind == "cluster" and self.group_size() > 1:
                if num >= len(self._groups()):
                    raise PathError(f"path element {part!r}: no node group {num}")
                kind, target = "group", num
            elif tag == "n" and kind in ("cluster", "group"):
                if num not in self.nodes:
                    raise PathError(f"path element {part!r}: no rank {num}")
                if kind == "group" and num not in self._groups()[target]:
                    raise PathError(f"path element {part!r}: rank {num} is not in group {target}")
                kind, target = "node", num
            elif tag == "s" and kind == "node":
                if num not in {s[0] for s in self.nodes[target].sockets}:
                    raise PathError(f"path element {part!r}: rank {target} has no socket {num}")
                kind, target = "socket", (target, num)
            else:
                raise PathError(f"path element {part!r} cannot follow a {kind}")
        return kind, target

    def cells(self, path: list[str] | None = None) -> list[dict[str, Any]]:
        """The cells of the view at ``path`` (at most ``max_cells`` aggregates)."""
        kind, target = self.resolve(list(path or []))
        if kind == "cluster" and self.group_size() > 1:
            return [
                self._agg_cell(f"g{i}", _hosts(self, g), "group", g)
                for i, g in enumerate(self._groups())
            ]
        if kind in ("cluster", "group"):
            ranks = self.ranks if kind == "cluster" else self._groups()[target]
            return [self._agg_cell(f"n{r}", self.nodes[r].host, "node", [r]) for r in ranks]
        if kind == "node":
            node = self.nodes[target]
            if node.sockets:
                out = []
                for sid, cores, gpus in node.sockets:
                    cell = self._agg_cell(f"s{sid}", f"socket{sid}", "socket", [target])
                    leaves = self._leaf_cells(target, cores, gpus)
                    cell["children"] = leaves
                    cell["state"] = _common([c["state"] for c in leaves])
                    cell["segments"] = _leaf_segments(leaves)
                    out.append(cell)
                return out
            return self._leaf_cells(target, node.cores, node.gpus)
        rank, sid = target
        _, cores, gpus = next(s for s in self.nodes[rank].sockets if s[0] == sid)
        return self._leaf_cells(rank, cores, gpus)

    def breadcrumb(self, path: list[str]) -> list[dict[str, str]]:
        """Labels of each prefix of ``path`` (for the explorer's navigation bar)."""
        out = [{"label": "cluster", "depth": "0"}]
        for i in range(len(path)):
            kind, target = self.resolve(path[: i + 1])
            if kind == "group":
                label = _hosts(self, self._groups()[target])
            elif kind == "node":
                label = self.nodes[target].host
            else:
                label = f"socket{target[1]}"
            out.append({"label": label, "depth": str(i + 1)})
        return out

    def summary(self) -> dict[str, Any]:
        st = self._stats(self.ranks)
        return {k: st[k] for k in ("nnodes", "cores", "gpus", "free", "allocated", "down")} | {
            "drained": st["drained"],
            "jobs": len(st["jobs"]),
            "group_size": self.group_size(),
        }

    def graph(self, path: list[str] | None = None, max_vertices: int = 300):
        """The subtree at ``path`` as a networkx DiGraph (vertex attributes:
        ``label kind color tip``), cut off at ``max_vertices``."""
        import networkx as nx

        path = list(path or [])
        kind, _ = self.resolve(path)
        g = nx.DiGraph()
        root = "/".join(path) or "cluster"
        label = self.breadcrumb(path)[-1]["label"] if path else "cluster"
        g.add_node(root, label=label, kind=kind, color="#555555", tip=label)
        frontier = [(root, path, 0)]
        while frontier and g.number_of_nodes() < max_vertices:
            vid, vpath, depth = frontier.pop(0)
            try:
                kids = self.cells(vpath) if depth < 3 else []
            except PathError:
                kids = []
            for cell in kids:
                if g.number_of_nodes() >= max_vertices:
                    break
                cid = f"{vid}/{cell['key']}"
                g.add_node(cid, label=cell["label"], kind=cell["kind"], color=cell["color"])
                g.nodes[cid]["tip"] = cell["tip"]
                g.add_edge(vid, cid)
                for leaf in cell.get("children", ()):
                    lid = f"{cid}/{leaf['key']}"
                    g.add_node(lid, label=leaf["label"], kind=leaf["kind"], color=leaf["color"])
                    g.nodes[lid]["tip"] = leaf["tip"]
                    g.add_edge(cid, lid)
                if cell["drill"] and "children" not in cell:
                    frontier.append((cid, [*vpath, cell["key"]], depth + 1))
        return g


def tree_layout(g, root: str) -> dict[str, tuple[float, float]]:
    """Layered tidy layout of a tree: depth gives y, leaf order gives x (0..1).

    Written here rather than ``networkx.bfs_layout`` because that one needs
    numpy, which fluxlab does not otherwise depend on.
    """
    import networkx as nx

    order = list(nx.dfs_postorder_nodes(g, root))
    depth = nx.single_source_shortest_path_length(g, root)
    leaves = [v for v in order if g.out_degree(v) == 0]
    span = max(1, len(leaves) - 1)
    x: dict[str, float] = {v: i / span for i, v in enumerate(leaves)}
    for v in order:
        if v not in x:
            kids = list(g.successors(v))
            x[v] = sum(x[k] for k in kids) / len(kids)
    levels = max(depth.values()) or 1
    return {v: (x[v], depth[v] / levels) for v in g}


def graph_payload(g, root: str) -> dict[str, Any]:
    """A networkx tree as the explorer's node-link JSON (positions included)."""
    pos = tree_layout(g, root)
    index = {v: i for i, v in enumerate(g)}
    nodes = [
        {
            "id": v,
            "label": d.get("label", v),
            "kind": d.get("kind", ""),
            "color": d.get("color", "#888"),
            "tip": d.get("tip", ""),
            "x": round(pos[v][0], 4),
            "y": round(pos[v][1], 4),
        }
        for v, d in g.nodes(data=True)
    ]
    return {"nodes": nodes, "edges": [[index[a], index[b]] for a, b in g.edges()]}


def _common(states: list[str]) -> str:
    return states[0] if states and all(s == states[0] for s in states) else "mixed"


def _leaf_segments(leaves: list[dict]) -> list[list]:
    if not leaves:
        return []
    acc: dict[tuple[str, str], int] = {}
    for c in leaves:
        label = f"job {c['jobs'][0]}" if c["jobs"] else c["state"]
        acc[(c["color"], label)] = acc.get((c["color"], label), 0) + 1
    return [[color, n / len(leaves), label] for (color, label), n in acc.items()]


def _hosts(model: ResourceModel, ranks: list[int]) -> str:
    key = (ranks[0], ranks[-1], len(ranks))
    label = model._labels.get(key)
    if label is None:
        hosts = [model.nodes[r].host for r in ranks]
        if len(set(hosts)) == len(hosts):
            label = str(Hostlist(hosts))
        else:
            label = f"ranks {IDset(ranks)}"
        model._labels[key] = label
    return label


@functools.lru_cache(maxsize=65536)
def _f58(jobid: int) -> str:
    from fluxlab.job.jobid import JobID

    return JobID(jobid).f58
