"""Out-of-process clients over ``ipc://``: the pyzmq-free ZMTP connector (the
default) against real broker processes, with the pyzmq DEALER
(``FLUXLAB_CONNECTOR=zmq``) run through the same tests where that is cheap."""

import asyncio
import errno
import os
import pathlib
import socket
import threading
import time

import pytest

from fluxlab._proto import FLAG_STREAMING
from fluxlab.core import connector
from fluxlab.core.connector import ZmtpConnector
from fluxlab.core.errors import FluxError
from fluxlab.core.handle import Flux
from fluxlab.instance.local import LocalInstance
from fluxlab.testing import wait_for

ECHO = str(pathlib.Path(__file__).parent.parent / "transport" / "echomod.py")


def start_instance(size=1):
    inst = LocalInstance(size)
    with Flux(inst.uri) as h:
        for r in range(size):
            h.rpc("module.load", {"name": ECHO}, nodeid=r).get(timeout=10)
    return inst


@pytest.fixture(scope="module")
def inst():
    inst = start_instance(2)
    yield inst
    inst.shutdown()


@pytest.fixture(params=["zmtp", "zmq"])
def h(request, inst, monkeypatch):
    monkeypatch.setenv("FLUXLAB_CONNECTOR", request.param)
    h = Flux(inst.uri)
    assert type(h._conn).__name__ == (
        "ZmtpConnector" if request.param == "zmtp" else "ZmqConnector"
    )
    yield h
    h.close()


def test_rpc_round_trip_errors_and_ranks(h):
    assert h.rpc("echo.hello", {"a": 1}).get(timeout=10) == {"echo": {"a": 1}, "rank": 0}
    assert [h.rpc("broker.ping", nodeid=r).get(timeout=10)["rank"] for r in (0, 1)] == [0, 1]
    with pytest.raises(FluxError) as e:
        h.rpc("nope.x").get(timeout=10)
    assert e.value.errno == errno.ENOSYS


def test_streaming_rpc(h):
    fut = h.rpc("echo.count", {"n": 50}, nodeid=1, flags=FLAG_STREAMING)
    assert [r["i"] for r in fut.stream(timeout=10)] == list(range(50))


def test_events(h):
    h.event_subscribe("zt.")
    seqs = [h.event_send("zt.ev", {"i": i}) for i in range(3)]
    got = [h.event_recv("zt.", timeout=10) for _ in range(3)]
    assert [(m.topic, m.seq, m.payload) for m in got] == [
        ("zt.ev", s, {"i": i}) for i, s in enumerate(seqs)
    ]


@pytest.mark.parametrize("size", [200, 300, 70_000, 3 << 20])
def test_payload_sizes_short_and_long_frames(h, size):
    blob = "é" * (size // 2)  # multi-byte UTF-8: the frame length is in bytes
    assert h.rpc("echo.hello", {"blob": blob}).get(timeout=30)["echo"]["blob"] == blob


def test_many_pipelined_rpcs(h):
    futs = [h.rpc("echo.hello", {"i": i}, nodeid=i % 2) for i in range(5000)]
    assert [f.get(timeout=30)["echo"]["i"] for f in futs] == list(range(5000))


def test_threads_share_one_handle(h):
    errors = []

    def work(t):
        try:
            for i in range(300):
                assert h.rpc("echo.hello", {"t": t, "i": i}).get(timeout=30)["echo"] == {
                    "t": t,
                    "i": i,
                }
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and not any(t.is_alive() for t in threads)


def test_asyncio_loop(h):
    async def main():
        futs = [h.rpc("echo.hello", {"i": i}) for i in range(200)]
        return [(await f)["echo"]["i"] for f in futs]

    assert asyncio.run(asyncio.wait_for(main(), 30)) == list(range(200))


def test_close_says_goodbye(inst, h):
    other = Flux(inst.uri)
    before = other.rpc("echo.seen").get(timeout=10)["streams"]
    h.rpc("echo.forever", flags=FLAG_STREAMING).get(timeout=10)
    assert other.rpc("echo.seen").get(timeout=10)["streams"] == before + 1
    h.close()
    wait_for(
        lambda: other.rpc("echo.seen").get(timeout=10)["streams"] == before,
        what="the broker to drop the closed client's stream",
    )
    other.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_does_not_say_goodbye_for_its_parent(inst):
    h = Flux(inst.uri)
    assert isinstance(h._conn, ZmtpConnector)
    fut = h.rpc("echo.forever", flags=FLAG_STREAMING)
    fut.get(timeout=10)
    streams = h.rpc("echo.seen").get(timeout=10)["streams"]
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        try:
            h._conn.close()  # runs the finalizer: in a child it only closes its copy
        finally:
            os._exit(0)
    assert os.waitpid(pid, 0)[1] == 0
    # a goodbye from the child would precede this request on the shared socket
    assert h.rpc("echo.seen").get(timeout=10)["streams"] == streams
    h.close()


# -- losing the broker ---------------------------------------------------------------
@pytest.fixture
def lone():
    inst = start_instance(1)
    yield inst
    inst.kill_all()
    inst.shutdown(timeout=10)


def test_killed_broker_fails_pending_rpc_with_econnreset(lone):
    h = Flux(lone.uri)
    assert isinstance(h._conn, ZmtpConnector)
    fut = h.rpc("echo.forever", flags=FLAG_STREAMING)
    assert fut.get(timeout=10) == {"started": True}
    fut.reset()
    lone.kill(0)
    t = time.monotonic()
    with pytest.raises(FluxError) as e:
        fut.get(timeout=10)
    assert e.value.errno == errno.ECONNRESET and time.monotonic() - t < 9
    with pytest.raises(FluxError) as e:
        h.rpc("broker.ping").get(timeout=10)
    assert e.value.errno == errno.ECONNRESET
    assert h._conn.drain() == []  # LOST is reported once
    h.close()


def test_broker_shutdown_fails_pending_rpc(lone):
    h = Flux(lone.uri)
    fut = h.rpc("echo.forever", flags=FLAG_STREAMING)
    fut.get(timeout=10)
    fut.reset()
    with Flux(lone.uri) as other:
        other.rpc("broker.shutdown", {"reason": "test"}, nodeid=0).get(timeout=10)
    with pytest.raises(FluxError) as e:
        fut.get(timeout=10)  # the broker ends its modules' streams, or the connection goes
    assert e.value.errno in (errno.ENOSYS, errno.ECONNRESET)
    lone.wait(timeout=20)  # the broker process is gone: its socket is closed
    with pytest.raises(FluxError) as e:
        h.rpc("broker.ping").get(timeout=10)
    assert e.value.errno == errno.ECONNRESET
    h.close()


def test_lost_broker_in_asyncio_stops_watching_the_socket(lone):
    h = Flux(lone.uri)
    fd = h._conn.fds()[0]

    async def main():
        fut = h.rpc("echo.forever", flags=FLAG_STREAMING)
        await fut
        fut.reset()
        lone.kill(0)
        with pytest.raises(FluxError) as e:
            await fut
        assert e.value.errno == errno.ECONNRESET
        loop = asyncio.get_running_loop()
        await asyncio.sleep(0)  # let the loop finish the readable callback
        assert not loop.remove_reader(fd)  # an EOF socket left watched would spin the loop

    asyncio.run(asyncio.wait_for(main(), 30))
    h.close()


# -- nothing (useful) listening -----------------------------------------------------------
def test_no_socket_is_enoent(tmp_path):
    with pytest.raises(FluxError) as e:
        Flux(f"ipc://{tmp_path}/local-0")
    assert e.value.errno == errno.ENOENT and "is the instance running" in str(e.value)


def test_stale_socket_is_econnrefused(tmp_path):
    s = socket.socket(socket.AF_UNIX)
    s.bind(f"{tmp_path}/local-0")
    s.close()
    with pytest.raises(FluxError) as e:
        Flux(f"local://{tmp_path}/local-0")
    assert e.value.errno == errno.ECONNREFUSED and "stale socket" in str(e.value)


def test_listener_that_never_speaks_times_out(tmp_path, monkeypatch):
    monkeypatch.setattr(connector, "CONNECT_TIMEOUT", 0.2)
    s = socket.socket(socket.AF_UNIX)
    s.bind(f"{tmp_path}/local-0")
    s.listen(1)
    with pytest.raises(FluxError) as e:
        Flux(f"ipc://{tmp_path}/local-0")
    assert e.value.errno == errno.ETIMEDOUT and "handshake" in str(e.value)
    s.close()


def test_unknown_connector_choice(tmp_path, monkeypatch):
    monkeypatch.setenv("FLUXLAB_CONNECTOR", "carrier-pigeon")
    with pytest.raises(FluxError) as e:
        Flux(f"ipc://{tmp_path}/local-0")
    assert e.value.errno == errno.EINVAL
