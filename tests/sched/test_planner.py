"""Planner: availability over time, spans, earliest-fit search."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from fluxlab.sched.planner import Planner, PlannerError, PlannerMulti, SpanPlanner


def test_doc_example_earliest_time():
    # Fluxion planner docs: 10 units, 5 used [t1,t2), 3 used [t2,t3)
    p = Planner(10, "core")
    p.add_span(10, 10, 5)
    p.add_span(20, 10, 3)
    assert next(p.avail_times(1, 5, 7)) == 20
    assert next(p.avail_times(1, 5, 5)) == 10
    assert p.avail_during(0, 100) == 5
    assert p.avail_at(25) == 7
    assert p.avail_at(30) == 10


def test_add_remove_restores_state():
    p = Planner(4)
    a = p.add_span(0, 100, 3)
    b = p.add_span(50, 100, 1)
    assert p.avail_during(0, 200) == 0
    with pytest.raises(PlannerError):
        p.add_span(60, 10, 1)
    p.rem_span(a)
    assert p.avail_during(0, 200) == 3
    p.rem_span(b)
    assert p.points() == [0]
    assert p.avail_during(0, 10**12) == 4


def test_bad_windows_and_spans():
    p = Planner(2)
    with pytest.raises(PlannerError):
        p.add_span(-1, 10, 1)
    with pytest.raises(PlannerError):
        p.add_span(0, 0, 1)
    with pytest.raises(PlannerError):
        p.add_span(0, 10, 3)
    with pytest.raises(PlannerError):
        p.rem_span(99)
    with pytest.raises(PlannerError):
        Planner(-1)


def test_reduce_span():
    p = Planner(5)
    s = p.add_span(0, 10, 4)
    assert p.reduce_span(s, 1) is False
    assert p.avail_at(0) == 2
    with pytest.raises(PlannerError):
        p.reduce_span(s, 9)
    assert p.reduce_span(s, 3) is True
    assert p.avail_at(0) == 5


def test_update_total_keeps_stale_search_keys():
    # Like Fluxion, growing the pool does not re-index points until a span
    # touches them, so a point that was full stays skipped by the search.
    p = Planner(1)
    p.add_span(0, 100, 1)
    p.add_span(100, 100, 1)
    p.update_total(2)
    assert p.avail_during(100, 50) == 1
    assert list(p.avail_times(1, 50, 1)) == [200]
    assert list(p.avail_times(1, 50, 1)) == [200]
    p.rem_span(p.add_span(100, 10, 1))  # a span over the point re-indexes it
    assert list(p.avail_times(1, 50, 1)) == [100, 200]


def test_planner_multi_all_or_nothing():
    m = PlannerMulti([4, 2], ["core", "gpu"])
    sid = m.add_span(0, 10, [2, 1])
    with pytest.raises(PlannerError):
        m.add_span(0, 10, [1, 2])
    assert m.avail_at(0, 0) == 2 and m.avail_at(0, 1) == 1
    assert m.avail_during(0, 10, [2, 1])
    assert not m.avail_during(0, 10, [3, 0])
    assert m.span_planned_at(sid, 1) == 1
    assert m.reduce_span(sid, {"core": 2}) is False
    assert m.reduce_span(sid, {"gpu": 1}) is True
    assert m.span_size() == 0
    m.update([8], ["core"])
    assert m.types == ["core"] and m.total_at(0) == 8


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 50), st.integers(1, 30), st.integers(0, 3)), max_size=12))
def test_matches_reference_model(spans):
    total = 6
    p = Planner(total)
    live = {}
    for start, dur, count in spans:
        free = min(
            total - sum(c for s, e, c in live.values() if s <= t < e)
            for t in range(start, start + dur)
        )
        if free >= count:
            live[p.add_span(start, dur, count)] = (start, start + dur, count)
        else:
            with pytest.raises(PlannerError):
                p.add_span(start, dur, count)
    for t in range(0, 90):
        used = sum(c for s, e, c in live.values() if s <= t < e)
        assert p.avail_at(t) == total - used
    for sid in list(live)[::2]:
        p.rem_span(sid)
        del live[sid]
    for t in range(0, 90, 7):
        assert p.avail_at(t) == total - sum(c for s, e, c in live.values() if s <= t < e)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 40), st.integers(1, 25), st.integers(0, 3), st.booleans()),
        max_size=14,
    ),
    st.lists(st.tuples(st.integers(0, 70), st.integers(1, 30)), min_size=1, max_size=8),
)
def test_span_planner_agrees_with_planner(ops, queries):
    total = 4
    ref, fast = Planner(total, "core"), SpanPlanner(total, "core")
    ids = []
    for start, dur, count, remove in ops:
        if remove and ids:
            a, b = ids.pop(len(ids) // 2)
            ref.rem_span(a)
            fast.rem_span(b)
            continue
        try:
            a = ref.add_span(start, dur, count)
        except PlannerError as exc:
            with pytest.raises(PlannerError) as info:
                fast.add_span(start, dur, count)
            assert str(info.value) == str(exc)
            continue
        ids.append((a, fast.add_span(start, dur, count)))
    for at, dur in queries:
        assert fast.avail_during(at, dur) == ref.avail_during(at, dur)
        assert fast.avail_at(at) == ref.avail_at(at)
    for a, b in ids:
        assert fast.span_count(b) == ref.span_count(a)
        assert fast.span_start(b) == ref.span_start(a)
        assert fast.span_duration(b) == ref.span_duration(a)
