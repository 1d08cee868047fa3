"""Jobs through the whole pipeline: ingest, job-manager, sched-simple, job-exec, exec.

These check the RFC 32 conversation between the real job manager and
job-exec: start/finish/release in the main eventlog, exit codes, cancel
(SIGTERM then SIGKILL), time limits from ``--time-limit`` and simulated jobs.
The main eventlog is read up to ``free`` (see ``test_job_becomes_inactive``).
"""

import errno
import signal

import pytest

import fluxlab
import fluxlab as flux
from fluxlab._proto import FLAG_STREAMING
from fluxlab.core.errors import FluxError
from fluxlab.job.eventlog import EventLogEvent
from fluxlab.job.jobid import job_key
from fluxlab.job.jobspec import JobspecV1
from fluxlab.testing import wait_for

PIPELINE = [
    ("kvs", "0", []),
    ("resource", "all", ["cores=2"]),
    ("job-info", "0", []),
    ("job-ingest", "0", []),
    ("job-manager", "0", []),
    ("sched-simple", "0", []),
    ("job-exec", "0", ["kill-timeout=0.5s"]),
    ("exec", "all", []),
]


@pytest.fixture(scope="module")
def inst():
    with fluxlab.start(size=2, modules=PIPELINE, conf={"job-manager": {"kill-timeout": 0.5}}) as i:
        yield i


@pytest.fixture
def h(inst):
    h = inst.handle()
    yield h
    h.close()


def js(cmd, **kw):
    kw.setdefault("environment", {"PATH": "/usr/bin:/bin"})
    return JobspecV1.from_command(cmd, **kw)


def events(h, jobid, path="eventlog", until=None, timeout=20.0):
    """Entries of a job eventlog via job-info, up to the end or to event ``until``."""
    if path == "eventlog" and until is None:
        until = "free"
    fut = h.rpc("job-info.eventlog-watch", {"id": int(jobid), "path": path}, flags=FLAG_STREAMING)
    out = []
    while True:
        try:
            ev = EventLogEvent(fut.get(timeout)["event"])
        except FluxError as e:
            assert e.errno == errno.ENODATA, e
            return out
        fut.reset()
        out.append(ev)
        if ev.name == until:
            fut.cancel()
            return out


def names(evs):
    return [e.name for e in evs]


def test_job_runs_to_completion(h):
    jobid = flux.job.submit(h, js(["sh", "-c", "echo hi; exit 3"], num_tasks=2))
    evs = events(h, jobid)
    n = names(evs)
    assert n[: n.index("alloc") + 1][-1] == "alloc"
    assert n[-4:] == ["start", "finish", "release", "free"]
    finish = next(e for e in evs if e.name == "finish")
    assert finish.context["status"] == 3 << 8
    release = next(e for e in evs if e.name == "release")
    assert release.context == {"ranks": "all", "final": True}


def test_cancel_escalates_to_sigkill(h):
    cmd = ["sh", "-c", 'trap "" TERM; echo ready; while :; do sleep 0.05; done']
    jobid = flux.job.submit(h, js(cmd))
    fut = h.rpc(
        "job-info.eventlog-watch", {"id": int(jobid), "path": "guest.output"}, flags=FLAG_STREAMING
    )
    while "ready" not in fut.get(20)["event"].get("context", {}).get("data", ""):
        fut.reset()
    fut.cancel()
    flux.job.cancel(h, jobid)
    evs = events(h, jobid)
    exc = next(e for e in evs if e.name == "exception")
    assert exc.context["type"] == "cancel"
    finish = next(e for e in evs if e.name == "finish")
    assert finish.context["status"] == (128 + signal.SIGKILL) << 8
    assert names(evs)[-1] == "free"


def test_time_limit(h):
    jobid = flux.job.submit(h, js(["sleep", "30"], duration=0.3))
    evs = events(h, jobid)
    exc = next(e for e in evs if e.name == "exception")
    assert exc.context["type"] == "timeout"
    assert exc.context["note"] == "resource allocation expired"
    finish = next(e for e in evs if e.name == "finish")
    assert finish.context["status"] == (128 + signal.SIGALRM) << 8


def test_missing_program_fails_with_127(h):
    jobid = flux.job.submit(h, js(["no-such-program-xyz"]))
    evs = events(h, jobid)
    exc = next(e for e in evs if e.name == "exception")
    assert exc.context["type"] == "exec"
    assert "no-such-program-xyz: No such file or directory" in exc.context["note"]
    assert next(e for e in evs if e.name == "finish").context["status"] == 127 << 8


def test_simulated_jobs(h):
    spec = js(["x"], num_tasks=1)
    spec.setattr("system.exec.test.run_duration", "0.01s")
    ids = [flux.job.submit(h, spec) for _ in range(10)]
    for jobid in ids:
        evs = events(h, jobid)
        assert next(e for e in evs if e.name == "finish").context["status"] == 0
        assert names(events(h, jobid, "guest.exec.eventlog")) == [
            "init",
            "starting",
            "complete",
            "done",
        ]
        # posted in pairs, each pair one append (one blob) in the KVS
        key = job_key(jobid, "guest", "exec", "eventlog")
        obj = h.rpc("kvs.lookup", {"key": key, "treeobj": True}).get(10)
        assert obj["treeobj"]["type"] == "valref" and len(obj["treeobj"]["data"]) == 2, obj


def test_job_becomes_inactive_after_free(h):
    """Regression: progress() used to stop after posting 'free' and never post 'clean'."""
    jobid = flux.job.submit(h, js(["true"]))
    assert names(events(h, jobid, until="clean", timeout=3.0))[-1] == "clean"


def test_everything_cleaned_up(h):
    wait_for(lambda: h.rpc("job-exec.stats").get(10)["jobs"] == 0, what="job-exec idle")
    # each start stream ended with its job's final release (RFC 32)
    assert h.rpc("job-exec.stats").get(10)["streams"] == 0
    for r in range(2):
        assert h.rpc("exec.stats", nodeid=r).get(10)["running-tasks"] == 0


def release_version(h, jobid, timeout=20.0) -> int:
    """The KVS version at which the job's main eventlog first holds ``release``."""
    key = job_key(jobid, "eventlog")
    fut = h.rpc("kvs.watch", {"key": key, "append": True}, flags=FLAG_STREAMING)
    text = ""
    while True:
        resp = fut.get(timeout)
        text += resp["data"]
        if '"name":"release"' in text:
            fut.cancel()
            return resp["version"]
        fut.reset()


def exec_eventlog_at(h, jobid, version) -> list[str]:
    key = job_key(jobid, "guest", "exec", "eventlog")
    data = h.rpc("kvs.lookup", {"key": key, "version": version}).get(10)["data"]
    return [EventLogEvent(line).name for line in data.splitlines()]


def check_done_before_release(h, specs) -> None:
    """In every KVS version that shows a job's ``release``, its exec eventlog ends
    with ``done``: job-exec releases a job once the ``done`` commit is sent, and
    the KVS must still apply that commit first."""
    ids = [flux.job.submit(h, spec) for spec in specs]
    for jobid in ids:
        version = release_version(h, jobid)
        assert exec_eventlog_at(h, jobid, version)[-1] == "done", jobid


def test_done_lands_before_release(h):
    sim = js(["x"])
    sim.setattr("system.exec.test.run_duration", "0.2s")
    check_done_before_release(h, [sim] * 6 + [js(["sleep", "0.2"])])


def test_job_fails_if_its_eventlogs_cannot_be_written(h):
    """job-exec launches the tasks once the eventlog commit is sent; if the KVS
    then refuses it, the job fails with an exec exception and its tasks are
    killed (never a job running with no record of it)."""
    jobid = flux.job.submit(h, js(["sleep", "30"]), urgency=0)  # held
    # a symlink loop where the job's guest directory goes: writes below it fail
    guest = job_key(jobid, "guest")
    commit = {"ops": [{"op": "symlink", "key": guest, "target": guest}]}
    h.rpc("kvs.commit", commit).get(10)
    h.rpc("job-manager.urgency", {"id": int(jobid), "urgency": 16}).get(10)
    evs = events(h, jobid)
    exc = next(e for e in evs if e.name == "exception")
    assert exc.context["type"] == "exec"
    assert "cannot write the job's eventlogs" in exc.context["note"]
    finish = next(e for e in evs if e.name == "finish")
    assert finish.context["status"] == (128 + signal.SIGTERM) << 8
    assert names(evs)[-1] == "free"
