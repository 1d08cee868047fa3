"""Match writers: how a selection (or a ``find`` result) is written out.

The traverser calls ``emit_vtx``/``emit_edg`` children first (postorder) in
graph order, then ``emit_tm`` with the job's time window.  Formats follow
Fluxion's ``match_writers``:

``simple``          one line per vertex, ``name[needs:x|s]``, deepest first
``pretty_simple``   the same lines root first, ``exclusive``/``shared``
``jgf``             JSON Graph Format of the selected vertices and edges
``rlite``           the R_lite array of RFC 20
``rv1``             RFC 20 R with the JGF under ``scheduling``
``rv1_nosched``     RFC 20 R without ``scheduling``

JSON is written as jansson does (``", "``/``": "`` separators, insertion
order, UTF-8 unescaped), so outputs compare byte for byte with Fluxion's.
"""

from __future__ import annotations

import functools

from fluxlab._json import encoder as _json_encoder
from fluxlab.resource.hostlist import Hostlist
from fluxlab.sched.graph import CONTAINMENT, ResourceGraph

__all__ = [
    "MatchWriter",
    "SimpleWriter",
    "PrettySimpleWriter",
    "JGFWriter",
    "RliteWriter",
    "Rv1Writer",
    "Rv1NoschedWriter",
    "FORMATS",
    "create_writer",
    "dumps",
    "compress_ids",
]


def dumps(obj) -> str:
    """JSON text the way jansson's ``json_dumps(o, JSON_INDENT(0))`` writes it."""
    return _encode(obj)


_encode = _json_encoder((", ", ": "))


def compress_ids(ids) -> str:
    """``[0,1,2,5]`` -> ``"0-2,5"`` (ids in the order given, runs merged)."""
    out = []
    base = None
    run = 0
    for i in ids:
        if base is not None and i == base + run + 1:
            run += 1
            continue
        if base is not None:
            out.append(f"{base}-{base + run}" if run else str(base))
        base, run = i, 0
    if base is not None:
        out.append(f"{base}-{base + run}" if run else str(base))
    return ",".join(out)


class MatchWriter:
    """Base writer: collects emitted vertices/edges until :meth:`emit`.

    ``wants_edges`` is False for writers that ignore :meth:`emit_edg`, so
    the update walk need not call it.
    """

    wants_edges = False

    def emit_vtx(
        self,
        prefix: str,
        g: ResourceGraph,
        u: int,
        needs: int,
        exclusive: bool,
        agfilter: dict[str, str] | None = None,
    ) -> None:
        raise NotImplementedError

    def emit_edg(self, prefix: str, g: ResourceGraph, e: int) -> None:
        pass

    def emit_tm(self, start: int, end: int) -> None:
        pass

    def emit_attrs(self, key: str, value: str) -> None:
        pass

    def empty(self) -> bool:
        raise NotImplementedError

    def emit(self) -> str:
        """Return the collected text (possibly empty) and reset."""
        raise NotImplementedError

    def emit_json(self):
        """Return the collected result as a JSON value (str for text formats)."""
        text = self.emit()
        return text or None


class SimpleWriter(MatchWriter):
    def __init__(self) -> None:
        self._lines: list[str] = []

    def emit_vtx(self, prefix, g, u, needs, exclusive, agfilter=None):
        self._lines.append(f"{prefix}{g.name[u]}[{needs}:{'x' if exclusive else 's'}]\n")

    def empty(self) -> bool:
        return not self._lines

    def emit(self) -> str:
        out = "".join(self._lines)
        self._lines = []
        return out


class PrettySimpleWriter(SimpleWriter):
    def emit_vtx(self, prefix, g, u, needs, exclusive, agfilter=None):
        mode = "exclusive" if exclusive else "shared"
        self._lines.append(f"{prefix}{g.name[u]}[{needs}:{mode}]\n")

    def emit(self) -> str:
        out = "".join(reversed(self._lines))
        self._lines = []
        return out


class JGFWriter(MatchWriter):
    """JGF of the emitted vertices and edges.

    As in Fluxion, a result with vertices but no edges (or the reverse) is an
    error; the collected data is then kept (``emit`` returns ``""``).
    """

    def __init__(self) -> None:
        self.nodes: list[dict] = []
        self.edges: list[dict] = []
        self.error = False

    def emit_vtx(self, prefix, g, u, needs, exclusive, agfilter=None):
        md: dict = {"type": g.vtype[u]}
        if g.basename[u] != g.vtype[u]:
            md["basename"] = g.basename[u]
        if g.name[u] != g.basename[u] + str(g.vid[u]):
            md["name"] = g.name[u]
        md["id"] = g.vid[u]
        md["rank"] = g.rank[u]
        props = g.props[u]
        if props:
            md["properties"] = dict(sorted(props.items()))
        if g.unit[u]:
            md["unit"] = g.unit[u]
        if exclusive:
            md["exclusive"] = True
        if needs != 1:
            md["size"] = needs
        md["paths"] = {k: g.paths[u][k] for k in sorted(g.paths[u], key=_sub_key)}
        eph = g.ephemeral[u]
        if eph is not None and eph[1]:
            md["ephemeral"] = dict(sorted(eph[1].items()))
        if agfilter:
            md["agfilter"] = dict(sorted(agfilter.items()))
        self.nodes.append({"id": str(g.uniq_id[u]), "metadata": md})

    wants_edges = True

    def emit_edg(self, prefix, g, e):
        d = {"source": str(g.uniq_id[g.esrc[e]]), "target": str(g.uniq_id[g.etgt[e]])}
        if g.esub[e] != CONTAINMENT:
            d["metadata"] = {"subsystem": g.esub[e]}
        self.edges.append(d)

    def empty(self) -> bool:
        return not self.nodes and not self.edges

    def emit_json(self):
        self.error = False
        if not self.nodes and not self.edges:
            return None
        if not self.nodes or not self.edges:
            self.error = True
            return None
        o = {"graph": {"nodes": self.nodes, "edges": self.edges}}
        self.nodes, self.edges = [], []
        return o

    def emit(self) -> str:
        o = self.emit_json()
        return dumps(o) + "\n" if o is not None else ""


_NODELIST_HOSTS_MAX = 16


def _encode_hosts(hosts: tuple[str, ...]) -> str:
    return Hostlist(list(hosts)).encode()


#: most allocations name the same few nodes again, and encoding a hostlist
#: costs several microseconds per job
_encode_few_hosts = functools.lru_cache(maxsize=4096)(_encode_hosts)


def _nodelist(hosts: tuple[str, ...]) -> str:
    """``Hostlist(hosts).encode()``, remembered for tuples of up to 16 hosts."""
    return (_encode_few_hosts if len(hosts) <= _NODELIST_HOSTS_MAX else _encode_hosts)(hosts)


def _sub_key(s: str):
    return (s != CONTAINMENT, s)


class RliteWriter(MatchWriter):
    """R_lite gathering: per node, the compressed core/gpu ids below it."""

    def __init__(self) -> None:
        self._reducer: dict[str, list[int]] = {"core": [], "gpu": []}
        self._gatherer: dict[str, list[tuple[int, str]]] = {}
        self._children: dict[str, dict[str, str]] = {}  # gatherer key -> its object
        self._props: dict[str, list[int]] = {}

    def emit_vtx(self, prefix, g, u, needs, exclusive, agfilter=None):
        t = g.vtype[u]
        red = self._reducer.get(t)
        if red is not None:
            red.append(g.vid[u])
        elif t == "node":
            if not any(self._reducer.values()):
                return
            children = {}
            for k, ids in self._reducer.items():
                if ids:
                    children[k] = compress_ids(sorted(ids))
                    ids.clear()
            key = dumps(children)  # grouped (and ordered) by this text, as Fluxion does
            ents = self._gatherer.get(key)
            if ents is None:
                ents = self._gatherer[key] = []
                self._children[key] = children
            ents.append((g.rank[u], g.name[u]))
            for k, v in sorted((g.props[u] or {}).items()):
                prop = f"{k}={v}" if v != "" else k
                self._props.setdefault(prop, []).append(g.rank[u])

    def empty(self) -> bool:
        return not self._gatherer

    def build(self):
        """Return ``(R_lite, nodelist, properties)`` and reset (None when empty)."""
        if not self._gatherer:
            return None
        rlite = []
        hosts: list[tuple[int, str]] = []
        for key in sorted(self._gatherer):
            ents = sorted(self._gatherer[key], key=lambda rh: rh[0])
            rlite.append(
                {"rank": compress_ids(r for r, _h in ents), "children": self._children[key]}
            )
            hosts.extend(ents)
        hosts.sort(key=lambda rh: rh[0])
        nodelist = [_nodelist(tuple(h for _r, h in hosts))] if hosts else []
        props = {k: compress_ids(sorted(v)) for k, v in sorted(self._props.items())}
        self._gatherer = {}
        self._children = {}
        self._props = {}
        return rlite, nodelist, props

    def emit_json(self):
        b = self.build()
        return b[0] if b else None

    def emit(self) -> str:
        o = self.emit_json()
        return dumps(o) + "\n" if o is not None else ""


class Rv1NoschedWriter(MatchWriter):
    def __init__(self) -> None:
        self.rlite = RliteWriter()
        self.start = 0
        self.end = 0

    def emit_vtx(self, prefix, g, u, needs, exclusive, agfilter=None):
        self.rlite.emit_vtx(prefix, g, u, needs, exclusive)

    def emit_tm(self, start, end):
        self.start, self.end = start, end

    def empty(self) -> bool:
        return self.rlite.empty()

    def _execution(self):
        b = self.rlite.build()
        if b is None:
            return None
        rlite, nodelist, props = b
        ex = {"R_lite": rlite, "nodelist": nodelist}
        if props:
            ex["properties"] = props
        ex["starttime"] = self.start
        ex["expiration"] = self.end
        return ex

    def emit_json(self):
        ex = self._execution()
        return {"version": 1, "execution": ex} if ex is not None else None

    def emit(self) -> str:
        o = self.emit_json()
        return dumps(o) + "\n" if o is not None else ""


class Rv1Writer(Rv1NoschedWriter):
    def __init__(self) -> None:
        super().__init__()
        self.jgf = JGFWriter()
        self.attrs: dict[str, str] = {}

    def emit_vtx(self, prefix, g, u, needs, exclusive, agfilter=None):
        self.rlite.emit_vtx(prefix, g, u, needs, exclusive)
        self.jgf.emit_vtx(prefix, g, u, needs, exclusive, agfilter)

    wants_edges = True

    def emit_edg(self, prefix, g, e):
        self.jgf.emit_edg(prefix, g, e)

    def emit_attrs(self, key, value):
        self.attrs[key] = value

    def empty(self) -> bool:
        return self.rlite.empty() and self.jgf.empty()

    def emit_json(self):
        if self.rlite.empty() or self.jgf.empty():
            return None
        ex = self._execution()
        sched = self.jgf.emit_json()
        o = {"version": 1, "execution": ex, "scheduling": sched}
        if self.attrs:
            o["attributes"] = {"system": {"scheduler": dict(sorted(self.attrs.items()))}}
            self.attrs = {}
        return o


FORMATS = {
    "simple": SimpleWriter,
    "pretty_simple": PrettySimpleWriter,
    "jgf": JGFWriter,
    "jgf_shorthand": JGFWriter,
    "rlite": RliteWriter,
    "rv1": Rv1Writer,
    "rv1_nosched": Rv1NoschedWriter,
}


def create_writer(fmt: str) -> MatchWriter:
    """Writer for a format name (unknown names give ``simple``, as Fluxion)."""
    return FORMATS.get(fmt, SimpleWriter)()
