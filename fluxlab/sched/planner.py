"""Planner: availability of a resource pool over time.

A :class:`Planner` tracks ``total`` units of one resource type on a time
line that starts at ``base``.  Jobs occupy *spans* ``[start, start+duration)``
of some units.  The state is kept as a step function: a sorted list of
breakpoints and, for each interval between two breakpoints, the units
free.  Breakpoints are exactly the span boundaries (plus ``base``), so the
earliest time at which a request fits is always one of them; this is the
same set of "scheduled points" Fluxion's planner searches (RFC: the planner
in ``flux-sched resource/planner``).

:class:`PlannerMulti` bundles one planner per resource type and moves spans
in all of them together; the traverser uses it as the per-vertex *pruning
filter* that aggregates the free low-level resources below a vertex.

Invariants
----------
* ``_t[0] == base`` and ``_t`` is strictly increasing; ``_r[i]`` is the number
  of free units on ``[_t[i], _t[i+1])`` (the last interval extends to infinity).
* A breakpoint other than ``base`` exists only while some span starts or
  ends there (``_refs``), so the step function stays compact.
* ``_r[i]`` (free units) is never negative.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence

from fluxlab.sched.errors import PlannerError

__all__ = [
    "INT64_MAX",
    "Planner",
    "PlannerMulti",
    "SpanPlanner",
    "spans_add",
    "spans_avail",
    "spans_find",
    "spans_remove",
]

INT64_MAX = 2**63 - 1


class Planner:
    """Units of one resource type over time.

    Parameters
    ----------
    total : int
        Units in the pool.
    rtype : str
        Resource type name (informational).
    base : int
        First instant of the time line.
    horizon : int
        Length of the time line (Fluxion uses ``INT64_MAX``).

    Notes
    -----
    :meth:`avail_times` searches the scheduled points the way Fluxion's
    min-time tree does: a point qualifies by the free count recorded when it
    was last (re)indexed.  :meth:`update_total` changes free counts without
    re-indexing (as Fluxion's ``planner_update_total``), so after a graph grows
    a point can keep its old count until a span touches it or a search
    visits it.  Reproducing this keeps reservation times identical to
    Fluxion's after ``attach``.
    """

    __slots__ = (
        "total",
        "rtype",
        "base",
        "horizon",
        "_t",
        "_r",
        "_spans",
        "_refs",
        "_next",
        "_stale",
        "_tracked",
    )

    def __init__(self, total: int, rtype: str = "", base: int = 0, horizon: int = INT64_MAX):
        if total < 0:
            raise PlannerError(f"planner for {rtype!r}: negative total {total}")
        self.total = total
        self.rtype = rtype
        self.base = base
        self.horizon = horizon
        self._t: list[int] = [base]
        self._r: list[int] = [total]
        self._spans: dict[int, tuple[int, int, int]] = {}
        self._refs: dict[int, int] = {}
        self._next = 0
        self._stale: dict[int, int] = {}
        self._tracked: list[int] = []

    # -- queries -----------------------------------------------------------
    def _check_window(self, at: int, duration: int) -> None:
        if at < self.base or duration < 1 or at + duration > self.base + self.horizon:
            raise PlannerError(
                f"planner {self.rtype!r}: invalid time window at={at} duration={duration}"
            )

    def avail_at(self, at: int) -> int:
        """Units free at instant ``at``."""
        if not self._spans:
            return self._r[0]
        if at < self.base:
            raise PlannerError(f"planner {self.rtype!r}: time {at} before base {self.base}")
        return self._r[bisect_right(self._t, at) - 1]

    def avail_during(self, at: int, duration: int) -> int:
        """Minimum units free over ``[at, at+duration)``."""
        if not self._spans:
            return self._r[0]
        self._check_window(at, duration)
        t = self._t
        i = bisect_right(t, at) - 1
        j = bisect_left(t, at + duration, i + 1)
        if j - i == 1:
            return self._r[i]
        return min(self._r[i:j])

    def fits(self, at: int, duration: int, request: int) -> bool:
        """True when ``request`` units are free during the whole window."""
        return self.avail_during(at, duration) >= request

    def _restore(self) -> None:
        if self._tracked:
            for p in self._tracked:
                self._stale.pop(p, None)
            self._tracked = []

    def avail_times(self, on_or_after: int, duration: int, request: int) -> Iterator[int]:
        """Scheduled points ``>= on_or_after`` at which ``request`` fits, earliest first."""
        if request > self.total:
            return
        self._restore()
        stale = self._stale
        t = self._t
        r = self._r
        i = 0
        while i < len(t):
            p = t[i]
            key = stale.get(p, r[i])
            if key < request:
                i += 1
                continue
            self._tracked.append(p)
            if p >= on_or_after and self.avail_during(p, duration) >= request:
                if p + duration > self.base + self.horizon:
                    return
                yield p
            i += 1

    # -- spans ---------------------------------------------------------------
    def _split(self, time: int) -> int:
        t = self._t
        i = bisect_right(t, time) - 1
        if t[i] != time:
            i += 1
            t.insert(i, time)
            self._r.insert(i, self._r[i - 1])
        return i

    def _rekey(self, i: int, j: int) -> None:
        if self._stale:
            for k in range(i, j):
                self._stale.pop(self._t[k], None)

    def add_span(self, start: int, duration: int, count: int) -> int:
        """Occupy ``count`` units over ``[start, start+duration)``; return the span id.

        Raises
        ------
        PlannerError
            For a bad window or when fewer than ``count`` units are free.
        """
        end = start + duration
        if start < self.base or duration < 1 or end > self.base + self.horizon:
            raise PlannerError(
                f"planner {self.rtype!r}: invalid time window at={start} duration={duration}"
            )
        if count < 0 or count > self.total:
            raise PlannerError(f"planner {self.rtype!r}: span count {count} out of range")
        t = self._t
        r = self._r
        i = bisect_right(t, start) - 1
        j = bisect_left(t, end, i + 1)
        if count and (r[i] if j - i == 1 else min(r[i:j])) < count:
            raise PlannerError(
                f"planner {self.rtype!r}: {count} units not free during [{start}, {end})"
            )
        if self._tracked:
            self._restore()
        if t[i] != start:
            i += 1
            t.insert(i, start)
            r.insert(i, r[i - 1])
            j += 1
        if j == len(t) or t[j] != end:
            t.insert(j, end)
            r.insert(j, r[j - 1])
        if count:
            if j - i == 1:
                r[i] -= count
            else:
                for k in range(i, j):
                    r[k] -= count
        if self._stale:
            self._rekey(i, j)
        refs = self._refs
        refs[start] = refs.get(start, 0) + 1
        refs[end] = refs.get(end, 0) + 1
        sid = self._next
        self._next = sid + 1
        self._spans[sid] = (start, end, count)
        return sid

    def _unref(self, time: int) -> None:
        n = self._refs[time] - 1
        if n:
            self._refs[time] = n
            return
        del self._refs[time]
        self._stale.pop(time, None)
        t = self._t
        i = bisect_left(t, time)
        if i > 0:
            del t[i]
            del self._r[i]

    def _adjust(self, start: int, end: int, delta: int) -> None:
        t = self._t
        i = bisect_left(t, start)
        j = bisect_left(t, end, i)
        r = self._r
        if delta:
            for k in range(i, j):
                r[k] += delta
        self._rekey(i, j)

    def rem_span(self, span_id: int) -> None:
        """Release a span."""
        try:
            start, end, count = self._spans.pop(span_id)
        except KeyError:
            raise PlannerError(f"planner {self.rtype!r}: unknown span {span_id}") from None
        self._restore()
        self._adjust(start, end, count)
        self._unref(end)
        self._unref(start)

    def reduce_span(self, span_id: int, amount: int) -> bool:
        """Lower a span's count by ``amount``; return True when the span is gone.

        Raises
        ------
        PlannerError
            When ``amount`` exceeds the span's count.
        """
        try:
            start, end, count = self._spans[span_id]
        except KeyError:
            raise PlannerError(f"planner {self.rtype!r}: unknown span {span_id}") from None
        if amount == count:
            self.rem_span(span_id)
            return True
        if amount == 0:
            return False
        if amount < 0 or amount > count:
            raise PlannerError(
                f"planner {self.rtype!r}: cannot reduce span {span_id} of {count} by {amount}"
            )
        self._restore()
        self._adjust(start, end, amount)
        self._spans[span_id] = (start, end, count - amount)
        return False

    def update_total(self, total: int) -> None:
        """Change the pool size; free counts move by the difference (never below 0)."""
        delta = total - self.total
        if delta == 0:
            return
        self.total = total
        r = self._r
        stale = self._stale
        for k, p in enumerate(self._t):
            stale.setdefault(p, r[k])
            v = r[k] + delta
            r[k] = v if v >= 0 else 0

    def has_span(self, span_id: int) -> bool:
        return span_id in self._spans

    def span_count(self, span_id: int) -> int:
        return self._span(span_id)[2]

    def span_start(self, span_id: int) -> int:
        return self._span(span_id)[0]

    def span_duration(self, span_id: int) -> int:
        s = self._span(span_id)
        return s[1] - s[0]

    def _span(self, span_id: int) -> tuple[int, int, int]:
        try:
            return self._spans[span_id]
        except KeyError:
            raise PlannerError(f"planner {self.rtype!r}: unknown span {span_id}") from None

    def span_ids(self) -> list[int]:
        return list(self._spans)

    def __len__(self) -> int:
        """Number of active spans."""
        return len(self._spans)

    def reset(self) -> None:
        """Drop every span."""
        self._t = [self.base]
        self._r = [self.total]
        self._spans.clear()
        self._refs.clear()
        self._stale.clear()
        self._tracked = []

    def points(self) -> list[int]:
        """Scheduled points (breakpoints of the step function)."""
        return list(self._t)

    def __repr__(self) -> str:
        return f"Planner({self.rtype!r}, total={self.total}, spans={len(self._spans)})"


Spans = tuple[tuple[int, int, int, int], ...]


def spans_avail(spans: Spans, total: int, at: int, duration: int) -> int:
    """Minimum units of ``total`` free over ``[at, at+duration)`` given ``spans``.

    ``spans`` is a tuple of ``(id, start, end, count)``.  A vertex carries
    one span per job holding it, so scanning them is cheaper than keeping a
    step function, and a tuple of ints costs the cyclic garbage collector
    nothing once it has seen it (large graphs hold one per allocated vertex).
    """
    end = at + duration
    hits = [(s, e, c) for _i, s, e, c in spans if c and s < end and e > at]
    if not hits:
        return total
    if len(hits) == 1:
        return total - hits[0][2]
    # sweep the overlapping spans: ends sort before starts at one instant
    events = sorted(
        [(max(s, at), 1, c) for s, _e, c in hits] + [(min(e, end), 0, -c) for _s, e, c in hits]
    )
    used = peak = 0
    for _t, _kind, c in events:
        used += c
        if used > peak:
            peak = used
    return total - peak


def spans_add(
    spans: Spans, total: int, sid: int, start: int, duration: int, count: int, rtype: str = ""
) -> Spans:
    """``spans`` plus span ``sid``; the errors are :meth:`Planner.add_span`'s."""
    end = start + duration
    if start < 0 or duration < 1 or end > INT64_MAX:
        raise PlannerError(f"planner {rtype!r}: invalid time window at={start} duration={duration}")
    if count < 0 or count > total:
        raise PlannerError(f"planner {rtype!r}: span count {count} out of range")
    if count and spans and spans_avail(spans, total, start, duration) < count:
        raise PlannerError(f"planner {rtype!r}: {count} units not free during [{start}, {end})")
    return (*spans, (sid, start, end, count))


def spans_find(spans: Spans, sid: int, rtype: str = "") -> tuple[int, int, int, int]:
    """The ``(id, start, end, count)`` of span ``sid``."""
    for sp in spans:
        if sp[0] == sid:
            return sp
    raise PlannerError(f"planner {rtype!r}: unknown span {sid}")


def spans_remove(spans: Spans, sid: int, rtype: str = "") -> Spans:
    """``spans`` without span ``sid``."""
    out = tuple(sp for sp in spans if sp[0] != sid)
    if len(out) == len(spans):
        raise PlannerError(f"planner {rtype!r}: unknown span {sid}")
    return out


class SpanPlanner:
    """:class:`Planner`'s interface over the ``spans_*`` functions.

    The graph stores vertex planners as bare span tuples; this wrapper is
    the same thing as an object (for tests and callers outside the graph).
    """

    __slots__ = ("total", "rtype", "_spans", "_next")

    def __init__(self, total: int, rtype: str = ""):
        if total < 0:
            raise PlannerError(f"planner for {rtype!r}: negative total {total}")
        self.total = total
        self.rtype = rtype
        self._spans: Spans = ()
        self._next = 0

    def avail_at(self, at: int) -> int:
        """Units free at instant ``at``."""
        return self.total - sum(c for _i, s, e, c in self._spans if s <= at < e)

    def avail_during(self, at: int, duration: int) -> int:
        """Minimum units free over ``[at, at+duration)``."""
        return spans_avail(self._spans, self.total, at, duration)

    def add_span(self, start: int, duration: int, count: int) -> int:
        """Occupy ``count`` units over ``[start, start+duration)``; return the span id."""
        sid = self._next
        self._spans = spans_add(self._spans, self.total, sid, start, duration, count, self.rtype)
        self._next = sid + 1
        return sid

    def rem_span(self, span_id: int) -> None:
        self._spans = spans_remove(self._spans, span_id, self.rtype)

    def span_count(self, span_id: int) -> int:
        return spans_find(self._spans, span_id, self.rtype)[3]

    def span_start(self, span_id: int) -> int:
        return spans_find(self._spans, span_id, self.rtype)[1]

    def span_duration(self, span_id: int) -> int:
        sp = spans_find(self._spans, span_id, self.rtype)
        return sp[2] - sp[1]

    def __len__(self) -> int:
        return len(self._spans)

    def reset(self) -> None:
        self._spans = ()


class PlannerMulti:
    """One :class:`Planner` per resource type, with spans across all of them.

    A multi-span id maps to one span per type (``-1`` once a partial cancel
    removed that type's share).
    """

    __slots__ = ("base", "horizon", "types", "_index", "planners", "_lookup", "_next")

    def __init__(
        self,
        totals: Sequence[int],
        types: Sequence[str],
        base: int = 0,
        horizon: int = INT64_MAX,
    ):
        if len(totals) != len(types) or not types:
            raise PlannerError("planner_multi needs one total per resource type")
        self.base = base
        self.horizon = horizon
        self.types: list[str] = list(types)
        self._index = {t: i for i, t in enumerate(self.types)}
        self.planners = [Planner(n, t, base, horizon) for n, t in zip(totals, types, strict=False)]
        self._lookup: dict[int, dict[str, int]] = {}
        self._next = 0

    def __len__(self) -> int:
        return len(self.types)

    def index(self, rtype: str) -> int:
        """Index of ``rtype`` or -1."""
        return self._index.get(rtype, -1)

    def total_at(self, i: int) -> int:
        return self.planners[i].total

    def avail_at(self, at: int, i: int) -> int:
        return self.planners[i].avail_at(at)

    def counts_for(self, lookup: dict[str, int]) -> list[int]:
        """Per-type request vector taken from ``lookup`` (0 for absent types)."""
        return [lookup.get(t, 0) for t in self.types]

    def avail_during(self, at: int, duration: int, counts: Sequence[int]) -> bool:
        """True when every type has its count free during the window."""
        for p, c in zip(self.planners, counts, strict=False):
            if p.avail_during(at, duration) < c:
                return False
        return True

    def avail_times(self, on_or_after: int, duration: int, counts: Sequence[int]) -> Iterator[int]:
        """Scheduled points at which every type's count fits, earliest first."""
        first = self.planners[0]
        rest = list(zip(self.planners[1:], counts[1:], strict=False))
        for t in first.avail_times(on_or_after, duration, counts[0]):
            if all(p.avail_during(t, duration) >= c for p, c in rest):
                yield t

    def add_span(self, start: int, duration: int, counts: Sequence[int]) -> int:
        """Add one span per type; all or nothing."""
        added: dict[str, int] = {}
        try:
            for p, c in zip(self.planners, counts, strict=False):
                added[p.rtype] = p.add_span(start, duration, c)
        except PlannerError:
            for p in self.planners:
                if p.rtype in added:
                    p.rem_span(added[p.rtype])
            raise
        mid = self._next
        self._next += 1
        self._lookup[mid] = added
        return mid

    def rem_span(self, mspan: int) -> None:
        try:
            spans = self._lookup.pop(mspan)
        except KeyError:
            raise PlannerError(f"planner_multi: unknown span {mspan}") from None
        for rtype, sid in spans.items():
            i = self._index.get(rtype)
            if i is not None and sid != -1 and self.planners[i].has_span(sid):
                self.planners[i].rem_span(sid)

    def reduce_span(self, mspan: int, reductions: dict[str, int]) -> bool:
        """Reduce a span by per-type amounts; return True when it is gone entirely.

        Types tracked here but absent from ``reductions`` are reduced by 0,
        which removes their share when it was already empty (as Fluxion's
        ``planner_multi_reduce_span`` does).
        """
        try:
            spans = self._lookup[mspan]
        except KeyError:
            raise PlannerError(f"planner_multi: unknown span {mspan}") from None
        for _i, p in enumerate(self.planners):
            sid = spans.get(p.rtype, -1)
            if sid == -1 or not p.has_span(sid):
                continue
            amount = reductions.get(p.rtype, 0)
            if p.reduce_span(sid, amount):
                spans[p.rtype] = -1
        if all(s == -1 for s in spans.values()):
            del self._lookup[mspan]
            return True
        return False

    def span_planned_at(self, mspan: int, i: int) -> int:
        spans = self._lookup.get(mspan)
        if spans is None:
            raise PlannerError(f"planner_multi: unknown span {mspan}")
        p = self.planners[i]
        sid = spans.get(p.rtype, -1)
        if sid == -1 or not p.has_span(sid):
            return 0
        return p.span_count(sid)

    def has_span(self, mspan: int) -> bool:
        return mspan in self._lookup

    def span_size(self) -> int:
        return len(self._lookup)

    def update(self, totals: Sequence[int], types: Sequence[str]) -> None:
        """Re-prime with new totals and types, keeping existing spans."""
        old = {p.rtype: p for p in self.planners}
        new = []
        for n, t in zip(totals, types, strict=False):
            p = old.get(t)
            if p is None:
                p = Planner(n, t, self.base, self.horizon)
            else:
                p.update_total(n)
            new.append(p)
        self.planners = new
        self.types = list(types)
        self._index = {t: i for i, t in enumerate(self.types)}

    def reset(self) -> None:
        for p in self.planners:
            p.reset()
        self._lookup.clear()

    def __repr__(self) -> str:
        body = ", ".join(f"{p.rtype}={p.total}" for p in self.planners)
        return f"PlannerMulti({body}, spans={len(self._lookup)})"
