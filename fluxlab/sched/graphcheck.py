"""Structural checks of a :class:`~fluxlab.sched.graph.ResourceGraph`."""

from __future__ import annotations

from fluxlab.sched.errors import GraphError
from fluxlab.sched.graph import CONTAINMENT, ResourceGraph

__all__ = ["validate_tree"]


def validate_tree(g: ResourceGraph, subsystem: str = CONTAINMENT) -> None:
    """Check the dominant subsystem is a tree hanging from its root.

    Raises
    ------
    GraphError
        Naming the first vertex with two parents, a cycle, or a vertex
        with a path but no way up to the root.
    """
    root = g.roots.get(subsystem)
    if root is None:
        raise GraphError(f"graph has no root for subsystem {subsystem!r}")
    seen: dict[int, int] = {root: -1}
    stack = [root]
    while stack:
        u = stack.pop()
        for e in g.out[u]:
            if g.esub[e] != subsystem:
                continue
            t = g.etgt[e]
            if t in seen:
                raise GraphError(
                    f"vertex {g.name[t]!r} (uniq_id {g.uniq_id[t]}) is reached twice "
                    f"in subsystem {subsystem!r} (a cycle or a second parent "
                    f"{g.name[u]!r})"
                )
            seen[t] = u
            stack.append(t)
    for v in g.vertices():
        if subsystem in g.paths[v] and v not in seen:
            raise GraphError(
                f"vertex {g.name[v]!r} (path {g.paths[v][subsystem]!r}) is not "
                f"connected to the {subsystem} root"
            )
