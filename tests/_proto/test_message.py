"""The message envelope and its wire encoding."""

import pytest
from hypothesis import given, strategies as st

from fluxlab._proto import (
    CONTROL,
    EVENT,
    FLAG_STREAMING,
    NODEID_ANY,
    REQUEST,
    RESPONSE,
    Message,
    ProtocolError,
    decode,
)


def test_request_roundtrip_keeps_every_field():
    m = Message.request(
        "kvs.lookup", {"key": "a.b", "n": [1, 2]}, nodeid=3, matchtag=42, flags=FLAG_STREAMING
    )
    m.route = ["cdeadbeef", "r3", "p"]
    d = decode(m.encode())
    assert (d.type, d.topic, d.nodeid, d.matchtag, d.flags) == (
        REQUEST,
        "kvs.lookup",
        3,
        42,
        FLAG_STREAMING,
    )
    assert d.route == ["cdeadbeef", "r3", "p"]
    assert d.payload == {"key": "a.b", "n": [1, 2]}
    assert d.service == "kvs" and d.sender == "cdeadbeef"


def test_response_carries_errnum_errstr_and_route():
    req = Message.request("x.y", None, matchtag=7)
    req.route = ["c1", "r2"]
    resp = decode(req.response(None, 113, "no route to rank 9").encode())
    assert resp.type == RESPONSE and resp.errnum == 113 and resp.errstr == "no route to rank 9"
    assert resp.matchtag == 7 and resp.route == ["c1", "r2"]
    assert resp.payload is None


def test_event_and_control():
    e = decode(Message.event("heartbeat.pulse", {"n": 1}, seq=99).encode())
    assert e.type == EVENT and e.seq == 99 and e.payload == {"n": 1}
    c = decode(Message.control(5, 2).encode())
    assert c.type == CONTROL and c.aux1 == 5 and c.aux2 == 2
    assert Message.request("a.b").nodeid == NODEID_ANY


def test_unicode_topic_and_payload():
    m = decode(Message.request("svc.ƒ", {"id": "ƒuZZybuNNy"}).encode())
    assert m.topic == "svc.ƒ" and m.payload == {"id": "ƒuZZybuNNy"}


@pytest.mark.parametrize(
    "frames",
    [
        [b"x"],
        [b"", b""],
        [b"\x00" * 30, b""],
        [Message.request("a.b").encode()[0][:-3], b""],
        [Message.request("a.b").encode()[0] + b"zz", b""],
    ],
)
def test_malformed_frames_raise_protocol_error(frames):
    with pytest.raises(ProtocolError):
        decode(frames)


def test_bad_json_payload_raises_protocol_error_on_access():
    hdr = Message.request("a.b").encode()[0]
    m = decode([hdr, b"{not json"])
    with pytest.raises(ProtocolError, match="not valid JSON"):
        _ = m.payload


@given(st.binary(max_size=64), st.binary(max_size=16))
def test_decode_fuzz_only_protocol_errors(hdr, payload):
    try:
        m = decode([hdr, payload])
        try:
            _ = m.payload
        except ProtocolError:
            pass
    except ProtocolError:
        pass
