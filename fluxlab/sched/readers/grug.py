"""GRUG reader: generate a resource graph from a GraphML *recipe*.

A GRUG recipe (Fluxion's ``resource_reader_grug``) is a small GraphML graph
whose vertices are resource-pool templates (``type``, ``basename``,
``size``, ``unit``, ``subsystem``, ``root``) and whose edges say how to
generate the real graph:

* ``MULTIPLY``: every source vertex gets ``multi_scale`` new children;
  ids are local to the ancestor ``id_scope`` levels up (0 = the parent)
  and follow ``id_start``/``id_stride``.
* ``ASSOCIATE_IN``: link each source to every existing vertex of the
  target type, in another subsystem.
* ``ASSOCIATE_BY_PATH_IN``: the same, only where the two vertices share a
  path prefix ``as_tgt_uplvl``/``as_src_uplvl`` levels up in
  ``as_tgt_subsystem``.

The recipe is walked depth first in document order, exactly as the Boost
DFS in Fluxion does, so vertex numbering (``uniq_id``) and child order match
Fluxion's, which the writers and the "first" policy depend on.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import deque

from fluxlab.sched.errors import GraphError
from fluxlab.sched.graph import ResourceGraph

__all__ = ["read_grug", "GrugRecipe", "make_recipe"]

_NODE_KEYS = {
    "root": ("int", 0),
    "type": ("string", ""),
    "basename": ("string", ""),
    "unit": ("string", ""),
    "size": ("long", 1),
    "subsystem": ("string", "containment"),
}
_EDGE_KEYS = {
    "e_subsystem": ("string", "containment"),
    "relation": ("string", "contains"),
    "rrelation": ("string", "in"),
    "id_scope": ("int", 0),
    "id_start": ("int", 0),
    "id_stride": ("int", 1),
    "gen_method": ("string", "MULTIPLY"),
    "multi_scale": ("int", 1),
    "as_tgt_subsystem": ("string", "containment"),
    "as_tgt_uplvl": ("int", 1),
    "as_src_uplvl": ("int", 1),
}
_METHODS = ("MULTIPLY", "ASSOCIATE_IN", "ASSOCIATE_BY_PATH_IN")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _convert(kind: str, text: str, what: str):
    if kind in ("int", "long"):
        try:
            return int(text.strip())
        except ValueError:
            raise GraphError(f"GRUG: {what}: {text!r} is not an integer") from None
    return text


class GrugRecipe:
    """A parsed GRUG recipe: template vertices and generation edges."""

    def __init__(self, text: str):
        try:
            root = ET.fromstring(text)
        except ET.ParseError as exc:
            raise GraphError(f"GRUG: malformed GraphML: {exc}") from None
        if _local(root.tag) != "graphml":
            raise GraphError(f"GRUG: top element is <{_local(root.tag)}>, not <graphml>")
        keys: dict[str, tuple[str, str, str, object]] = {}
        for k in root:
            if _local(k.tag) != "key":
                continue
            kid = k.get("id")
            aname = k.get("attr.name", kid)
            kind = k.get("attr.type", "string")
            target = k.get("for", "all")
            default = None
            for d in k:
                if _local(d.tag) == "default":
                    default = _convert(kind, d.text or "", f"default of key {kid!r}")
            keys[kid] = (aname, kind, target, default)
        graphs = [g for g in root if _local(g.tag) == "graph"]
        if len(graphs) != 1:
            raise GraphError(f"GRUG: expected one <graph>, found {len(graphs)}")
        self.vertices: list[dict] = []
        self.index: dict[str, int] = {}
        self.edges: list[dict] = []
        self.out: list[list[int]] = []
        for el in graphs[0]:
            tag = _local(el.tag)
            if tag == "node":
                attrs = self._attrs(el, keys, _NODE_KEYS, "node")
                nid = el.get("id")
                if nid is None:
                    raise GraphError("GRUG: <node> without an id")
                if nid in self.index:
                    raise GraphError(f"GRUG: duplicate recipe vertex {nid!r}")
                if not attrs["type"]:
                    raise GraphError(f"GRUG: recipe vertex {nid!r} has no type")
                if attrs["size"] < 0:
                    raise GraphError(f"GRUG: recipe vertex {nid!r} has negative size")
                attrs["gid"] = nid
                self.index[nid] = len(self.vertices)
                self.vertices.append(attrs)
                self.out.append([])
        for el in graphs[0]:
            if _local(el.tag) != "edge":
                continue
            eid = el.get("id", "?")
            src, tgt = el.get("source"), el.get("target")
            if src not in self.index or tgt not in self.index:
                raise GraphError(
                    f"GRUG: recipe edge {eid!r} refers to unknown vertex {src!r} -> {tgt!r}"
                )
            attrs = self._attrs(el, keys, _EDGE_KEYS, "edge")
            if attrs["gen_method"] not in _METHODS:
                raise GraphError(
                    f"GRUG: recipe edge {eid!r}: unknown gen_method {attrs['gen_method']!r}"
                )
            if attrs["multi_scale"] < 0:
                raise GraphError(f"GRUG: recipe edge {eid!r}: negative multi_scale")
            attrs["eid"] = eid
            attrs["src"] = self.index[src]
            attrs["tgt"] = self.index[tgt]
            self.out[attrs["src"]].append(len(self.edges))
            self.edges.append(attrs)

    @staticmethod
    def _attrs(el, keys, known, what) -> dict:
        attrs = {}
        for name, (_kind, dflt) in known.items():
            attrs[name] = dflt
        for aname, _kind, target, default in keys.values():
            if target in (what, "all") and aname in known and default is not None:
                attrs[aname] = default
        for d in el:
            if _local(d.tag) != "data":
                continue
            kid = d.get("key")
            if kid not in keys:
                raise GraphError(f"GRUG: <data key={kid!r}> names an undeclared key")
            aname, kind, _target, _default = keys[kid]
            if aname in known:
                attrs[aname] = _convert(known[aname][0], d.text or "", f"{what} data {aname}")
        return attrs


class _Emitter:
    def __init__(self, g: ResourceGraph, recipe: GrugRecipe, rank: int):
        self.g = g
        self.r = recipe
        self.rank = rank
        self.gen_src: dict[int, list[int]] = {}
        self.scales: deque[int] = deque()

    def gen_id(self, e: dict, i: int, sz: int, j: int) -> int:
        scope = e["id_scope"]
        if scope < 0:
            return -1
        if scope == 0:
            return e["id_start"] + i
        scope = min(scope, len(self.scales))
        wrap = 1
        for h in range(scope):
            wrap *= self.scales[h]
        return e["id_start"] + (j % wrap * sz * e["id_stride"]) + i * e["id_stride"]

    def emit_vertex(self, u: int, e: dict | None, src: int, i: int, sz: int, j: int) -> int:
        g, rv = self.g, self.r.vertices[u]
        ssys = rv["subsystem"]
        if src < 0 and ssys in g.roots:
            return g.roots[ssys]
        if src < 0:
            vid = 0
            pref = ""
        else:
            vid = self.gen_id(e, i, sz, j)
            pref = g.paths[src].get(ssys, "")
        name = rv["basename"] + (str(vid) if vid != -1 else "")
        v = g.add_vertex(
            rv["type"],
            rv["basename"],
            name,
            vid,
            rank=self.rank,
            size=rv["size"],
            unit=rv["unit"],
            paths={ssys: pref + "/" + name},
        )
        if src < 0:
            g.roots[ssys] = v
            g.v_rt[ssys] = [0, 0, 0]
        return v

    def tree_edge(self, ei: int) -> None:
        g, r = self.g, self.r
        e = r.edges[ei]
        s, t = e["src"], e["tgt"]
        if r.vertices[s]["root"] and not self.gen_src.get(s):
            self.gen_src[s] = [self.emit_vertex(s, e, -1, 0, 1, 0)]
        targets: list[int] = []
        self.gen_src[t] = targets
        method = e["gen_method"]
        esub = e["e_subsystem"]
        if method == "MULTIPLY":
            scale = e["multi_scale"]
            rv = r.vertices[t]
            srcs = self.gen_src.get(s, [])
            parents = [src for src in srcs for _i in range(scale)]
            vids = [self.gen_id(e, i, scale, j) for j in range(len(srcs)) for i in range(scale)]
            targets += g.add_children(
                parents,
                vids,
                rv["type"],
                rv["basename"],
                ranks=self.rank,
                size=rv["size"],
                unit=rv["unit"],
                subsystem=rv["subsystem"],
                edge_subsystem=esub,
            )
            self.scales.appendleft(scale)
        else:
            ttype = r.vertices[t]["type"]
            for src in self.gen_src.get(s, []):
                for tv in list(g.by_type.get(ttype, [])):
                    if method == "ASSOCIATE_BY_PATH_IN":
                        ins = e["as_tgt_subsystem"]
                        p1 = _path_prefix(g.paths[tv].get(ins, ""), e["as_tgt_uplvl"])
                        p2 = _path_prefix(g.paths[src].get(ins, ""), e["as_src_uplvl"])
                        if p1 != p2:
                            continue
                    g.set_path(tv, esub, g.paths[src].get(esub, "") + "/" + g.name[tv])
                    g.add_edge(src, tv, esub)
                    targets.append(tv)

    def finish_vertex(self, u: int) -> None:
        if self.scales:
            self.scales.popleft()

    def run(self) -> None:
        r = self.r
        n = len(r.vertices)
        color = [0] * n  # 0 white, 1 gray, 2 black
        for start in range(n):
            if color[start]:
                continue
            color[start] = 1
            stack = [(start, iter(r.out[start]))]
            while stack:
                u, it = stack[-1]
                for ei in it:
                    t = r.edges[ei]["tgt"]
                    if color[t] == 0:
                        self.tree_edge(ei)
                        color[t] = 1
                        stack.append((t, iter(r.out[t])))
                        break
                else:
                    color[u] = 2
                    self.finish_vertex(u)
                    stack.pop()


def _path_prefix(path: str, uplevel: int) -> str | None:
    slashes = path.count("/")
    if uplevel >= slashes:
        return None
    pos = 0
    occurrence = 0
    while occurrence != slashes - uplevel + 1:
        found = path.find("/", pos)
        if found < 0:
            pos = len(path)
            break
        pos = found + 1
        occurrence += 1
    prefix = path[:pos]
    if not prefix.endswith("/"):
        prefix += "/"
    return prefix


def read_grug(text: str, graph: ResourceGraph | None = None, rank: int = -1) -> ResourceGraph:
    """Generate a graph from GRUG GraphML ``text``.

    Raises
    ------
    GraphError
        For malformed GraphML, unknown keys, or a recipe that generates no
        root vertex.
    """
    recipe = GrugRecipe(text)
    g = graph if graph is not None else ResourceGraph()
    _Emitter(g, recipe, rank).run()
    if not g.roots:
        raise GraphError("GRUG: the recipe generated no root vertex (no edge leaves a root)")
    return g


_KEYS_XML = """\
  <key id="root" for="node" attr.name="root" attr.type="int"><default>0</default></key>
  <key id="type" for="node" attr.name="type" attr.type="string"/>
  <key id="basename" for="node" attr.name="basename" attr.type="string"/>
  <key id="size" for="node" attr.name="size" attr.type="long"><default>1</default></key>
  <key id="unit" for="node" attr.name="unit" attr.type="string"/>
  <key id="subsystem" for="node" attr.name="subsystem" attr.type="string">
    <default>containment</default></key>
  <key id="e_subsystem" for="edge" attr.name="e_subsystem" attr.type="string">
    <default>containment</default></key>
  <key id="relation" for="edge" attr.name="relation" attr.type="string">
    <default>contains</default></key>
  <key id="rrelation" for="edge" attr.name="rrelation" attr.type="string">
    <default>in</default></key>
  <key id="id_scope" for="edge" attr.name="id_scope" attr.type="int"><default>0</default></key>
  <key id="id_start" for="edge" attr.name="id_start" attr.type="int"><default>0</default></key>
  <key id="id_stride" for="edge" attr.name="id_stride" attr.type="int"><default>1</default></key>
  <key id="gen_method" for="edge" attr.name="gen_method" attr.type="string">
    <default>MULTIPLY</default></key>
  <key id="multi_scale" for="edge" attr.name="multi_scale" attr.type="int">
    <default>1</default></key>
"""


def make_recipe(name: str, children: list, *, root_type: str = "cluster") -> str:
    """GRUG GraphML text for a containment tree.

    ``children`` is a list of ``(type, count, children[, size, unit])``
    tuples below the root, e.g. ``[("rack", 4, [("node", 64, [("core", 32,
    [])])])]``.  Ids of each type count from 0 within the whole cluster
    (``id_scope`` reaches up to the root), as GRUG recipes usually do.
    """
    nodes = [
        f'  <node id="{root_type}"><data key="root">1</data>'
        f'<data key="type">{root_type}</data><data key="basename">{name}</data></node>'
    ]
    edges: list[str] = []

    def walk(parent: str, kids: list, depth: int, prefix: str) -> None:
        for spec in kids:
            rtype, count, sub = spec[0], spec[1], spec[2]
            size = spec[3] if len(spec) > 3 else 1
            unit = spec[4] if len(spec) > 4 else ""
            vid = f"{prefix}{rtype}"
            extra = f'<data key="size">{size}</data>' if size != 1 else ""
            extra += f'<data key="unit">{unit}</data>' if unit else ""
            nodes.append(
                f'  <node id="{vid}"><data key="type">{rtype}</data>'
                f'<data key="basename">{rtype}</data>{extra}</node>'
            )
            edges.append(
                f'  <edge id="{parent}2{vid}" source="{parent}" target="{vid}">'
                f'<data key="id_scope">0</data>'
                f'<data key="multi_scale">{count}</data></edge>'
            )
            walk(vid, sub, depth + 1, vid + ".")

    walk(root_type, children, 0, "")
    body = "\n".join(nodes + edges)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<graphml xmlns="http://graphml.graphdrawing.org/xmlns">\n'
        f"{_KEYS_XML}"
        f'<graph id="{name}" edgedefault="directed">\n{body}\n</graph>\n</graphml>\n'
    )
