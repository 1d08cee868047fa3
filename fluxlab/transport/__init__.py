"""Byte transports behind one interface: zmq ``inproc://``, ``ipc://``, ``tcp://``.

Brokers and clients never build zmq endpoints themselves: they ask
:func:`get_transport` for the scheme, then ``bind``/``connect`` through it.  TCP
between brokers is encrypted and authenticated with CURVE keys (see
:mod:`fluxlab.transport.curve`).

:mod:`fluxlab.transport.zmtp` is the exception: a client-only ZMTP 3 DEALER
over a plain UNIX socket, so that out-of-process clients (the CLI) reach an
``ipc://`` endpoint without importing pyzmq.  For the same reason the names
below load on first use: importing this package (as ``fluxlab.transport.zmtp``
does) must not import ``zmq``.
"""

from __future__ import annotations

from fluxlab._lazy import lazy_getattr

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

_WHERE = {
    "SCHEMES": "fluxlab.transport.base",
    "Transport": "fluxlab.transport.base",
    "TransportError": "fluxlab.transport.base",
    "context": "fluxlab.transport.base",
    "get_transport": "fluxlab.transport.base",
    "transport_for_uri": "fluxlab.transport.base",
    "CurveCert": "fluxlab.transport.curve",
    "keygen": "fluxlab.transport.curve",
    "load_cert": "fluxlab.transport.curve",
}


__getattr__ = lazy_getattr("fluxlab.transport", _WHERE)
