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

import importlib

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
    "SCHEMES": "base",
    "Transport": "base",
    "TransportError": "base",
    "context": "base",
    "get_transport": "base",
    "transport_for_uri": "base",
    "CurveCert": "curve",
    "keygen": "curve",
    "load_cert": "curve",
}


def __getattr__(name: str):
    mod = _WHERE.get(name)
    if mod is None:
        raise AttributeError(f"module 'fluxlab.transport' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"fluxlab.transport.{mod}"), name)
    globals()[name] = value
    return value
