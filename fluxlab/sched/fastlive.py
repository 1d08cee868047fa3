"""Live side of the indexed fast path: what is free, and in which order.

:class:`LiveIndex` keeps, for one :class:`~fluxlab.sched.fastplan.Layout`,
indexes over the job state that change with every allocation and are
updated incrementally from the traverser's observer calls:

*availability masks*
    per slot host and leaf type, an integer whose bit ``i`` says whether the
    host's ``i``-th child of that type (in uniq-descending order) is free:
    not allocated, up and not drained.  Taking the first ``k`` free leaves
    is a few bit operations.
*weight orders*
    per explored vertex, its children sorted by (edge weight, uniq id)
    descending: the order ``first`` (``stop_on_1_matches``) explores in.
*filters*
    pruning aggregates: for a leaf type ``t``, the number of free ``t``
    leaves below every vertex, and for ``idle``, the number of nodes no job
    holds.  A *filtered order* lists only the children whose aggregate is
    positive, so ``first`` skips full subtrees without visiting them (it
    would find nothing there, so the result is unchanged).

A vertex's free state is defined without time: the fast path only runs
while every job covers "now" (see :mod:`fluxlab.sched.fast`).
"""

from __future__ import annotations

from bisect import bisect_left, insort

from fluxlab.sched.fastplan import LEAF, Layout

__all__ = ["LiveIndex", "IDLE"]

IDLE = ("idle",)


class LiveIndex:
    """Availability masks, weight orders and filters over one layout."""

    def __init__(self, layout: Layout, descending: bool):
        self.lay = layout
        self.g = layout.g
        self.descending = descending
        self.mask: dict[tuple[int, str], int] = {}
        self.scdir: dict[tuple[int, str], int] = {}
        self.uqpos: list[int] = [-1] * len(self.g.vtype)
        self.orders: dict[int, list[tuple[int, int, int]]] = {}
        self.counts: dict[tuple, list[int]] = {}
        self.forders: dict[tuple, dict[int, list[tuple[int, int, int]]]] = {}
        self.idle: bytearray | None = None
        # filter deltas not yet carried up the tree: filter -> {vertex: delta}
        self.pending: dict[tuple, dict[int, int]] = {}

    # -- leaves ------------------------------------------------------------------------
    def avail(self, h: int, t: str) -> int:
        """Availability mask of ``h``'s children of type ``t`` (built on first use)."""
        key = (h, t)
        m = self.mask.get(key)
        if m is not None:
            return m
        _out, uq, sc = self.lay.lists(h, t, self.descending)
        pos = self.uqpos
        g = self.g
        allocs, status, drained = g.allocs, g.status, g.drained
        m = 0
        for i, v in enumerate(uq):
            pos[v] = i
            if not allocs[v] and not status[v] and not (drained and v in drained):
                m |= 1 << i
        self.mask[key] = m
        self.scdir[key] = 1 if sc == uq else (-1 if sc == uq[::-1] else 0)
        return m

    def take(self, h: int, t: str, k: int, limit: bool) -> list[int]:
        """Up to ``k`` (all when 0) free ``t`` children of ``h``.

        With ``limit`` in uniq-descending order (``first``'s exploration),
        otherwise in score order.
        """
        m = self.avail(h, t)
        key = (h, t)
        lists = self.lay._lists[key]
        uq = lists[1]
        found: list[int] = []
        direction = self.scdir[key]
        if limit or direction == 1:
            while m:
                low = m & -m
                found.append(uq[low.bit_length() - 1])
                if len(found) == k:
                    break
                m ^= low
        elif direction == -1:
            while m:
                i = m.bit_length() - 1
                found.append(uq[i])
                if len(found) == k:
                    break
                m ^= 1 << i
        else:
            pos = self.uqpos
            for v in lists[2]:
                if (m >> pos[v]) & 1:
                    found.append(v)
                    if len(found) == k:
                        break
        return found

    def leaf_changed(self, v: int) -> None:
        """Job or status state of leaf ``v`` changed."""
        g = self.g
        h = g.esrc[self.lay.pedge[v]]
        t = g.vtype[v]
        key = (h, t)
        m = self.mask.get(key)
        if m is None:
            return
        bit = 1 << self.uqpos[v]
        was = (m & bit) != 0
        now = not g.allocs[v] and not g.status[v] and not (g.drained and v in g.drained)
        if was == now:
            return
        self.mask[key] = m | bit if now else m & ~bit
        f = ("t", t)
        if f in self.counts:
            # a whole node changes at once under exclusive jobs: add the
            # leaf deltas up per host and carry them up when next read
            per = self.pending.get(f)
            if per is None:
                per = self.pending[f] = {}
            per[h] = per.get(h, 0) + (1 if now else -1)

    # -- nodes ------------------------------------------------------------------------
    def node_changed(self, n: int) -> None:
        """Jobs on node ``n`` changed: maybe it became idle or busy."""
        idle = self.idle
        if idle is None:
            return
        now = not self.g.tags[n]
        if bool(idle[n]) == now:
            return
        idle[n] = 1 if now else 0
        self._propagate(IDLE, self.counts[IDLE], n, 1 if now else -1)

    # -- orders ------------------------------------------------------------------------
    def order(self, u: int) -> list[tuple[int, int, int]]:
        """``u``'s children by (weight, uniq) descending, as ``(-w, -uniq, v)``."""
        lst = self.orders.get(u)
        if lst is None:
            g = self.g
            w, uq, etgt = g.e_weight, g.uniq_id, g.etgt
            lst = sorted(
                (-w[e], -uq[etgt[e]], etgt[e]) for e in g.out[u] if g.esub[e] == "containment"
            )
            self.orders[u] = lst
        return lst

    def flush(self) -> None:
        """Carry pending filter deltas up to the root."""
        pending = self.pending
        self.pending = {}
        for f, per in pending.items():
            counts = self.counts[f]
            for v, delta in per.items():
                if delta:
                    self._propagate(f, counts, v, delta)

    def forder(self, f: tuple, u: int) -> list[tuple[int, int, int]]:
        """:meth:`order` restricted to children that pass filter ``f``."""
        if self.pending:
            self.flush()
        per = self.forders.get(f)
        if per is None:
            self._build_filter(f)
            per = self.forders[f]
        lst = per.get(u)
        if lst is None:
            counts = self.counts[f]
            lst = per[u] = [x for x in self.order(u) if counts[x[2]] > 0]
        return lst

    def weight_changed(self, e: int, old: int, new: int) -> None:
        g = self.g
        p, c = g.esrc[e], g.etgt[e]
        nuq = -g.uniq_id[c]
        filtered = False
        for per in self.forders.values():
            lst = per.get(p)
            if lst is not None:
                filtered = True
                _move(lst, (-old, nuq, c), (-new, nuq, c))
        lst = self.orders.get(p)
        if lst is not None and (filtered or not _move(lst, (-old, nuq, c), (-new, nuq, c))):
            # only filtered orders are read where they exist: rebuild this
            # one if it is ever needed again
            del self.orders[p]

    # -- filters ----------------------------------------------------------------------
    def _build_filter(self, f: tuple) -> None:
        g = self.g
        lay = self.lay
        counts = [0] * len(g.vtype)
        if f == IDLE:
            idle = self.idle = bytearray(len(g.vtype))
            for n in lay.nodes:
                if not g.tags[n]:
                    idle[n] = 1
                    self._add_up(counts, n, 1)
        else:
            t = f[1]
            hosts = {g.esrc[lay.pedge[v]] for v in g.by_type.get(t, ()) if lay.role[v] == LEAF}
            for h in hosts:
                k = self.avail(h, t).bit_count()
                if k:
                    self._add_up(counts, h, k)
        self.counts[f] = counts
        self.forders[f] = {}

    def _add_up(self, counts: list[int], v: int, k: int) -> None:
        pedge, esrc = self.lay.pedge, self.g.esrc
        while True:
            counts[v] += k
            e = pedge[v]
            if e < 0:
                return
            v = esrc[e]

    def _propagate(self, f: tuple, counts: list[int], v: int, delta: int) -> None:
        """Add ``delta`` to ``v`` and its ancestors, keeping filtered orders."""
        pedge, esrc = self.lay.pedge, self.g.esrc
        per = self.forders[f]
        w, uq = self.g.e_weight, self.g.uniq_id
        while True:
            before = counts[v]
            counts[v] = before + delta
            e = pedge[v]
            if e < 0:
                return
            p = esrc[e]
            if (before > 0) != (before + delta > 0):
                lst = per.get(p)
                if lst is not None:
                    item = (-w[e], -uq[v], v)
                    if before + delta > 0:
                        insort(lst, item)
                    else:
                        i = bisect_left(lst, item)
                        if i < len(lst) and lst[i][2] == v:
                            del lst[i]
                        else:
                            del per[p]
            v = p


def _move(lst: list, old: tuple, new: tuple) -> bool:
    """Replace ``old`` by ``new`` in sorted ``lst``; False when ``old`` is absent."""
    i = bisect_left(lst, old)
    if i < len(lst) and lst[i] == old:
        del lst[i]
        insort(lst, new)
        return True
    return False
