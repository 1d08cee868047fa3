"""Exceptions raised by handles, futures and services."""

from __future__ import annotations

import errno as _errno
import os

__all__ = ["FluxError", "ServiceError", "TimeoutError_", "error_from_response"]


class FluxError(OSError):
    """An error response (or local failure) with an ``errno`` and a message.

    Subclasses :class:`OSError` like the errors of Flux's Python bindings, so
    ``except OSError as e: if e.errno == errno.ENODATA`` works unchanged.
    """

    def __init__(self, errnum: int, message: str | None = None):
        text = message or _strerror(errnum)
        super().__init__(errnum, text)

    def __str__(self) -> str:
        return self.strerror or _strerror(self.errno)


class ServiceError(FluxError):
    """Raised by a service handler to send an error response."""


class TimeoutError_(FluxError, TimeoutError):
    """A wait that ran past its timeout (``errno`` ETIMEDOUT)."""

    def __init__(self, message: str = "timed out"):
        FluxError.__init__(self, _errno.ETIMEDOUT, message)


def _strerror(errnum: int) -> str:
    try:
        return os.strerror(errnum)
    except ValueError:
        return f"error {errnum}"


def error_from_response(errnum: int, errstr: str) -> FluxError:
    """The exception for an error response."""
    return FluxError(errnum, errstr or _strerror(errnum))
