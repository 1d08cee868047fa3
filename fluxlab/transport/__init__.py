"""Byte transports behind one interface: zmq ``inproc://``, ``ipc://``, ``tcp://``.

Brokers and clients never build zmq endpoints themselves: they ask
:func:`get_transport` for the scheme, then ``bind``/``connect`` through it.  TCP
between brokers is encrypted and authenticated with CURVE keys (see
:mod:`fluxlab.transport.curve`).
"""

from fluxlab.transport.base import (
    SCHEMES,
    Transport,
    TransportError,
    context,
    get_transport,
    transport_for_uri,
)
from fluxlab.transport.curve import CurveCert, keygen, load_cert

__all__ = [
    "SCHEMES",
    "CurveCert",
    "Transport",
    "TransportError",
    "context",
    "get_transport",
    "keygen",
    "load_cert",
    "transport_for_uri",
]
