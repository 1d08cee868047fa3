"""``fluxlab resource ...`` against a live instance (text as ``flux resource``)."""

import datetime
import io
import json

import pytest

import fluxlab
from fluxlab.cli.main import Context, run_command

CONF = {"resource": {"cores-per-node": 4, "hostnames": "node[0-3]", "properties": {"big": "2-3"}}}


@pytest.fixture
def inst():
    with fluxlab.start(size=4, conf=CONF) as inst:
        yield inst


def cmd(inst, *argv):
    out, err = io.StringIO(), io.StringIO()
    rc = run_command(["resource", *argv], Context(stdout=out, stderr=err, uri=inst.uri))
    return rc, out.getvalue(), err.getvalue()


def ok(inst, *argv):
    rc, out, err = cmd(inst, *argv)
    assert (rc, err) == (0, ""), err
    return out


def test_list_info_R(inst):
    assert ok(inst, "list") == (
        "     STATE PROPERTIES NNODES NCORES NODELIST\n"
        "      free                 2      8 node[0-1]\n"
        "      free big             2      8 node[2-3]\n"
        " allocated                 0      0 \n"
        "      down                 0      0 \n"
    )
    assert ok(inst, "list", "-n", "-o", "{state} {ranks} {ncores}", "-s", "up") == "up 0-3 16\n"
    assert ok(inst, "list", "-o", "rlist", "-s", "all", "-i", "node[1-2]") == (
        "     STATE PROPERTIES NNODES NCORES LIST\n"
        "       all                 1      4 rank1/core[0-3]\n"
        "       all big             1      4 rank2/core[0-3]\n"
    )
    assert ok(inst, "info") == "4 Nodes, 16 Cores, 0 GPUs\n"
    R = json.loads(ok(inst, "R"))
    assert R["execution"]["R_lite"] == [{"rank": "0-3", "children": {"core": "0-3"}}]
    assert R["execution"]["nodelist"] == ["node[0-3]"]


def test_drain_changes_list_status_info(inst):
    assert ok(inst, "drain", "node2", "disk", "full") == ""
    assert ok(inst, "list", "--skip-empty") == (
        "     STATE PROPERTIES NNODES NCORES NODELIST\n"
        "      free                 2      8 node[0-1]\n"
        "      free big             1      4 node3\n"
        "      down big             1      4 node2\n"
    )
    assert ok(inst, "status") == (
        "       STATE UP NNODES NODELIST\n"
        "       avail  ✔      3 node[0-1,3]\n"
        "     drained  ✔      1 node2\n"
    )
    assert ok(inst, "status", "-o", "long", "-n", "-s", "drain", "--skip-empty") == (
        "     drained  ✔      1 disk full                      node2\n"
    )
    assert ok(inst, "info", "-s", "free") == "3 Nodes, 12 Cores, 0 GPUs\n"
    R = json.loads(ok(inst, "R", "-s", "down"))
    assert R["execution"]["nodelist"] == ["node2"] and R["execution"]["properties"] == {"big": "2"}


def test_drain_without_targets_lists_drained(inst):
    assert ok(inst, "drain") == "TIME         STATE    REASON                         NODELIST\n"
    ok(inst, "drain", "1")
    ok(inst, "drain", "3", "a very long reason that will not fit in thirty columns")
    h = inst.handle()
    drain = h.rpc("resource.status", nodeid=0).get(timeout=10)["drain"]
    when = {
        k: datetime.datetime.fromtimestamp(v["timestamp"]).strftime("%b%d %H:%M")
        for k, v in drain.items()
    }
    assert ok(inst, "drain") == (
        "TIME         STATE    REASON                         NODELIST\n"
        f"{when['1']:<12} drained                                 node1\n"
        f"{when['3']:<12} drained  a very long reason that will + node3\n"
    )
    assert ok(inst, "drain", "-n", "-o", "long").splitlines()[1] == (
        f"{when['3']:<12} drained  3        a very long reason that will not fit in thirty "
        "columns node3"
    )


def test_drain_modes_and_undrain(inst):
    ok(inst, "drain", "1-2", "first")
    rc, _, err = cmd(inst, "drain", "2", "second")
    assert rc == 1 and err == (
        "fluxlab-resource: resource.drain: rank 2 already drained "
        "(use --force to overwrite the existing reason)\n"
    )
    ok(inst, "drain", "-u", "2-3", "update")
    ok(inst, "drain", "-f", "1", "forced")
    reasons = ok(inst, "status", "-n", "-s", "drained", "-o", "{ranks} {reason}")
    assert reasons == "1 forced\n2 first\n3 update\n"
    ok(inst, "undrain", "node[1-2]")
    rc, _, err = cmd(inst, "undrain", "1")
    assert rc == 1 and err == "fluxlab-resource: resource.undrain: rank 1 not drained\n"
    ok(inst, "undrain", "-f", "0-3", "all", "fixed")
    assert ok(inst, "drain", "-n") == ""


@pytest.mark.parametrize(
    "argv,message",
    [
        (["drain", "9"], "resource.drain: targets: rank 9 not found (valid ranks: 0-3)\n"),
        (["drain", "nosuch"], "resource.drain: targets: unknown host 'nosuch'\n"),
        (["drain", "node[1-"], "is neither an idset nor a hostlist"),
        (["undrain", "node7"], "resource.undrain: targets: unknown host 'node7'\n"),
        (["drain", "-f", "-u", "1"], "only one of --force and --update may be given\n"),
        (["list", "-s", "bogus"], "invalid resource state 'bogus' (valid: up, down,"),
        (["status", "-s", "bogus"], "invalid resource state 'bogus' (valid: all, online,"),
        (["list", "-o", "nosuchformat"], "--format: No such format nosuchformat\n"),
        (["status", "-o", "{nosuchfield}"], "nosuchfield"),
    ],
)
def test_bad_input_is_one_clear_line(inst, argv, message):
    rc, out, err = cmd(inst, *argv)
    assert rc == 1 and out == "" and err.startswith("fluxlab-resource: ") and message in err
    assert "Traceback" not in err and err.count("\n") == 1


def test_without_resource_module():
    with fluxlab.start(size=1, modules=[]) as inst:
        for argv in (["list"], ["status"], ["drain", "0"], ["R"]):
            rc, _, err = cmd(inst, *argv)
            assert rc == 1 and err == (
                "fluxlab-resource: the resource module is not loaded "
                "(fluxlab module load -r all resource)\n"
            )


def test_usage_errors(inst):
    rc, _, err = cmd(inst)
    assert rc == 2 and "list|status|info|R|drain|undrain" in err
    rc, _, err = cmd(inst, "undrain")
    assert rc == 2 and "required: targets" in err
