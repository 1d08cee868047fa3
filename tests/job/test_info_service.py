"""job-info: eventlog watches and lookups against the real KVS service.

The main eventlog is written by the test (as the job manager would), and the
guest eventlogs by job-exec running real or simulated jobs, so every ending
rule can be driven deterministically: ``clean`` ends the main eventlog,
``done`` the exec eventlog, EOFs or redirects the output eventlog, and an
inactive job any guest eventlog, including one that never appears.
"""

import errno
import json

import pytest

import fluxlab
from fluxlab._proto import FLAG_STREAMING
from fluxlab.core.errors import FluxError
from fluxlab.job.eventlog import encode_event
from fluxlab.job.ingest import job_key
from fluxlab.testing import wait_for

from ..exec._helpers import EXEC_MODULES, jobspec, new_id, resources, responses, start


@pytest.fixture(scope="module")
def inst():
    with fluxlab.start(size=2, modules=EXEC_MODULES) as inst:
        yield inst


@pytest.fixture
def h(inst):
    h = inst.handle()
    yield h
    h.close()


def post_main(h, jobid, *names):
    ops = [
        {"op": "append", "key": job_key(jobid, "eventlog"), "data": encode_event(n, 1.0)}
        for n in names
    ]
    h.rpc("kvs.commit", {"ops": ops}).get(10)


def watch(h, jobid, path, **kw):
    return h.rpc("job-info.eventlog-watch", {"id": jobid, "path": path, **kw}, flags=FLAG_STREAMING)


def drain(fut, timeout=20.0):
    """Every event until the stream's end (which must be ENODATA)."""
    out = []
    while True:
        try:
            resp = fut.get(timeout)
        except FluxError as e:
            assert e.errno == errno.ENODATA, e
            return out
        fut.reset()
        out.append(resp["event"])


def next_event(fut, timeout=10.0):
    ev = fut.get(timeout)["event"]
    fut.reset()
    return ev


def kvs_watchers(h):
    return h.rpc("kvs.stats").get(10)["watchers"]


def test_main_eventlog_follows_until_clean(h):
    jobid = new_id()
    post_main(h, jobid, "submit")
    fut = watch(h, jobid, "eventlog")
    first = next_event(fut)
    assert first == {"timestamp": 1.0, "name": "submit", "context": {}}
    post_main(h, jobid, "depend", "priority")
    assert [next_event(fut)["name"] for _ in range(2)] == ["depend", "priority"]
    post_main(h, jobid, "exception", "clean")
    assert [e["name"] for e in drain(fut)] == ["exception", "clean"]


def test_unknown_job_is_enoent(h):
    for path in ("eventlog", "guest.exec.eventlog", "guest.output"):
        with pytest.raises(FluxError) as e:
            watch(h, new_id(), path).get(10)
        assert e.value.errno == errno.ENOENT, path


def test_no_follow_reads_what_is_there(h):
    jobid = new_id()
    post_main(h, jobid, "submit", "depend")
    assert [e["name"] for e in drain(watch(h, jobid, "eventlog", follow=False))] == [
        "submit",
        "depend",
    ]
    with pytest.raises(FluxError) as e:
        watch(h, jobid, "guest.exec.eventlog", follow=False).get(10)
    assert e.value.errno == errno.ENOENT


def test_bad_path_or_id_is_eproto(h):
    for path in ("", "guest..output", ".eventlog"):
        with pytest.raises(FluxError) as e:
            watch(h, 1, path).get(10)
        assert e.value.errno == errno.EPROTO
    with pytest.raises(FluxError) as e:
        watch(h, -1, "eventlog").get(10)
    assert e.value.errno == errno.EPROTO and "out of range" in str(e.value)
    with pytest.raises(FluxError) as e:
        h.rpc("job-info.lookup", {"id": 2**64, "keys": ["R"]}).get(10)
    assert e.value.errno == errno.EPROTO


def run_job(h, jobid, js, R):
    """Run a job through job-exec under id ``jobid``, posting main events around it."""
    _, fut = start(h, js, R, jobid=jobid)
    resps = responses(fut)
    post_main(h, jobid, "start", "finish", "release", "free", "clean")
    return resps


def test_exec_eventlog_watch_started_before_the_job_ends_at_done(h):
    jobid = new_id()
    post_main(h, jobid, "submit")
    fut = watch(h, jobid, "guest.exec.eventlog")  # waits for the key to appear
    _, exec_fut = start(h, jobspec(["true"]), resources(1), jobid=jobid)
    names = [e["name"] for e in drain(fut)]
    assert names == ["init", "starting", "shell.init", "shell.start", "complete", "done"]
    responses(exec_fut)


def test_output_watch_ends_after_every_eof(h):
    jobid = new_id()
    post_main(h, jobid, "submit")
    fut = watch(h, jobid, "guest.output")
    cmd = ["sh", "-c", 'echo "hello $FLUX_TASK_RANK"; echo bye >&2']
    _, exec_fut = start(h, jobspec(cmd, num_tasks=3), resources(2, 1), jobid=jobid)
    events = drain(fut)
    assert events[0]["name"] == "header"
    data = sorted(
        (e["context"]["rank"], e["context"]["stream"], e["context"]["data"])
        for e in events
        if "data" in e["context"]
    )
    assert data == sorted(
        [(str(r), "stdout", f"hello {r}\n") for r in range(3)]
        + [(str(r), "stderr", "bye\n") for r in range(3)]
    )
    assert sum(1 for e in events if e["context"].get("eof")) == 6
    responses(exec_fut)


def test_output_watch_of_redirected_output_ends(h, tmp_path):
    jobid = new_id()
    post_main(h, jobid, "submit")
    fut = watch(h, jobid, "guest.output")
    js = jobspec(["echo", "x"], output=str(tmp_path / "o"))
    _, exec_fut = start(h, js, resources(1), jobid=jobid)
    assert [e["name"] for e in drain(fut)] == ["header", "redirect", "redirect"]
    responses(exec_fut)


def test_guest_watch_of_job_canceled_before_running_ends_empty(h):
    jobid = new_id()
    post_main(h, jobid, "submit", "depend")
    futs = [watch(h, jobid, p) for p in ("guest.output", "guest.exec.eventlog")]
    post_main(h, jobid, "exception", "clean")
    assert [drain(f) for f in futs] == [[], []]


def test_guest_watch_of_inactive_job_gets_the_rest_and_ends(h):
    # a job whose exec eventlog was never finished (no "done"): inactive ends it
    jobid = new_id()
    key = job_key(jobid, "guest", "exec", "eventlog")
    post_main(h, jobid, "submit")
    ops = [{"op": "append", "key": key, "data": encode_event(n, 2.0)} for n in ("init", "starting")]
    h.rpc("kvs.commit", {"ops": ops}).get(10)
    fut = watch(h, jobid, "guest.exec.eventlog")
    assert next_event(fut)["name"] == "init"
    post_main(h, jobid, "clean")
    assert [e["name"] for e in drain(fut)] == ["starting"]
    # and with follow=false it is read at once
    fut = watch(h, jobid, "guest.exec.eventlog", follow=False)
    assert [e["name"] for e in drain(fut)] == ["init", "starting"]


def test_finished_job_guest_watch_ends_at_once(h):
    jobid = new_id()
    post_main(h, jobid, "submit")
    run_job(h, jobid, jobspec(["echo", "hi"]), resources(1))
    names = [e["name"] for e in drain(watch(h, jobid, "guest.output"))]
    assert names == ["header", "data", "data", "data"]


def test_cancel_cleans_up_kvs_watches(h):
    base = kvs_watchers(h)
    jobid = new_id()
    post_main(h, jobid, "submit")
    fut = watch(h, jobid, "guest.output")
    wait_for(lambda: kvs_watchers(h) == base + 2, what="job-info's two kvs watches")
    fut.cancel()
    with pytest.raises(FluxError) as e:
        fut.get(10)
    assert e.value.errno == errno.ECANCELED
    wait_for(lambda: kvs_watchers(h) == base, what="kvs watches cancelled")
    assert h.rpc("job-info.stats").get(10)["watchers"] == 0


def test_disconnect_cleans_up_kvs_watches(inst, h):
    base = kvs_watchers(h)
    jobid = new_id()
    post_main(h, jobid, "submit")
    h2 = inst.handle()
    watch(h2, jobid, "eventlog")
    watch(h2, jobid, "guest.exec.eventlog")
    wait_for(lambda: kvs_watchers(h) == base + 3, what="three kvs watches")
    h2.close()
    wait_for(lambda: kvs_watchers(h) == base, what="kvs watches of a gone client cancelled")
    assert h.rpc("job-info.stats").get(10)["watchers"] == 0


def test_simulated_job_watches(h):
    jobid = new_id()
    post_main(h, jobid, "submit")
    fut = watch(h, jobid, "guest.exec.eventlog")
    js = jobspec(["x"])
    js["attributes"]["system"]["exec"] = {"test": {"run_duration": "0.01s"}}
    _, exec_fut = start(h, js, resources(1), jobid=jobid)
    assert [e["name"] for e in drain(fut)] == ["init", "starting", "complete", "done"]
    responses(exec_fut)


def test_lookup(h):
    jobid = new_id()
    js = jobspec(["true"])
    R = resources(1)
    ops = [
        {"op": "put", "key": job_key(jobid, "jobspec"), "data": json.dumps(js)},
        {"op": "put", "key": job_key(jobid, "R"), "data": json.dumps(R)},
    ]
    h.rpc("kvs.commit", {"ops": ops}).get(10)
    post_main(h, jobid, "submit")
    resp = h.rpc("job-info.lookup", {"id": jobid, "keys": ["jobspec", "R", "eventlog"]}).get(10)
    assert resp["id"] == jobid and json.loads(resp["jobspec"]) == js
    assert resp["eventlog"] == encode_event("submit", 1.0)
    resp = h.rpc("job-info.lookup", {"id": jobid, "keys": ["R"], "decode": True}).get(10)
    assert resp["R"] == R
    with pytest.raises(FluxError) as e:
        h.rpc("job-info.lookup", {"id": jobid, "keys": ["guest.output"]}).get(10)
    assert e.value.errno == errno.ENOENT and "guest.output" in str(e.value)
    for keys in (["a..b"], [3]):
        with pytest.raises(FluxError) as e:
            h.rpc("job-info.lookup", {"id": jobid, "keys": keys}).get(10)
        assert e.value.errno == errno.EPROTO
