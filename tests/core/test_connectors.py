"""The same client operations over every connector: direct (in-process), pyzmq
(inproc, or ipc with ``FLUXLAB_CONNECTOR=zmq``) and ZMTP over a UNIX socket."""

import errno

import pytest

import fluxlab
from fluxlab._proto import FLAG_STREAMING
from fluxlab.core import handle as handle_mod
from fluxlab.core.connector import DirectConnector, ZmqConnector, ZmtpConnector
from fluxlab.core.errors import FluxError


@pytest.fixture(scope="module")
def inst():
    with fluxlab.start(size=3) as inst:
        yield inst


EXPECTED = {
    "direct": DirectConnector,
    "zmq": ZmqConnector,
    "zmq-ipc": ZmqConnector,
    "zmtp": ZmtpConnector,
}


@pytest.fixture(params=list(EXPECTED))
def h(request, inst, monkeypatch):
    if request.param != "direct":
        monkeypatch.setenv("FLUXLAB_NO_DIRECT", "1")
    if request.param in ("zmq-ipc", "zmtp"):  # reach the embedded broker through its ipc socket
        monkeypatch.delitem(handle_mod._INPROC, inst.uri)
    if request.param == "zmq-ipc":
        monkeypatch.setenv("FLUXLAB_CONNECTOR", "zmq")
    h = inst.handle()
    assert isinstance(h._conn, EXPECTED[request.param])
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


@pytest.mark.parametrize("kind", ["direct", "zmtp"])
def test_instance_stop_fails_outstanding_rpcs(kind, monkeypatch):
    inst = fluxlab.start(size=1)
    if kind == "zmtp":
        monkeypatch.setenv("FLUXLAB_NO_DIRECT", "1")
        del handle_mod._INPROC[inst.uri]  # not restored: the instance is stopped below
    h = inst.handle()
    assert isinstance(h._conn, EXPECTED[kind])
    inst.stop()
    with pytest.raises(FluxError) as e:
        h.rpc("broker.ping").get(timeout=10)
    assert e.value.errno == errno.ECONNRESET
