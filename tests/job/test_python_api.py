"""The Flux-compatible Python API, used the way Flux users write it."""

import concurrent.futures
import errno
import os
import subprocess
import sys
import textwrap

import pytest

import fluxlab
import fluxlab as flux
from fluxlab.job import JobspecV1


@pytest.fixture(scope="module")
def inst():
    with fluxlab.start(size=2, conf={"resource": {"cores-per-node": 4}}) as inst:
        yield inst


@pytest.fixture
def h(inst):
    h = inst.handle()
    yield h
    h.close()


def test_flux_script_runs_unchanged_with_fluxlab(inst, tmp_path):
    """A script written for Flux's bindings: only the import line differs."""
    script = tmp_path / "bulk.py"
    script.write_text(
        textwrap.dedent("""
        import fluxlab as flux
        from flux_names import check
        import concurrent.futures as cf
        from fluxlab.job import JobspecV1, FluxExecutor

        jobspec = JobspecV1.from_command(["sh", "-c", "exit $((FLUX_TASK_RANK + 3))"])
        with FluxExecutor() as executor:
            futures = [executor.submit(jobspec) for _ in range(100)]
            ids = [f.jobid() for f in futures]
            codes = [f.result(timeout=120) for f in cf.as_completed(futures)]
        check(len(set(ids)) == 100 and codes == [3] * 100)
        h = flux.Flux()
        info = flux.job.job_list(h, max_entries=200).get_jobinfos()
        print("OK", len(ids), len([j for j in info if j.result == "FAILED"]) >= 100)
    """)
    )
    (tmp_path / "flux_names.py").write_text("def check(c):\n    assert c\n")
    env = dict(os.environ, FLUXLAB_URI=inst.uri, PYTHONPATH=str(tmp_path))
    p = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=300
    )
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["OK", "100", "True"]


def test_submit_result_and_event_watch(h):
    jobid = flux.job.submit(h, JobspecV1.from_command(["sh", "-c", "exit 2"]))
    info = flux.job.result(h, jobid)
    assert info.result == "FAILED" and info.returncode == 2
    names = [e.name for e in flux.job.event_watch(h, jobid)]
    assert names[:2] == ["submit", "validate"] and names[-1] == "clean"
    assert flux.job.event_wait(h, jobid, "finish").context["status"] == 2 << 8
    exec_names = [e.name for e in flux.job.event_watch(h, jobid, "guest.exec.eventlog")]
    assert exec_names[0] == "init" and exec_names[-1] == "done"


def test_output_watch(h):
    jobid = flux.job.submit(h, JobspecV1.from_command(["sh", "-c", "echo a; echo b >&2"]))
    chunks = list(flux.job.output_watch(h, jobid))
    assert ("stdout", "a\n") in chunks and ("stderr", "b\n") in chunks


def test_event_wait_raises_job_exception(h):
    jobid = flux.job.submit(h, JobspecV1.from_command(["sleep", "60"]))
    flux.job.event_wait(h, jobid, "start")
    flux.job.cancel(h, jobid, "stop it")
    with pytest.raises(flux.job.JobException) as e:
        flux.job.event_wait(h, jobid, "done-never")
    assert e.value.type == "cancel"


def test_kill_with_signal(h):
    jobid = flux.job.submit(h, JobspecV1.from_command(["sleep", "60"]))
    flux.job.event_wait(h, jobid, "start")
    flux.job.kill(h, jobid, 9)
    assert flux.job.result(h, jobid).returncode == 128 + 9
    with pytest.raises(OSError) as e:
        flux.job.kill(h, jobid)
    assert e.value.errno == errno.EINVAL


def test_wait_any(h):
    ids = {flux.job.submit(h, JobspecV1.from_command(["true"]), waitable=True) for _ in range(3)}
    got = {flux.job.wait(h).jobid for _ in range(3)}
    assert got == ids
    with pytest.raises(OSError) as e:
        flux.job.wait(h)
    assert e.value.errno == errno.ECHILD


def test_joblist_and_get_job(h):
    jobid = flux.job.submit(h, JobspecV1.from_command(["true"], num_tasks=2))
    flux.job.result(h, jobid)
    jobs = flux.job.JobList(h, filters=["completed"]).jobs()
    job = next(j for j in jobs if j.id == jobid)
    assert job.ntasks == 2 and job.state == "INACTIVE" and job.result == "COMPLETED"
    assert flux.job.get_job(h, jobid)["id"] == jobid
    assert flux.job.get_job(h, 42) is None


def test_executor_errors_and_attach(inst):
    with flux.job.FluxExecutor(handle_args=(inst.uri,)) as ex:
        bad = ex.submit(JobspecV1.from_command(["true"], num_tasks=999))
        with pytest.raises(OSError, match="unsatisfiable"):
            bad.result(timeout=60)
        good = ex.submit(JobspecV1.from_command(["true"]))
        seen = []
        good.add_event_callback("start", lambda fut, ev: seen.append(ev.name))
        assert good.result(timeout=60) == 0 and seen == ["start"]
        again = ex.attach(good.jobid())
        assert again.result(timeout=60) == 0
        canceled = ex.submit(JobspecV1.from_command(["sleep", "60"]))
        jid = canceled.jobid(timeout=60)
        h = inst.handle()
        flux.job.event_wait(h, jid, "start")
        flux.job.cancel(h, jid)
        with pytest.raises(flux.job.JobException):
            canceled.result(timeout=60)
        h.close()
    with pytest.raises(RuntimeError):
        ex.submit(JobspecV1.from_command(["true"]))


def test_executor_is_a_concurrent_futures_executor(inst):
    with flux.job.FluxExecutor(handle_args=(inst.uri,)) as ex:
        futs = [ex.submit(JobspecV1.from_command(["sh", "-c", f"exit {i}"])) for i in range(4)]
        done, _ = concurrent.futures.wait(futs, timeout=120)
        assert sorted(f.result() for f in done) == [0, 1, 2, 3]
