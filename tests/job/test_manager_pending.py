"""Job ingest + manager + list without a scheduler: everything up to SCHED.

These run the real services in an embedded instance; no scheduler is loaded,
so jobs stop in SCHED, which lets every pending-state behaviour be observed
deterministically.
"""

import errno
import time

import pytest

import fluxlab
import fluxlab as flux
from fluxlab.core.errors import FluxError
from fluxlab.job import JobspecV1
from fluxlab.job.states import JobState
from fluxlab.testing import wait_for

MODS = [("kvs", "0", []), ("job-ingest", "0", []), ("job-manager", "0", []), ("job-list", "0", [])]


@pytest.fixture(scope="module")
def inst():
    with fluxlab.start(size=1, modules=MODS) as inst:
        yield inst


@pytest.fixture
def h(inst):
    h = inst.handle()
    yield h
    h.close()


def js(*cmd, **kw):
    return JobspecV1.from_command(list(cmd) or ["true"], **kw)


def state(h, jobid):
    return JobState(h.rpc("job-manager.getinfo", {"id": jobid}).get()["state"])


def listed(h, jobid):
    return flux.job.job_list_id(h, jobid).get()["job"]


def test_submit_reaches_sched_with_full_eventlog(h):
    jid = flux.job.submit(h, js("true"))
    assert jid > 0
    wait_for(lambda: state(h, jid) == JobState.SCHED, what="job to reach SCHED")
    text = h.rpc("kvs.lookup", {"key": f"job.{jid.dothex}.eventlog"}).get()["data"]
    names = [line.split('"name":"')[1].split('"')[0] for line in text.splitlines()]
    assert names == ["submit", "validate", "depend", "priority"]
    assert '"version": 1' in h.rpc("kvs.lookup", {"key": f"job.{jid.dothex}.jobspec"}).get()["data"]
    job = listed(h, jid)
    assert job["state"] == int(JobState.SCHED) and job["name"] == "true" and job["priority"] == 16


def test_ids_are_unique_and_increasing(h):
    ids = [flux.job.submit(h, js("true")) for _ in range(20)]
    assert ids == sorted(ids) and len(set(ids)) == 20


def test_bulk_submit_each_job_succeeds_or_fails_alone(h):
    from fluxlab.job.submit import submit_bulk_async

    good = js("true").dumps()
    resp = submit_bulk_async(h, [good, '{"version": 1}', good]).get()
    ok1, bad, ok2 = resp["ids"]
    assert isinstance(ok1, int) and isinstance(ok2, int)
    assert bad["errnum"] == errno.EINVAL and "invalid jobspec" in bad["errstr"]


@pytest.mark.parametrize(
    "spec,msg",
    [
        ('{"version": 1, "resources": []}', "tasks: missing"),
        ("not json or yaml: [", "invalid"),
        ({"version": 1}, "resources"),
    ],
)
def test_invalid_jobspec_rejected_at_submit(h, spec, msg):
    with pytest.raises(OSError) as e:
        flux.job.submit(h, spec)
    assert msg in str(e.value)


@pytest.mark.parametrize("urgency", [-1, 32, "high"])
def test_bad_urgency_rejected(h, urgency):
    with pytest.raises(OSError) as e:
        h.rpc("job-ingest.submit", {"jobspec": js("true").dumps(), "urgency": urgency}).get()
    assert "urgency" in str(e.value)


def test_hold_expedite_and_urgency_changes(h):
    held = flux.job.submit(h, js("true"), urgency=0)
    wait_for(lambda: state(h, held) == JobState.SCHED, what="held job in SCHED")
    assert listed(h, held)["priority"] == 0
    old = h.rpc("job-manager.urgency", {"id": held, "urgency": 31}).get()["old_urgency"]
    assert old == 0
    wait_for(lambda: listed(h, held).get("priority") == 4294967295, what="expedited priority")
    with pytest.raises(FluxError) as e:
        h.rpc("job-manager.urgency", {"id": held, "urgency": 40}).get()
    assert e.value.errno == errno.EINVAL


def test_cancel_pending_job_and_errors(h):
    jid = flux.job.submit(h, js("sleep", "100"))
    flux.job.cancel(h, jid, "not needed")
    wait_for(
        lambda: listed(h, jid)["state"] == int(JobState.INACTIVE), what="canceled job inactive"
    )
    info = flux.job.JobInfo(listed(h, jid))
    assert info.result == "CANCELED" and info.exception.note == "not needed"
    with pytest.raises(FluxError) as e:
        flux.job.cancel(h, jid)
    assert e.value.errno == errno.EINVAL and "inactive" in str(e.value)
    with pytest.raises(FluxError) as e:
        flux.job.cancel(h, 123456789)
    assert e.value.errno == errno.ENOENT
    with pytest.raises(FluxError) as e:
        h.rpc("job-manager.cancel", {"id": "not-an-id"}).get()
    assert e.value.errno == errno.EINVAL


def _dep(scheme, target):
    j = js("true")
    j.setattr("system.dependencies", [{"scheme": scheme, "value": str(target)}])
    return j


def test_dependencies_on_canceled_job(h):
    target = flux.job.submit(h, js("sleep", "100"))
    any_ = flux.job.submit(h, _dep("afterany", target))
    ok = flux.job.submit(h, _dep("afterok", target))
    notok = flux.job.submit(h, _dep("afternotok", target))
    exc = flux.job.submit(h, _dep("afterexcept", target))
    start = flux.job.submit(h, _dep("afterstart", target))
    wait_for(
        lambda: all(
            listed(h, j)["state"] == int(JobState.DEPEND) for j in (any_, ok, notok, exc, start)
        ),
        what="dependents waiting in DEPEND",
    )
    assert listed(h, ok)["dependencies"] == [f"afterok:{target}"]
    flux.job.cancel(h, target)
    wait_for(lambda: state(h, any_) == JobState.SCHED, what="afterany released")
    wait_for(lambda: state(h, notok) == JobState.SCHED, what="afternotok released")
    wait_for(lambda: state(h, exc) == JobState.SCHED, what="afterexcept released")
    for j in (ok, start):  # can never be satisfied: fatal dependency exception
        wait_for(
            lambda j=j: listed(h, j)["state"] == int(JobState.INACTIVE),
            what="unsatisfiable dependent",
        )
        assert listed(h, j)["exception_type"] == "dependency"


def test_dependency_errors(h):
    for value, msg in (("nosuchid!", "invalid"), ("999999999", "not found")):
        jid = flux.job.submit(h, _dep("afterok", value))
        wait_for(
            lambda jid=jid: listed(h, jid)["state"] == int(JobState.INACTIVE),
            what="failed dependency",
        )
        assert msg in listed(h, jid)["exception_note"]
    jid = flux.job.submit(h, _dep("frobnicate", "1"))
    wait_for(lambda: listed(h, jid)["state"] == int(JobState.INACTIVE), what="unknown scheme")
    assert "unknown dependency scheme" in listed(h, jid)["exception_note"]


def test_begin_time(h):
    j = js("true")
    j.setattr("system.dependencies", [{"scheme": "begin-time", "value": str(time.time() + 0.3)}])
    jid = flux.job.submit(h, j)
    assert state(h, jid) in (JobState.NEW, JobState.DEPEND)
    wait_for(lambda: state(h, jid) == JobState.SCHED, timeout=10, what="begin-time dependency")


def test_singleton_releases_in_order(h):
    def single():
        j = js("true", name="solo")
        j.setattr("system.dependencies", [{"scheme": "singleton", "value": ""}])
        return flux.job.submit(h, j)

    first, second = single(), single()
    wait_for(lambda: state(h, first) == JobState.SCHED, what="first singleton released")
    assert state(h, second) == JobState.DEPEND
    flux.job.cancel(h, first)
    wait_for(lambda: state(h, second) == JobState.SCHED, what="second singleton released")
    flux.job.cancel(h, second)


def test_waitable_jobs(h):
    jid = flux.job.submit(h, js("true"), waitable=True)
    plain = flux.job.submit(h, js("true"))
    fut = flux.job.wait_async(h, jid)
    flux.job.cancel(h, jid)
    r = fut.get_status()
    assert r.jobid == jid and not r.success and "cancel" in r.errstr
    with pytest.raises(FluxError) as e:
        flux.job.wait(h, plain)
    assert e.value.errno == errno.EINVAL and "not waitable" in str(e.value)
    flux.job.cancel(h, plain)


def test_queue_disable_refuses_submission(h):
    h.rpc("job-manager.queue-disable", {"reason": "maintenance"}).get()
    try:
        with pytest.raises(OSError) as e:
            flux.job.submit(h, js("true"))
        assert "maintenance" in str(e.value)
    finally:
        h.rpc("job-manager.queue-enable").get()
    assert flux.job.submit(h, js("true")) > 0


def test_raise_nonfatal_and_memo(h):
    jid = flux.job.submit(h, js("true"))
    wait_for(lambda: state(h, jid) == JobState.SCHED, what="SCHED")
    flux.job.job_raise(h, jid, "warning", severity=3, note="just saying")
    h.rpc("job-manager.memo", {"id": jid, "memo": {"uri": "ipc:///x"}}).get()
    assert state(h, jid) == JobState.SCHED
    wait_for(lambda: listed(h, jid).get("uri") == "ipc:///x", what="memo uri in job-list")
    with pytest.raises(FluxError) as e:
        flux.job.job_raise(h, jid, "bad type", severity=0)
    assert e.value.errno == errno.EINVAL


def test_job_list_filters_and_order(h):
    a = flux.job.submit(h, js("true", name="lister"), urgency=10)
    b = flux.job.submit(h, js("true", name="lister"), urgency=20)
    wait_for(
        lambda: state(h, b) == JobState.SCHED and state(h, a) == JobState.SCHED, what="both SCHED"
    )
    jobs = flux.job.job_list(h, name="lister", states=int(JobState.PENDING)).get_jobs()
    assert [j["id"] for j in jobs][:2] == [b, a]  # higher priority first
    flux.job.cancel(h, a)
    wait_for(lambda: listed(h, a)["state"] == int(JobState.INACTIVE), what="a inactive")
    inactive = flux.job.job_list(h, name="lister", states=int(JobState.INACTIVE)).get_jobs()
    assert [j["id"] for j in inactive] == [a]
    with pytest.raises(FluxError):
        flux.job.job_list_id(h, 4242424242).get()
    flux.job.cancel(h, b)


def test_restart_requeues_pending_and_keeps_inactive(tmp_path):
    with fluxlab.start(size=1, modules=MODS, statedir=str(tmp_path)) as inst:
        h = inst.handle()
        pending = flux.job.submit(h, js("true"))
        done = flux.job.submit(h, js("true"))
        flux.job.cancel(h, done)
        wait_for(
            lambda: listed(h, done)["state"] == int(JobState.INACTIVE), what="inactive before stop"
        )
        h.close()
    with fluxlab.start(size=1, modules=MODS, statedir=str(tmp_path)) as inst:
        h = inst.handle()
        wait_for(
            lambda: (
                h.rpc("job-manager.getinfo", {"id": pending}).get()["state"] == int(JobState.SCHED)
            ),
            what="pending job requeued after restart",
        )
        wait_for(
            lambda: flux.job.get_job(h, done) is not None, what="inactive job listed after restart"
        )
        assert flux.job.JobInfo(listed(h, done)).result == "CANCELED"
        newer = flux.job.submit(h, js("true"))
        assert newer > pending
        h.close()
