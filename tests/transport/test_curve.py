"""CURVE certificates: keygen files, and clients without the key are refused."""

import os

import pytest
import zmq

import fluxlab
from fluxlab.transport import CurveCert, TransportError, context, get_transport, keygen, load_cert


def test_keygen_writes_private_cert_and_loads(tmp_path):
    path = tmp_path / "curve.cert"
    cert = keygen(str(path))
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    assert load_cert(str(path)) == cert
    with pytest.raises(FileExistsError):
        keygen(str(path))
    with pytest.raises(ValueError, match="cannot load"):
        load_cert(str(tmp_path / "missing.cert"))


def test_tcp_transport_refuses_unknown_client_key(tmp_path):
    tr = get_transport("tcp")
    cert = CurveCert.generate()
    server = context().socket(zmq.ROUTER)
    endpoint = tr.bind(server, tr.bind_address(str(tmp_path), "t"), cert)
    good = context().socket(zmq.DEALER)
    rogue = context().socket(zmq.DEALER)
    try:
        tr.connect(good, endpoint, cert)
        other = CurveCert.generate()
        rogue.curve_serverkey = cert.public
        rogue.curve_publickey, rogue.curve_secretkey = other.public, other.secret
        rogue.connect(endpoint)
        try:
            # never blocks: once the server has refused the rogue's handshake, its
            # DEALER has no pipe to queue on (a blocking send would hang the test)
            rogue.send(b"from-rogue", zmq.NOBLOCK)
        except zmq.Again:
            pass
        good.sndtimeo = 10000
        good.send(b"from-good")
        assert server.poll(10000), "the client holding the instance key was refused"
        assert server.recv_multipart()[1] == b"from-good"
        assert not server.poll(1000), "a client with an unknown CURVE key got through"
    finally:
        for s in (server, good, rogue):
            s.close(linger=0)


def test_tcp_transport_without_cert_is_a_clear_error(tmp_path):
    tr = get_transport("tcp")
    s = context().socket(zmq.ROUTER)
    try:
        with pytest.raises(TransportError, match="fluxlab keygen"):
            tr.bind(s, tr.bind_address(str(tmp_path), "t"), None)
    finally:
        s.close(linger=0)


def test_tcp_instance_links_ranks_with_curve():
    with fluxlab.start(size=3, transport="tcp") as inst:
        assert inst.brokers[0].tbon_endpoint.startswith("tcp://")
        h = inst.handle()
        assert [h.rpc("broker.ping", nodeid=r).get(timeout=10)["rank"] for r in range(3)] == [
            0,
            1,
            2,
        ]
        h.close()


def test_unknown_transport_is_a_clear_error():
    with pytest.raises(TransportError, match="unknown transport 'udp'"):
        get_transport("udp")
