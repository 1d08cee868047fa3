"""JobStore: job-list snapshots + journal events, filters, sorting, paging."""

import pytest

from fluxlab.job.states import JobResult, JobState
from fluxlab.jupyter.model.jobs import JobStore, status_color

JOBSPEC = {
    "version": 1,
    "resources": [
        {"type": "slot", "count": 2, "label": "task", "with": [{"type": "core", "count": 3}]}
    ],
    "tasks": [{"command": ["/bin/sleep", "5"], "slot": "task", "count": {"per_slot": 1}}],
    "attributes": {"system": {}},
}
R1 = {
    "version": 1,
    "execution": {"R_lite": [{"rank": "0-1", "children": {"core": "0-2"}}], "nodelist": ["n[0-1]"]},
}


def ev(jobid, name, ts, n=1, **ctx):
    e = {"id": jobid, "n": n, "event": {"timestamp": ts, "name": name, "context": ctx}}
    return e


def lifecycle(store, jobid, t=100.0, status=0):
    sub = ev(jobid, "submit", t, n=0, userid=1, urgency=16, flags=0)
    sub["jobspec"] = JOBSPEC
    store.apply(sub)
    store.apply(ev(jobid, "validate", t + 1))
    store.apply(ev(jobid, "depend", t + 2))
    store.apply(ev(jobid, "priority", t + 3, priority=16))
    alloc = ev(jobid, "alloc", t + 4)
    alloc["R"] = R1
    store.apply(alloc)
    store.apply(ev(jobid, "start", t + 5))
    store.apply(ev(jobid, "finish", t + 10, status=status))
    store.apply(ev(jobid, "release", t + 10, ranks="all", final=True))
    store.apply(ev(jobid, "free", t + 11))
    store.apply(ev(jobid, "clean", t + 12))


def test_journal_lifecycle_fields():
    s = JobStore(clock=lambda: 200.0)
    lifecycle(s, 5)
    row = s.rows[5]
    assert row.state == JobState.INACTIVE and row.result == JobResult.COMPLETED
    assert (row.name, row.ntasks, row.ncores) == ("sleep", 2, 6)
    assert (row.nnodes, row.ranks, row.nodelist) == (2, "0-1", "n[0-1]")
    assert row.t_run == 104.0 and row.t_cleanup == 110.0 and row.alloc is None
    assert row.returncode == 0 and row.status == "COMPLETED"
    d = row.as_dict(200.0)
    assert d["runtime"] == "6s" and d["color"] == status_color("COMPLETED")


def test_allocation_held_while_running_only():
    s = JobStore()
    sub = ev(1, "submit", 1.0, n=0, userid=1, urgency=16, flags=0)
    s.apply(sub)
    for name in ("validate", "depend"):
        s.apply(ev(1, name, 2.0))
    s.apply(ev(1, "priority", 3.0, priority=1))
    alloc = ev(1, "alloc", 4.0)
    alloc["R"] = R1
    s.apply(alloc)
    assert s.rows[1].alloc == {
        0: (frozenset({0, 1, 2}), frozenset()),
        1: (frozenset({0, 1, 2}), frozenset()),
    }
    assert [r.id for r in s.running()] == [1]
    s.apply(ev(1, "exception", 5.0, type="cancel", severity=0, note="bye"))
    s.apply(ev(1, "free", 6.0))
    s.apply(ev(1, "clean", 7.0))
    r = s.rows[1]
    assert r.status == "CANCELED" and r.exc_note == "bye" and r.returncode == -128
    assert s.running() == []


def test_failed_exit_code_and_signal():
    s = JobStore()
    lifecycle(s, 1, status=3 << 8)
    lifecycle(s, 2, status=9)
    assert s.rows[1].status == "FAILED" and s.rows[1].returncode == 3
    assert s.rows[2].returncode == -9


def test_snapshot_behind_journal_moves_forward():
    """job-list may lag the journal: events past the snapshot move rows forward."""
    s = JobStore()
    s.load_records([{"id": 7, "state": int(JobState.SCHED), "name": "x", "t_submit": 1.0}])
    s.apply(ev(7, "start", 9.0))  # alloc was missed: start still means RUN
    assert s.rows[7].state == JobState.RUN and s.rows[7].t_run == 9.0


def test_snapshot_ahead_of_buffered_events_is_not_undone():
    s = JobStore()
    s.load_records([{"id": 7, "state": int(JobState.RUN), "name": "x", "t_run": 5.0}])
    for name in ("validate", "depend"):
        s.apply(ev(7, name, 1.0))
    s.apply(ev(7, "priority", 2.0, priority=3))
    assert s.rows[7].state == JobState.RUN and s.rows[7].t_run == 5.0


def test_later_snapshot_record_does_not_regress_journal_state():
    s = JobStore()
    lifecycle(s, 3)
    s.load_records([{"id": 3, "state": int(JobState.SCHED)}])
    assert s.rows[3].state == JobState.INACTIVE


def test_orphan_events_wait_for_their_record():
    s = JobStore()
    assert not s.apply(ev(9, "priority", 2.0, priority=1))
    assert 9 in s.orphans and 9 not in s.rows
    s.load_records([{"id": 9, "state": int(JobState.PRIORITY), "name": "late"}])
    assert s.rows[9].state == JobState.SCHED and not s.orphans


def test_malformed_entries_are_ignored():
    s = JobStore()
    assert not s.apply({"id": "x"})
    assert not s.apply({"event": {}})
    assert s.load_records([{"no": "id"}, {"id": None}]) == 0


def test_filters_sort_page_and_counts():
    s = JobStore(clock=lambda: 1000.0)
    for i in range(1, 31):
        lifecycle(s, i, t=float(i), status=0 if i % 3 else 1 << 8)
    s.load_records(
        [{"id": 100 + i, "state": int(JobState.SCHED), "name": f"p{i}"} for i in range(5)]
    )
    assert s.counts() == {"COMPLETED": 20, "FAILED": 10, "SCHED": 5}
    rows, n = s.page("failed", limit=4)
    assert n == 10 and [r["id"] for r in rows] == [30, 27, 24, 21]
    rows, n = s.page("pending", sort="id", descending=False)
    assert n == 5 and rows[0]["id"] == 100
    rows, n = s.page("all", name="p*", limit=100)
    assert n == 5
    rows, n = s.page("all", name="SLE", offset=25, limit=10)
    assert n == 30 and len(rows) == 5
    assert s.select("all", sort="runtime")[0].runtime(1000.0) == 6.0


def test_bad_filter_and_sort_are_value_errors():
    s = JobStore()
    with pytest.raises(ValueError, match="unknown state filter 'bogus'"):
        s.select("bogus")
    with pytest.raises(ValueError, match="unknown sort key 'color'"):
        s.select("all", sort="color")


def test_select_is_cached_until_version_moves():
    s = JobStore()
    lifecycle(s, 1)
    a = s.select()
    assert s.select() is a
    lifecycle(s, 2)
    assert s.select() is not a and len(s.select()) == 2
