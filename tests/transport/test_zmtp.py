"""The pyzmq-free ZMTP 3 DEALER: the pure session (any chunking), then the
socket edge against real libzmq ROUTERs and misbehaving listeners."""

import errno
import os
import select
import socket
import struct
import threading
import time

import pytest
import zmq
from hypothesis import given, settings, strategies as st

from fluxlab.transport import zmtp
from fluxlab.transport.zmtp import (
    FLAG_COMMAND,
    FLAG_LONG,
    FLAG_MORE,
    Session,
    ZmtpDealer,
    ZmtpError,
    check_greeting,
    encode_command,
    encode_message,
    encode_properties,
    greeting,
    parse_properties,
)

IDENT = b"0123456789abcdef0123456789abcdef"


def server_greeting(major=3, minor=1, mechanism=b"NULL", padding=b"\x00" * 7 + b"\x01"):
    """A greeting as libzmq writes it (its padding holds routing-id length + 1)."""
    return (
        b"\xff" + padding + b"\x7f" + bytes((major, minor)) + mechanism.ljust(20, b"\0") + bytes(32)
    )


def ready(socket_type=b"ROUTER", **extra):
    return encode_command(b"READY", encode_properties({"Socket-Type": socket_type, **extra}))


HANDSHAKE = server_greeting() + ready(Identity=b"")


def long_frame(flags, body):
    """A frame with the LONG flag even when the body is short (allowed by the spec)."""
    return struct.pack("!BQ", flags | FLAG_LONG, len(body)) + body


def session_after_handshake():
    s = Session(IDENT)
    assert s.feed(HANDSHAKE) == [] and s.ready and s.error is None
    s.take_outbox()
    return s


def feed_split(stream, cuts):
    s = Session(IDENT)
    out, prev = [], 0
    for c in [*sorted(cuts), len(stream)]:
        out += s.feed(stream[prev:c])
        prev = c
    return s, out


# -- encoding -------------------------------------------------------------------
def test_greeting_layout():
    g = greeting()
    assert len(g) == 64
    assert g[:10] == b"\xff" + bytes(8) + b"\x7f"
    assert g[10] == 3 and g[11] in (0, 1)
    assert g[12:32] == b"NULL" + bytes(16)
    assert g[32] == 0 and g[33:] == bytes(31)
    assert check_greeting(g) == (3, g[11])


def test_client_sends_greeting_and_ready_with_dealer_type_and_identity():
    out = Session(IDENT).take_outbox()
    assert out[:64] == greeting()
    body = out[66:]
    assert out[64] == FLAG_COMMAND and out[65] == len(body)
    assert body[:6] == b"\x05READY"
    assert parse_properties(body[6:]) == {"Socket-Type": b"DEALER", "Identity": IDENT}


def test_frame_encoding_short_and_long():
    assert encode_message([b"ab"]) == b"\x00\x02ab"
    assert encode_message([b"a", b""]) == b"\x01\x01a\x00\x00"
    body = b"x" * 256
    assert encode_message([body]) == b"\x02" + (256).to_bytes(8, "big") + body
    assert encode_message([b"x" * 255])[:2] == b"\x00\xff"
    assert encode_command(b"PING", b"\x00\x0actx") == b"\x04\x0a\x04PING\x00\x0actx"


def test_properties_round_trip_and_truncation():
    props = {"Socket-Type": b"ROUTER", "Identity": b"", "X-Big": b"v" * 300}
    assert parse_properties(encode_properties(props)) == props
    raw = encode_properties({"Socket-Type": b"ROUTER"})
    for cut in range(1, len(raw)):
        with pytest.raises(ZmtpError):
            parse_properties(raw[:cut])


# -- handshake -------------------------------------------------------------------
def test_handshake_at_every_split_point():
    for cut in range(len(HANDSHAKE) + 1):
        s, out = feed_split(HANDSHAKE, [cut])
        assert out == [] and s.ready and s.error is None, cut
        assert s.peer_version == (3, 1)
        assert s.peer_property("socket-type") == b"ROUTER"


def test_handshake_one_byte_at_a_time_then_messages_in_the_same_stream():
    stream = HANDSHAKE + encode_message([b"hdr", b"payload"])
    s, out = feed_split(stream, range(len(stream)))
    assert out == [[b"hdr", b"payload"]]


@pytest.mark.parametrize(
    ("peer", "why"),
    [
        (b"GET / HTTP/1.1\r\n" + bytes(60), "signature"),
        (server_greeting(major=2), "ZMTP 2"),
        (server_greeting(mechanism=b"CURVE") + ready(), "CURVE"),
        (server_greeting() + ready(b"PUB"), "PUB"),
        (server_greeting() + encode_message([b"early"]), "before READY"),
        (server_greeting() + encode_command(b"HELLO"), "expected READY"),
        (server_greeting() + encode_command(b"ERROR", b"\x07refused"), "refused"),
        (server_greeting() + encode_command(b"READY", b"\x0bSocket-Type\x00\x00"), "truncated"),
    ],
)
def test_bad_peers_are_reported(peer, why):
    s = Session(IDENT)
    assert s.feed(peer) == []
    assert not s.ready and why in s.error
    assert s.feed(HANDSHAKE) == []  # nothing more is parsed after an error


def test_zmtp_3_0_peer_is_accepted():
    s = Session(IDENT)
    s.feed(server_greeting(minor=0) + ready())
    assert s.ready and s.peer_version == (3, 0)


# -- traffic -------------------------------------------------------------------------
def test_short_long_empty_and_multipart_frames():
    s = session_after_handshake()
    big = os.urandom(70000)
    stream = (
        encode_message([b"h", b"p"])
        + encode_message([b"only"])
        + encode_message([b"", b""])
        + encode_message([b"a", b"b", b"c", big])
        + long_frame(FLAG_MORE, b"x")
        + long_frame(0, b"")
        + encode_message([b"y" * 255, b"z" * 256])
    )
    assert s.feed(stream) == [
        [b"h", b"p"],
        [b"only"],
        [b"", b""],
        [b"a", b"b", b"c", big],
        [b"x", b""],
        [b"y" * 255, b"z" * 256],
    ]
    assert s.error is None and s.outbox == []


def test_ping_gets_pong_with_context_and_other_commands_are_ignored():
    s = session_after_handshake()
    stream = (
        encode_message([b"h1", b"p1"])
        + encode_command(b"PING", b"\x00\x64ctx-1")
        + encode_command(b"SUBSCRIBE", b"topic")
        + encode_command(b"X-UNKNOWN")
        + encode_command(b"PONG", b"whatever")
        + encode_message([b"h2", b"p2"])
        + encode_command(b"PING", b"\x00\x00")
    )
    assert s.feed(stream) == [[b"h1", b"p1"], [b"h2", b"p2"]]
    assert s.take_outbox() == encode_command(b"PONG", b"ctx-1") + encode_command(b"PONG")
    assert s.error is None


def test_error_command_ends_the_session_after_earlier_messages():
    s = session_after_handshake()
    stream = encode_message([b"a", b"b"]) + encode_command(b"ERROR", b"\x04gone")
    assert s.feed(stream + encode_message([b"c", b"d"])) == [[b"a", b"b"]]
    assert s.error == "peer sent ERROR: gone"
    assert s.feed(encode_message([b"e", b"f"])) == []


@pytest.mark.parametrize(
    "bad",
    [
        b"\x08\x01x",  # reserved flag bit
        b"\x01\x01a" + encode_command(b"PING", b"\x00\x00"),  # command inside a multipart message
        bytes((FLAG_COMMAND | FLAG_MORE, 5)) + b"\x04PING",  # command with MORE
        b"\x04\x00",  # empty command
        b"\x04\x03\x09ab",  # name longer than the body
        b"\x02" + (1 << 62).to_bytes(8, "big"),  # absurd size
    ],
)
def test_corrupt_frames_are_errors(bad):
    s = session_after_handshake()
    assert s.feed(bad) == []
    assert s.error


def test_partial_frame_is_kept_until_complete():
    s = session_after_handshake()
    wire = encode_message([b"h", b"q" * 100000])
    assert s.feed(wire[:3]) == []
    assert s.feed(wire[3:50000]) == []
    assert s.feed(wire[50000:-1]) == []
    assert s.feed(wire[-1:]) == [[b"h", b"q" * 100000]]
    assert s.feed(b"") == []


STREAM = (
    HANDSHAKE
    + encode_message([b"h0", b"p0"])
    + encode_command(b"PING", b"\x00\x01c")
    + encode_message([b"h1", b"x" * 300])
    + long_frame(0, b"short-but-long")
    + encode_message([b"", b"m", b"n"])
)
EXPECTED = [[b"h0", b"p0"], [b"h1", b"x" * 300], [b"short-but-long"], [b"", b"m", b"n"]]


def test_split_at_every_byte_boundary():
    for cut in range(len(STREAM) + 1):
        s, out = feed_split(STREAM, [cut])
        assert out == EXPECTED, cut
        assert s.take_outbox().endswith(encode_command(b"PONG", b"c"))


def test_split_at_every_pair_of_boundaries():
    n = len(STREAM)
    for a in range(0, n + 1, 7):
        for b in range(a, n + 1, 5):
            assert feed_split(STREAM, [a, b])[1] == EXPECTED, (a, b)


frames = st.lists(
    st.one_of(st.binary(max_size=20), st.binary(min_size=250, max_size=700)),
    min_size=1,
    max_size=4,
)
items = st.lists(
    st.one_of(
        frames.map(lambda f: ("msg", f)),
        st.binary(max_size=16).map(lambda c: ("ping", c)),
        st.just(("other", b"")),
    ),
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(items=items, data=st.data())
def test_any_stream_in_any_chunking(items, data):
    stream, want, pongs = HANDSHAKE, [], b""
    for kind, v in items:
        if kind == "msg":
            stream += encode_message(v)
            want.append(v)
        elif kind == "ping":
            stream += encode_command(b"PING", b"\x00\x0a" + v)
            pongs += encode_command(b"PONG", v)
        else:
            stream += encode_command(b"X-OTHER", b"data")
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=20))
    s, out = feed_split(stream, cuts)
    assert out == want
    assert s.error is None
    assert s.take_outbox()[len(Session(IDENT).take_outbox()) :] == pongs


# -- the socket edge -----------------------------------------------------------------
@pytest.fixture
def router(tmp_path):
    ctx = zmq.Context.instance()
    r = ctx.socket(zmq.ROUTER)
    r.setsockopt(zmq.ROUTER_MANDATORY, 1)
    r.linger = 0
    path = str(tmp_path / "router")
    r.bind(f"ipc://{path}")
    yield r, path
    r.close(linger=0)


def recv_until(dealer, n=1, timeout=10.0):
    """Messages from ``dealer`` until ``n`` arrived or it is lost (bounded wait)."""
    out, deadline = [], time.monotonic() + timeout
    while len(out) < n and dealer.lost is None:
        left = deadline - time.monotonic()
        assert left > 0, f"timed out with {len(out)} of {n} messages"
        select.select([dealer.fileno()], [], [], left)
        out += dealer.recv()
    return out


def test_libzmq_router_routes_by_our_identity(router):
    r, path = router
    d = ZmtpDealer(path, IDENT, timeout=5)
    assert d.session.peer_property("Socket-Type") == b"ROUTER"
    big = os.urandom(3 << 20)
    d.send([b"hdr", b"small"])
    d.send([b"hdr", big])
    assert r.poll(10000)
    assert r.recv_multipart() == [IDENT, b"hdr", b"small"]
    assert r.poll(10000)
    assert r.recv_multipart() == [IDENT, b"hdr", big]
    r.send_multipart([IDENT, b"h", b"x" * 300])
    r.send_multipart([IDENT, b"h", big])
    r.send_multipart([IDENT, b"a", b"b", b"c"])
    assert recv_until(d, 3) == [[b"h", b"x" * 300], [b"h", big], [b"a", b"b", b"c"]]
    assert d.recv() == [] and d.lost is None
    d.close()


def test_libzmq_heartbeat_pings_are_answered(tmp_path, monkeypatch):
    ctx = zmq.Context.instance()
    r = ctx.socket(zmq.ROUTER)
    r.setsockopt(zmq.ROUTER_MANDATORY, 1)
    r.setsockopt(zmq.HEARTBEAT_IVL, 20)
    r.setsockopt(zmq.HEARTBEAT_TIMEOUT, 150)
    path = str(tmp_path / "hb")
    r.bind(f"ipc://{path}")
    pongs = []
    take = Session.take_outbox

    def spy(self):
        data = take(self)
        pongs.extend([data] if b"PONG" in data else [])
        return data

    monkeypatch.setattr(Session, "take_outbox", spy)
    d = ZmtpDealer(path, IDENT, timeout=5)
    deadline = time.monotonic() + 10
    while len(pongs) < 10:  # 10 pings answered: far beyond the 150 ms timeout
        assert time.monotonic() < deadline and d.lost is None
        select.select([d.fileno()], [], [], 1.0)
        assert d.recv() == []
    r.send_multipart([IDENT, b"still", b"here"])  # ROUTER_MANDATORY: fails if we were dropped
    assert recv_until(d) == [[b"still", b"here"]]
    d.close()
    r.close(linger=0)


def test_router_going_away_is_lost_once(router):
    r, path = router
    d = ZmtpDealer(path, IDENT, timeout=5)
    r.send_multipart([IDENT, b"last", b"words"])
    r.close(linger=1000)
    assert recv_until(d, 2) == [[b"last", b"words"]]
    assert d.lost and d.recv() == []
    with pytest.raises(OSError):
        for _ in range(100):  # the kernel may take a write or two before it says EPIPE
            d.send([b"h", b"p"])
    d.close()


def test_wrong_socket_type_is_refused(tmp_path):
    pub = zmq.Context.instance().socket(zmq.PUB)
    path = str(tmp_path / "pub")
    pub.bind(f"ipc://{path}")
    with pytest.raises(ZmtpError) as e:
        ZmtpDealer(path, IDENT, timeout=5)
    assert e.value.errno in (errno.EPROTO, errno.ECONNRESET)
    pub.close(linger=0)


def test_nothing_there(tmp_path):
    with pytest.raises(FileNotFoundError):
        ZmtpDealer(str(tmp_path / "nope"), IDENT)
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(tmp_path / "stale"))  # bound, never listening: a stale socket file
    with pytest.raises(ConnectionRefusedError):
        ZmtpDealer(str(tmp_path / "stale"), IDENT)
    stale.close()


def test_silent_listener_times_out(tmp_path):
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(str(tmp_path / "silent"))
    srv.listen(1)  # accepts connections (backlog) but never speaks
    t = time.monotonic()
    with pytest.raises(ZmtpError) as e:
        ZmtpDealer(str(tmp_path / "silent"), IDENT, timeout=0.2)
    assert e.value.errno == errno.ETIMEDOUT
    assert time.monotonic() - t < 3
    srv.close()


def test_listener_closing_during_handshake(tmp_path):
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(str(tmp_path / "rude"))
    srv.listen(1)

    def accept_and_close():
        c, _ = srv.accept()
        c.recv(64)
        c.close()

    th = threading.Thread(target=accept_and_close, daemon=True)
    th.start()
    with pytest.raises(ZmtpError) as e:
        ZmtpDealer(str(tmp_path / "rude"), IDENT, timeout=5)
    assert e.value.errno == errno.ECONNRESET
    th.join(5)
    srv.close()


def test_module_imports_no_zmq():
    import subprocess
    import sys

    code = "import sys, fluxlab.transport.zmtp; print('zmq' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr
    assert zmtp.__name__ == "fluxlab.transport.zmtp"


def test_interrupted_send_ends_the_connection(router):
    """A Ctrl-C inside a blocked sendall may leave half a frame on the wire."""
    r, path = router
    d = ZmtpDealer(path, IDENT, timeout=5)
    real = d.sock

    class Interrupted:
        def sendall(self, data, flags=0):
            real.sendall(data[: len(data) // 2], flags)
            raise KeyboardInterrupt

        def __getattr__(self, name):
            return getattr(real, name)

    d.sock = Interrupted()
    with pytest.raises(KeyboardInterrupt):
        d.send([b"h", b"x" * 1000])
    d.sock = real
    assert d.lost == "interrupted while sending a message"
    select.select([d.fileno()], [], [], 10)
    assert d.recv() == []  # shut down: end of file at once
    with pytest.raises(OSError):
        d.send([b"h", b"p"])
    d.close()
