"""Service modules in processes of their own (``broker.module-processes``).

A broker that runs as a process starts the KVS in a child process (two cores
at work instead of one interpreter lock); any module can be loaded that way
with ``module load --process``.  Users rely on: requests sent before the
child is up are answered in order, a module process that dies fails what it
owed at once (never a hang), removal flushes the module first, and the
configuration can keep every module in the broker.
"""

from __future__ import annotations

import errno
import os
import signal
import time

import pytest

import fluxlab
from fluxlab import kvs
from fluxlab._proto import FLAG_STREAMING
from fluxlab.core.errors import FluxError
from fluxlab.instance.local import LocalInstance

ECHO = os.path.join(os.path.dirname(__file__), "..", "transport", "echomod.py")


def _modules(h) -> dict[str, dict]:
    return {m["name"]: m for m in h.rpc("module.list").get(timeout=30)["modules"]}


def _dmesg(h) -> str:
    fut = h.rpc("log.dmesg", {}, flags=FLAG_STREAMING)
    lines = []
    while True:
        try:
            lines.append(str(fut.get(timeout=30)))
        except FluxError as e:
            assert e.errno == errno.ENODATA
            return "\n".join(lines)
        fut.reset()


def _wait_gone(pid: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return  # exited; only its parent has not reaped it yet
        except FileNotFoundError:
            return
        time.sleep(0.02)
    raise AssertionError(f"process {pid} still exists after {timeout}s")


@pytest.fixture(scope="module")
def inst():
    with LocalInstance(1) as i:
        yield i


@pytest.fixture
def h(inst):
    with fluxlab.Flux(inst.uri) as handle:
        yield handle


def test_kvs_runs_in_its_own_process_and_works(h):
    mods = _modules(h)
    pid = mods["kvs"]["pid"]
    assert mods["kvs"]["services"] == ["kvs"]
    os.kill(pid, 0)  # alive
    assert "pid" not in mods["job-manager"]  # the others stay in the broker
    kvs.put(h, "procmod.a", {"x": [1, 2]})
    kvs.commit(h)
    assert kvs.get(h, "procmod.a") == {"x": [1, 2]}
    jid = fluxlab.job.submit(h, fluxlab.job.JobspecV1.from_command(["true"]))
    assert fluxlab.job.result_async(h, jid).get_info(timeout=60).returncode == 0
    # the job-manager stored R with the alloc event: readers of the KVS find it
    R = kvs.get(h, f"{fluxlab.job.JobID(jid).kvs}.R")
    assert R["execution"]["R_lite"][0]["rank"] == "0"


GATED = """
import os, time
from fluxlab.core.module import ServiceModule, request_handler

class Gated(ServiceModule):
    name = "gated"

    def start(self):  # holds the child before its hello until the test opens the gate
        deadline = time.monotonic() + 60
        while not os.path.exists(self.args[0]):
            if time.monotonic() > deadline:
                raise RuntimeError("the gate never opened")
            time.sleep(0.01)

    @request_handler("hello")
    def hello(self, msg):
        return {"echo": msg.payload}
"""


def test_requests_sent_before_the_module_process_started_are_answered_in_order(h, tmp_path):
    mod = tmp_path / "gated.py"
    mod.write_text(GATED)
    gate = tmp_path / "gate"
    load = h.rpc("module.load", {"name": str(mod), "args": [str(gate)], "process": True})
    deadline = time.monotonic() + 60
    while "gated" not in _modules(h):  # registered; its process is still in start()
        assert time.monotonic() < deadline, "module.load never registered the module"
    futs = [h.rpc("gated.hello", {"i": i}) for i in range(50)]
    assert not load.is_ready()
    gate.touch()
    assert load.get(timeout=60) == {"name": "gated"}
    assert [f.get(timeout=60)["echo"]["i"] for f in futs] == list(range(50))
    m = _modules(h)["gated"]
    assert m["pid"] > 0 and m["requests"] >= 50
    h.rpc("module.remove", {"name": "gated"}).get(timeout=60)
    _wait_gone(m["pid"])


def test_a_module_process_serves_like_a_loaded_module(h):
    assert h.rpc("module.load", {"name": os.path.abspath(ECHO), "process": True}).get(
        timeout=60
    ) == {"name": "echo"}
    pid = _modules(h)["echo"]["pid"]
    try:
        assert h.rpc("echo.hello", 5).get(timeout=30) == {"echo": 5, "rank": 0}
        counts = h.rpc("echo.count", {"n": 3}, flags=FLAG_STREAMING)
        got = []
        while True:
            try:
                got.append(counts.get(timeout=30)["i"])
            except FluxError as e:
                assert e.errno == errno.ENODATA
                break
            counts.reset()
        assert got == [0, 1, 2]
        # a coroutine handler's RPC goes back through the broker and returns
        assert h.rpc("echo.relay", {"rank": 0}).get(timeout=30)["pong"]["via"] == 0
        with pytest.raises(FluxError) as ei:
            h.rpc("echo.fail").get(timeout=30)
        assert ei.value.errno == errno.EPERM
        big = "x" * 3_000_000  # a long frame each way
        assert h.rpc("echo.hello", {"s": big}).get(timeout=60)["echo"] == {"s": big}
    finally:
        h.rpc("module.remove", {"name": "echo"}).get(timeout=60)
    _wait_gone(pid)
    assert "echo" not in _modules(h)
    with pytest.raises(FluxError) as ei:
        h.rpc("echo.hello").get(timeout=30)
    assert ei.value.errno == errno.ENOSYS


def test_remove_ends_streams_and_deferred_requests_with_an_error(h):
    h.rpc("module.load", {"name": os.path.abspath(ECHO), "process": True}).get(timeout=60)
    stream = h.rpc("echo.forever", {}, flags=FLAG_STREAMING)
    assert stream.get(timeout=30) == {"started": True}
    stream.reset()
    later = h.rpc("echo.later")  # answered 10 ms later by a timer: stopped first
    h.rpc("module.remove", {"name": "echo"}).get(timeout=60)
    for fut in (stream, later):
        try:
            fut.get(timeout=30)
        except FluxError as e:
            assert e.errno == errno.ENOSYS
            assert "echo" in str(e)


def test_killed_module_process_fails_what_it_owed_at_once(h):
    h.rpc("module.load", {"name": os.path.abspath(ECHO), "process": True}).get(timeout=60)
    pid = _modules(h)["echo"]["pid"]
    stream = h.rpc("echo.forever", {}, flags=FLAG_STREAMING)
    assert stream.get(timeout=30) == {"started": True}
    stream.reset()
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(FluxError) as ei:
        stream.get(timeout=30)
    assert ei.value.errno == errno.ENOSYS
    assert "gone" in str(ei.value)
    assert "echo" not in _modules(h)
    assert "module echo (process" in _dmesg(h)
    # the broker keeps serving, and the module can be loaded again
    h.rpc("module.load", {"name": os.path.abspath(ECHO), "process": True}).get(timeout=60)
    assert h.rpc("echo.hello", 7).get(timeout=30)["echo"] == 7
    h.rpc("module.remove", {"name": "echo"}).get(timeout=60)


def test_module_whose_start_fails_in_its_process_is_an_error(h, tmp_path):
    bad = tmp_path / "badmod.py"
    bad.write_text(
        "from fluxlab.core.module import ServiceModule\n"
        "class Bad(ServiceModule):\n"
        "    name = 'bad'\n"
        "    def start(self):\n"
        "        raise RuntimeError('no disk today')\n"
    )
    with pytest.raises(FluxError) as ei:
        h.rpc("module.load", {"name": str(bad), "process": True}).get(timeout=60)
    assert ei.value.errno == errno.EINVAL
    assert "bad" in str(ei.value) and "before it started" in str(ei.value)
    assert "bad" not in _modules(h)
    assert "no disk today" in _dmesg(h)


def test_config_keeps_every_module_in_the_broker():
    conf = {"broker": {"module-processes": []}}
    with LocalInstance(1, conf=conf) as i, fluxlab.Flux(i.uri) as h:
        assert "pid" not in _modules(h)["kvs"]
        kvs.put(h, "k", 1)
        kvs.commit(h)
        assert kvs.get(h, "k") == 1


def test_bad_module_processes_config_is_reported_and_ignored():
    conf = {"broker": {"module-processes": "kvs"}}
    with LocalInstance(1, conf=conf) as i, fluxlab.Flux(i.uri) as h:
        assert "module-processes must be a list" in _dmesg(h)
        assert "pid" in _modules(h)["kvs"]  # the default applies


def test_embedded_instance_keeps_the_kvs_in_its_thread():
    with fluxlab.start(size=1) as i:
        h = i.handle()
        assert "pid" not in _modules(h)["kvs"]
        h.close()


def test_module_process_exits_when_its_broker_is_killed():
    inst = LocalInstance(1)
    try:
        with fluxlab.Flux(inst.uri) as h:
            pid = _modules(h)["kvs"]["pid"]
        os.kill(inst.pids[0], signal.SIGKILL)
        _wait_gone(pid)  # no orphan KVS left behind
    finally:
        inst.kill_all()
        inst.__exit__(None, None, None)


def test_job_exec_in_a_process_releases_after_done_lands():
    """job-exec sends a job's final ``release`` once its ``done`` commit is
    *sent*; from a process of its own, the commit and the release take
    different ways into the broker, and the KVS must still apply the commit
    before the job-manager's ``release`` (docs/spec/kvs-rpc.md, "Order")."""
    from tests.exec.test_exec_pipeline import check_done_before_release, js

    conf = {"broker": {"module-processes": ["kvs", "job-exec"]}}
    with LocalInstance(1, conf=conf) as inst, fluxlab.Flux(inst.uri) as h:
        assert "pid" in _modules(h)["job-exec"]
        sim = js(["x"])
        sim.setattr("system.exec.test.run_duration", "0.2s")
        check_done_before_release(h, [sim] * 6 + [js(["sleep", "0.2"])])
