"""Exceptions raised by the KVS model, each carrying a stdlib ``errno`` number.

Every error the model raises is a :class:`KVSError`.  Its ``errno`` attribute is
the number Flux's KVS would put in the error response for the same situation
(``ENOENT`` for a missing key, ``ENOTSUP`` for an unknown namespace, ...), so the
service can answer a request with ``(exc.errno, str(exc))`` and nothing else.
Errors caused by malformed input additionally subclass :class:`ValueError`;
"not found" errors subclass :class:`LookupError`.

See ``docs/spec/kvs.md`` for the table of errors per operation.
"""

from __future__ import annotations

import errno as _errno
import os

__all__ = [
    "BlobNotFoundError",
    "InvalidArgumentError",
    "BlobTooLargeError",
    "InvalidFlagsError",
    "InvalidKeyError",
    "InvalidNamespaceError",
    "InvalidOpError",
    "InvalidTreeobjError",
    "IsDirError",
    "KVSError",
    "KeyNotFoundError",
    "NamespaceExistsError",
    "NamespaceNotFoundError",
    "NamespacePermissionError",
    "NotDirError",
    "NotSupportedError",
    "NotSymlinkError",
    "StoreError",
    "SymlinkLoopError",
    "ValueDecodeError",
    "VersionNotAvailableError",
]


class KVSError(Exception):
    """Base class of every KVS model error.

    Parameters
    ----------
    message
        Human readable text naming the key, namespace or field at fault.
    errno
        Overrides the class default errno for this instance.

    Attributes
    ----------
    errno : int
        A number from the stdlib :mod:`errno` module.
    """

    errno: int = _errno.EINVAL

    def __init__(self, message: str, *, errno: int | None = None) -> None:
        super().__init__(message)
        if errno is not None:
            self.errno = errno

    @property
    def strerror(self) -> str:
        """``os.strerror(self.errno)``, e.g. ``'No such file or directory'``."""
        return os.strerror(self.errno)


class InvalidArgumentError(KVSError, ValueError):
    """An argument (version, root, owner, batch element...) is malformed (``EINVAL``)."""

    errno = _errno.EINVAL


def check_int(value: object, what: str, minimum: int = 0) -> int:
    """``value`` if it is an int >= ``minimum``; else InvalidArgumentError naming ``what``."""
    if type(value) is not int or value < minimum:
        raise InvalidArgumentError(f"{what} must be an integer >= {minimum}, not {value!r}")
    return value


class InvalidKeyError(KVSError, ValueError):
    """A key (or symlink target) is not a usable KVS path (``EINVAL``)."""

    errno = _errno.EINVAL


class InvalidNamespaceError(KVSError, ValueError):
    """A namespace name is not usable (``EINVAL``)."""

    errno = _errno.EINVAL


class InvalidTreeobjError(KVSError, ValueError):
    """A tree object does not follow RFC 11 (``EINVAL``)."""

    errno = _errno.EINVAL


class InvalidOpError(KVSError, ValueError):
    """A transaction operation is malformed or cannot be applied (``EINVAL``)."""

    errno = _errno.EINVAL


class InvalidFlagsError(KVSError, ValueError):
    """Unknown or contradictory lookup/watch flags (``EPROTO``, as Flux answers)."""

    errno = _errno.EPROTO


class ValueDecodeError(KVSError, ValueError):
    """A stored value is not valid JSON when JSON was asked for (``EINVAL``)."""

    errno = _errno.EINVAL


class BlobTooLargeError(KVSError, ValueError):
    """A value blob exceeds the content store's size limit (``EFBIG``)."""

    errno = _errno.EFBIG


class KeyNotFoundError(KVSError, LookupError):
    """The key does not exist (``ENOENT``)."""

    errno = _errno.ENOENT


class BlobNotFoundError(KVSError, LookupError):
    """A blobref is not in the content store (``ENOENT``)."""

    errno = _errno.ENOENT


class VersionNotAvailableError(KVSError, LookupError):
    """A root version is outside the kept history.

    ``errno`` is ``ENOENT`` for a version that has been dropped from history and
    ``EAGAIN`` for a version that does not exist yet (the service may wait for it).
    """

    errno = _errno.ENOENT


class IsDirError(KVSError):
    """A directory was used where a value was expected (``EISDIR``)."""

    errno = _errno.EISDIR


class NotDirError(KVSError):
    """A value was used where a directory was expected (``ENOTDIR``)."""

    errno = _errno.ENOTDIR


class NotSymlinkError(KVSError):
    """``READLINK`` on something that is not a symlink (``EINVAL``)."""

    errno = _errno.EINVAL


class SymlinkLoopError(KVSError):
    """More than the allowed number of symlinks were followed (``ELOOP``)."""

    errno = _errno.ELOOP


class NotSupportedError(KVSError):
    """The operation is not supported on this object, e.g. append to a symlink (``EOPNOTSUPP``)."""

    errno = _errno.EOPNOTSUPP


class NamespaceNotFoundError(KVSError, LookupError):
    """The namespace does not exist (``ENOTSUP``, as Flux answers)."""

    errno = _errno.ENOTSUP


class NamespaceExistsError(KVSError):
    """The namespace already exists (``EEXIST``)."""

    errno = _errno.EEXIST


class NamespacePermissionError(KVSError):
    """The requester may not access the namespace (``EPERM``)."""

    errno = _errno.EPERM


class StoreError(KVSError):
    """The content store failed to read or write (``EIO``); the model state is unchanged."""

    errno = _errno.EIO
