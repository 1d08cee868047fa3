"""job-exec + exec with real processes, driven directly through job-exec.start.

An embedded 4-rank instance runs kvs, job-exec (kill timeout 0.5 s) and the
exec module on every rank; the tests play the job manager's part of RFC 32
with hand-built jobspecs and R, then read the eventlogs back from the KVS.
"""

import errno
import os
import signal

import pytest

import fluxlab
from fluxlab.core.errors import FluxError
from fluxlab.job.jobid import id_encode
from fluxlab.testing import wait_for

from ._helpers import (
    EXEC_MODULES,
    by_type,
    eventlog,
    jobspec,
    output,
    resources,
    run,
    task_output,
)


@pytest.fixture(scope="module")
def inst():
    with fluxlab.start(size=4, modules=EXEC_MODULES) as inst:
        yield inst


@pytest.fixture
def h(inst):
    h = inst.handle()
    yield h
    h.close()


def env_cmd(*names):
    return ["sh", "-c", " ".join(f'echo "{n}=${{{n}-unset}}";' for n in names)]


def parse_env(text):
    return dict(line.split("=", 1) for line in text.splitlines())


def test_protocol_and_eventlogs(h):
    jobid, resps = run(h, jobspec(["true"], num_tasks=2), resources(1, 1))
    assert [r["type"] for r in resps] == ["start", "finish", "release"]
    assert all(r["id"] == jobid for r in resps)
    assert resps[1]["data"] == {"status": 0}
    assert resps[2]["data"] == {"ranks": "all", "final": True}
    names = [e["name"] for e in eventlog(h, jobid, "guest", "exec", "eventlog")]
    assert names == ["init", "starting", "shell.init", "shell.start", "complete", "done"]
    ev = {e["name"]: e.get("context") for e in eventlog(h, jobid, "guest", "exec", "eventlog")}
    assert ev["shell.init"] == {"leader-rank": 0, "size": 2}
    assert ev["shell.start"] == {"taskmap": {"version": 1, "map": [[0, 2, 1, 1]]}}
    assert ev["complete"] == {"status": 0}
    header = output(h, jobid)[0]
    assert header["name"] == "header" and header["context"]["count"] == {"stdout": 2, "stderr": 2}


def test_environment(inst, h):
    names = [
        "FLUX_JOB_ID",
        "FLUX_TASK_RANK",
        "FLUX_TASK_LOCAL_ID",
        "FLUX_JOB_SIZE",
        "FLUX_JOB_NNODES",
        "FLUX_JOB_TMPDIR",
        "FLUX_URI",
        "FLUXLAB_URI",
        "CUDA_VISIBLE_DEVICES",
        "FROM_JOBSPEC",
        "HOME",
    ]
    cmd = env_cmd(*names)
    cmd[2] += ' test -d "$FLUX_JOB_TMPDIR" && echo TMPDIR_EXISTS=yes'
    js = jobspec(cmd, num_tasks=3, environment={"PATH": "/usr/bin:/bin", "FROM_JOBSPEC": "x y"})
    jobid, resps = run(h, js, resources(2, 1))
    assert by_type(resps)["finish"] == [{"status": 0}]
    out = {rank: parse_env(text) for rank, text in task_output(h, jobid).items()}
    assert sorted(out) == [0, 1, 2]
    uris = [b.local_uri for b in inst.brokers]
    for rank, env in out.items():
        assert env["FLUX_JOB_ID"] == id_encode(jobid, "f58")
        assert env["FLUX_TASK_RANK"] == str(rank)
        assert env["FLUX_JOB_SIZE"] == "3" and env["FLUX_JOB_NNODES"] == "2"
        assert env["FROM_JOBSPEC"] == "x y"
        assert env["HOME"] == "unset"  # the jobspec environment is the whole environment
        assert env["CUDA_VISIBLE_DEVICES"] == "-1"
        assert env["TMPDIR_EXISTS"] == "yes"
        assert not os.path.exists(env["FLUX_JOB_TMPDIR"])  # removed after the job
        assert env["FLUX_URI"] == env["FLUXLAB_URI"]
    # tasks 0,1 on broker rank 0, task 2 on rank 1: local ids and URIs follow
    assert [out[r]["FLUX_TASK_LOCAL_ID"] for r in range(3)] == ["0", "1", "0"]
    assert [out[r]["FLUX_URI"] for r in range(3)] == [uris[0], uris[0], uris[1]]


def test_tasks_reach_their_broker_through_fluxlab_uri(h):
    import pathlib
    import sys

    root = str(pathlib.Path(__file__).resolve().parents[2])
    code = "import fluxlab; h = fluxlab.Flux(); print(h.attr_get('rank')); h.close()"
    js = jobspec(
        [sys.executable, "-c", code],
        num_tasks=2,
        environment={"PATH": os.environ["PATH"], "PYTHONPATH": root},
    )
    jobid, resps = run(h, js, resources(1, 1), timeout=60)
    assert by_type(resps)["finish"] == [{"status": 0}], task_output(h, jobid, "stderr")
    assert task_output(h, jobid) == {0: "0\n", 1: "1\n"}


def test_task_counts_over_four_ranks(inst, h):
    js = jobspec(env_cmd("FLUX_URI"), num_tasks=7, num_nodes=4)
    jobid, resps = run(h, js, resources(2, 2, 2, 2))
    assert by_type(resps)["finish"] == [{"status": 0}]
    uri_rank = {b.local_uri: b.rank for b in inst.brokers}
    where = {t: uri_rank[parse_env(s)["FLUX_URI"]] for t, s in task_output(h, jobid).items()}
    assert where == {0: 0, 1: 0, 2: 1, 3: 1, 4: 2, 5: 2, 6: 3}
    start = next(
        e for e in eventlog(h, jobid, "guest", "exec", "eventlog") if e["name"] == "shell.start"
    )
    assert start["context"]["taskmap"]["map"] == [[0, 3, 2, 1], [3, 1, 1, 1]]


def test_output_order_per_task_stderr_and_eof(h):
    cmd = ["sh", "-c", 'for i in $(seq 1 60); do echo "$FLUX_TASK_RANK:$i"; done; echo oops >&2']
    jobid, _ = run(h, jobspec(cmd, num_tasks=2), resources(1, 1))
    entries = output(h, jobid)
    for rank in (0, 1):
        mine = [e["context"] for e in entries if e["context"].get("rank") == str(rank)]
        lines = [c["data"] for c in mine if c.get("stream") == "stdout" and "data" in c]
        assert lines == [f"{rank}:{i}\n" for i in range(1, 61)]  # one event per line, in order
        errs = [c["data"] for c in mine if c.get("stream") == "stderr" and "data" in c]
        assert "".join(errs) == "oops\n"
        eofs = [i for i, c in enumerate(mine) if c.get("eof")]
        assert len(eofs) == 2 and eofs[0] > max(
            i for i, c in enumerate(mine) if "data" in c
        )  # EOFs come after every data event of the task


def test_exit_codes_max_wins_and_signals(h):
    cmd = ["sh", "-c", "exit $((FLUX_TASK_RANK * 2 + 1))"]
    _, resps = run(h, jobspec(cmd, num_tasks=3), resources(3))
    assert by_type(resps)["finish"] == [{"status": 5 << 8}]
    # a task killed by a signal counts as 128+signal, like flux-shell's exit code
    cmd = ["sh", "-c", 'if [ "$FLUX_TASK_RANK" = 1 ]; then kill -9 $$; fi; exit 3']
    _, resps = run(h, jobspec(cmd, num_tasks=2), resources(1, 1))
    assert by_type(resps)["finish"] == [{"status": (128 + 9) << 8}]


def test_missing_program(h):
    jobid, resps = run(h, jobspec(["/no/such/prog", "x"], num_tasks=2), resources(1, 1))
    t = by_type(resps)
    (exc,) = t["exception"]
    assert exc["type"] == "exec" and exc["severity"] == 0
    assert "start failed: /no/such/prog: No such file or directory" in exc["note"]
    assert t["finish"] == [{"status": 127 << 8}]
    assert resps[-1]["type"] == "release" and resps[-1]["data"]["final"] is True


def test_bad_cwd_runs_in_tmp_and_logs(h):
    js = jobspec(["pwd"], cwd="/no/such/dir")
    jobid, resps = run(h, js, resources(1))
    assert by_type(resps)["finish"] == [{"status": 0}]
    assert task_output(h, jobid) == {0: "/tmp\n"}
    logs = [e["context"] for e in output(h, jobid) if e["name"] == "log"]
    assert len(logs) == 1 and logs[0]["level"] == 3
    assert "Could not change dir to /no/such/dir" in logs[0]["message"]


def test_cwd_is_used(h, tmp_path):
    jobid, _ = run(h, jobspec(["pwd"], cwd=str(tmp_path)), resources(1))
    assert task_output(h, jobid) == {0: f"{tmp_path}\n"}


def test_stdin_from_input_file(h, tmp_path):
    f = tmp_path / "in.txt"
    f.write_text("alpha\nbeta\n")
    jobid, _ = run(h, jobspec(["cat"], num_tasks=2, input=str(f)), resources(2))
    assert task_output(h, jobid) == {0: "alpha\nbeta\n", 1: "alpha\nbeta\n"}
    # without --input stdin is /dev/null: cat ends at once
    jobid, _ = run(h, jobspec(["cat"]), resources(1))
    assert task_output(h, jobid) == {}


def test_missing_input_file(h, tmp_path):
    _, resps = run(h, jobspec(["cat"], input=str(tmp_path / "nope")), resources(1))
    t = by_type(resps)
    assert "error opening input file" in t["exception"][0]["note"]
    assert "No such file or directory" in t["exception"][0]["note"]
    assert t["finish"] == [{"status": 1 << 8}]


def test_output_file_template_and_label_io(h, tmp_path):
    tmpl = str(tmp_path / "job-{{id}}-{{name}}.out")
    js = jobspec(
        ["sh", "-c", 'echo "out $FLUX_TASK_RANK"; echo "err $FLUX_TASK_RANK" >&2'],
        num_tasks=3,
        output=tmpl,
        label_io=True,
        name="demo",
    )
    jobid, resps = run(h, js, resources(2, 1))
    assert by_type(resps)["finish"] == [{"status": 0}]
    path = tmp_path / f"job-{id_encode(jobid, 'f58')}-demo.out"
    lines = sorted(path.read_text().splitlines())
    assert lines == sorted([f"{r}: {s} {r}" for r in range(3) for s in ("out", "err")])
    entries = output(h, jobid)
    assert [e["name"] for e in entries] == ["header", "redirect", "redirect"]
    assert entries[1]["context"] == {"stream": "stdout", "rank": "[0-2]", "path": str(path)}


def test_per_task_output_files_and_separate_error(h, tmp_path):
    js = jobspec(
        ["sh", "-c", 'echo "o$FLUX_TASK_RANK"; echo "e$FLUX_TASK_RANK" >&2'],
        num_tasks=2,
        output=str(tmp_path / "o.{{task.id}}"),
        error=str(tmp_path / "err.{{id.dec}}"),
    )
    jobid, _ = run(h, js, resources(1, 1))
    assert (tmp_path / "o.0").read_text() == "o0\n" and (tmp_path / "o.1").read_text() == "o1\n"
    assert sorted((tmp_path / f"err.{jobid}").read_text().split()) == ["e0", "e1"]


def test_job_wide_output_file_is_truncated(h, tmp_path):
    path = tmp_path / "out"
    path.write_text("old\n" * 10)
    run(h, jobspec(["echo", "new"], output=str(path)), resources(1))
    assert path.read_text() == "new\n"


def test_fake_gpus(h):
    js = jobspec(env_cmd("CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER"), num_tasks=2)
    jobid, _ = run(h, js, resources(1, 1, gpus=(2, 0)))
    out = {r: parse_env(t) for r, t in task_output(h, jobid).items()}
    assert out[0] == {"CUDA_VISIBLE_DEVICES": "0,1", "CUDA_DEVICE_ORDER": "PCI_BUS_ID"}
    assert out[1] == {"CUDA_VISIBLE_DEVICES": "-1", "CUDA_DEVICE_ORDER": "unset"}
    js["attributes"]["system"]["shell"] = {"options": {"gpu-affinity": "per-task"}}
    jobid, _ = run(h, js, resources(2, gpus=(2,)))
    out = {r: parse_env(t)["CUDA_VISIBLE_DEVICES"] for r, t in task_output(h, jobid).items()}
    assert out == {0: "0", 1: "1"}


def test_bad_jobspec_is_an_exec_exception(h):
    js = jobspec(["true"])
    js["tasks"][0]["command"] = []
    _, resps = run(h, js, resources(1))
    assert [r["type"] for r in resps] == ["exception", "release"]
    assert "tasks[0].command" in resps[0]["data"]["note"]


def test_malformed_start_request_is_eproto(h):
    from fluxlab._proto import FLAG_STREAMING

    fut = h.rpc("job-exec.start", {"id": 1}, flags=FLAG_STREAMING)
    with pytest.raises(FluxError) as e:
        fut.get(10)
    assert e.value.errno == errno.EPROTO and "jobspec" in str(e.value)


def test_kill_unknown_job_is_enoent(h):
    with pytest.raises(FluxError) as e:
        h.rpc("job-exec.kill", {"id": 12345, "signum": 15}).get(10)
    assert e.value.errno == errno.ENOENT
    with pytest.raises(FluxError) as e:
        h.rpc("job-exec.kill", {"id": 12345, "signum": 0}).get(10)
    assert e.value.errno == errno.EINVAL


def test_exec_module_refuses_bad_launch(h):
    from fluxlab._proto import FLAG_STREAMING

    fut = h.rpc(
        "exec.launch",
        {"id": 1, "jobspec": {}, "R": {}, "tasks": [5], "ntasks": 2, "nnodes": 1},
        nodeid=1,
        flags=FLAG_STREAMING,
    )
    with pytest.raises(FluxError) as e:
        fut.get(10)
    assert e.value.errno == errno.EPROTO and "tasks" in str(e.value)


def test_background_processes_end_with_the_job(h, tmp_path):
    pidfile = tmp_path / "pid"
    cmd = ["sh", "-c", f"sleep 60 > /dev/null 2>&1 & echo $! > {pidfile}"]
    _, resps = run(h, jobspec(cmd), resources(1))
    assert by_type(resps)["finish"] == [{"status": 0}]
    pid = int(pidfile.read_text())

    def gone():
        try:
            with open(f"/proc/{pid}/stat") as f:
                return f.read().split(") ")[1].startswith("Z")
        except FileNotFoundError:
            return True

    wait_for(gone, what="the task's background sleep to be killed")


def test_no_tasks_left_behind(h):
    wait_for(
        lambda: all(h.rpc("exec.stats", nodeid=r).get(10)["running-tasks"] == 0 for r in range(4)),
        what="every exec module idle",
    )
    assert h.rpc("job-exec.stats").get(10)["jobs"] == 0


def test_signal_names_used_in_tests_are_standard():
    assert signal.SIGKILL == 9 and signal.SIGALRM == 14
