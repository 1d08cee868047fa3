"""One messaging suite, run over every overlay transport (inproc, ipc, tcp).

A 7-rank binary tree (depth 2) is started embedded with the given overlay;
the tests route requests to every rank, stream, cancel, publish events, load
modules at run time and check that bad input gets error responses.
"""

import asyncio
import errno
import pathlib
import threading

import pytest
import zmq

import fluxlab
from fluxlab._proto import FLAG_STREAMING, Message
from fluxlab.core.errors import FluxError
from fluxlab.testing import wait_for

ECHO = str(pathlib.Path(__file__).with_name("echomod.py"))


@pytest.fixture(scope="module", params=["inproc", "ipc", "tcp"])
def inst(request):
    with fluxlab.start(size=7, fanout=2, transport=request.param) as inst:
        h = inst.handle()
        for r in range(7):
            h.rpc("module.load", {"name": ECHO}, nodeid=r).get(timeout=10)
        h.close()
        yield inst


@pytest.fixture
def h(inst):
    h = inst.handle()
    yield h
    h.close()


def test_transport_attribute(inst, h):
    assert h.attr_get("tbon.transport") == inst.brokers[0].cfg.transport
    assert h.attr_get("size") == "7"


def test_every_rank_answers_broker_ping(h):
    futs = [h.rpc("broker.ping", {"seq": r}, nodeid=r) for r in range(7)]
    assert [f.get(timeout=10)["rank"] for f in futs] == list(range(7))


def test_request_to_rank_is_served_there(h):
    for r in (0, 2, 6):
        assert h.rpc("echo.hello", {"r": r}, nodeid=r).get(timeout=10) == {
            "echo": {"r": r},
            "rank": r,
        }


def test_nodeid_any_goes_to_nearest_rank_with_service(inst):
    h5 = inst.handle(5)  # rank 5 has echo itself
    assert h5.rpc("echo.hello").get(timeout=10)["rank"] == 5
    # heartbeat lives on rank 0 only: a request from rank 5 climbs 5 -> 2 -> 0
    assert h5.rpc("heartbeat.ping").get(timeout=10)["rank"] == 0
    h5.close()


def test_unknown_service_is_enosys(h):
    with pytest.raises(FluxError) as e:
        h.rpc("nosuch.method", nodeid=3).get(timeout=10)
    assert e.value.errno == errno.ENOSYS
    with pytest.raises(FluxError) as e:
        h.rpc("nosuch.method").get(timeout=10)
    assert e.value.errno == errno.ENOSYS and "nosuch" in str(e.value)
    with pytest.raises(FluxError) as e:
        h.rpc("echo.nomethod", nodeid=1).get(timeout=10)
    assert e.value.errno == errno.ENOSYS


def test_rank_outside_instance_is_ehostunreach(h):
    with pytest.raises(FluxError) as e:
        h.rpc("broker.ping", nodeid=7).get(timeout=10)
    assert e.value.errno == errno.EHOSTUNREACH


def test_streaming_rpc_ends_with_enodata(h):
    fut = h.rpc("echo.count", {"n": 5}, nodeid=4, flags=FLAG_STREAMING)
    assert [r["i"] for r in fut.stream(timeout=10)] == [0, 1, 2, 3, 4]
    with pytest.raises(FluxError) as e:
        fut.get(timeout=1)
    assert e.value.errno == errno.ENODATA


def test_streaming_service_refuses_non_streaming_request(h):
    with pytest.raises(FluxError) as e:
        h.rpc("echo.count", {"n": 1}).get(timeout=10)
    assert e.value.errno == errno.EPROTO


def test_cancel_streaming_rpc(h):
    fut = h.rpc("echo.forever", nodeid=6, flags=FLAG_STREAMING)
    assert fut.get(timeout=10) == {"started": True}
    fut.reset()
    assert h.rpc("echo.seen", nodeid=6).get(timeout=10)["streams"] >= 1
    fut.cancel()
    with pytest.raises(FluxError) as e:
        fut.get(timeout=10)
    assert e.value.errno == errno.ECANCELED


def test_disconnect_notice_drops_streams(inst):
    h = inst.handle()
    before = h.rpc("echo.seen", nodeid=3).get(timeout=10)
    fut = h.rpc("echo.forever", nodeid=3, flags=FLAG_STREAMING)
    fut.get(timeout=10)
    other = inst.handle()
    assert other.rpc("echo.seen", nodeid=3).get(timeout=10)["streams"] == before["streams"] + 1
    h.close()
    wait_for(
        lambda: other.rpc("echo.seen", nodeid=3).get(timeout=10)["streams"] == before["streams"],
        what="rank 3 to drop the stream of the closed client",
    )
    assert len(other.rpc("echo.seen", nodeid=3).get(timeout=10)["disconnects"]) > len(
        before["disconnects"]
    )
    other.close()


def test_error_responses_from_handlers(h):
    with pytest.raises(FluxError) as e:
        h.rpc("echo.fail", nodeid=2).get(timeout=10)
    assert e.value.errno == errno.EPERM and "not allowed" in str(e.value)
    with pytest.raises(FluxError) as e:
        h.rpc("echo.boom", nodeid=2).get(timeout=10)
    assert e.value.errno == errno.EPROTO and "kaboom" in str(e.value)
    # the module (and broker) survive
    assert h.rpc("echo.hello", nodeid=2).get(timeout=10)["rank"] == 2


def test_bad_payload_names_field(h):
    with pytest.raises(FluxError) as e:
        h.rpc("echo.count", {"n": "five"}, flags=FLAG_STREAMING).get(timeout=10)
    assert e.value.errno == errno.EPROTO and "'n'" in str(e.value)
    with pytest.raises(FluxError) as e:
        h.rpc("attr.get", [1, 2]).get(timeout=10)
    assert "JSON object" in str(e.value)


def test_async_module_handler_relays_through_tree(h):
    # rank 3's module awaits a ping to rank 6 (3 -> 1 -> 0 -> 2 -> 6 and back)
    resp = h.rpc("echo.relay", {"rank": 6}, nodeid=3).get(timeout=10)
    assert resp["pong"]["rank"] == 6 and resp["pong"]["via"] == 3


def test_deferred_response(h):
    assert h.rpc("echo.later", nodeid=5).get(timeout=10) == {"late": True}


def test_events_reach_every_rank_in_order_filtered_by_prefix(inst, h):
    h.event_subscribe("test.")
    seqs = [h.event_send(f"test.{i}", {"i": i}) for i in range(5)]
    h.event_send("other.topic", {})
    assert seqs == sorted(seqs) and len(set(seqs)) == 5
    got = [h.event_recv(timeout=10) for _ in range(5)]
    assert [m.topic for m in got] == [f"test.{i}" for i in range(5)]
    assert [m.seq for m in got] == seqs
    for r in range(7):
        events = wait_for(
            lambda r=r: (
                [e for e in h.rpc("echo.seen", nodeid=r).get(timeout=10)["events"] if e[1] in seqs]
                if True
                else None
            ),
            what=f"events on rank {r}",
        )
        wait_for(
            lambda r=r: (
                len(
                    [
                        e
                        for e in h.rpc("echo.seen", nodeid=r).get(timeout=10)["events"]
                        if e[1] in seqs
                    ]
                )
                == 5
            ),
            what=f"5 events on rank {r}",
        )
        events = [e for e in h.rpc("echo.seen", nodeid=r).get(timeout=10)["events"] if e[1] in seqs]
        assert [e[1] for e in events] == seqs
    assert h.event_recv("other.", timeout=0.2) is None  # not subscribed


def test_attributes(h):
    assert h.attr_get("rank") == "0"
    assert h.rpc("attr.get", {"name": "rank"}, nodeid=4).get(timeout=10)["value"] == "4"
    with pytest.raises(FluxError) as e:
        h.attr_set("size", "9")
    assert e.value.errno == errno.EPERM
    h.attr_set("user.note", "hello")
    assert h.attr_get("user.note") == "hello"
    names = h.rpc("attr.list").get(timeout=10)["names"]
    for n in (
        "rank",
        "size",
        "instance-level",
        "local-uri",
        "parent-uri",
        "version",
        "rundir",
        "statedir",
        "tbon.fanout",
    ):
        assert n in names


def test_module_stats_ping_and_list(h):
    assert h.rpc("echo.ping", {"x": 1}, nodeid=1).get(timeout=10)["x"] == 1
    h.rpc("echo.hello", nodeid=1).get(timeout=10)
    stats = h.rpc("echo.stats", nodeid=1).get(timeout=10)
    assert stats["requests"]["echo.hello"] >= 1
    mods = {m["name"] for m in h.rpc("module.list", nodeid=1).get(timeout=10)["modules"]}
    assert "echo" in mods


def test_oversize_payload_gets_error(h, monkeypatch):
    import fluxlab.broker._peerio as peerio

    monkeypatch.setattr(peerio, "MAX_PAYLOAD", 1000)
    with pytest.raises(FluxError) as e:
        h.rpc("echo.hello", {"blob": "x" * 5000}).get(timeout=10)
    assert e.value.errno == errno.EMSGSIZE
    assert h.rpc("echo.hello", {"small": 1}).get(timeout=10)["rank"] == 0


def test_garbage_frames_do_not_kill_the_broker(inst, h):
    from fluxlab.transport import context

    s = context().socket(zmq.DEALER)
    s.connect(inst.brokers[0].local_uri)
    s.send_multipart([b"garbage"])
    s.send_multipart([b"\x8e\x01", b"x", b"y", b"z"])
    good = Message.request("echo.hello", None, matchtag=1).encode()
    s.send_multipart([good[0], b"{not json"])
    assert s.poll(10000), "broker did not answer the bad-JSON request"
    resp = Message.__new__(Message)
    from fluxlab._proto import decode

    resp = decode(s.recv_multipart())
    assert resp.errnum == errno.EPROTO
    s.close(linger=0)
    assert h.rpc("broker.ping").get(timeout=10)["rank"] == 0


def test_handle_is_thread_safe(h):
    errors, results = [], []

    def worker(t):
        try:
            for i in range(50):
                r = h.rpc("echo.hello", {"t": t, "i": i}, nodeid=(t + i) % 7).get(timeout=20)
                assert r["echo"] == {"t": t, "i": i}
            results.append(t)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and sorted(results) == list(range(6))


def test_asyncio_interface(h):
    async def main():
        resp = await h.rpc("echo.hello", {"a": 1}, nodeid=2)
        items = [r["i"] async for r in h.rpc("echo.count", {"n": 3}, flags=FLAG_STREAMING)]
        many = await asyncio.gather(*(h.rpc("broker.ping", nodeid=r) for r in range(7)))
        return resp, items, [m["rank"] for m in many]

    resp, items, ranks = asyncio.run(asyncio.wait_for(main(), 20))
    assert resp["echo"] == {"a": 1} and items == [0, 1, 2] and ranks == list(range(7))


def test_then_callbacks_run_in_reactor(h):
    seen = []

    def cb(f):
        try:
            seen.append(f.get()["i"])
        except OSError as e:
            seen.append(errno.errorcode[e.errno])
            return
        f.reset()

    h.rpc("echo.count", {"n": 4}, flags=FLAG_STREAMING).then(cb)
    h.reactor_run()
    assert seen == [0, 1, 2, 3, "ENODATA"]


def test_exception_in_callback_is_raised_by_reactor_run(h):
    def cb(f):
        raise ValueError("callback bug")

    h.rpc("broker.ping").then(cb)
    with pytest.raises(ValueError, match="callback bug"):
        h.reactor_run()
