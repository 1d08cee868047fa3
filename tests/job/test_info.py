"""JobInfo fields and the flux jobs format language."""

import datetime

import pytest

from fluxlab.job.info import JobInfo, JobInfoError
from fluxlab.job.info_format import (
    JOB_FORMATS,
    JobInfoFormat,
    get_job_format,
    job_fields_to_attrs,
)
from fluxlab.job.jobid import JobID
from fluxlab.job.record import JobRecord
from fluxlab.job.states import JobResult, JobState
from fluxlab.util.outputformat import FormatError

NOW = 1_700_000_100.0


def info(**kw):
    base = {"id": 6731191091817518, "userid": 0, "username": "alice", "urgency": 16}
    base.update(kw)
    return JobInfo(base, now=lambda: NOW)


def test_running_job_fields():
    job = info(
        state=int(JobState.RUN),
        name="sleep",
        ntasks=4,
        nnodes=2,
        nodelist="n[0-1]",
        t_submit=NOW - 100,
        t_run=NOW - 90,
        expiration=NOW + 30,
        priority=16,
    )
    assert (job.state, job.state_single, job.status, job.status_abbrev) == ("RUN", "R", "RUN", "R")
    assert job.runtime == 90 and job.contextual_time == 90
    assert job.contextual_info == "n[0-1]" and job.t_remaining == 30
    assert job.returncode == "" and job.result == "" and job.inactive_reason == ""
    assert str(job.id) == "ƒuZZybuNNy" and job.id.f58 == "ƒuZZybuNNy"
    assert job.state_emoji == "\U0001f3c3"


@pytest.mark.parametrize(
    "kw, expected",
    [
        ({"state": 4}, "priority-wait"),
        ({"state": 2, "dependencies": ["after-finish=fA", "x"]}, "depends:after-finish=fA,x"),
        ({"state": 8, "annotations": {"sched": {"t_estimate": NOW + 90}}}, "eta:1.5m"),
        ({"state": 8, "annotations": {"sched": {"t_estimate": NOW - 1}}}, "eta:now"),
        ({"state": 8, "urgency": 0}, "held"),
        ({"state": 8, "priority": 0}, "priority-hold"),
        ({"state": 8, "priority": 5}, ""),
    ],
)
def test_contextual_info(kw, expected):
    assert info(**kw).contextual_info == expected


@pytest.mark.parametrize(
    "kw, rc, reason, abbrev",
    [
        ({"result": 1, "waitstatus": 0}, 0, "Exit 0", "CD"),
        ({"result": 2, "waitstatus": 3 << 8}, 3, "Exit 3", "F"),
        ({"result": 2, "waitstatus": 127 << 8}, 127, "command not found", "F"),
        ({"result": 2, "waitstatus": 137 << 8}, 137, "Killed", "F"),
        ({"result": 2, "waitstatus": 9}, -9, "Exit -9", "F"),
        (
            {
                "result": 4,
                "exception_occurred": True,
                "exception_type": "cancel",
                "exception_note": "by me",
                "exception_severity": 0,
            },
            -128,
            "Canceled: by me",
            "CA",
        ),
        ({"result": 8, "waitstatus": 14}, -14, "Timeout", "TO"),
        (
            {
                "result": 2,
                "exception_occurred": True,
                "exception_type": "alloc",
                "exception_severity": 0,
                "exception_note": "nope",
            },
            1,
            "Exception: type=alloc note=nope",
            "F",
        ),
    ],
)
def test_inactive(kw, rc, reason, abbrev):
    job = info(state=64, t_run=NOW - 10, t_cleanup=NOW - 4, **kw)
    assert job.returncode == rc
    assert job.inactive_reason == reason
    assert job.status_abbrev == abbrev and job.status == JobResult(kw["result"]).name
    assert job.runtime == 6


def test_annotations_and_to_dict():
    job = info(
        state=16,
        annotations={"user": {"uri": "ssh://h/p", "k": 1}, "sched": {"reason_pending": "r"}},
    )
    assert job.uri == "ssh://h/p" and job.user.k == 1 and str(job.sched.missing.deeper) == ""
    d = job.to_dict()
    assert d["id"] == 6731191091817518 and d["uri"] == "ssh://h/p"
    assert "t_run" not in d and d["exception"] == {"occurred": False}
    assert "name" not in d and "name" in job.to_dict(filtered=False)


def test_bad_input():
    with pytest.raises(JobInfoError):
        JobInfo({"state": 2})
    with pytest.raises(JobInfoError):
        JobInfo({"id": "bogus"})
    with pytest.raises(JobInfoError):
        JobInfo("x")
    with pytest.raises(AttributeError):
        _ = info().nonexistent_field


def test_default_format_headings_and_rows():
    jobs = [
        info(state=16, name="sleep", ntasks=4, nnodes=2, nodelist="n[0-1]", t_run=NOW - 90),
        info(id=1, state=8, name="averyverylongname", ntasks=1, duration=300, username="bob"),
    ]
    lines = JobInfoFormat("default").render(jobs)
    assert lines[0] == "       JOBID USER     NAME       ST NTASKS NNODES     TIME INFO"
    assert lines[1] == "  ƒuZZybuNNy alice    sleep       R      4      2     1.5m n[0-1]"
    assert lines[2] == "          ƒ2 bob      averyvery+  S      1      -       5m "
    # ?:{queue} appears once any job has a queue
    jobs[0]._data["queue"] = "batch"
    assert JobInfoFormat("default").render(jobs)[0].split()[:3] == ["JOBID", "QUEUE", "USER"]


def test_expand_username_column():
    jobs = [info(state=16, username="a_very_long_user", name="x", ntasks=1, nnodes=1)]
    header, row = JobInfoFormat("default").render(jobs)
    assert "USER             NAME" in header and "a_very_long_user x" in row


def test_conversions_on_jobs():
    job = info(state=64, result=1, waitstatus=0, t_run=NOW - 3725, t_cleanup=NOW, t_submit=NOW)
    fmt = JobInfoFormat(
        "{id.dec} {runtime!F} {runtime!H} {t_submit!d:%H:%M} {name:<10.10}|{state_single}"
    )
    hhmm = datetime.datetime.fromtimestamp(NOW).strftime("%H:%M")
    assert fmt.format(job) == f"6731191091817518 1.035h 1:02:05 {hhmm} {'':<10}|I"
    assert (
        JobInfoFormat("{annotations.sched.resources_summary}").header() == "SCHED.RESOURCES_SUMMARY"
    )
    assert JobInfoFormat("{sched.foo} {user.bar}").header() == "SCHED.FOO USER.BAR"


def test_named_formats_parse():
    for name in JOB_FORMATS:
        JobInfoFormat(name).render([info(state=2)])
    assert get_job_format("{id}") == "{id}"
    with pytest.raises(FormatError, match="No such format"):
        get_job_format("bogus")
    with pytest.raises(FormatError, match="Unknown format field"):
        JobInfoFormat("{bogus_field}")


def test_fields_to_attrs():
    assert job_fields_to_attrs(["id.f58", "runtime", "sched.x", "name"]) == {
        "t_run",
        "t_cleanup",
        "annotations",
        "name",
    }
    with pytest.raises(FormatError):
        job_fields_to_attrs(["nope"])


def test_jobinfo_from_replayed_eventlog():
    events = [
        {"timestamp": 10.0, "name": "submit", "context": {"urgency": 16, "userid": 0, "flags": 0}},
        {"timestamp": 11.0, "name": "validate"},
        {"timestamp": 12.0, "name": "depend"},
        {"timestamp": 13.0, "name": "priority", "context": {"priority": 16}},
        {"timestamp": 14.0, "name": "alloc"},
        {"timestamp": 15.0, "name": "start"},
        {"timestamp": 20.0, "name": "finish", "context": {"status": 256}},
        {"timestamp": 21.0, "name": "release", "context": {"ranks": "all", "final": True}},
        {"timestamp": 22.0, "name": "free"},
        {"timestamp": 23.0, "name": "clean"},
    ]
    rec = JobRecord.replay(events, jobid=JobID(42))
    job = JobInfo({**rec.to_dict(), "name": "app", "ntasks": 1, "username": "u"})
    assert (job.status, job.returncode, job.runtime, job.inactive_reason) == (
        "FAILED",
        1,
        6.0,
        "Exit 1",
    )
    assert job.t_inactive == 23.0
