"""CURVE certificates for brokers talking over TCP.

An instance shares one certificate: every broker serves with it and connects
with it, and the ZAP handler admits only clients presenting a known public
key.  ``fluxlab keygen PATH`` writes the certificate in ZeroMQ's ZPL format
(the same files ``zmq.auth`` reads), mode 0600.
"""

from __future__ import annotations

import os
import threading
from typing import NamedTuple

import zmq

__all__ = ["CurveCert", "allow_client_key", "keygen", "load_cert"]

_allowed: set[bytes] = set()
_auth = None
_auth_lock = threading.Lock()


class CurveCert(NamedTuple):
    """A CURVE key pair (Z85-encoded bytes)."""

    public: bytes
    secret: bytes

    @classmethod
    def generate(cls) -> CurveCert:
        public, secret = zmq.curve_keypair()
        return cls(public, secret)


def keygen(path: str, force: bool = False) -> CurveCert:
    """Create a certificate file at ``path``.

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``force`` is false.
    """
    if os.path.exists(path) and not force:
        raise FileExistsError(f"{path} exists (use --force to overwrite)")
    cert = CurveCert.generate()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    text = (
        "#   fluxlab CURVE certificate (ZeroMQ ZPL format); keep it secret\n"
        "metadata\n"
        "curve\n"
        f'    public-key = "{cert.public.decode()}"\n'
        f'    secret-key = "{cert.secret.decode()}"\n'
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return cert


def load_cert(path: str) -> CurveCert:
    """Load a certificate written by :func:`keygen`.

    Raises
    ------
    ValueError
        If the file is missing or holds no secret key.
    """
    import zmq.auth

    try:
        public, secret = zmq.auth.load_certificate(path)
    except (OSError, ValueError) as e:
        raise ValueError(f"cannot load CURVE certificate {path}: {e}") from None
    if not secret:
        raise ValueError(f"CURVE certificate {path} has no secret key")
    return CurveCert(public, secret)


class _Credentials:
    def callback(self, domain: str, key: bytes) -> bool:
        return key in _allowed


def allow_client_key(public: bytes) -> None:
    """Admit clients presenting ``public``; starts the ZAP handler once."""
    global _auth
    from fluxlab.transport.base import context

    _allowed.add(public)
    with _auth_lock:
        if _auth is None or _auth.context is not context():
            from zmq.auth.thread import ThreadAuthenticator

            _auth = ThreadAuthenticator(context())
            _auth.start()
            _auth.configure_curve_callback(domain="fluxlab", credentials_provider=_Credentials())
