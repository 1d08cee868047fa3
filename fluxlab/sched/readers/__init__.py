"""Graph readers: GRUG recipes, JGF, Rv1 (rv1exec), this machine, fake nodes."""

from __future__ import annotations

from fluxlab.sched.errors import GraphError
from fluxlab.sched.graph import CONTAINMENT, ResourceGraph, bulk_build
from fluxlab.sched.readers.grug import read_grug
from fluxlab.sched.readers.jgf import load_jgf, read_jgf
from fluxlab.sched.readers.local import fake_nodes, local_machine
from fluxlab.sched.readers.rv1exec import read_rv1exec

__all__ = [
    "READERS",
    "load_graph",
    "read_grug",
    "read_jgf",
    "load_jgf",
    "read_rv1exec",
    "fake_nodes",
    "local_machine",
    "apply_allowlist",
]

READERS = ("grug", "jgf", "jgf_shorthand", "rv1exec", "rv1exec_force", "hwloc")


def load_graph(text: str, fmt: str = "grug", allowlist: str = "") -> ResourceGraph:
    """Build a graph from ``text`` in format ``fmt``.

    ``allowlist`` (comma-separated types) keeps only those types, the root
    always kept, as Fluxion's ``--load-allowlist`` does for hwloc input.

    Raises
    ------
    GraphError
        For an unknown format or malformed input.
    """
    with bulk_build():
        if fmt == "grug":
            g = read_grug(text)
        elif fmt in ("jgf", "jgf_shorthand"):
            g = read_jgf(text)
        elif fmt in ("rv1exec", "rv1exec_force"):
            g = read_rv1exec(text)
        elif fmt == "hwloc":
            raise GraphError("the hwloc reader is not supported; use grug, jgf or rv1exec")
        else:
            raise GraphError(f"unknown graph format {fmt!r}")
        if CONTAINMENT in g.roots:
            g.validate(CONTAINMENT)
        if allowlist:
            g = apply_allowlist(g, {t for t in allowlist.split(",") if t})
    return g


def apply_allowlist(g: ResourceGraph, types: set[str]) -> ResourceGraph:
    """Copy of ``g`` keeping only vertices of ``types`` (and subsystem roots).

    A dropped vertex's kept descendants attach to its nearest kept ancestor.
    """
    out = ResourceGraph()
    keep_roots = set(g.roots.values())
    newv: dict[int, int] = {}
    for s, root in g.roots.items():
        stack = [(root, -1)]
        while stack:
            u, parent = stack.pop()
            kept = parent
            if u in keep_roots or g.vtype[u] in types:
                if u not in newv:
                    newv[u] = out.add_vertex(
                        g.vtype[u],
                        g.basename[u],
                        g.name[u],
                        g.vid[u],
                        rank=g.rank[u],
                        size=g.size[u],
                        unit=g.unit[u],
                        uniq_id=g.uniq_id[u],
                        properties=g.props[u],
                        status=g.status[u],
                        paths={
                            s: (out.paths[newv[parent]][s] if parent >= 0 else "") + "/" + g.name[u]
                        },
                    )
                    if u == root:
                        out.roots[s] = newv[u]
                        out.v_rt[s] = [0, 0, 0]
                if parent >= 0:
                    out.add_edge(newv[parent], newv[u], s)
                kept = u
            kids = [g.etgt[e] for e in g.out[u] if g.esub[e] == s]
            stack.extend((c, kept) for c in reversed(kids))
    return out
