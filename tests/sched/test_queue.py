"""Queue policies: fcfs, easy, conservative, hybrid."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from fluxlab.sched import QueueManager, ResourceQuery, fake_nodes
from fluxlab.sched.errors import SchedError


def job(n, duration):
    return {
        "version": 1,
        "resources": [
            {
                "type": "node",
                "count": n,
                "exclusive": True,
                "with": [
                    {
                        "type": "slot",
                        "count": 1,
                        "label": "t",
                        "with": [{"type": "core", "count": 1}],
                    }
                ],
            }
        ],
        "tasks": [{"command": ["x"], "slot": "t", "count": {"per_slot": 1}}],
        "attributes": {"system": {"duration": duration}},
    }


def setup(policy, **kw):
    q = QueueManager(policy, ResourceQuery(fake_nodes(4, 2), policy="low"), **kw)
    assert q.submit(1, 16, job(3, 100), 0) == []
    q.submit(2, 16, job(4, 100), 1)
    q.submit(3, 16, job(1, 50), 2)
    q.submit(4, 16, job(1, 500), 3)
    return q


def kinds(decisions):
    return [(d.kind, d.jobid) for d in decisions]


def test_fcfs_blocks_behind_first_job():
    q = setup("fcfs")
    d = q.schedule(1000)
    assert kinds(d) == [("alloc", 1), ("annotate", 2)]
    assert d[1].annotations["sched"]["reason_pending"] == "insufficient resources"
    assert q.pending() == [2, 3, 4]


def test_easy_backfills_without_delaying_head():
    q = setup("easy")
    d = q.schedule(1000)
    assert kinds(d) == [("alloc", 1), ("annotate", 2), ("alloc", 3), ("annotate", 4)]
    assert d[1].annotations["sched"]["t_estimate"] == 1100
    assert "t_estimate" not in d[3].annotations["sched"]
    # reservations are dropped after the pass: the graph only holds running jobs
    assert q.matcher.reservations == set()


def test_conservative_reserves_every_blocked_job():
    q = setup("conservative")
    d = q.schedule(1000)
    assert d[3].annotations["sched"]["t_estimate"] == 1200


def test_hybrid_reservation_depth():
    q = setup("hybrid", reservation_depth=1)
    d = q.schedule(1000)
    assert "t_estimate" not in d[3].annotations["sched"]


def test_free_and_reschedule_and_annotation_dedup():
    q = setup("fcfs")
    q.schedule(1000)
    assert q.schedule(1010) == []  # nothing changed, nothing re-sent
    q.free(1)
    d = q.schedule(1100)
    assert d[0].kind == "alloc" and d[0].jobid == 2 and d[0].annotations == {"sched": None}
    with pytest.raises(SchedError):
        q.free(1)


def test_prioritize_cancel_and_deny():
    q = setup("fcfs")
    q.prioritize([(4, 30)])
    assert q.pending()[0] == 4
    assert kinds(q.cancel(3)) == [("cancel", 3)]
    assert q.cancel(3) == []
    d = q.submit(9, 16, job(5, 10), 5)
    assert kinds(d) == [("deny", 9)] and "unsatisfiable" in d[0].note
    d = q.submit(10, 16, {"version": 1}, 5)
    assert d[0].kind == "deny"
    with pytest.raises(SchedError):
        q.submit(4, 16, job(1, 1), 6)


def test_queue_depth_limits_a_pass():
    q = QueueManager("easy", ResourceQuery(fake_nodes(1, 1)), queue_depth=2)
    for i in range(5):
        q.submit(i, 16, job(1, 10), i)
    d = q.schedule(0)
    assert kinds(d) == [("alloc", 0), ("annotate", 1)]


def test_bad_policy():
    with pytest.raises(SchedError):
        QueueManager("lifo", None)


class _Spy:
    """Records the match operations a queue asks of its matcher."""

    def __init__(self, rq):
        self.rq = rq
        self.ops = []

    def __getattr__(self, name):
        return getattr(self.rq, name)

    def match(self, op, *a, **kw):
        self.ops.append(op)
        return self.rq.match(op, *a, **kw)


def test_blocked_job_known_satisfiable_skips_the_satisfiability_walk():
    spy = _Spy(ResourceQuery(fake_nodes(4, 2), policy="first"))
    q = QueueManager("fcfs", spy)
    q.submit(1, 16, job(4, 100), 0)
    q.submit(2, 16, job(4, 100), 1)
    assert kinds(q.schedule(0)) == [("alloc", 1), ("annotate", 2)]
    assert spy.ops[-1] == "allocate"  # job 2 was found satisfiable at submit
    # once the graph shrinks, the next pass checks again and denies job 2
    spy.rq.remove("/cluster0/node3", True)
    spy.ops.clear()
    d = q.schedule(10)
    assert spy.ops == ["allocate_with_satisfiability"]
    assert kinds(d) == [("deny", 2)]


def _one_core(duration=100):
    return {
        "version": 1,
        "resources": [
            {"type": "slot", "count": 1, "label": "t", "with": [{"type": "core", "count": 1}]}
        ],
        "tasks": [{"command": ["x"], "slot": "t", "count": {"per_slot": 1}}],
        "attributes": {"system": {"duration": duration}},
    }


_STEPS = st.lists(
    st.tuples(
        st.sampled_from(["submit", "submit", "cancel", "prioritize", "schedule", "free"]),
        st.integers(0, 40),
        st.integers(0, 3),
    ),
    max_size=120,
)


@settings(max_examples=150, deadline=None)
@given(steps=_STEPS)
def test_pending_order_survives_any_mix_of_removals_and_reprioritizing(steps):
    """The pending order is (priority high first, then submit time, then id)
    whatever removals and priority changes came before: removed entries are
    tombstones compacted later, and a job reinserted at a priority it had
    before appears exactly once."""
    q = QueueManager("fcfs", ResourceQuery(fake_nodes(1, 4), policy="low"), queue_depth=3)
    prio: dict[int, tuple[int, int]] = {}  # the oracle: pending job -> (priority, t_submit)
    running: list[int] = []
    t = 0
    for op, jobid, p in steps:
        if op == "submit" and jobid not in prio and jobid not in running:
            t += 1
            assert q.submit(jobid, p, _one_core(), t) == []
            prio[jobid] = (p, t)
        elif op == "cancel":
            d = q.cancel(jobid)
            assert kinds(d) == ([("cancel", jobid)] if prio.pop(jobid, None) else [])
        elif op == "prioritize" and jobid in prio:
            q.prioritize([(jobid, p)])
            prio[jobid] = (p, prio[jobid][1])
        elif op == "schedule":
            expect = sorted(prio, key=lambda j: (-prio[j][0], prio[j][1], j))
            started = [d.jobid for d in q.schedule(t) if d.kind == "alloc"]
            # fcfs starts a prefix of the queue order, at most the free cores
            assert started == expect[: len(started)]
            assert len(started) == min(len(expect), 3, 4 - len(running))
            for j in started:
                del prio[j]
            running += started
        elif op == "free" and running:
            q.free(running.pop(0))
        expect = sorted(prio, key=lambda j: (-prio[j][0], prio[j][1], j))
        assert q.pending() == expect


def test_a_resubmitted_id_with_the_same_key_as_its_dead_entry_queues_once():
    """A canceled job's entry stays until compaction; the same id submitted
    again with the same priority and time (a replayed submit) must neither
    compare the two jobs nor appear twice."""
    q = QueueManager("fcfs", ResourceQuery(fake_nodes(1, 1), policy="low"))
    q.submit(1, 16, _one_core(), 0)
    q.submit(2, 16, _one_core(), 1)
    q.cancel(2)
    q.submit(2, 16, _one_core(50), 1)  # another jobspec: the old and new jobs differ
    assert q.pending() == [1, 2]
    assert kinds(q.schedule(0)) == [("alloc", 1), ("annotate", 2)]
    assert q.pending() == [2]


def test_more_is_set_when_a_pass_started_all_it_considered_and_jobs_remain():
    q = QueueManager("fcfs", ResourceQuery(fake_nodes(1, 4), policy="low"), queue_depth=2)
    for j in range(1, 6):
        q.submit(j, 16, _one_core(), j)
    assert kinds(q.schedule(0)) == [("alloc", 1), ("alloc", 2)] and q.more
    assert kinds(q.schedule(0)) == [("alloc", 3), ("alloc", 4)] and q.more
    # the node is full: job 5 waits, and another pass now would change nothing
    assert kinds(q.schedule(0)) == [("annotate", 5)] and not q.more
    q.free(1)
    assert kinds(q.schedule(0)) == [("alloc", 5)] and not q.more  # nothing left pending
