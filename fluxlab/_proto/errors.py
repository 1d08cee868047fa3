"""Error numbers used on the wire, with Flux's meanings."""

from __future__ import annotations

import errno
import os

__all__ = ["errstr", "EPROTO", "ENOSYS", "EHOSTUNREACH", "ENODATA", "ECANCELED"]

EPROTO = errno.EPROTO
ENOSYS = errno.ENOSYS
EHOSTUNREACH = errno.EHOSTUNREACH
ENODATA = errno.ENODATA
ECANCELED = errno.ECANCELED


def errstr(errnum: int) -> str:
    """The standard text for ``errnum`` (``os.strerror``)."""
    try:
        return os.strerror(errnum)
    except ValueError:
        return f"error {errnum}"
