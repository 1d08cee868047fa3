"""Indexed fast path: the common matches without walking the whole graph.

The DFU traverser (:mod:`fluxlab.sched.traverser`) is exact for any
request, but under ``high``/``low`` it visits every vertex of the graph
and under ``first`` it sorts the children of every vertex it enters.
:class:`FastIndex` answers the two request shapes of
:mod:`fluxlab.sched.fastplan` with the *same result* from indexes, then
marks the chosen edges exactly as the traverser's select phase would, so
the ordinary update walk commits the job (planner spans, tags, pruning
filters, writers) with the same code.

Exactness
---------
The result equals the DFU traverser's with ``policy.stable`` set (equal
scores ranked by discovery order, Python's stable sort) — the one place it
departs from Fluxion, whose ``std::sort`` orders large ties unpredictably.
It is used only when

* the policy is a multilevel one (``first``, ``high``, ``low``, ``hinode``,
  ``lonode``, ``hinodex``, ``lonodex``, ``firstnodex``, custom strings) over
  the containment subsystem alone;
* the request compiles to a :class:`~fluxlab.sched.fastplan.Plan`;
* the match is "now" and the graph is *time-free*: no reservations and every
  allocation covers now (:meth:`~fluxlab.sched.update.DFUUpdater.time_free`),
  so "free during the job" is simply "held by nobody".

Anything else (reservations, satisfiability, a failed match that must look
into the future) is handed to the traverser.

Indexes
-------
``first`` (``stop_on_1_matches``) explores children by decreasing edge
weight, then uniq id; :meth:`FastIndex._order` keeps each explored vertex's
children in that order, updated when the update walk changes a weight.
The exhaustive policies keep, per plan, a heap of candidate units (slot
hosts or nodes) keyed by their best group's score and preorder position;
units whose state changed since (reported by the traverser's observer
calls) are re-scored before the next selection, and stale entries are
dropped when they surface.
"""

from __future__ import annotations

from fluxlab.sched.fastheap import HeapSelect
from fluxlab.sched.fastlive import IDLE, LiveIndex
from fluxlab.sched.fastplan import (
    CONTAINER,
    INNER,
    LEAF,
    NODE,
    NODE_TOP,
    Layout,
    compile_plan,
)
from fluxlab.sched.graph import bulk_build
from fluxlab.sched.traverser import AT_ALLOC, AT_NO_ALLOC

__all__ = ["FastIndex"]


class FastIndex(HeapSelect):
    """Observer of one traverser and fast selector for its matches."""

    def __init__(self, trav) -> None:
        self.trav = trav
        self.g = trav.g
        self.layout: Layout | None = None
        self.gen = 0
        self.live: LiveIndex | None = None
        self._heaps: dict[tuple, object] = {}  # plan signature -> heap (fastheap)
        self._xheld: set[int] = set()
        self.hits = 0
        self.misses = 0
        trav.observer = self
        trav.on_touch = self.touched

    # -- observer interface -------------------------------------------------------------
    def invalidate(self) -> None:
        """The graph changed shape: rebuild everything on next use."""
        self.layout = None
        self.live = None
        self._drop_heaps()
        self.gen += 1

    def _drop_heaps(self) -> None:
        self._heaps = {}

    def touched(self, v: int) -> None:
        """Job state of ``v`` changed (committed or cancelled)."""
        lay = self.layout
        if lay is None or v >= len(lay.node_of):
            return
        r = lay.role[v]
        if r == LEAF:
            self.live.leaf_changed(v)
        elif r == NODE:
            self.live.node_changed(v)
        if not self._heaps:
            return
        n = lay.node_of[v]
        if n >= 0:
            for h in self._heaps.values():
                h.dirty.add(n)
        elif self.g.allocs[v] or v in self._xheld:
            # a container was taken or released whole: rescore everything
            if self.g.allocs[v]:
                self._xheld.add(v)
            else:
                self._xheld.discard(v)
            self._drop_heaps()

    def status_changed(self, vertices) -> None:
        """Status, drain or properties of ``vertices`` changed."""
        lay = self.layout
        if lay is None:
            return
        role = lay.role
        live = self.live
        for v in vertices:
            if v < len(role) and role[v] == LEAF:
                live.leaf_changed(v)
        if not self._heaps:
            return
        node_of = lay.node_of
        for v in vertices:
            if v >= len(node_of):
                continue
            n = node_of[v]
            if n < 0:
                self._drop_heaps()
                return
            for h in self._heaps.values():
                h.dirty.add(n)

    def weight_changed(self, e: int, old: int, new: int) -> None:
        """The update walk changed the weight of edge ``e``."""
        if self.live is not None:
            self.live.weight_changed(e, old, new)

    # -- entry point ----------------------------------------------------------------------
    def build(self) -> Layout:
        """Classify the graph now (otherwise done on the first match)."""
        if self.layout is None:
            with bulk_build():
                self.layout = Layout(self.g)
                self.live = LiveIndex(self.layout, self.trav.policy.descending)
        return self.layout

    def plan_for(self, js):
        """The compiled plan for ``js`` (None when the fast path cannot serve it)."""
        lay = self.layout
        if lay is None:
            lay = self.build()
        cached = js.fast_plan
        if cached is not None and cached[0] == self.gen:
            return cached[1]
        plan = compile_plan(js, lay, self.trav.policy)
        js.fast_plan = (self.gen, plan)
        return plan

    def select(self, js, meta) -> bool | None:
        """Select for ``js`` now; True/False, or None when not applicable.

        On True the chosen edges are marked for the traverser's update walk
        exactly as its own select phase would mark them.
        """
        trav = self.trav
        pol = trav.policy
        if meta.alloc_type not in (AT_ALLOC, AT_NO_ALLOC) or len(pol.subsystems) != 1:
            return None
        cached = js.fast_plan
        if cached is not None and cached[0] == self.gen and self.layout is not None:
            plan = cached[1]
        else:
            plan = self.plan_for(js)
        if plan is None or not (not trav._job_windows or trav.time_free(meta.at)):
            self.misses += 1
            return None
        self.hits += 1
        g = self.g
        lay = self.layout
        root = lay.root
        if g.status[root] or (g.drained and root in g.drained) or g.allocs[root]:
            return False
        if pol.stop_on_k:
            chosen = self._select_first(plan, meta)
        else:
            chosen = self._select_heap(plan, meta)
        if chosen is None:
            # the traverser's root visit succeeds and its final resolution
            # fails, which it reports as ENODEV (later steps may override)
            trav.errno = "ENODEV"
            return False
        self._mark(plan, chosen)
        return True

    # -- shared helpers -------------------------------------------------------------------------
    def _node_ok(self, node: int, plan) -> bool:
        g = self.g
        if plan.excl and g.tags[node]:
            return False
        c = plan.constraint
        if c is not None and not c.match(g.name[node], g.rank[node], g.props[node]):
            return False
        return g.vid[node] >= -1

    def _collect(self, h: int, plan, limit: bool, descending: bool):
        """Free children of host ``h`` per leaf type, in score order.

        With ``limit`` (the ``first`` policy) only the first ``S * c`` of
        each type in uniq-descending order are taken, as the traverser's
        early-stopping exploration does.  Returns ``(qual, lists)``.
        """
        g = self.g
        S = plan.slots
        qual = -1
        out = []
        for t, c in plan.leaves:
            if limit:
                found = self.live.take(h, t, S * c, True)
                if len(found) > 1:
                    found.sort(key=g.vid.__getitem__, reverse=descending)
            else:
                found = self.live.take(h, t, 0, False)
            q = len(found) // c
            if qual < 0 or q < qual:
                qual = q
            out.append(found)
        return qual, out

    def _groups(self, plan, qual: int, lists, base: int, start: int = 0, stop: int | None = None):
        """Slot groups ``start..stop`` as ``(score, leaves)`` from collected lists."""
        vid = self.g.vid
        groups = []
        end = qual if stop is None else min(stop, qual)
        for i in range(start, end):
            score = 1
            leaves = []
            for (_t, c), found in zip(plan.leaves, lists, strict=True):
                chunk = found[i * c : (i + 1) * c]
                for v in chunk:
                    score += vid[v] + base
                leaves.extend(chunk)
            groups.append((score, leaves))
        return groups

    def _alive(self, v: int) -> bool:
        g = self.g
        return not (g.status[v] or (g.drained and v in g.drained) or g.allocs[v])

    # -- first (stop_on_1_matches) ------------------------------------------------------------
    def _select_first(self, plan, meta):
        pol = self.trav.policy
        ctx = _FirstCtx(plan, pol.descending, "node" in pol.factors)
        self._dyn(self.layout.root, ctx)
        found = ctx.found
        k = plan.count
        if len(found) < k:
            return None
        if len(found) > 1:
            found.sort(key=_first, reverse=pol.descending)
            del found[k:]
        return found

    def _dyn(self, u: int, ctx) -> int:
        """Explore ``u``'s children by weight until ``ctx.want`` units are found."""
        g = self.g
        lay = self.layout
        role = lay.role
        status, allocs = g.status, g.allocs
        drained = g.drained
        plan = ctx.plan
        want = ctx.want
        is_host = ctx.is_host
        order = self.live.forder(ctx.filter, u)
        total = 0
        for _w, _u, c in order:
            r = role[c]
            if r == NODE:
                if status[c] or allocs[c] or (drained and c in drained):
                    continue
                if not self._node_ok(c, plan):
                    continue
                if ctx.centric:
                    f = lay._factor.get(c)
                    ctx.base = 2 + (f if f is not None else lay.factor(c))
                if plan.kind == NODE_TOP:
                    got = self._first_node(c, ctx)
                elif c in is_host:
                    got = self._first_host(c, ctx)
                else:
                    got = self._dyn(c, ctx)
            elif r == CONTAINER or r == INNER:
                if status[c] or allocs[c] or (drained and c in drained):
                    continue
                if r == INNER and c in is_host:
                    got = self._first_host(c, ctx)
                else:
                    got = self._dyn(c, ctx)
            else:
                continue
            if got:
                total += got
                if total >= want:
                    break
        return total

    def _first_host(self, h: int, ctx) -> int:
        plan = ctx.plan
        if len(plan.leaves) == 1:
            # one leaf type (``slot -> core[c]``): the common case, inlined
            t, c = plan.leaves[0]
            g = self.g
            k = plan.slots * c
            live = self.live
            m = live.mask.get((h, t))
            if m is None:
                m = live.avail(h, t)
            if k == 1:
                if not m:
                    return 0
                found = [self.layout._lists[(h, t)][1][(m & -m).bit_length() - 1]]
            else:
                found = self.live.take(h, t, k, True)
            q = len(found) // c
            if not q:
                return 0
            vid = g.vid
            if k > 1:
                found.sort(key=vid.__getitem__, reverse=ctx.descending)
            add = 1 + ctx.base * c
            out = ctx.found
            for i in range(q):
                chunk = found[i * c : i * c + c]
                score = add
                for v in chunk:
                    score += vid[v]
                out.append((score, ctx.n, chunk, h))
                ctx.n += 1
            return q
        qual, lists = self._collect(h, plan, True, ctx.descending)
        if qual <= 0:
            return 0
        for score, leaves in self._groups(ctx.plan, qual, lists, ctx.base):
            ctx.found.append((score, ctx.n, leaves, h))
            ctx.n += 1
        return qual

    def _first_node(self, node: int, ctx) -> int:
        leaves = self._node_pick(node, ctx.plan, True, ctx.descending, ctx.base)
        if leaves is None:
            return 0
        ctx.found.append((self.g.vid[node] + 2, ctx.n, leaves, node))
        ctx.n += 1
        return 1

    def _node_pick(self, node: int, plan, first: bool, desc: bool, base: int):
        """Leaves of the ``S`` slots node ``node`` would give, or None.

        The slots live on the node itself or on its direct children (the
        hosts); under ``first`` hosts are explored by weight until ``S``
        slots are found, otherwise all of them, and the best ``S`` slots by
        score are kept.
        """
        S = plan.slots
        hosts = self.layout.hosts(plan.types)[1][node]
        if len(hosts) == 1 and hosts[0] == node:
            qual, lists = self._collect(node, plan, first, desc)
            if qual < S:
                return None
            groups = self._groups(plan, qual, lists, base, 0, S)
        else:
            groups = []
            if first:
                total = 0
                host_set = self.layout.hosts(plan.types)[2]
                for _w, _u, c in self.live.order(node):
                    if c not in host_set or not self._alive(c):
                        continue
                    q, lists = self._collect(c, plan, True, desc)
                    if q > 0:
                        groups.extend(self._groups(plan, q, lists, base))
                        total += q
                        if total >= S:
                            break
            else:
                for c in hosts:
                    if self._alive(c):
                        q, lists = self._collect(c, plan, False, desc)
                        if q > 0:
                            groups.extend(self._groups(plan, q, lists, base))
            if len(groups) < S:
                return None
            groups.sort(key=_first, reverse=desc)
            del groups[S:]
        leaves = []
        for _score, lv in groups:
            leaves.extend(lv)
        return leaves

    # -- marking --------------------------------------------------------------------------
    def _mark(self, plan, chosen) -> None:
        """Mark the chosen edges as the traverser's enforce step would."""
        trav = self.trav
        g = self.g
        lay = self.layout
        trav.tick()
        trav.preorder = 0
        trav.postorder = 0
        seq = trav.seq
        marked = trav.marked
        needs_l, excl_l, seq_l = g.e_needs, g.e_excl, g.e_seq
        esrc = g.esrc
        pedge = lay.pedge
        size = g.size
        starts = []
        for item in chosen:
            leaves = item[2]
            unit = item[3]
            for v in leaves:
                e = pedge[v]
                needs_l[e] = 1
                excl_l[e] = 1
                seq_l[e] = seq
                src = esrc[e]
                lst = marked.get(src)
                if lst is None:
                    marked[src] = [e]
                else:
                    lst.append(e)
            if plan.kind == NODE_TOP:
                e = pedge[unit]
                needs_l[e] = 1
                excl_l[e] = 1 if plan.excl else 0
                seq_l[e] = seq
                marked.setdefault(esrc[e], []).append(e)
                starts.append(esrc[e])
            else:
                starts.append(unit)
        for pv in starts:
            while True:
                pe = pedge[pv]
                if pe < 0 or seq_l[pe] == seq:
                    break
                needs_l[pe] = size[pv]
                excl_l[pe] = 0
                seq_l[pe] = seq
                pv = esrc[pe]
                lst = marked.get(pv)
                if lst is None:
                    marked[pv] = [pe]
                else:
                    lst.append(pe)
        g.v_rt["containment"] = [1, 0, seq]


def _first(item) -> int:
    return item[0]


class _FirstCtx:
    __slots__ = (
        "plan",
        "want",
        "descending",
        "centric",
        "found",
        "n",
        "base",
        "is_host",
        "filter",
    )

    def __init__(self, plan, descending: bool, centric: bool):
        self.plan = plan
        self.want = plan.count
        self.descending = descending
        self.centric = centric
        self.found: list = []
        self.n = 0
        self.base = 2
        self.is_host = plan.is_host
        self.filter = IDLE if plan.kind == NODE_TOP and plan.excl else ("t", plan.leaves[0][0])
