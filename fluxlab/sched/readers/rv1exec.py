"""Rv1 (``rv1exec``) reader: build a graph from the ``execution`` part of R.

The graph is ``cluster0 -> <host> -> <child types>``: one vertex per rank,
named by the ``nodelist`` host in rank order, with ``core``/``gpu``/...
children from each ``R_lite`` entry's ``children`` idsets.  Node
``properties`` (RFC 20) become vertex properties.  This mirrors Fluxion's
``resource_reader_rv1exec``; the same parsing drives ``update`` (mark an
R as allocated) in :mod:`fluxlab.sched.update`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from fluxlab.resource.hostlist import Hostlist, HostlistError
from fluxlab.resource.idset import IDset, IdsetError
from fluxlab.sched.errors import GraphError
from fluxlab.sched.graph import CONTAINMENT, ResourceGraph

__all__ = ["RankEntry", "parse_rv1", "read_rv1exec", "host_split"]

_SUFFIX = re.compile(r"^(.*?)(\d+)$")


@dataclass
class RankEntry:
    """One rank of an R: host name and ``(type, [ids])`` children."""

    rank: int
    host: str
    children: list[tuple[str, list[int]]]
    properties: dict[str, str]


def host_split(host: str) -> tuple[str, int]:
    """``"node186"`` -> ``("node", 186)``; no numeric suffix gives ``(host, -1)``."""
    m = _SUFFIX.match(host)
    if not m or not m.group(1):
        return host, -1
    return m.group(1), int(m.group(2))


def parse_rv1(text: str | dict) -> list[RankEntry]:
    """Parse an Rv1 document into per-rank entries (rank order).

    Raises
    ------
    GraphError
        For malformed JSON, a version other than 1, bad idsets or hostlists,
        or a nodelist with fewer hosts than ranks.
    """
    if isinstance(text, str):
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise GraphError(f"rv1exec: malformed JSON: {exc}") from None
    else:
        doc = text
    if not isinstance(doc, dict) or doc.get("version") != 1:
        raise GraphError("rv1exec: R must be an object with version 1")
    ex = doc.get("execution")
    if not isinstance(ex, dict):
        raise GraphError("rv1exec: R has no 'execution' object")
    rlite = ex.get("R_lite")
    nodelist = ex.get("nodelist")
    if not isinstance(rlite, list) or not isinstance(nodelist, list):
        raise GraphError("rv1exec: execution needs 'R_lite' and 'nodelist' arrays")
    hosts = Hostlist()
    for item in nodelist:
        if not isinstance(item, str):
            raise GraphError(f"rv1exec: nodelist entry {item!r} is not a string")
        try:
            hosts.append(item)
        except HostlistError as exc:
            raise GraphError(f"rv1exec: bad nodelist entry {item!r}: {exc}") from None
    props: dict[int, dict[str, str]] = {}
    for key, val in (ex.get("properties") or {}).items():
        if not isinstance(val, str):
            raise GraphError(f"rv1exec: property {key!r} must map to an idset string")
        try:
            for r in IDset(val):
                props.setdefault(r, {})[key] = ""
        except IdsetError as exc:
            raise GraphError(f"rv1exec: property {key!r}: {exc}") from None
    entries: list[tuple[int, dict]] = []
    allranks: set[int] = set()
    for ent in rlite:
        if not isinstance(ent, dict) or not isinstance(ent.get("rank"), str):
            raise GraphError(f"rv1exec: R_lite entry without a rank string: {str(ent)[:80]}")
        children = ent.get("children")
        if not isinstance(children, dict):
            raise GraphError(f"rv1exec: R_lite entry {ent['rank']!r} has no children object")
        try:
            ranks = list(IDset(ent["rank"]))
        except IdsetError as exc:
            raise GraphError(f"rv1exec: bad rank idset {ent['rank']!r}: {exc}") from None
        allranks.update(ranks)
        for r in ranks:
            entries.append((r, children))
    order = {r: i for i, r in enumerate(sorted(allranks))}
    if len(order) > len(hosts):
        raise GraphError(f"rv1exec: nodelist has {len(hosts)} hosts for {len(order)} ranks")
    out = []
    for r, children in entries:
        kids = []
        for ctype, ids in children.items():
            if not isinstance(ids, str):
                raise GraphError(f"rv1exec: rank {r}: children {ctype!r} is not an idset string")
            try:
                kids.append((ctype, list(IDset(ids))))
            except IdsetError as exc:
                raise GraphError(f"rv1exec: rank {r}: bad {ctype} idset {ids!r}: {exc}") from None
        out.append(RankEntry(r, hosts[order[r]], kids, props.get(r, {})))
    return out


def read_rv1exec(text: str | dict, graph: ResourceGraph | None = None) -> ResourceGraph:
    """Build ``cluster0 -> host -> children`` from an Rv1 document."""
    g = graph if graph is not None else ResourceGraph()
    if CONTAINMENT in g.roots:
        raise GraphError("rv1exec: graph already has a containment root")
    entries = parse_rv1(text)
    root = g.add_vertex("cluster", "cluster", "cluster0", 0, paths={CONTAINMENT: "/cluster0"})
    g.roots[CONTAINMENT] = root
    g.v_rt[CONTAINMENT] = [0, 0, 0]
    seen: set[tuple[int, str]] = set()
    for ent in entries:
        base, hid = host_split(ent.host)
        path = "/cluster0/" + ent.host
        if (ent.rank, ent.host) in seen:
            raise GraphError(f"rv1exec: duplicate vertex for rank {ent.rank} ({ent.host})")
        seen.add((ent.rank, ent.host))
        node = g.add_vertex(
            "node",
            base,
            ent.host,
            hid,
            rank=ent.rank,
            properties=ent.properties,
            paths={CONTAINMENT: path},
        )
        g.add_edge(root, node)
        for ctype, ids in ent.children:
            g.add_children([node] * len(ids), list(ids), ctype, ctype, ranks=ent.rank)
    return g
