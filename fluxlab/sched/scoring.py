"""Scoring bookkeeping for one traversal level (Fluxion's ``scoring_api``).

While the traverser walks a subtree it records, per subsystem and resource
type, the *edge groups* it found: a child (or a bundle of children making a
slot) with a score, the units it offers (``count``) and the edges that lead
to it.  A policy then picks the best ``k`` groups of each requested type.

The sort used to rank groups reproduces libstdc++'s ``std::sort``
(introsort with an insertion-sort finish), because which of two equally
scored groups wins decides which resources a job gets, and the conformance
outputs were produced by that implementation.  When all scores differ, or
there are at most 16 groups (pure insertion sort, which is stable), the
result equals Python's stable sort and that faster path is used.
"""

from __future__ import annotations

__all__ = ["EGroup", "Evals", "Scoring", "cxx_sort"]

MATCH_UNMET = 0
MATCH_MET = 1


class EGroup:
    """An evaluated edge group.

    ``edges`` holds ``(count, needs, exclusive, edge)`` tuples; ``edge`` is
    ``-1`` for the virtual edge into the root.
    """

    __slots__ = ("score", "count", "needs", "exclusive", "root", "label", "edges")

    def __init__(self, score, count, needs, exclusive, root, edges, label=""):
        self.score = score
        self.count = count
        self.needs = needs
        self.exclusive = exclusive
        self.root = root
        self.edges = edges
        self.label = label

    def __repr__(self) -> str:
        return f"EGroup(score={self.score}, count={self.count}, edges={self.edges})"


class Evals:
    """Edge groups of one resource type."""

    __slots__ = ("groups", "qual", "total", "best_k", "best_i", "cursor")

    def __init__(self) -> None:
        self.groups: list[EGroup] = []
        self.qual = 0
        self.total = 0
        self.best_k = 0
        self.best_i = 0
        self.cursor = -1

    def add(self, eg: EGroup) -> None:
        self.total += eg.count
        if eg.score > 0:
            self.qual += eg.count
        self.groups.append(eg)

    def merge(self, o: Evals) -> None:
        self.qual += o.qual
        self.total += o.total
        self.groups.extend(o.groups)

    def choose_best_k(self, k: int, descending: bool, stable: bool = False) -> bool:
        """Sort by score and mark the first groups that supply ``k`` units.

        ``stable`` keeps equally scored groups in the order they were found
        instead of libstdc++'s introsort order.
        """
        if k == 0 or k > self.qual:
            return False
        groups = self.groups
        if stable:
            if len(groups) > 1:
                groups.sort(key=_score, reverse=descending)
        else:
            cxx_sort(groups, descending)
        i = 0
        left = k
        while left > 0:
            g = groups[i]
            g.needs = left if left <= g.count else g.count
            left -= g.count
            i += 1
        self.best_k = k
        self.best_i = i
        return True

    def iter_next(self) -> EGroup | None:
        self.cursor += 1
        if self.cursor < len(self.groups):
            return self.groups[self.cursor]
        self.cursor = len(self.groups)
        return None

    def iter_reset(self) -> None:
        self.cursor = -1


class Scoring:
    """Per-level scoring state: ``{subsystem: {type: Evals}}`` plus the
    overall score and availability a child hands to its parent."""

    __slots__ = ("m", "hier_constrain_now", "overall_score", "avail")

    def __init__(self) -> None:
        self.m: dict[str, dict[str, Evals]] = {}
        self.hier_constrain_now = False
        self.overall_score = -1
        self.avail = 0

    def evals(self, s: str, t: str) -> Evals:
        d = self.m.get(s)
        if d is None:
            d = self.m[s] = {}
        e = d.get(t)
        if e is None:
            e = d[t] = Evals()
        return e

    def add(self, s: str, t: str, eg: EGroup) -> None:
        self.evals(s, t).add(eg)

    def qualified_count(self, s: str, t: str) -> int:
        d = self.m.get(s)
        if d is None:
            return 0
        e = d.get(t)
        return e.qual if e is not None else 0

    def total_count(self, s: str, t: str) -> int:
        d = self.m.get(s)
        if d is None:
            return 0
        e = d.get(t)
        return e.total if e is not None else 0

    def best_k(self, s: str, t: str) -> int:
        return self.evals(s, t).best_k

    def is_contained(self, s: str, t: str) -> bool:
        d = self.m.get(s)
        return d is not None and t in d

    def types(self, s: str) -> list[str]:
        d = self.m.get(s)
        return list(d) if d else []

    def merge(self, o: Scoring) -> None:
        for s, tmap in o.m.items():
            for t, ev in tmap.items():
                self.evals(s, t).merge(ev)

    def choose_accum_best_k(
        self, s: str, t: str, k: int, descending: bool, stable: bool = False
    ) -> None:
        if self.evals(s, t).choose_best_k(k, descending, stable):
            self.hier_constrain_now = True

    def choose_accum_all(self, s: str, t: str, descending: bool, stable: bool = False) -> None:
        ev = self.evals(s, t)
        if ev.choose_best_k(ev.qual, descending, stable):
            self.hier_constrain_now = True


# -- libstdc++ std::sort ----------------------------------------------------------


def cxx_sort(a: list, descending: bool) -> None:
    """Sort edge groups by score exactly as libstdc++ ``std::sort`` would.

    ``descending`` selects ``fold::greater`` (high scores first), otherwise
    ``fold::less``.
    """
    n = len(a)
    if n < 2:
        return
    if n <= 16 or len({g.score for g in a}) == n:
        a.sort(key=_score, reverse=descending)
        return
    keys = [-g.score if descending else g.score for g in a]
    items = list(zip(keys, range(n), strict=False))
    _introsort(items, 0, n, 2 * (n.bit_length() - 1))
    _final_insertion_sort(items, 0, n)
    a[:] = [a[i] for _k, i in items]


def _score(g: EGroup) -> int:
    return g.score


def _introsort(a, first, last, depth):
    while last - first > 16:
        if depth == 0:
            _heap_sort(a, first, last)
            return
        depth -= 1
        mid = first + (last - first) // 2
        _median_to_first(a, first, first + 1, mid, last - 1)
        cut = _unguarded_partition(a, first + 1, last, first)
        _introsort(a, cut, last, depth)
        last = cut


def _median_to_first(a, result, x, y, z):
    ax, ay, az = a[x][0], a[y][0], a[z][0]
    if ax < ay:
        if ay < az:
            a[result], a[y] = a[y], a[result]
        elif ax < az:
            a[result], a[z] = a[z], a[result]
        else:
            a[result], a[x] = a[x], a[result]
    elif ax < az:
        a[result], a[x] = a[x], a[result]
    elif ay < az:
        a[result], a[z] = a[z], a[result]
    else:
        a[result], a[y] = a[y], a[result]


def _unguarded_partition(a, first, last, pivot):
    pk = a[pivot][0]
    while True:
        while a[first][0] < pk:
            first += 1
        last -= 1
        while pk < a[last][0]:
            last -= 1
        if not first < last:
            return first
        a[first], a[last] = a[last], a[first]
        first += 1


def _insertion_sort(a, first, last):
    if first == last:
        return
    for i in range(first + 1, last):
        val = a[i]
        if val[0] < a[first][0]:
            a[first + 1 : i + 1] = a[first:i]
            a[first] = val
        else:
            _unguarded_linear_insert(a, i)


def _unguarded_linear_insert(a, last):
    val = a[last]
    nxt = last - 1
    while val[0] < a[nxt][0]:
        a[last] = a[nxt]
        last = nxt
        nxt -= 1
    a[last] = val


def _final_insertion_sort(a, first, last):
    if last - first > 16:
        _insertion_sort(a, first, first + 16)
        for i in range(first + 16, last):
            _unguarded_linear_insert(a, i)
    else:
        _insertion_sort(a, first, last)


def _adjust_heap(a, first, hole, length, value):
    top = hole
    second = hole
    while second < (length - 1) // 2:
        second = 2 * (second + 1)
        if a[first + second][0] < a[first + second - 1][0]:
            second -= 1
        a[first + hole] = a[first + second]
        hole = second
    if (length & 1) == 0 and second == (length - 2) // 2:
        second = 2 * (second + 1)
        a[first + hole] = a[first + second - 1]
        hole = second - 1
    parent = (hole - 1) // 2
    while hole > top and a[first + parent][0] < value[0]:
        a[first + hole] = a[first + parent]
        hole = parent
        parent = (hole - 1) // 2
    a[first + hole] = value


def _heap_sort(a, first, last):
    length = last - first
    if length >= 2:
        parent = (length - 2) // 2
        while True:
            _adjust_heap(a, first, parent, length, a[first + parent])
            if parent == 0:
                break
            parent -= 1
    while last - first > 1:
        last -= 1
        value = a[last]
        a[last] = a[first]
        _adjust_heap(a, first, 0, last - first, value)
