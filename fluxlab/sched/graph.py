"""Resource graph model (Fluxion's resource model, RFC 4).

A vertex is a *resource pool*: ``type``, ``basename``, ``name``, ``id``,
``rank``, ``size`` and ``unit``, free-form ``properties``, an up/down
``status`` and one path per subsystem it belongs to (``/tiny0/rack0/node1``).
Edges are directed and belong to one *subsystem* (``containment`` is the
dominant tree; ``power``, ``ibnet`` ... are auxiliary).

Storage is columnar: vertex ``v`` is an index into parallel lists, so a graph
of 140k vertices costs a few lists instead of 140k objects, and the traverser
reads plain list items in its hot loops.  Scheduling state (planners, job
tags, pruning filters) lives in the same lists and is created lazily: a
vertex nobody ever allocated has ``plans[v] is None`` and is wholly free.

Export to :mod:`networkx` (:meth:`ResourceGraph.to_networkx`) is for
inspection and tests; nothing in the matching path uses it.

Invariants
----------
* ``uniq_id[v]`` is unique among live vertices; it is the JGF node id.
* A removed vertex keeps its index (``alive[v]`` is False) but has no edges
  and is absent from every index, as Fluxion's ``remove_subgraph`` does.
* ``out[v]`` keeps edges in insertion order: the order output is written in.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from fluxlab.sched.errors import GraphError
from fluxlab.sched.planner import PlannerMulti, spans_add, spans_avail, spans_find, spans_remove

__all__ = [
    "CONTAINMENT",
    "UP",
    "DOWN",
    "STATUS_NAMES",
    "UINT64_MAX",
    "X_CHECKER_NJOBS",
    "TypeOrder",
    "bulk_build",
    "ResourceGraph",
]

CONTAINMENT = "containment"
UP = 0
DOWN = 1
STATUS_NAMES = {"up": UP, "down": DOWN}
UINT64_MAX = 2**64 - 1
X_CHECKER_NJOBS = 0x40000000

# Types Fluxion interns at start-up, in order; interned types are ordered by
# insertion, which decides the order of pruning-filter types (and with it
# which aggregate the "first" policy sorts children by).
_PREINTERNED = ("", "cluster", "core", "socket", "gpu", "node", "rack", "slot", "ssd", "*")


@contextmanager
def bulk_build():
    """Pause the cyclic garbage collector while building many containers.

    The graph's columns hold only acyclic lists and dicts; letting the
    collector rescan them every few hundred allocations makes loading a
    large graph about twice as slow.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class TypeOrder:
    """Insertion order of resource type names (Fluxion's interned types)."""

    __slots__ = ("_rank",)

    def __init__(self) -> None:
        self._rank: dict[str, int] = {t: i for i, t in enumerate(_PREINTERNED)}

    def add(self, rtype: str) -> None:
        if rtype not in self._rank:
            self._rank[rtype] = len(self._rank)

    def key(self, rtype: str) -> int:
        r = self._rank.get(rtype)
        if r is None:
            r = self._rank[rtype] = len(self._rank)
        return r

    def names(self) -> set[str]:
        """Every type interned so far (the types a jobspec may request)."""
        return set(self._rank)

    def sort(self, types: Iterable[str]) -> list[str]:
        return sorted(set(types), key=self.key)


_WIDE = 64


def _extend(edges, more):
    """``edges`` plus ``more``: a tuple while short, a list once wide.

    Edge lists are tuples so the cyclic garbage collector can stop tracking
    them (a big graph would otherwise hold hundreds of thousands of lists it
    rescans); the few wide ones (a cluster's nodes) stay lists so adding to
    them is not quadratic.
    """
    if type(edges) is tuple:
        if len(edges) + len(more) <= _WIDE:
            return edges + tuple(more)
        edges = list(edges)
    edges.extend(more)
    return edges


class ResourceGraph:
    """Typed resource vertices with subsystem-labelled edges, plus indexes."""

    def __init__(self) -> None:
        # vertex columns
        self.vtype: list[str] = []
        self.basename: list[str] = []
        self.name: list[str] = []
        self.vid: list[int] = []
        self.rank: list[int] = []
        self.size: list[int] = []
        self.unit: list[str] = []
        self.uniq_id: list[int] = []
        self.props: list[dict[str, str] | None] = []
        self.status: list[int] = []
        self.paths: list[dict[str, str]] = []
        self.alive: list[bool] = []
        # out/in edge indexes per vertex: tuples (lists once wide), see _extend
        self.out: list[tuple[int, ...] | list[int]] = []
        self.inn: list[tuple[int, ...] | list[int]] = []
        # scheduling columns (lazy)
        # a vertex's own units over time: ((span id, start, end, count), ...)
        self.plans: list[tuple[tuple[int, int, int, int], ...] | None] = []
        self.next_span = 0
        self.allocs: list[dict[int, int] | None] = []
        self.resvs: list[dict[int, int] | None] = []
        # jobid -> jobid of every job holding the vertex or something below
        # it; with ``windows`` this is also Fluxion's exclusivity checker
        self.tags: list[dict[int, int] | None] = []
        self.job2span: list[dict[int, int] | None] = []
        self.subplans: list[dict[str, PlannerMulti] | None] = []
        self.ephemeral: list[tuple[int, dict[str, str]] | None] = []
        # edge columns
        self.esrc: list[int] = []
        self.etgt: list[int] = []
        self.esub: list[str] = []
        self.e_needs: list[int] = []
        self.e_excl: list[int] = []
        self.e_seq: list[int] = []
        self.e_weight: list[int] = []
        self.e_alive: list[bool] = []
        # metadata
        self.roots: dict[str, int] = {}
        self.v_rt: dict[str, list[int]] = {}  # subsystem -> [needs, excl, seq]
        self._by_path: dict[str, list[int]] | None = {}
        self.by_type: dict[str, list[int]] = {}
        self._by_name: dict[str, list[int]] | None = {}
        self.by_rank: dict[int, list[int]] = {}
        self.by_uniq: dict[int, int] = {}
        # jobid -> {vertex: None} it holds (dicts of ints are never tracked by
        # the cyclic GC), and jobid -> (start, end) of the job
        self.by_jobid: dict[int, dict[int, None]] = {}
        self.windows: dict[int, tuple[int, int]] = {}
        self.types = TypeOrder()
        self.graph_start = 0
        self.graph_end = 3153600000
        self.nodes_up_count: int | None = None
        self.drained: dict[int, str] = {}

    # -- construction ------------------------------------------------------
    def __len__(self) -> int:
        return len(self.vtype)

    def add_vertex(
        self,
        rtype: str,
        basename: str,
        name: str,
        vid: int,
        *,
        rank: int = -1,
        size: int = 1,
        unit: str = "",
        uniq_id: int | None = None,
        properties: dict[str, str] | None = None,
        status: int = UP,
        paths: dict[str, str] | None = None,
        index: bool = True,
        check_uniq: bool = True,
    ) -> int:
        """Append a vertex and return its index.

        ``paths`` maps subsystem to path; with ``index`` the vertex enters
        ``by_path``/``by_type``/``by_name``/``by_rank``.
        """
        if not rtype:
            raise GraphError(f"vertex {name!r}: empty resource type")
        if size < 0:
            raise GraphError(f"vertex {name!r}: negative size {size}")
        v = len(self.vtype)
        if uniq_id is None:
            uniq_id = v
        if check_uniq and uniq_id in self.by_uniq:
            raise GraphError(f"vertex {name!r}: duplicate uniq_id {uniq_id}")
        self.types.add(rtype)
        self.vtype.append(rtype)
        self.basename.append(basename)
        self.name.append(name)
        self.vid.append(vid)
        self.rank.append(rank)
        self.size.append(size)
        self.unit.append(unit)
        self.uniq_id.append(uniq_id)
        self.props.append(dict(properties) if properties else None)
        self.status.append(status)
        self.paths.append(dict(paths) if paths else {})
        self.alive.append(True)
        self.out.append(())
        self.inn.append(())
        self.plans.append(None)
        self.allocs.append(None)
        self.resvs.append(None)
        self.tags.append(None)
        self.job2span.append(None)
        self.subplans.append(None)
        self.ephemeral.append(None)
        self.by_uniq[uniq_id] = v
        if index:
            self.index_vertex(v)
        return v

    def add_children(
        self,
        parents: list[int],
        vids: list[int],
        rtype: str,
        basename: str,
        *,
        ranks: list[int] | int = -1,
        size: int = 1,
        unit: str = "",
        subsystem: str = CONTAINMENT,
        edge_subsystem: str | None = None,
    ) -> range:
        """Append one child per ``(parents[i], vids[i])``, columns at once.

        The child is named ``basename + str(vid)`` (``basename`` alone for
        id -1), its path extends its parent's in ``subsystem`` and an edge
        ``parent -> child`` is added.  This is the bulk form of
        :meth:`add_vertex` + :meth:`add_edge` the generators use; the path and
        name indexes are rebuilt lazily afterwards.  ``edge_subsystem``
        (default ``subsystem``) labels the new edges.  Returns the new indexes.
        """
        total = len(parents)
        if len(vids) != total:
            raise GraphError(f"add_children: {total} parents but {len(vids)} ids")
        with bulk_build():
            return self._add_children(
                parents, vids, rtype, basename, ranks, size, unit, subsystem, edge_subsystem
            )

    def _add_children(
        self, parents, vids, rtype, basename, ranks, size, unit, subsystem, edge_subsystem
    ) -> range:
        total = len(parents)
        if size < 0:
            raise GraphError(f"vertex type {rtype!r}: negative size {size}")
        start = len(self.vtype)
        idx = range(start, start + total)
        if not total:
            return idx
        self.types.add(rtype)
        cache: dict[int, str] = {}
        for i in vids:
            if i not in cache:
                cache[i] = "/" + basename + (str(i) if i != -1 else "")
        slashed = [cache[i] for i in vids]
        names = [n[1:] for n in slashed]
        ppaths = self.paths
        pcache: dict[int, str] = {}
        for p in parents:
            if p not in pcache:
                pcache[p] = ppaths[p].get(subsystem, "")
        self.paths += [{subsystem: pcache[p] + n} for p, n in zip(parents, slashed, strict=True)]
        self.vtype += [rtype] * total
        self.basename += [basename] * total
        self.name += names
        self.vid += vids
        if isinstance(ranks, int):
            self.rank += [ranks] * total
            self.by_rank.setdefault(ranks, []).extend(idx)
        else:
            self.rank += ranks
            by_rank = self.by_rank
            for v, r in zip(idx, ranks, strict=True):
                lst = by_rank.get(r)
                if lst is None:
                    by_rank[r] = [v]
                else:
                    lst.append(v)
        self.size += [size] * total
        self.unit += [unit] * total
        self.uniq_id += idx
        self.props += [None] * total
        self.status += [UP] * total
        self.alive += [True] * total
        self.out += [()] * total
        e0 = len(self.esrc)
        self.inn += [(e,) for e in range(e0, e0 + total)]
        nones = [None] * total
        for col in (
            self.plans,
            self.allocs,
            self.resvs,
            self.tags,
            self.job2span,
            self.subplans,
            self.ephemeral,
        ):
            col += nones
        self.by_uniq.update(zip(idx, idx, strict=True))
        self.drop_lazy_indexes()
        self.by_type.setdefault(rtype, []).extend(idx)
        self.esrc += parents
        self.etgt += idx
        self.esub += [edge_subsystem or subsystem] * total
        self.e_needs += [0] * total
        self.e_excl += [0] * total
        self.e_seq += [0] * total
        self.e_weight += [UINT64_MAX] * total
        self.e_alive += [True] * total
        # group the new edges by parent (parents usually come in runs)
        runs: dict[int, list[int]] = {}
        for k, p in enumerate(parents):
            lst = runs.get(p)
            if lst is None:
                runs[p] = [e0 + k]
            else:
                lst.append(e0 + k)
        out = self.out
        for p, es in runs.items():
            out[p] = _extend(out[p], es)
        return idx

    def index_vertex(self, v: int) -> None:
        if self._by_path is not None:
            for p in self.paths[v].values():
                self._by_path.setdefault(p, []).append(v)
        self.by_type.setdefault(self.vtype[v], []).append(v)
        if self._by_name is not None:
            self._by_name.setdefault(self.name[v], []).append(v)
        self.by_rank.setdefault(self.rank[v], []).append(v)

    @property
    def by_path(self) -> dict[str, list[int]]:
        """Path -> vertices (built on first use after a bulk load)."""
        if self._by_path is None:
            idx: dict[str, list[int]] = {}
            for v, paths in enumerate(self.paths):
                if self.alive[v]:
                    for p in paths.values():
                        lst = idx.get(p)
                        if lst is None:
                            idx[p] = [v]
                        else:
                            lst.append(v)
            self._by_path = idx
        return self._by_path

    @property
    def by_name(self) -> dict[str, list[int]]:
        """Name -> vertices (built on first use after a bulk load)."""
        if self._by_name is None:
            idx: dict[str, list[int]] = {}
            for v, name in enumerate(self.name):
                if self.alive[v]:
                    idx.setdefault(name, []).append(v)
            self._by_name = idx
        return self._by_name

    def drop_lazy_indexes(self) -> None:
        """Forget ``by_path``/``by_name``; they are rebuilt on next use."""
        self._by_path = None
        self._by_name = None

    def set_path(self, v: int, subsystem: str, path: str) -> None:
        """Give ``v`` a path in ``subsystem`` (and index it)."""
        self.paths[v][subsystem] = path
        if self._by_path is not None:
            self._by_path.setdefault(path, []).append(v)

    def add_edge(self, src: int, tgt: int, subsystem: str = CONTAINMENT) -> int:
        """Add ``src -> tgt`` in ``subsystem``; return the edge index."""
        e = len(self.esrc)
        self.esrc.append(src)
        self.etgt.append(tgt)
        self.esub.append(subsystem)
        self.e_needs.append(0)
        self.e_excl.append(0)
        self.e_seq.append(0)
        self.e_weight.append(UINT64_MAX)
        self.e_alive.append(True)
        self.out[src] = _extend(self.out[src], (e,))
        self.inn[tgt] = _extend(self.inn[tgt], (e,))
        return e

    def find_edge(self, src: int, tgt: int) -> int:
        """Edge ``src -> tgt`` or -1."""
        for e in self.out[src]:
            if self.etgt[e] == tgt:
                return e
        return -1

    # -- queries -------------------------------------------------------------
    def vertices(self) -> Iterator[int]:
        """Live vertex indexes."""
        return (v for v, a in enumerate(self.alive) if a)

    def parent(self, v: int, subsystem: str = CONTAINMENT) -> int:
        """Parent of ``v`` in ``subsystem`` or -1 (the first in-edge wins)."""
        for e in self.inn[v]:
            if self.esub[e] == subsystem:
                return self.esrc[e]
        return -1

    def parent_edge(self, v: int, subsystem: str = CONTAINMENT) -> int:
        for e in self.inn[v]:
            if self.esub[e] == subsystem:
                return e
        return -1

    def children(self, v: int, subsystem: str = CONTAINMENT) -> list[int]:
        return [self.etgt[e] for e in self.out[v] if self.esub[e] == subsystem]

    def subtree(self, v: int, subsystem: str = CONTAINMENT) -> list[int]:
        """``v`` and all its descendants in ``subsystem`` (preorder)."""
        seen = {v}
        order = [v]
        stack = [v]
        while stack:
            u = stack.pop()
            kids = []
            for e in self.out[u]:
                if self.esub[e] == subsystem:
                    t = self.etgt[e]
                    if t not in seen:
                        seen.add(t)
                        kids.append(t)
            order.extend(kids)
            stack.extend(reversed(kids))
        return order

    def path_of(self, v: int, subsystem: str = CONTAINMENT) -> str:
        return self.paths[v].get(subsystem, "")

    def find_path(self, path: str) -> list[int]:
        return [v for v in self.by_path.get(path, ()) if self.alive[v]]

    def avail(self, v: int, at: int, duration: int) -> int:
        """Units of ``v`` free during the window."""
        spans = self.plans[v]
        return spans_avail(spans, self.size[v], at, duration) if spans else self.size[v]

    def add_span(self, v: int, start: int, duration: int, count: int) -> int:
        """Hold ``count`` units of ``v`` over the window; return the span id.

        Raises
        ------
        PlannerError
            For a bad window or when the units are not free.
        """
        sid = self.next_span
        self.plans[v] = spans_add(
            self.plans[v] or (), self.size[v], sid, start, duration, count, self.vtype[v]
        )
        self.next_span = sid + 1
        return sid

    def rem_span(self, v: int, sid: int) -> None:
        self.plans[v] = spans_remove(self.plans[v] or (), sid, self.vtype[v]) or None

    def span(self, v: int, sid: int) -> tuple[int, int, int]:
        """``(start, end, count)`` of span ``sid`` of ``v``."""
        return spans_find(self.plans[v] or (), sid, self.vtype[v])[1:]

    def x_busy(self, v: int, at: int, duration: int) -> bool:
        """True when some job holds ``v`` (or a descendant) during the window."""
        tags = self.tags[v]
        if not tags:
            return False
        end = at + duration
        windows = self.windows
        for j in tags:
            s, e = windows[j]
            if s < end and e > at:
                return True
        return False

    def nodes_up(self) -> int:
        """Fluxion's ``nodes_up`` counter.

        It starts as the number of node vertices and moves only when a
        status change covers nodes (see ``DFUUpdater.mark``), growth adds the
        new nodes and shrink subtracts the removed ones.
        """
        if self.nodes_up_count is None:
            self.nodes_up_count = sum(
                self.size[v] for v in self.by_type.get("node", ()) if self.alive[v]
            )
        return self.nodes_up_count

    def adjust_nodes_up(self, delta: int) -> None:
        self.nodes_up_count = self.nodes_up() + delta

    def add_job_vertex(self, jobid: int, v: int) -> None:
        held = self.by_jobid.get(jobid)
        if held is None:
            self.by_jobid[jobid] = {v: None}
        else:
            held[v] = None

    def remove_job_vertex(self, jobid: int, v: int) -> None:
        held = self.by_jobid.get(jobid)
        if held is not None:
            held.pop(v, None)
            if not held:
                del self.by_jobid[jobid]
                self.windows.pop(jobid, None)

    # -- removal ---------------------------------------------------------------
    def remove_vertices(self, vertices: Iterable[int]) -> None:
        """Detach ``vertices``: drop their edges and index entries (keep indexes)."""
        for v in vertices:
            for e in list(self.out[v]) + list(self.inn[v]):
                self._drop_edge(e)
            for p in self.paths[v].values():
                lst = self.by_path.get(p)
                if lst is not None:
                    if v in lst:
                        lst.remove(v)
                    if not lst:
                        del self.by_path[p]
            for index, key in (
                (self.by_type, self.vtype[v]),
                (self.by_name, self.name[v]),
                (self.by_rank, self.rank[v]),
            ):
                lst = index.get(key)
                if lst is not None and v in lst:
                    lst.remove(v)
            for store in (self.tags, self.job2span, self.allocs, self.resvs):
                d = store[v]
                if d:
                    for jobid in d:
                        self.remove_job_vertex(jobid, v)
            self.by_uniq.pop(self.uniq_id[v], None)
            self.alive[v] = False

    def _drop_edge(self, e: int) -> None:
        if not self.e_alive[e]:
            return
        self.e_alive[e] = False
        for lists, v in ((self.out, self.esrc[e]), (self.inn, self.etgt[e])):
            o = lists[v]
            if type(o) is tuple:
                lists[v] = tuple(x for x in o if x != e)
            else:
                o.remove(e)

    # -- export ----------------------------------------------------------------
    def to_networkx(self):
        """A :class:`networkx.MultiDiGraph` copy (see :func:`fluxlab.sched.export.to_networkx`)."""
        from fluxlab.sched.export import to_networkx

        return to_networkx(self)

    def validate(self, subsystem: str = CONTAINMENT) -> None:
        """Check ``subsystem`` is a tree hanging from its root.

        See :func:`fluxlab.sched.graphcheck.validate_tree`.
        """
        from fluxlab.sched.graphcheck import validate_tree

        validate_tree(self, subsystem)
