"""The resource module across broker processes: a killed rank goes down."""

import io

from fluxlab._proto import FLAG_STREAMING
from fluxlab.cli.main import Context, run_command
from fluxlab.core.handle import Flux
from fluxlab.instance.local import LocalInstance
from fluxlab.resource.rv1 import ResourceSet
from fluxlab.testing import wait_for

CONF = {"resource": {"cores-per-node": 2, "hostnames": "node[0-3]"}}


def test_killed_rank_and_its_subtree_go_down():
    with LocalInstance(4, fanout=2, conf=CONF, modules=[("resource", "all", [])]) as inst:
        h = Flux(inst.uri)
        status = lambda: h.rpc("resource.status", nodeid=0).get(timeout=10)  # noqa: E731
        assert status()["online"] == "0-3"
        acq = h.rpc("resource.acquire", nodeid=0, flags=FLAG_STREAMING)
        assert acq.get(timeout=10)["up"] == "0-3"
        acq.reset()
        inst.kill(1)  # rank 3's parent: both become unreachable
        down = set()
        while down != {1, 3}:
            resp = acq.get(timeout=30)
            acq.reset()
            assert set(resp) == {"down"}
            down |= {int(r) for r in resp["down"].replace("-", ",").split(",")}
        st = status()
        assert (st["online"], st["offline"]) == ("0,2", "1,3")
        out = io.StringIO()
        assert run_command(["resource", "status"], Context(stdout=out, uri=inst.uri)) == 0
        assert out.getvalue() == (
            "       STATE UP NNODES NODELIST\n"
            "       avail  ✔      2 node[0,2]\n"
            "      avail*  ✗      2 node[1,3]\n"
        )
        # draining a down rank still works and the rest keeps working
        h.rpc("resource.drain", {"targets": "node3", "reason": "dead"}, nodeid=0).get(timeout=10)
        h.rpc("resource.drain", {"targets": "2", "reason": "test"}, nodeid=0).get(timeout=10)
        assert acq.get(timeout=10) == {"down": "2"}
        wait_for(lambda: "2" in status()["drain"], what="rank 2 drained")
        acq.cancel()
        h.close()
        inst.kill(3)  # orphaned: would otherwise wait out its parent timeout


def _status_after_loading_without(rank_killed, conf):
    with LocalInstance(3, fanout=2, conf=conf, modules=[]) as inst:
        h = Flux(inst.uri)
        inst.kill(rank_killed)
        wait_for(
            lambda: any(
                c["status"] == "lost"
                for c in h.rpc("overlay.health", nodeid=0).get(timeout=10)["children"]
            ),
            what=f"rank {rank_killed} lost",
        )
        for rank in (0, 1):
            h.rpc("module.load", {"name": "resource"}, nodeid=rank).get(timeout=10)
        status = h.rpc("resource.status", nodeid=0).get(timeout=30)
        h.close()
        return status


def test_rank_lost_before_reporting_gets_the_configured_shape():
    status = _status_after_loading_without(2, {"resource": {"cores-per-node": 2}})
    R = ResourceSet(status["R"])
    assert R.rlist == "rank[0-2]/core[0-1]" and status["offline"] == "2"


def test_rank_lost_before_reporting_is_left_out_of_discovered_R():
    status = _status_after_loading_without(2, {})
    assert str(ResourceSet(status["R"]).ranks) == "0-1" and status["online"] == "0-1"
