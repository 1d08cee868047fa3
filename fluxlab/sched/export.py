"""Whole-graph writers: JGF, Rv1 (JGF under ``scheduling``) and a text tree.

These describe a graph (or the subtree of some vertices), not a match:

* :func:`to_jgf` writes every live vertex with full metadata, in the form
  :func:`fluxlab.sched.readers.jgf.read_jgf` reads back (round trip).
* :func:`to_rv1` writes RFC 20 R for the nodes of the graph, with the JGF in
  ``scheduling`` (what a parent instance hands a child, RFC 28).
* :func:`to_tree` draws the containment tree, one vertex per line, with
  sizes, ranks, status and allocation marks.
"""

from __future__ import annotations

from fluxlab.resource.hostlist import Hostlist
from fluxlab.sched.graph import CONTAINMENT, ResourceGraph
from fluxlab.sched.writers import compress_ids

__all__ = ["to_jgf", "to_rv1", "to_tree", "to_networkx"]


def _vertex_json(g: ResourceGraph, v: int) -> dict:
    md = {
        "type": g.vtype[v],
        "basename": g.basename[v],
        "name": g.name[v],
        "id": g.vid[v],
        "uniq_id": g.uniq_id[v],
        "rank": g.rank[v],
        "exclusive": False,
        "unit": g.unit[v],
        "size": g.size[v],
        "paths": dict(g.paths[v]),
    }
    if g.status[v]:
        md["status"] = g.status[v]
    if g.props[v]:
        md["properties"] = dict(sorted(g.props[v].items()))
    return {"id": str(g.uniq_id[v]), "metadata": md}


def to_jgf(g: ResourceGraph, vertices=None) -> dict:
    """JGF of the graph (or of ``vertices`` and the edges among them)."""
    keep = set(g.vertices()) if vertices is None else set(vertices)
    nodes = [_vertex_json(g, v) for v in sorted(keep)]
    edges = []
    for e, alive in enumerate(g.e_alive):
        if alive and g.esrc[e] in keep and g.etgt[e] in keep:
            edges.append(
                {
                    "source": str(g.uniq_id[g.esrc[e]]),
                    "target": str(g.uniq_id[g.etgt[e]]),
                    "metadata": {"subsystem": g.esub[e]},
                }
            )
    return {"graph": {"nodes": nodes, "edges": edges}}


def to_rv1(g: ResourceGraph, starttime: int = 0, expiration: int = 0, scheduling: bool = True):
    """RFC 20 R describing every node of the graph (ranks from the node vertices)."""
    groups: dict[tuple, list[tuple[int, str]]] = {}
    props: dict[str, list[int]] = {}
    for v in g.by_type.get("node", ()):
        if not g.alive[v]:
            continue
        kids: dict[str, list[int]] = {}
        for u in g.subtree(v)[1:]:
            if g.vtype[u] in ("core", "gpu"):
                kids.setdefault(g.vtype[u], []).append(g.vid[u])
        key = tuple((t, compress_ids(sorted(ids))) for t, ids in sorted(kids.items()))
        groups.setdefault(key, []).append((g.rank[v], g.name[v]))
        for k, val in sorted((g.props[v] or {}).items()):
            props.setdefault(f"{k}={val}" if val else k, []).append(g.rank[v])
    rlite = []
    hosts = []
    for key, ents in sorted(groups.items(), key=lambda kv: min(r for r, _ in kv[1])):
        ents.sort()
        rlite.append({"rank": compress_ids(r for r, _ in ents), "children": dict(key)})
        hosts.extend(ents)
    hosts.sort()
    ex: dict = {"R_lite": rlite, "nodelist": [Hostlist([h for _, h in hosts]).encode()]}
    if props:
        ex["properties"] = {k: compress_ids(sorted(r)) for k, r in sorted(props.items())}
    ex["starttime"] = starttime
    ex["expiration"] = expiration
    out: dict = {"version": 1, "execution": ex}
    if scheduling:
        out["scheduling"] = {"writer": "fluxion:jgf", **to_jgf(g)}
    return out


def to_tree(g: ResourceGraph, subsystem: str = CONTAINMENT, root: int | None = None) -> str:
    """A readable tree of ``subsystem``.

    Marks: ``rank=N`` where the rank changes, ``down``, ``drained(reason)``,
    ``*jobs`` allocated and ``~jobs`` reserved.
    """
    if root is None:
        root = g.roots.get(subsystem)
    if root is None:
        return ""
    lines: list[str] = []

    def walk(v: int, prefix: str, last: bool, top: bool, prank: int = -1) -> None:
        extra = []
        if g.size[v] != 1 or g.unit[v]:
            extra.append(f"{g.size[v]}{g.unit[v]}")
        if g.rank[v] >= 0 and g.rank[v] != prank:
            extra.append(f"rank={g.rank[v]}")
        if g.status[v]:
            extra.append("down")
        if v in g.drained:
            extra.append(f"drained({g.drained[v]})" if g.drained[v] else "drained")
        if g.allocs[v]:
            extra.append("*" + ",".join(map(str, sorted(g.allocs[v]))))
        if g.resvs[v]:
            extra.append("~" + ",".join(map(str, sorted(g.resvs[v]))))
        label = g.name[v] + (f" [{' '.join(extra)}]" if extra else "")
        lines.append(label if top else prefix + ("└── " if last else "├── ") + label)
        kids = g.children(v, subsystem)
        sub = "" if top else prefix + ("    " if last else "│   ")
        for i, c in enumerate(kids):
            walk(c, sub, i == len(kids) - 1, False, g.rank[v])

    walk(root, "", True, True)
    return "\n".join(lines) + "\n"


def to_networkx(g: ResourceGraph):
    """A :class:`networkx.MultiDiGraph` copy of ``g`` (vertices keyed by ``uniq_id``).

    For inspection, export and tests; nothing in matching uses networkx.
    """
    import networkx as nx

    out = nx.MultiDiGraph()
    for v in g.vertices():
        out.add_node(
            g.uniq_id[v],
            type=g.vtype[v],
            basename=g.basename[v],
            name=g.name[v],
            id=g.vid[v],
            rank=g.rank[v],
            size=g.size[v],
            unit=g.unit[v],
            properties=dict(g.props[v] or {}),
            status="down" if g.status[v] else "up",
            paths=dict(g.paths[v]),
        )
    for e, alive in enumerate(g.e_alive):
        if alive:
            out.add_edge(
                g.uniq_id[g.esrc[e]],
                g.uniq_id[g.etgt[e]],
                subsystem=g.esub[e],
            )
    return out
