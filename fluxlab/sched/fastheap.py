"""Exhaustive policies on the fast path: per-plan heaps of candidates.

Under ``high``, ``low`` and their node-centric variants the traverser
scores every candidate in the graph and keeps the best.  The fast path
keeps, per compiled plan, a heap of *units* (slot hosts for
``slot -> leaves``, nodes for ``node -> slot -> leaves``) keyed by the sort
key of the unit's best group: its score (negated under ``high``) and the
unit's depth-first preorder position, which is how equal scores are
ordered by a stable sort over the traverser's discovery order.

Invariant: ``cur[u]`` is the key of ``u``'s one valid heap entry (None when
it offers nothing); any other entry for ``u`` is stale and dropped when it
surfaces.  Units under a node whose job state changed are re-keyed before
the next selection (``dirty``), so popping valid entries yields candidates
in exactly the traverser's order; slot hosts offering several slots feed
their further slots through a second, per-selection heap.
"""

from __future__ import annotations

from heapq import heapify, heappop, heappush

from fluxlab.sched.fastplan import NODE_TOP

__all__ = ["HeapSelect"]

_MAX_HEAPS = 32


class _Heap:
    __slots__ = ("heap", "cur", "dirty", "units", "unverified")

    def __init__(self) -> None:
        self.heap: list[tuple] = []
        self.cur: dict[int, tuple | None] = {}
        self.dirty: set[int] = set()
        self.units: dict[int, list[int]] = {}
        # units whose key is only a promise: checked when they surface
        self.unverified: set[int] = set()


class HeapSelect:
    """Mixin of :class:`~fluxlab.sched.fast.FastIndex` for exhaustive policies."""

    def _heap(self, plan) -> _Heap:
        h = self._heaps.get(plan.sig)
        if h is not None:
            return h
        if len(self._heaps) >= _MAX_HEAPS:
            self._heaps.pop(next(iter(self._heaps)))
        h = _Heap()
        lay = self.layout
        if not self._heaps:
            self._xheld = {c for c in lay.containers if self.g.allocs[c]}
        if plan.kind == NODE_TOP:
            # a node's key is its id whenever it fits at all: start from that
            # promise and check a node only when it reaches the top
            h.units = {n: [n] for n in lay.nodes}
            vid, pos = self.g.vid, lay.pos
            sign = -1 if self.trav.policy.descending else 1
            for n in lay.nodes:
                key = (sign * (vid[n] + 2), pos[n])
                h.cur[n] = key
                h.heap.append((key, n))
            h.unverified = set(lay.nodes)
        else:
            h.units = lay.hosts(plan.types)[1]
            for units in h.units.values():
                for u in units:
                    key = self._unit_key(u, plan)
                    h.cur[u] = key
                    if key is not None:
                        h.heap.append((key, u))
        heapify(h.heap)
        self._heaps[plan.sig] = h
        return h

    def _unit_key(self, u: int, plan):
        """Sort key of unit ``u``'s best group, or None when it offers none."""
        g = self.g
        lay = self.layout
        node = lay.node_of[u]
        if not self._alive(node) or not self._node_ok(node, plan):
            return None
        if u != node and not self._alive(u):
            return None
        for a in lay.chain(u):
            if not self._alive(a):
                return None
        pol = self.trav.policy
        desc = pol.descending
        if plan.kind == NODE_TOP:
            if self._node_pick(u, plan, False, desc, 2) is None:
                return None
            score = g.vid[node] + 2
        else:
            live = self.live
            vid = g.vid
            base = 2 + (lay.factor(node) if "node" in pol.factors else 0)
            score = 1
            for t, c in plan.leaves:
                if self._avail(u, t).bit_count() < c:
                    return None
                for v in live.take(u, t, c, False):
                    score += vid[v] + base
        return (-score if desc else score, lay.pos[u])

    def _avail(self, u: int, t: str) -> int:
        m = self.live.mask.get((u, t))
        return self.live.avail(u, t) if m is None else m

    def _sync(self, h: _Heap, plan) -> None:
        if not h.dirty:
            return
        cur = h.cur
        heap = h.heap
        unverified = h.unverified
        for n in h.dirty:
            for u in h.units.get(n, ()):
                unverified.discard(u)
                key = self._unit_key(u, plan)
                if key != cur.get(u):
                    cur[u] = key
                    if key is not None:
                        heappush(heap, (key, u))
        h.dirty.clear()
        if len(heap) > 4 * len(cur) + 64:
            heap[:] = [(k, u) for u, k in cur.items() if k is not None]
            heapify(heap)

    def _select_heap(self, plan, meta):
        h = self._heap(plan)
        self._sync(h, plan)
        heap, cur = h.heap, h.cur
        lay = self.layout
        pol = self.trav.policy
        desc = pol.descending
        centric = "node" in pol.factors
        k = plan.count
        popped = []
        chosen = []
        nxt: list[tuple] = []  # further slots of popped hosts
        cache: dict[int, tuple] = {}
        live = self.live
        try:
            while len(chosen) < k:
                while heap:
                    key0, u0 = heap[0]
                    if cur.get(u0) != key0:
                        heappop(heap)
                    elif u0 in h.unverified:
                        h.unverified.discard(u0)
                        real = self._unit_key(u0, plan)
                        if real != key0:
                            heappop(heap)
                            cur[u0] = real
                            if real is not None:
                                heappush(heap, (real, u0))
                    else:
                        break
                top = heap[0] if heap else None
                if nxt and (top is None or (nxt[0][0], nxt[0][1]) < top[0]):
                    k0, pos, i, u = heappop(nxt)
                    qual, base = cache[u]
                    key = (k0, pos)
                else:
                    if top is None:
                        return None
                    key, u = heappop(heap)
                    popped.append((key, u))
                    cur[u] = None
                    i = 0
                    node = lay.node_of[u]
                    base = 2 + (lay.factor(node) if centric else 0)
                    if plan.kind == NODE_TOP:
                        chosen.append((key, 0, self._node_pick(u, plan, False, desc, base), u))
                        continue
                    qual = min(self._avail(u, t).bit_count() // c for t, c in plan.leaves)
                    cache[u] = (qual, base)
                # slots i and i+1 of the host: only that prefix of each list
                lists = [live.take(u, t, (i + 2) * c, False) for t, c in plan.leaves]
                groups = self._groups(plan, qual, lists, base, i, i + 2)
                chosen.append((key, i, groups[0][1], u))
                if len(groups) > 1:
                    s2 = groups[1][0]
                    heappush(nxt, (-s2 if desc else s2, lay.pos[u], i + 1, u))
            return chosen
        finally:
            # the chosen units are re-scored after the commit touches them;
            # until then (or when nothing is committed) their keys still hold
            for key, u in popped:
                cur[u] = key
                heappush(heap, (key, u))
