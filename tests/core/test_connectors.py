"""The same client operations over both connectors: direct (in-process) and zmq."""

import errno

import pytest

import fluxlab
from fluxlab._proto import FLAG_STREAMING
from fluxlab.core.connector import DirectConnector, ZmqConnector
from fluxlab.core.errors import FluxError


@pytest.fixture(scope="module")
def inst():
    with fluxlab.start(size=3) as inst:
        yield inst


@pytest.fixture(params=["direct", "zmq"])
def h(request, inst, monkeypatch):
    if request.param == "zmq":
        monkeypatch.setenv("FLUXLAB_NO_DIRECT", "1")
    h = inst.handle()
    expected = DirectConnector if request.param == "direct" else ZmqConnector
    assert isinstance(h._conn, expected)
    yield h
    h.close()


def test_rpc_errors_stream_and_events(h):
    assert [h.rpc("broker.ping", nodeid=r).get(timeout=10)["rank"] for r in range(3)] == [0, 1, 2]
    with pytest.raises(FluxError) as e:
        h.rpc("nope.x").get(timeout=10)
    assert e.value.errno == errno.ENOSYS
    entries = list(h.rpc("log.dmesg", {}, flags=FLAG_STREAMING).stream(timeout=10))
    assert entries and all("message" in e for e in entries)
    h.event_subscribe("conn.")
    seq = h.event_send("conn.test", {"v": 1})
    ev = h.event_recv(timeout=10)
    assert ev.topic == "conn.test" and ev.seq == seq and ev.payload == {"v": 1}


def test_payload_is_snapshotted_at_send(h):
    payload = {"n": 1}
    fut = h.rpc("broker.ping", payload)
    payload["n"] = 2  # mutating after send must not change what the broker saw
    assert fut.get(timeout=10)["n"] == 1


def test_instance_stop_fails_outstanding_rpcs():
    inst = fluxlab.start(size=1)
    h = inst.handle()
    assert isinstance(h._conn, DirectConnector)
    inst.stop()
    with pytest.raises(FluxError) as e:
        h.rpc("broker.ping").get(timeout=10)
    assert e.value.errno == errno.ECONNRESET
