"""Result records of the KVS model (plain named tuples, cheap to build).

They are what the ``kvs`` service turns into responses: a
:class:`NamespaceInfo` answers ``kvs.getroot`` and namespace listings, a
:class:`BatchResult` holds one outcome per merged commit request plus the
version, root blobref and changed keys for the ``kvs.setroot`` event.
"""

from __future__ import annotations

from typing import NamedTuple

from fluxlab.kvs.errors import KVSError

__all__ = ["BatchResult", "CommitResult", "NamespaceInfo"]


class NamespaceInfo(NamedTuple):
    """Head of a namespace, as answered by ``kvs.getroot``."""

    name: str
    owner: int
    version: int
    rootref: str


class CommitResult(NamedTuple):
    """Outcome of one successful commit: the root it is visible in."""

    namespace: str
    version: int
    rootref: str


class BatchResult(NamedTuple):
    """Outcome of :meth:`KVSModel.commit_batch`.

    Attributes
    ----------
    namespace : str
    version : int
        Namespace version after the batch; unchanged if nothing was applied.
    rootref : str
        Root blobref at ``version``.
    keys : tuple of str
        Sorted normalised keys named by the ops of the transactions that were
        applied (what ``kvs.setroot`` carries and non-FULL watchers match on).
    errors : tuple
        One entry per transaction, in order: ``None`` if it was applied, else
        the :class:`~fluxlab.kvs.errors.KVSError` that made it fail alone.
    """

    namespace: str
    version: int
    rootref: str
    keys: tuple[str, ...]
    errors: tuple[KVSError | None, ...]

    @property
    def committed(self) -> bool:
        """True if at least one transaction was applied (a new version exists)."""
        return any(e is None for e in self.errors)

    def result(self, index: int) -> CommitResult:
        """The result of transaction ``index``; raises its error if it failed."""
        err = self.errors[index]
        if err is not None:
            raise err
        return CommitResult(self.namespace, self.version, self.rootref)
