"""Local-process instances: ``fluxlab start`` and faults (a killed rank)."""

import errno
import os
import signal
import subprocess
import sys

import pytest

from fluxlab.core.errors import FluxError
from fluxlab.core.handle import Flux
from fluxlab.instance.local import LocalInstance
from fluxlab.testing import wait_for

FLUXLAB = [sys.executable, "-m", "fluxlab"]


def run(*args, timeout=60, **kw):
    return subprocess.run([*FLUXLAB, *args], capture_output=True, text=True, timeout=timeout, **kw)


def test_start_runs_command_with_uri_and_returns_its_status():
    p = run(
        "start",
        "--test-size=3",
        sys.executable,
        "-c",
        "import os, sys, fluxlab; h = fluxlab.Flux(); "
        "print(h.attr_get('size'), os.environ['FLUXLAB_URI'].startswith('ipc://')); sys.exit(7)",
    )
    assert p.returncode == 7, p.stderr
    assert p.stdout.split() == ["3", "True"]


def test_start_true_and_false():
    assert run("start", "-s", "2", "true").returncode == 0
    assert run("start", "-s", "2", "false").returncode == 1


def test_start_command_options_are_not_parsed_by_fluxlab():
    p = run(
        "start",
        "-s",
        "1",
        "sh",
        "-c",
        "fluxlab getattr size",
        env={
            **os.environ,
            "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"],
        },
    )
    assert p.returncode == 0 and p.stdout.strip() == "1", p.stderr


def test_missing_command_is_127():
    p = run("start", "-s", "1", "/nonexistent/program")
    assert p.returncode == 127 and "nonexistent" in p.stderr


@pytest.mark.parametrize(
    "argv,msg",
    [
        (["start", "--test-size=0", "true"], "at least 1"),
        (["start", "--test-size=two", "true"], "invalid int value"),
    ],
)
def test_bad_start_arguments(argv, msg):
    p = run(*argv)
    assert p.returncode != 0 and msg in p.stderr and "Traceback" not in p.stderr


def test_without_command_prints_uri_and_stays_up_until_shutdown():
    proc = subprocess.Popen([*FLUXLAB, "start", "-s", "2"], stdout=subprocess.PIPE, text=True)
    try:
        uri = proc.stdout.readline().strip()
        assert uri.startswith("ipc://")
        h = Flux(uri)
        assert h.rpc("broker.ping", nodeid=1).get(timeout=10)["rank"] == 1
        h.close()
        p = run("shutdown", env={**os.environ, "FLUXLAB_URI": uri})
        assert p.returncode == 0, p.stderr
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_sigterm_to_launcher_shuts_down_cleanly():
    proc = subprocess.Popen([*FLUXLAB, "start", "-s", "2"], stdout=subprocess.PIPE, text=True)
    try:
        uri = proc.stdout.readline().strip()
        path = uri[len("ipc://") :]
        assert os.path.exists(path)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        assert not os.path.exists(path)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_tcp_transport_between_processes():
    p = run(
        "start",
        "-s",
        "3",
        "--transport=tcp",
        sys.executable,
        "-c",
        "import fluxlab; h = fluxlab.Flux(); "
        "print(h.attr_get('tbon.transport'), [h.rpc('broker.ping', nodeid=r).get()['rank'] for r in range(3)])",
    )
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "tcp [0, 1, 2]"


def test_killed_rank_is_lost_and_rest_keeps_working():
    with LocalInstance(7, fanout=2) as inst:
        h = Flux(inst.uri)
        assert [h.rpc("broker.ping", nodeid=r).get(timeout=10)["rank"] for r in range(7)] == list(
            range(7)
        )
        inst.kill(2)  # subtree 2 -> 5, 6 becomes unreachable
        health = lambda: h.rpc("overlay.health").get(timeout=10)  # noqa: E731
        wait_for(
            lambda: any(c["rank"] == 2 and c["status"] == "lost" for c in health()["children"]),
            what="rank 0 to report rank 2 lost",
        )
        assert health()["status"] == "degraded"
        for r in (2, 5, 6):
            with pytest.raises(FluxError) as e:
                h.rpc("broker.ping", nodeid=r).get(timeout=10)
            assert e.value.errno == errno.EHOSTUNREACH
        # the rest keeps working
        assert [h.rpc("broker.ping", nodeid=r).get(timeout=10)["rank"] for r in (0, 1, 3, 4)] == [
            0,
            1,
            3,
            4,
        ]
        from fluxlab.cli.overlay_tree import walk

        status = {n["rank"]: n["status"] for n in walk(h, 7)}
        assert status[2] == "lost" and status[5] == status[6] == "unreachable"
        assert status[0] == "degraded" and status[1] == "full"
        h.close()


def test_inflight_request_to_killed_rank_fails_with_ehostunreach(tmp_path):
    mod = tmp_path / "stall.py"
    mod.write_text(
        "from fluxlab.core.module import ServiceModule, request_handler\n"
        "class Stall(ServiceModule):\n"
        "    name = 'stall'\n"
        "    @request_handler('wait')\n"
        "    def wait(self, msg):\n"
        "        self.defer(msg)\n"
    )
    with LocalInstance(3) as inst:
        h = Flux(inst.uri)
        h.rpc("module.load", {"name": str(mod)}, nodeid=2).get(timeout=10)
        fut = h.rpc("stall.wait", nodeid=2)
        h.rpc("stall.ping", nodeid=2).get(timeout=10)  # the request has reached rank 2
        inst.kill(2)
        with pytest.raises(FluxError) as e:
            fut.get(timeout=20)
        assert e.value.errno == errno.EHOSTUNREACH
        h.close()


def test_handle_to_dead_instance_fails_instead_of_hanging():
    inst = LocalInstance(1)
    h = Flux(inst.uri)
    assert h.rpc("broker.ping").get(timeout=10)["rank"] == 0
    inst.kill(0)
    inst.wait(10)
    with pytest.raises(FluxError) as e:
        h.rpc("broker.ping").get(timeout=20)
    assert e.value.errno == errno.ECONNRESET
    inst._cleanup()
    with pytest.raises(FluxError) as e:
        Flux(inst.uri)
    assert e.value.errno == errno.ENOENT


def test_start_with_fake_resource_shape():
    p = run(
        "start",
        "-s",
        "2",
        "--cores-per-node=6",
        "--gpus-per-node=2",
        "--hostnames=node[0-1]",
        sys.executable,
        "-m",
        "fluxlab",
        "resource",
        "list",
        "-o",
        "{nnodes} {ncores} {ngpus} {nodelist}",
    )
    assert p.returncode == 0, p.stderr
    assert "2 12 4 node[0-1]" in p.stdout


def test_start_rejects_bad_shape():
    p = run("start", "-s", "1", "--cores-per-node=0", "true")
    assert p.returncode == 1 and "--cores-per-node" in p.stderr


def test_statedir_restart_keeps_pending_and_inactive_jobs(tmp_path):
    state = str(tmp_path / "state")
    script = (
        "import fluxlab as flux, json, sys\n"
        "from fluxlab.job import JobspecV1\n"
        "h = flux.Flux()\n"
        "done = flux.job.submit(h, JobspecV1.from_command(['true']))\n"
        "flux.job.result(h, done)\n"
        "held = flux.job.submit(h, JobspecV1.from_command(['true']), urgency=0)\n"
        "print(json.dumps([int(done), int(held)]))\n"
    )
    p = run("start", "-s", "2", f"--statedir={state}", sys.executable, "-c", script)
    assert p.returncode == 0, p.stderr
    done, held = map(int, p.stdout.strip("[]\n").split(","))
    check = (
        "import fluxlab as flux, sys\n"
        f"done, held = {done}, {held}\n"
        "h = flux.Flux()\n"
        "from fluxlab.testing import wait_for\n"
        "wait_for(lambda: flux.job.get_job(h, done), what='finished job listed after restart')\n"
        "assert flux.job.get_job(h, done)['result'] == 'COMPLETED', flux.job.get_job(h, done)\n"
        "wait_for(lambda: (flux.job.get_job(h, held) or {}).get('state') == 'SCHED', what='held job requeued')\n"
        "h.rpc('job-manager.urgency', {'id': held, 'urgency': 16}).get()\n"
        "assert flux.job.result(h, held).result == 'COMPLETED'\n"
        "new = flux.job.submit(h, flux.job.JobspecV1.from_command(['true']))\n"
        "assert new > held\n"
        "print('ok')\n"
    )
    p = run("start", "-s", "2", f"--statedir={state}", sys.executable, "-c", check)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "ok"
