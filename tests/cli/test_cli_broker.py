"""Broker commands through the shared command runner (as CLI and magics use it)."""

import io
import pathlib

import pytest

import fluxlab
from fluxlab.cli.main import COMMANDS, Context, run_command

ECHO = str(pathlib.Path(__file__).parent.parent / "transport" / "echomod.py")


@pytest.fixture(scope="module")
def inst():
    with fluxlab.start(size=4) as inst:
        yield inst


def cmd(inst, *argv):
    out, err = io.StringIO(), io.StringIO()
    rc = run_command(list(argv), Context(stdout=out, stderr=err, uri=inst.uri))
    return rc, out.getvalue(), err.getvalue()


def test_getattr_setattr_lsattr(inst):
    assert cmd(inst, "getattr", "size") == (0, "4\n", "")
    assert cmd(inst, "getattr", "-r", "3", "rank")[1] == "3\n"
    assert cmd(inst, "setattr", "user.color", "blue")[0] == 0
    assert cmd(inst, "getattr", "user.color")[1] == "blue\n"
    rc, out, _ = cmd(inst, "lsattr", "-v")
    assert rc == 0 and any(line.split()[:2] == ["tbon.fanout", "2"] for line in out.splitlines())
    rc, _, err = cmd(inst, "setattr", "rank", "7")
    assert rc == 1 and err == "fluxlab-setattr: attribute 'rank' is read-only\n"
    rc, _, err = cmd(inst, "getattr", "no-such-attr")
    assert rc == 1 and "unknown attribute 'no-such-attr'" in err


def test_ping_by_rank_and_service(inst):
    rc, out, _ = cmd(inst, "ping", "3")
    assert rc == 0 and out.startswith("3!broker.ping pad=0 seq=0 time=") and "(rank 3)" in out
    rc, out, _ = cmd(inst, "ping", "--count=2", "--interval=0", "heartbeat")
    assert rc == 0 and len(out.splitlines()) == 2
    rc, _, err = cmd(inst, "ping", "9")
    assert rc == 1 and "not in this instance" in err


def test_overlay_status_tree(inst):
    rc, out, _ = cmd(inst, "overlay", "status")
    assert rc == 0
    lines = out.splitlines()
    assert lines[0].startswith("0 ") and lines[0].endswith(": full")
    assert (
        lines[1].startswith("├─ 1 ")
        and lines[2].startswith("│  └─ 3 ")
        and lines[3].startswith("└─ 2 ")
    )
    assert cmd(inst, "overlay", "status", "--summary")[1] == "full 4\n"


def test_uptime_and_dmesg(inst):
    rc, out, _ = cmd(inst, "uptime")
    assert rc == 0 and " run " in out and "size 4" in out and "depth 0" in out
    rc, out, _ = cmd(inst, "dmesg")
    assert rc == 0 and "broker.info[0]: state quorum -> run (quorum)" in out
    assert "[3]: state quorum -> run" in out  # forwarded from rank 3
    assert cmd(inst, "dmesg", "-C")[0] == 0
    rc, out, _ = cmd(inst, "dmesg")
    assert "state quorum" not in out


def test_module_load_list_remove(inst):
    rc, _, err = cmd(inst, "module", "load", "-r", "all", ECHO)
    assert rc == 0, err
    rc, out, _ = cmd(inst, "module", "list", "-r", "0-3")
    assert sum(1 for line in out.splitlines() if " echo " in f" {line} ") == 4
    rc, _, err = cmd(inst, "module", "load", ECHO)
    assert rc == 1 and "already loaded" in err
    assert cmd(inst, "module", "remove", "-r", "all", "echo")[0] == 0
    rc, _, err = cmd(inst, "module", "remove", "echo")
    assert rc == 1 and "not loaded" in err
    assert cmd(inst, "module", "remove", "-f", "echo")[0] == 0
    rc, _, err = cmd(inst, "module", "load", "no-such-module")
    assert rc == 1 and "unknown module 'no-such-module'" in err and "known modules" in err


def test_event_pub(inst):
    h = inst.handle()
    h.event_subscribe("cli.")
    rc, out, _ = cmd(inst, "event", "pub", "cli.test", '{"a": 1}')
    assert rc == 0 and int(out) > 0
    msg = h.event_recv(timeout=10)
    assert msg.topic == "cli.test" and msg.payload == {"a": 1}
    rc, _, err = cmd(inst, "event", "pub", "cli.test", "{bad")
    assert rc == 1 and "not valid JSON" in err
    h.close()


def test_usage_errors_never_traceback(inst):
    rc, _, err = cmd(inst, "frobnicate")
    assert rc == 2 and "unknown command 'frobnicate'" in err
    rc, _, err = cmd(inst, "getattr")
    assert rc == 2 and "usage: fluxlab getattr" in err and "required" in err
    rc, _, err = cmd(inst, "ping", "--count", "x", "0")
    assert rc == 2 and "invalid int value" in err
    rc, out, _ = cmd(inst, "--help")
    assert rc == 0 and all(name in out for name in COMMANDS)


def test_no_instance_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("FLUXLAB_URI", raising=False)
    out, err = io.StringIO(), io.StringIO()
    rc = run_command(["getattr", "size"], Context(stdout=out, stderr=err))
    assert rc == 1 and "FLUXLAB_URI is not set" in err.getvalue()


def test_keygen(tmp_path, inst):
    path = tmp_path / "k.cert"
    assert cmd(inst, "keygen", str(path))[0] == 0 and path.exists()
    rc, _, err = cmd(inst, "keygen", str(path))
    assert rc == 1 and "exists" in err
