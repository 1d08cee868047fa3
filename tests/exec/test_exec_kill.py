"""Kills, escalation, time limits, simulated execution and orphaned jobs."""

import signal
import time

import pytest

import fluxlab
from fluxlab.core.errors import FluxError
from fluxlab.exec.escalation import TIMEOUT_NOTE
from fluxlab.testing import wait_for

from ._helpers import (
    EXEC_MODULES,
    by_type,
    eventlog,
    jobspec,
    resources,
    responses,
    run,
    start,
    task_output,
)

# ignores SIGTERM (and SIGALRM): only SIGKILL ends it; says "ready" once the traps are set
STUBBORN = ["sh", "-c", 'trap "" TERM ALRM; echo ready; while :; do sleep 0.05; done']
SLEEPER = ["sh", "-c", "echo ready; exec sleep 30"]


@pytest.fixture(scope="module")
def inst():
    with fluxlab.start(size=2, modules=EXEC_MODULES) as inst:
        yield inst


@pytest.fixture
def h(inst):
    h = inst.handle()
    yield h
    h.close()


def ready(h, jobid, ntasks):
    def check():
        try:
            out = task_output(h, jobid)
        except FluxError:
            return False
        return sum(1 for t in out.values() if "ready" in t) == ntasks

    wait_for(check, what=f"{ntasks} tasks of job {jobid} to be ready")


def first_response(fut, timeout=10.0):
    resp = fut.get(timeout)
    fut.reset()
    return resp


def test_plain_kill_forwards_the_signal(h):
    jobid, fut = start(h, jobspec(SLEEPER, num_tasks=2), resources(1, 1))
    assert first_response(fut)["type"] == "start"
    ready(h, jobid, 2)
    assert h.rpc("job-exec.kill", {"id": jobid, "signum": signal.SIGUSR1}).get(10) == {}
    t = by_type(responses(fut))
    assert t["finish"] == [{"status": (128 + signal.SIGUSR1) << 8}]
    assert "exception" not in t


def test_kill_right_after_start(h):
    # the kill may arrive before or after the tasks are launched: same outcome
    jobid, fut = start(h, jobspec(SLEEPER, num_tasks=2), resources(1, 1))
    h.rpc("job-exec.kill", {"id": jobid, "signum": signal.SIGTERM, "escalate": True}).get(10)
    t = by_type(responses(fut))
    assert t["finish"] == [{"status": (128 + signal.SIGTERM) << 8}]
    wait_for(
        lambda: all(h.rpc("exec.stats", nodeid=r).get(10)["jobs"] == 0 for r in range(2)),
        what="no job left on any rank",
    )


def test_escalation_sigkills_a_task_that_ignores_sigterm(h):
    jobid, fut = start(h, jobspec(STUBBORN, num_tasks=2), resources(1, 1))
    assert first_response(fut)["type"] == "start"
    ready(h, jobid, 2)
    t0 = time.monotonic()
    h.rpc("job-exec.kill", {"id": jobid, "signum": signal.SIGTERM, "escalate": True}).get(10)
    t = by_type(responses(fut))
    elapsed = time.monotonic() - t0
    assert t["finish"] == [{"status": (128 + signal.SIGKILL) << 8}]
    assert elapsed >= 0.45  # the 0.5 s kill timeout passed before SIGKILL
    stats = h.rpc("job-exec.stats").get(10)
    assert stats["kill-timeout"] == 0.5


def test_escalation_of_a_job_that_exits_0_reports_failure(h):
    # flux-core: a job ended by a fatal exception never finishes with status 0
    cmd = ["sh", "-c", 'trap "exit 0" TERM; echo ready; while :; do sleep 0.05; done']
    jobid, fut = start(h, jobspec(cmd), resources(1))
    first_response(fut)
    ready(h, jobid, 1)
    h.rpc("job-exec.kill", {"id": jobid, "signum": signal.SIGTERM, "escalate": True}).get(10)
    assert by_type(responses(fut))["finish"] == [{"status": 1 << 8}]


def test_time_limit_sends_sigalrm_then_sigkill(h):
    now = time.time()
    R = resources(1, 1, starttime=now, expiration=now + 0.3)
    jobid, fut = start(h, jobspec(SLEEPER, num_tasks=2), R)
    resps = responses(fut)
    t = by_type(resps)
    assert t["exception"] == [{"type": "timeout", "severity": 0, "note": TIMEOUT_NOTE}]
    assert t["finish"] == [{"status": (128 + signal.SIGALRM) << 8}]
    assert [r["type"] for r in resps] == ["start", "exception", "finish", "release"]
    # a task that ignores SIGALRM is killed after the kill timeout
    now = time.time()
    R = resources(1, starttime=now, expiration=now + 0.3)
    _, fut = start(h, jobspec(STUBBORN), R)
    t = by_type(responses(fut))
    assert t["exception"][0]["type"] == "timeout"
    assert t["finish"] == [{"status": (128 + signal.SIGKILL) << 8}]


def test_start_failure_on_one_rank_kills_the_others(h, tmp_path):
    # node 1's output directory does not exist: its task cannot start
    (tmp_path / "0").mkdir()
    js = jobspec(SLEEPER, num_tasks=2, output=str(tmp_path / "{{node.id}}" / "out"))
    _, fut = start(h, js, resources(1, 1))
    resps = responses(fut)
    t = by_type(resps)
    assert "error opening output file" in t["exception"][0]["note"]
    assert len(t["exception"]) == 1
    # the running task got SIGTERM from job-exec; that is the largest status
    assert t["finish"] == [{"status": (128 + signal.SIGTERM) << 8}]
    assert [r["type"] for r in resps] == ["exception", "start", "finish", "release"]


def test_rank_without_exec_module_fails_the_job(h):
    h.rpc("module.remove", {"name": "exec"}, nodeid=1).get(10)
    try:
        _, resps = run(h, jobspec(SLEEPER, num_tasks=2), resources(1, 1))
    finally:
        h.rpc("module.load", {"name": "exec"}, nodeid=1).get(10)
    t = by_type(resps)
    assert t["exception"][0]["note"].startswith("rank 1: ")
    # the task on rank 0 was started, then killed by job-exec's SIGTERM
    assert t["finish"] == [{"status": (128 + signal.SIGTERM) << 8}]


def test_simulated_execution(inst, h):
    before = [h.rpc("exec.stats", nodeid=r).get(10)["started-tasks"] for r in range(2)]
    js = jobspec(["never-run"], num_tasks=2)
    js["attributes"]["system"]["exec"] = {"test": {"run_duration": "0.01s"}}
    jobid, resps = run(h, js, resources(1, 1))
    assert [r["type"] for r in resps] == ["start", "finish", "release"]
    assert resps[1]["data"] == {"status": 0}
    names = [e["name"] for e in eventlog(h, jobid, "guest", "exec", "eventlog")]
    assert names == ["init", "starting", "complete", "done"]
    after = [h.rpc("exec.stats", nodeid=r).get(10)["started-tasks"] for r in range(2)]
    assert after == before  # no process, no exec.launch


def test_simulated_wait_status_kill_and_mock_exceptions(h):
    js = jobspec(["x"])
    js["attributes"]["system"]["exec"] = {"test": {"run_duration": 0.01, "wait_status": 256}}
    _, resps = run(h, js, resources(1))
    assert by_type(resps)["finish"] == [{"status": 256}]
    js["attributes"]["system"]["exec"] = {"test": {}}  # duration 0: runs until killed
    jobid, fut = start(h, js, resources(1))
    assert first_response(fut)["type"] == "start"
    h.rpc("job-exec.kill", {"id": jobid, "signum": 15}).get(10)
    assert by_type(responses(fut))["finish"] == [{"status": 15}]
    js["attributes"]["system"]["exec"] = {"test": {"mock_exception": "init"}}
    _, resps = run(h, js, resources(1))
    assert [r["type"] for r in resps] == ["exception", "release"]
    assert resps[0]["data"]["note"] == "mock initialization exception generated"
    js["attributes"]["system"]["exec"] = {"test": {"mock_exception": "run"}}
    _, resps = run(h, js, resources(1))
    assert [r["type"] for r in resps] == ["start", "exception", "finish", "release"]


def test_simulated_time_limit(h):
    js = jobspec(["x"])
    js["attributes"]["system"]["exec"] = {"test": {"run_duration": 30}}
    now = time.time()
    _, resps = run(h, js, resources(1, starttime=now, expiration=now + 0.1))
    t = by_type(resps)
    assert t["exception"][0]["type"] == "timeout"
    assert t["finish"] == [{"status": signal.SIGALRM}]


def test_cancelled_start_stream_kills_the_tasks(h):
    jobid, fut = start(h, jobspec(SLEEPER, num_tasks=2), resources(1, 1))
    first_response(fut)
    ready(h, jobid, 2)
    fut.cancel()

    def idle():
        jobs = h.rpc("job-exec.stats").get(10)["jobs"]
        running = sum(h.rpc("exec.stats", nodeid=r).get(10)["running-tasks"] for r in range(2))
        return jobs == 0 and running == 0

    wait_for(idle, what="orphaned job killed and forgotten")


def test_disconnect_kills_the_tasks(inst):
    h2 = inst.handle()
    jobid, fut = start(h2, jobspec(SLEEPER), resources(1))
    first_response(fut)
    h = inst.handle()
    ready(h, jobid, 1)
    h2.close()
    wait_for(
        lambda: h.rpc("exec.stats", nodeid=0).get(10)["running-tasks"] == 0,
        what="tasks of a disconnected client killed",
    )
    h.close()
