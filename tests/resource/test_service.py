"""The resource module in embedded instances: R, drain, acquire, errors."""

import errno
import os
import socket

import pytest

import fluxlab
from fluxlab._proto import FLAG_STREAMING, NODEID_ANY
from fluxlab.core.errors import FluxError
from fluxlab.resource.client import resource_list, resource_status
from fluxlab.resource.idset import IDset
from fluxlab.resource.rv1 import ResourceSet
from fluxlab.testing import wait_for

FAKE4 = {"cores-per-node": 4, "gpus-per-node": 2, "hostnames": "node[0-3]"}
MODS = [("resource", "all", [])]


def start(size, conf=None, modules=MODS, **kw):
    return fluxlab.start(size=size, modules=modules, conf={"resource": conf} if conf else {}, **kw)


def rpc(h, topic, payload=None, nodeid=0):
    return h.rpc(topic, payload, nodeid=nodeid).get(timeout=10)


def error_of(h, topic, payload=None, nodeid=0):
    with pytest.raises(FluxError) as exc:
        rpc(h, topic, payload, nodeid)
    return exc.value.errno, str(exc.value)


def next_response(fut):
    value = fut.get(timeout=10)
    fut.reset()
    return value


@pytest.fixture
def inst4():
    with start(4, {**FAKE4, "properties": {"big": "node[2-3]"}}) as inst:
        yield inst


def test_fake_shape_on_one_rank():
    with start(1, {"cores-per-node": 3, "gpus-per-node": 1}) as inst:
        h = inst.handle()
        status = rpc(h, "resource.status")
        R = ResourceSet(status["R"])
        assert R.rlist == "rank0/core[0-2],gpu0"
        assert list(R.nodelist) == [inst.brokers[0].cfg.hostname]
        assert (status["online"], status["offline"], status["drain"]) == ("0", "", {})


def test_fake_shape_on_four_ranks(inst4):
    h = inst4.handle()
    R = ResourceSet(rpc(h, "resource.get-R"))
    assert (R.nnodes, R.ncores, R.ngpus) == (4, 16, 8)
    assert str(R.ranks) == "0-3" and str(R.nodelist) == "node[0-3]"
    assert R.children(3) == {"core": frozenset(range(4)), "gpu": frozenset({0, 1})}
    assert R.get_properties() == '{"big": "2-3"}'
    status = rpc(h, "resource.status")
    assert status["R"] == R.to_dict() and status["online"] == "0-3"
    assert status["exclude"] == status["torpid"] == status["offline"] == ""


def test_discovered_shape_by_default():
    with start(2) as inst:
        R = ResourceSet(rpc(inst.handle(), "resource.get-R"))
        cores = frozenset(os.sched_getaffinity(0))
        assert R.children(0)["core"] == R.children(1)["core"] == cores
        assert list(R.nodelist) == [socket.gethostname()] * 2


def test_module_arguments_override_configuration():
    with start(2, {"cores-per-node": 8}, modules=[("resource", "all", ["cores=2", "gpus=1"])]) as i:
        assert ResourceSet(rpc(i.handle(), "resource.get-R")).rlist == "rank[0-1]/core[0-1],gpu0"


def test_configured_R_and_exclude():
    R = ResourceSet.from_nodes([(r, f"h{r}", 2, 0) for r in range(3)])
    with start(3, {"R": R.to_dict(), "exclude": "h0"}) as inst:
        h = inst.handle()
        assert ResourceSet(rpc(h, "resource.get-R")) == R
        wait_for(lambda: rpc(h, "resource.status")["online"] == "0-2", what="ranks online")
        assert rpc(h, "resource.status")["exclude"] == "0"
        acq = h.rpc("resource.acquire", nodeid=0, flags=FLAG_STREAMING)
        first = next_response(acq)
        assert ResourceSet(first["resources"]).ranks == IDset("1-2") and first["up"] == "1-2"
        sched = rpc(h, "resource.sched-status")
        assert ResourceSet(sched["all"]).ranks == IDset("1-2")
        acq.cancel()


def test_drain_and_undrain(inst4):
    h = inst4.handle()
    assert rpc(h, "resource.drain", {"targets": "1-2", "reason": "bad node"}) == {}
    drain = rpc(h, "resource.status")["drain"]
    assert list(drain) == ["1-2"] and drain["1-2"]["reason"] == "bad node"
    stamp = drain["1-2"]["timestamp"]
    assert error_of(h, "resource.drain", {"targets": "node2", "reason": "x"}) == (
        errno.EEXIST,
        "resource.drain: rank 2 already drained",
    )
    rpc(h, "resource.drain", {"targets": "2-3", "reason": "more", "mode": "update"})
    rpc(h, "resource.drain", {"targets": "1", "reason": "worse", "mode": "overwrite"})
    drain = rpc(h, "resource.status")["drain"]
    assert drain["1"] == {"timestamp": stamp, "reason": "worse"}
    assert drain["2"] == {"timestamp": stamp, "reason": "bad node"}
    assert drain["3"]["reason"] == "more"
    assert rpc(h, "resource.undrain", {"targets": "node[1-2]"}) == {}
    assert error_of(h, "resource.undrain", {"targets": "1"}) == (
        errno.EINVAL,
        "resource.undrain: rank 1 not drained",
    )
    rpc(h, "resource.undrain", {"targets": "0-3", "mode": "force"})
    assert rpc(h, "resource.status")["drain"] == {}


@pytest.mark.parametrize(
    "topic,payload,err,message",
    [
        ("resource.drain", {"reason": "x"}, errno.EPROTO, "missing required field 'targets'"),
        ("resource.drain", {"targets": 1}, errno.EPROTO, "field 'targets' must be a string"),
        (
            "resource.drain",
            {"targets": "1", "reason": 42},
            errno.EPROTO,
            "field 'reason' must be a string, not an integer",
        ),
        ("resource.drain", {"targets": "9"}, errno.EINVAL, "rank 9 not found (valid ranks: 0-3)"),
        ("resource.drain", {"targets": "node7"}, errno.EINVAL, "unknown host 'node7'"),
        ("resource.drain", {"targets": "0-"}, errno.EINVAL, "unknown host '0-'"),
        ("resource.drain", {"targets": "node[0-"}, errno.EINVAL, "neither an idset nor"),
        ("resource.drain", {"targets": ""}, errno.EINVAL, "targets: must not be empty"),
        ("resource.drain", {"targets": "1", "mode": "x"}, errno.EINVAL, "mode must be one of"),
        ("resource.drain", [1], errno.EPROTO, "payload must be a JSON object"),
        ("resource.undrain", {"targets": "nodeX"}, errno.EINVAL, "unknown host 'nodeX'"),
        ("resource.undrain", {"targets": "1", "mode": 2}, errno.EPROTO, "field 'mode'"),
        ("resource.frobnicate", {}, errno.ENOSYS, "has no method"),
    ],
)
def test_bad_requests_get_clear_errors(inst4, topic, payload, err, message):
    got_err, text = error_of(inst4.handle(), topic, payload)
    assert got_err == err and message in text, text


def test_acquire_stream_follows_drain_and_undrain(inst4):
    h = inst4.handle()
    acq = h.rpc("resource.acquire", nodeid=0, flags=FLAG_STREAMING)
    first = next_response(acq)
    assert set(first) == {"resources", "up"} and first["up"] == "0-3"
    assert ResourceSet(first["resources"]) == ResourceSet(rpc(h, "resource.get-R"))
    rpc(h, "resource.drain", {"targets": "1", "reason": "r"})
    assert next_response(acq) == {"down": "1"}
    rpc(h, "resource.drain", {"targets": "1", "reason": "again", "mode": "overwrite"})
    rpc(h, "resource.drain", {"targets": "node[0,3]"})
    assert next_response(acq) == {"down": "0,3"}  # the overwrite changed nothing up/down
    rpc(h, "resource.undrain", {"targets": "0-1"})
    assert next_response(acq) == {"up": "0-1"}
    acq.cancel()
    with pytest.raises(FluxError) as exc:
        acq.get(timeout=10)
    assert exc.value.errno == errno.ECANCELED
    assert rpc(h, "resource.stats")["acquire-streams"] == 0


def test_acquire_must_go_to_rank_0_but_other_methods_are_relayed(inst4):
    h3 = inst4.handle(3)
    rpc(inst4.handle(), "resource.drain", {"targets": "2", "reason": "r"})
    assert rpc(h3, "resource.status", nodeid=NODEID_ANY)["drain"]["2"]["reason"] == "r"
    rpc(h3, "resource.undrain", {"targets": "2"}, nodeid=NODEID_ANY)
    assert rpc(h3, "resource.status", nodeid=3)["drain"] == {}
    err, text = error_of(h3, "resource.drain", {"targets": 5}, nodeid=NODEID_ANY)
    assert err == errno.EPROTO and "'targets' must be a string" in text
    fut = h3.rpc("resource.acquire", nodeid=NODEID_ANY, flags=FLAG_STREAMING)
    with pytest.raises(FluxError) as exc:
        fut.get(timeout=10)
    assert exc.value.errno == errno.EINVAL and "served by rank 0" in str(exc.value)


def test_module_removed_on_a_rank_is_offline_until_loaded_again(inst4):
    h = inst4.handle()
    acq = h.rpc("resource.acquire", nodeid=0, flags=FLAG_STREAMING)
    assert next_response(acq)["up"] == "0-3"
    rpc(h, "module.remove", {"name": "resource"}, nodeid=2)
    assert next_response(acq) == {"down": "2"}
    assert rpc(h, "resource.status")["offline"] == "2"
    rpc(h, "module.load", {"name": "resource"}, nodeid=2)  # says hello to rank 0
    assert next_response(acq) == {"up": "2"}
    assert rpc(h, "resource.status")["online"] == "0-3"
    acq.cancel()


def test_loading_at_run_time_in_any_order():
    with start(4, FAKE4, modules=[]) as inst:
        h = inst.handle()
        for rank in (0, 3, 1, 2):  # rank 0 first: others answer ENOSYS, then say hello
            rpc(h, "module.load", {"name": "resource"}, nodeid=rank)
        wait_for(lambda: rpc(h, "resource.status")["online"] == "0-3", what="all ranks online")
        assert ResourceSet(rpc(h, "resource.get-R")).nnodes == 4


def test_requests_wait_for_R():
    with start(2, FAKE4 | {"hostnames": "node[0-1]"}, modules=[]) as inst:
        h = inst.handle()
        rpc(h, "module.load", {"name": "resource"}, nodeid=0)
        status = h.rpc("resource.status", nodeid=0)
        acq = h.rpc("resource.acquire", nodeid=0, flags=FLAG_STREAMING)
        drain = h.rpc("resource.drain", {"targets": "1", "reason": "early"}, nodeid=0)
        rpc(h, "module.load", {"name": "resource"}, nodeid=1)
        # answered in arrival order once rank 1 has reported and R exists
        assert status.get(timeout=10)["online"] == "0-1"
        first = next_response(acq)
        assert first["up"] == "0-1" and ResourceSet(first["resources"]).nnodes == 2
        assert drain.get(timeout=10) == {}
        assert next_response(acq) == {"down": "1"}
        assert rpc(h, "resource.status")["drain"]["1"]["reason"] == "early"


def test_bad_configuration_fails_the_module_load_with_a_clear_log():
    with start(2, {"hostnames": "a,b,c"}) as inst:
        h = inst.handle()
        assert error_of(h, "resource.status")[0] == errno.ENOSYS
        logs = [e["message"] for e in h.rpc("log.dmesg", {}, flags=FLAG_STREAMING).stream(10)]
        assert any(
            "rc1: failed to load module resource: resource.hostnames: 'a,b,c' names 3 host(s)" in m
            for m in logs
        ), logs


def test_sched_status_fallback_and_python_api(inst4):
    h = inst4.handle()
    rpc(h, "resource.drain", {"targets": "3", "reason": "r"})
    fut = resource_list(h)
    rl = fut.get()
    assert fut.source == "resource.sched-status"
    assert (rl.all.nnodes, rl.all.ncores, rl.all.ngpus) == (4, 16, 8)
    assert str(rl.down.ranks) == "3" and str(rl.down.nodelist) == "node3"
    assert rl.allocated.nnodes == 0
    assert str(rl.up.ranks) == "0-2" and rl.free.ncores == 12
    st = resource_status(h).get()
    assert str(st.drained) == "3" and str(st.avail) == "0-2" and str(st.online) == "0-3"


def test_allocations_come_from_the_scheduler(inst4, tmp_path):
    mod = tmp_path / "fakesched.py"
    mod.write_text(
        "from fluxlab.core.module import ServiceModule, request_handler\n"
        "class FakeSched(ServiceModule):\n"
        "    name = 'sched'\n"
        "    @request_handler('resource-status')\n"
        "    def status(self, msg):\n"
        "        R = self.h.rpc('resource.sched-status', nodeid=0)\n"
        "        return self._reply(R)\n"
        "    async def _reply(self, fut):\n"
        "        out = await fut\n"
        "        R = await self.h.rpc('resource.get-R', nodeid=0)\n"
        "        from fluxlab.resource.rv1 import ResourceSet\n"
        "        out['allocated'] = ResourceSet(R).copy_ranks([1, 3]).to_dict()\n"
        "        return out\n"
    )
    h = inst4.handle()
    rpc(h, "module.load", {"name": str(mod)})
    rpc(h, "resource.drain", {"targets": "3", "reason": "r"})
    fut = resource_list(h)
    assert str(fut.get().allocated.ranks) == "1,3" and fut.source == "resource.sched-status"
    st = resource_status(h).get()
    assert (str(st.draining), str(st.drained), str(st.allocated)) == ("3", "", "1,3")


def test_resource_list_then_in_a_reactor(inst4):
    h = inst4.handle()
    got = []
    resource_list(h).then(lambda f: (got.append(f.get()), h.reactor_stop()))
    h.reactor_run()
    assert got and got[0].all.nnodes == 4


def test_stats(inst4):
    h = inst4.handle()
    rpc(h, "resource.status")  # answered once R exists; stats are answered at once
    stats = rpc(h, "resource.stats")
    assert stats["R-ready"] and stats["online"] == "0-3" and stats["drained"] == ""


def test_waiting_requests_fail_when_the_module_is_removed():
    with start(2, FAKE4 | {"hostnames": "node[0-1]"}, modules=[]) as inst:
        h = inst.handle()
        rpc(h, "module.load", {"name": "resource"}, nodeid=0)  # rank 1 has none: R waits
        status = h.rpc("resource.status", nodeid=0)
        rpc(h, "module.remove", {"name": "resource"}, nodeid=0)
        with pytest.raises(FluxError) as exc:
            status.get(timeout=10)
        assert exc.value.errno == errno.ENOSYS and "before R was known" in str(exc.value)


def test_quick_reload_on_a_rank_comes_back_online(inst4):
    h = inst4.handle()
    assert rpc(h, "resource.status")["online"] == "0-3"
    for _ in range(5):  # remove and load pipelined: ENODATA and hello race at rank 0
        remove = h.rpc("module.remove", {"name": "resource"}, nodeid=2)
        load = h.rpc("module.load", {"name": "resource"}, nodeid=2)
        remove.get(timeout=10)
        load.get(timeout=10)
        wait_for(lambda: rpc(h, "resource.status")["online"] == "0-3", what="rank 2 back")
