"""``fluxlab kvs`` subcommands against a real instance."""

import io
import threading

import pytest

import fluxlab
from fluxlab.cli.main import Context, run_command


@pytest.fixture(scope="module")
def inst():
    with fluxlab.start(size=2) as inst:
        yield inst


def cmd(inst, *argv):
    out, err = io.StringIO(), io.StringIO()
    rc = run_command(["kvs", *argv], Context(stdout=out, stderr=err, uri=inst.uri))
    return rc, out.getvalue(), err.getvalue()


def test_put_get_dir_ls(inst):
    assert cmd(inst, "put", "cli.a=1", "cli.b=hello", "cli.sub.c=3")[0] == 0
    assert cmd(inst, "get", "cli.a", "cli.b") == (0, "1\nhello\n", "")
    rc, out, _ = cmd(inst, "dir", "cli")
    assert out == "cli.a = 1\ncli.b = hello\ncli.sub.\n"
    rc, out, _ = cmd(inst, "dir", "-R", "cli")
    assert "cli.sub.c = 3" in out
    assert cmd(inst, "ls", "-F", "cli")[1].split() == ["a", "b", "sub."]
    rc, _, err = cmd(inst, "get", "cli")
    assert rc == 1 and "is a directory" in err
    rc, _, err = cmd(inst, "get", "cli.nope")
    assert rc == 1 and "no such key" in err


def test_append_unlink_link_readlink_mkdir(inst):
    cmd(inst, "put", "-A", "cli2.log=one")
    cmd(inst, "put", "-A", "cli2.log=two")
    assert cmd(inst, "get", "cli2.log")[1] == "onetwo\n"
    assert cmd(inst, "link", "cli2.log", "cli2.ln")[0] == 0
    assert cmd(inst, "readlink", "cli2.ln")[1] == "cli2.log\n"
    assert cmd(inst, "get", "cli2.ln")[1] == "onetwo\n"
    assert cmd(inst, "mkdir", "cli2.empty")[0] == 0
    assert cmd(inst, "ls", "cli2.empty")[1] == ""
    rc, _, err = cmd(inst, "unlink", "cli2")
    assert rc == 1 and "is a directory" in err
    assert cmd(inst, "unlink", "-R", "cli2")[0] == 0
    assert cmd(inst, "unlink", "-f", "cli2.gone")[0] == 0
    assert cmd(inst, "get", "cli2.log")[0] == 1


def test_version_wait_namespace(inst):
    v = int(cmd(inst, "version")[1])
    cmd(inst, "put", "cli3.x=1")
    assert int(cmd(inst, "version")[1]) == v + 1
    assert cmd(inst, "wait", str(v + 1))[0] == 0
    assert cmd(inst, "namespace", "create", "nsx")[0] == 0
    assert "nsx" in cmd(inst, "namespace", "list")[1]
    assert cmd(inst, "put", "-N", "nsx", "k=v")[0] == 0
    assert cmd(inst, "get", "-N", "nsx", "k")[1] == "v\n"
    assert cmd(inst, "namespace", "remove", "nsx")[0] == 0


def test_watch_counts_values(inst):
    cmd(inst, "put", "cli4.w=0")
    result = {}

    def watcher():
        result["r"] = cmd(inst, "watch", "-c", "3", "cli4.w")

    t = threading.Thread(target=watcher)
    t.start()
    h = inst.handle()
    from fluxlab.testing import wait_for

    wait_for(lambda: h.rpc("kvs.stats").get()["watchers"] >= 1, what="watch to register")
    cmd(inst, "put", "cli4.w=1")
    cmd(inst, "put", "cli4.w=2")
    t.join(30)
    assert result["r"][1].split() == ["0", "1", "2"]
    h.close()


def test_bad_arguments(inst):
    rc, _, err = cmd(inst, "put", "novalue")
    assert rc == 1 and "KEY=VALUE" in err
    rc, _, err = cmd(inst, "put", "-j", "k={bad")
    assert rc == 1 and "not valid JSON" in err
    rc, _, err = cmd(inst, "frob")
    assert rc == 2 and "invalid choice" in err
