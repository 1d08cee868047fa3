"""JGF reader: JSON Graph Format as Fluxion writes it (RFC 40 ``scheduling``).

``{"graph": {"nodes": [{"id", "metadata": {type, basename?, name?, id?,
uniq_id?, rank?, status?, exclusive?, unit?, size?, paths, properties?}}],
"edges": [{"source", "target", "metadata"?: {"subsystem"?}}]}}``

Missing fields take Fluxion's defaults: ``uniq_id`` from the node's ``id``,
``id`` from ``uniq_id`` (or a node name's numeric suffix), ``basename`` from
``type`` and ``name`` from ``basename + id``.  As in Fluxion, a node's
``unit`` is parsed but not kept (JGF-loaded vertices have no unit), so
output written from such a graph matches Fluxion's.  A node whose paths already
exist in the graph (same rank) is reused, which is how ``attach`` grows a
graph by a subgraph that repeats the path from the root.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from fluxlab.resource.idset import IDset, IdsetError
from fluxlab.sched.errors import GraphError
from fluxlab.sched.graph import CONTAINMENT, ResourceGraph

__all__ = ["JgfVertex", "parse_jgf", "load_jgf", "read_jgf"]

_SUFFIX = re.compile(r"(\d+)$")


@dataclass
class JgfVertex:
    """One JGF node after defaults were applied."""

    key: str
    type: str
    basename: str
    name: str
    id: int
    uniq_id: int
    rank: int
    status: int
    exclusive: int
    unit: str
    size: int
    paths: dict[str, str]
    properties: dict[str, str] = field(default_factory=dict)


def _int_field(md: dict, k: str, key: str, default):
    if k not in md:
        return default
    val = md[k]
    if isinstance(val, bool) or not isinstance(val, int):
        raise GraphError(f"JGF node {key!r}: metadata {k!r} must be an integer, got {val!r}")
    return val


def _str_field(md: dict, k: str, key: str, default):
    if k not in md:
        return default
    val = md[k]
    if not isinstance(val, str):
        raise GraphError(f"JGF node {key!r}: metadata {k!r} must be a string, got {val!r}")
    return val


def _vertex(node) -> JgfVertex:
    if not isinstance(node, dict) or not isinstance(node.get("id"), str):
        raise GraphError(f"JGF: a node has no string 'id': {str(node)[:80]}")
    key = node["id"]
    md = node.get("metadata")
    if not isinstance(md, dict):
        raise GraphError(f"JGF node {key!r}: key 'metadata' is missing or not an object")
    rtype = md.get("type")
    if not isinstance(rtype, str) or not rtype:
        raise GraphError(f"JGF node {key!r}: metadata 'type' is missing or not a string")
    paths = md.get("paths")
    if not isinstance(paths, dict) or not all(
        isinstance(k, str) and isinstance(p, str) for k, p in paths.items()
    ):
        raise GraphError(f"JGF node {key!r}: metadata 'paths' is missing or malformed")
    props = md.get("properties")
    if props is not None and (
        not isinstance(props, dict) or not all(isinstance(p, str) for p in props.values())
    ):
        raise GraphError(f"JGF node {key!r}: metadata 'properties' must be an object of strings")
    excl = md.get("exclusive", False)
    if not isinstance(excl, bool):
        raise GraphError(f"JGF node {key!r}: metadata 'exclusive' must be a boolean")
    uniq = _int_field(md, "uniq_id", key, None)
    if uniq is None:
        m = re.match(r"\s*[+-]?\d+", key)
        if not m:
            raise GraphError(
                f"JGF node {key!r}: value for key (uniq_id) could not be inferred from "
                f"outer 'id' field {key}"
            )
        uniq = int(m.group(0))
    name = _str_field(md, "name", key, None)
    vid = _int_field(md, "id", key, None)
    if vid is None:
        vid = uniq
        if rtype == "node" and name is not None:
            m = _SUFFIX.search(name)
            if m:
                vid = int(m.group(1))
    basename = _str_field(md, "basename", key, rtype)
    size = _int_field(md, "size", key, 1)
    if size < 0:
        raise GraphError(f"JGF node {key!r}: negative size {size}")
    return JgfVertex(
        key=key,
        type=rtype,
        basename=basename,
        name=name if name is not None else basename + str(vid),
        id=vid,
        uniq_id=uniq,
        rank=_int_field(md, "rank", key, -1),
        status=_int_field(md, "status", key, 0),
        exclusive=1 if excl else 0,
        unit=_str_field(md, "unit", key, ""),
        size=size,
        paths=dict(paths),
        properties=dict(props or {}),
    )


def parse_jgf(text: str) -> tuple[list[JgfVertex], list[tuple[str, str, str]], set[int] | None]:
    """Parse JGF text into vertices, ``(source, target, subsystem)`` edges and free ranks."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise GraphError(f"JGF: json_loads returned an error: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("graph"), dict):
        raise GraphError("JGF does not contain a required key (graph)")
    graph = doc["graph"]
    nodes = graph.get("nodes")
    if not isinstance(nodes, list):
        raise GraphError("JGF does not contain a required key (nodes)")
    edges = graph.get("edges")
    if not isinstance(edges, list):
        raise GraphError("JGF does not contain a required key (edges)")
    free = None
    if "free_ranks" in doc:
        try:
            free = set(IDset(str(doc["free_ranks"]).strip('"')))
        except IdsetError as exc:
            raise GraphError(f"JGF: failed to decode free_ranks: {exc}") from None
    verts = [_vertex(n) for n in nodes]
    out = []
    for e in edges:
        if (
            not isinstance(e, dict)
            or not isinstance(e.get("source"), str)
            or not isinstance(e.get("target"), str)
        ):
            raise GraphError(f"JGF: encountered a malformed edge: {str(e)[:80]}")
        md = e.get("metadata") or {}
        sub = md.get("subsystem", CONTAINMENT) if isinstance(md, dict) else CONTAINMENT
        if not isinstance(sub, str):
            raise GraphError(f"JGF: edge {e['source']} -> {e['target']}: bad subsystem")
        out.append((e["source"], e["target"], sub))
    return verts, out, free


def _existing(g: ResourceGraph, f: JgfVertex) -> int:
    for p in f.paths.values():
        for v in g.by_path.get(p, ()):
            if g.alive[v] and g.rank[v] == f.rank:
                return v
    return -1


def load_jgf(g: ResourceGraph, text: str) -> list[int]:
    """Add the vertices and edges of ``text`` to ``g`` (load or attach).

    Vertices whose path already exists (same rank) are reused; an edge is
    added when it touches at least one new vertex.  All or nothing: on error
    the graph is left as it was.

    Returns
    -------
    list[int]
        Indexes of the vertices added.
    """
    verts, edges, _free = parse_jgf(text)
    vmap: dict[str, int] = {}
    added: list[int] = []
    added_keys: set[str] = set()
    new_roots: list[str] = []
    nedges = len(g.esrc)
    try:
        for f in verts:
            if f.key in vmap:
                raise GraphError(f"add_vtx: found duplicate JGF node id for {f.key}.")
            v = _existing(g, f)
            if v < 0:
                for sub, p in f.paths.items():
                    if p.count("/") == 1:
                        if sub in g.roots:
                            raise GraphError(
                                f"add_graph_metadata: failed to add root metadata for {sub} "
                                "subsystem. Possible duplicate root."
                            )
                v = g.add_vertex(
                    f.type,
                    f.basename,
                    f.name,
                    f.id,
                    rank=f.rank,
                    size=f.size,
                    unit="",
                    uniq_id=f.uniq_id,
                    properties=f.properties,
                    status=f.status,
                    paths=f.paths,
                    check_uniq=False,
                )
                for sub, p in f.paths.items():
                    if p.count("/") == 1:
                        g.roots[sub] = v
                        g.v_rt[sub] = [0, 0, 0]
                        new_roots.append(sub)
                added.append(v)
                added_keys.add(f.key)
            vmap[f.key] = v
        for src, tgt, sub in edges:
            if src not in vmap or tgt not in vmap:
                raise GraphError(
                    f"unpack_edge: source and/or target vertex not found {src} -> {tgt}."
                )
            if src in added_keys or tgt in added_keys:
                g.add_edge(vmap[src], vmap[tgt], sub)
    except GraphError:
        for e in range(len(g.esrc) - 1, nedges - 1, -1):
            g._drop_edge(e)
        for sub in new_roots:
            g.roots.pop(sub, None)
            g.v_rt.pop(sub, None)
        g.remove_vertices(added)
        raise
    return added


def read_jgf(text: str, graph: ResourceGraph | None = None) -> ResourceGraph:
    """Build a graph from JGF ``text``."""
    g = graph if graph is not None else ResourceGraph()
    load_jgf(g, text)
    if CONTAINMENT not in g.roots and not g.roots:
        raise GraphError("JGF: the graph has no root vertex (no path of depth one)")
    return g
