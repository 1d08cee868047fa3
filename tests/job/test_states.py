"""RFC 21 state constants, the transition table and eventlog replay."""

import pytest
from hypothesis import given, settings, strategies

from fluxlab.job.eventlog import format_eventlog
from fluxlab.job.jobid import JobID
from fluxlab.job.record import JobRecord
from fluxlab.job.states import (
    TRANSITIONS,
    JobResult,
    JobState,
    JobStateError,
    next_state,
    resulttostr,
    statetostr,
    strtoresult,
    strtostate,
)


def ev(ts, name, **context):
    e = {"timestamp": float(ts), "name": name}
    if context:
        e["context"] = context
    return e


SUBMIT = ev(1, "submit", urgency=16, userid=1000, flags=0, version=1)


def normal_run(status=0):
    return [
        SUBMIT,
        ev(2, "validate"),
        ev(3, "depend"),
        ev(4, "priority", priority=16),
        ev(5, "alloc", annotations={"sched": {"resource_summary": "rank0/core0"}}),
        ev(6, "start"),
        ev(7, "finish", status=status),
        ev(8, "release", ranks="all", final=True),
        ev(9, "free"),
        ev(10, "clean"),
    ]


def test_constants_match_flux():
    assert [int(s) for s in (JobState.NEW, JobState.DEPEND, JobState.PRIORITY)] == [1, 2, 4]
    assert [int(s) for s in (JobState.SCHED, JobState.RUN, JobState.CLEANUP)] == [8, 16, 32]
    assert int(JobState.INACTIVE) == 64
    assert (int(JobState.PENDING), int(JobState.RUNNING), int(JobState.ACTIVE)) == (14, 48, 62)
    assert "".join(s.short for s in JobState if s.short != "?") == "NDPSRCI"
    assert JobState.SCHED in JobState.PENDING and JobState.RUN not in JobState.PENDING
    assert [r.short for r in JobResult] == ["CD", "F", "CA", "TO"]
    assert [int(r) for r in JobResult] == [1, 2, 4, 8]


def test_string_conversions():
    assert statetostr(JobState.RUN) == "RUN"
    assert statetostr(16, "S") == "R"
    assert statetostr(16, "l") == "run"
    assert statetostr(3) == "(unknown)"
    assert strtostate("r") is JobState.RUN
    assert strtostate("Pending") == JobState.PENDING
    assert resulttostr(4) == "CANCELED" and resulttostr(4, "S") == "CA"
    assert strtoresult("to") is JobResult.TIMEOUT
    for bad in ("bogus", 7, None):
        with pytest.raises(JobStateError):
            strtostate(bad)
        with pytest.raises(JobStateError):
            strtoresult(bad)


def test_table_is_closed_over_real_states():
    for (state, _), target in TRANSITIONS.items():
        assert state.short != "?" and target.short != "?"
    inactive_rows = [k for k in TRANSITIONS if k[0] is JobState.INACTIVE]
    assert inactive_rows == []


def test_normal_replay():
    jobid = JobID(123456)
    rec = JobRecord.replay(normal_run(), jobid=jobid)
    assert rec.state is JobState.INACTIVE
    assert rec.result is JobResult.COMPLETED and rec.returncode == 0
    assert (rec.t_submit, rec.t_depend, rec.t_run, rec.t_cleanup, rec.t_inactive) == (
        1,
        2,
        5,
        7,
        10,
    )
    assert rec.t_priority == 3 and rec.t_sched == 4
    assert rec.priority == 16 and rec.urgency == 16 and rec.userid == 1000
    assert rec.annotations == {"sched": {"resource_summary": "rank0/core0"}}
    assert [(t.from_state.short, t.to_state.short) for t in rec.log] == [
        ("N", "D"),
        ("D", "P"),
        ("P", "S"),
        ("S", "R"),
        ("R", "C"),
        ("C", "I"),
    ]
    # replaying the text form gives the same record
    again = JobRecord.replay(format_eventlog(normal_run()), jobid=jobid)
    assert again.to_dict() == rec.to_dict()
    assert rec.to_dict()["result"] == 1 and rec.to_dict()["success"] is True


def test_failed_exit_code_and_signal():
    rec = JobRecord.replay(normal_run(status=2 << 8))
    assert rec.result is JobResult.FAILED and rec.returncode == 2
    rec = JobRecord.replay(normal_run(status=9))
    assert rec.returncode == -9


def test_cancel_while_pending():
    events = [
        SUBMIT,
        ev(2, "validate"),
        ev(3, "depend"),
        ev(4, "priority", priority=16),
        ev(5, "exception", type="cancel", severity=0, note="by user", userid=1000),
        ev(6, "clean"),
    ]
    rec = JobRecord.replay(events)
    assert rec.result is JobResult.CANCELED and rec.returncode == -128
    assert rec.exception.type == "cancel" and rec.exception.note == "by user"
    assert rec.end_event.name == "exception"
    assert rec.t_run == 0.0 and rec.t_cleanup == 5


def test_timeout_while_running():
    events = normal_run()[:6] + [
        ev(6.5, "exception", type="timeout", severity=0, note="resource allocation expired"),
        ev(7, "finish", status=14),
        ev(8, "release", ranks="all", final=True),
        ev(9, "free"),
        ev(10, "clean"),
    ]
    rec = JobRecord.replay(events)
    assert rec.result is JobResult.TIMEOUT
    assert rec.state_times[JobState.CLEANUP] == 6.5


def test_nonfatal_exception_keeps_state_and_most_severe_wins():
    rec = JobRecord.replay(
        [
            SUBMIT,
            ev(2, "validate"),
            ev(3, "exception", type="info", severity=3, note="hmm"),
            ev(4, "exception", type="worse", severity=1, note="worse"),
            ev(5, "exception", type="later", severity=1, note="tie"),
        ]
    )
    assert rec.state is JobState.DEPEND
    assert rec.exception.type == "worse" and len(rec.exceptions) == 3


def test_urgency_and_requeue_and_restart():
    events = normal_run()[:4] + [
        ev(5, "urgency", urgency=0, userid=1000),
        ev(6, "priority", priority=0),
        ev(7, "flux-restart"),
        ev(8, "priority", priority=0),
    ]
    rec = JobRecord.replay(events)
    assert rec.state is JobState.SCHED and rec.urgency == 0 and rec.priority == 0
    assert [t.event for t in rec.log][-4:] == ["urgency", "priority", "flux-restart", "priority"]


def test_dependencies_outstanding_and_memo():
    rec = JobRecord()
    for e in [
        SUBMIT,
        ev(1.5, "dependency-add", description="after-finish=fA"),
        ev(2, "validate"),
        ev(2.5, "dependency-add", description="begin-time=10.000"),
        ev(3, "dependency-remove", description="after-finish=fA"),
        ev(3.5, "memo", uri="ssh://host/x", note="hi"),
        ev(3.6, "memo", note=None),
        ev(3.7, "set-flags", flags=["waitable"]),
    ]:
        rec.apply(e)
    assert rec.dependencies == ["begin-time=10.000"]
    assert rec.annotations == {"user": {"uri": "ssh://host/x"}}
    assert rec.waitable
    with pytest.raises(JobStateError, match="dependencies outstanding"):
        rec.apply(ev(4, "depend"))
    rec.apply(ev(4, "dependency-remove", description="begin-time=10.000"))
    assert rec.apply(ev(5, "depend")) is JobState.PRIORITY


def test_unknown_and_debug_events_allowed_everywhere():
    rec = JobRecord.replay([SUBMIT, ev(2, "debug.alloc-request"), ev(3, "my-plugin-event")])
    assert rec.state is JobState.NEW and rec.nevents == 3


def test_invalidate():
    rec = JobRecord.replay([SUBMIT, ev(2, "invalidate")])
    assert rec.state is JobState.INACTIVE and rec.invalid and rec.result is None


@pytest.mark.parametrize(
    "events, message",
    [
        ([ev(1, "validate")], "first event must be 'submit'"),
        ([SUBMIT, SUBMIT], "duplicate 'submit'"),
        ([SUBMIT, ev(2, "alloc")], r"impossible transition NEW->RUN/CLEANUP on event 'alloc'"),
        ([SUBMIT, ev(2, "validate"), ev(3, "start")], r"impossible transition DEPEND->RUN/CLEANUP"),
        ([SUBMIT, ev(2, "exception", type="cancel", severity=0)], "NEW->CLEANUP"),
        (normal_run() + [ev(11, "clean")], "INACTIVE->INACTIVE on event 'clean'"),
        (normal_run()[:6] + [ev(7, "release", ranks="all", final=True)], "RUN->CLEANUP"),
        (normal_run()[:7] + [ev(8, "clean")], "resources were never freed"),
        (
            [SUBMIT, ev(2, "validate"), ev(3, "dependency-remove", description="x")],
            "no outstanding",
        ),
        ([SUBMIT, ev(2, "validate"), ev(3, "exception", type="x", severity=9)], "severity"),
        ([ev(1, "submit", urgency=40, userid=1, flags=0)], "urgency must be an integer 0..31"),
        ([SUBMIT, ev(2, "set-flags", flags=["bogus"])], "context.flags"),
        (normal_run()[:4] + [ev(5, "priority", priority=-1)], "priority must be an integer"),
        (normal_run()[:6] + [ev(7, "finish")], "context.status"),
    ],
)
def test_impossible_or_malformed(events, message):
    jobid = JobID(77)
    with pytest.raises(JobStateError, match=message) as info:
        JobRecord.replay(events, jobid=jobid)
    assert (
        "job ƒ" in str(info.value) or "first event" in str(info.value) or "job f" in str(info.value)
    )


def test_failed_apply_leaves_record_unchanged():
    rec = JobRecord.replay(normal_run()[:3])
    before = rec.to_dict()
    with pytest.raises(JobStateError):
        rec.apply(ev(9, "clean"))
    assert rec.to_dict() == before and rec.state is JobState.PRIORITY


def test_next_state_pure():
    assert next_state(JobState.SCHED, "urgency", {"urgency": 3}) is JobState.PRIORITY
    assert next_state(JobState.RUN, "exception", {"severity": 2}) is JobState.RUN
    assert next_state(JobState.RUN, "exception", {"severity": 0}) is JobState.CLEANUP
    with pytest.raises(JobStateError, match="job ƒ2: impossible transition"):
        next_state(JobState.DEPEND, "clean", jobid="ƒ2")


def test_spec_doc_table_matches_code():
    import pathlib

    doc = (pathlib.Path(__file__).parents[2] / "docs" / "spec" / "job-states.md").read_text()
    states = [s for s in JobState if s.short != "?"]
    keys = list(dict.fromkeys(k for _, k in TRANSITIONS))
    for key in keys:
        cells = []
        for st in states:
            target = TRANSITIONS.get((st, key))
            cells.append("" if target is None else ("·" if target == st else f"**{target.name}**"))
        assert f"| `{key}` | " + " | ".join(cells) + " |" in doc, key


_EVENTS = [
    ("validate", {}),
    ("invalidate", {}),
    ("depend", {}),
    ("dependency-add", {"description": "after"}),
    ("dependency-remove", {"description": "after"}),
    ("priority", {"priority": 16}),
    ("urgency", {"urgency": 0, "userid": 1}),
    ("alloc", {}),
    ("start", {}),
    ("finish", {"status": 0}),
    ("release", {"ranks": "all", "final": False}),
    ("release", {"ranks": "all", "final": True}),
    ("free", {}),
    ("clean", {}),
    ("exception", {"type": "cancel", "severity": 0, "note": ""}),
    ("exception", {"type": "x", "severity": 1, "note": ""}),
    ("memo", {"k": 1}),
    ("flux-restart", {}),
    ("my-plugin-event", {}),
    ("submit", {"urgency": 16, "userid": 1, "flags": 0, "version": 1}),
]


@settings(max_examples=300, deadline=None)
@given(strategies.lists(strategies.integers(0, len(_EVENTS) - 1), max_size=25))
def test_the_step_cache_accepts_and_refuses_exactly_what_the_table_and_rules_do(picks):
    """``apply`` remembers (state, event) -> (next state, rule) for table
    events; a record applied with that cache warm and one applied with it
    cleared before every event agree on every event, accepted or refused."""
    import fluxlab.job.record as record

    warm, cold = JobRecord(1), JobRecord(1)
    for i, pick in enumerate([19, *picks]):  # a submit first, then anything
        name, ctx = _EVENTS[pick]
        event = ev(i + 1, name, **ctx)
        outcomes = []
        for rec, clear in ((warm, False), (cold, True)):
            if clear:
                record._STEPS.clear()
            try:
                outcomes.append(rec.apply(event))
            except JobStateError as e:
                outcomes.append(str(e))
        assert outcomes[0] == outcomes[1], (name, outcomes)
        assert warm.to_dict() == cold.to_dict()
