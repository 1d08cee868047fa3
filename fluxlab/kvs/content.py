"""RFC 10 content store: blobs addressed by hash, plus namespace checkpoints.

A blob is stored under its *blobref* ``<hash>-<hex digest>`` (``sha1-...`` by
default).  Storing the same bytes twice is a no-op, so a store never holds two
copies of a blob and a blobref always names exactly one byte string.

Besides blobs a store keeps, per KVS namespace, a :class:`Checkpoint` (owner,
latest version, latest root blobref) and a bounded history of
``version -> root blobref``.  A :class:`~fluxlab.kvs.model.KVSModel` opened on a
store resumes from these, which is how a sqlite-backed instance survives a
restart.

All writes of one merged commit go through a single :meth:`ContentStore.write`
call, which the sqlite backend turns into one transaction: either the blobs,
the checkpoint and the history row are all durable, or none are.

Backends: :class:`MemoryContentStore` here and
:class:`fluxlab.kvs.sqlite_store.SqliteContentStore`.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from typing import NamedTuple

from fluxlab.kvs.errors import BlobNotFoundError, BlobTooLargeError, KVSError
from fluxlab.kvs.treeobj import BLOBREF_HASHES

__all__ = [
    "DEFAULT_MAX_BLOB_SIZE",
    "Checkpoint",
    "ContentStore",
    "MemoryContentStore",
    "blobref_hasher",
]

#: RFC 10 / flux-core default blob size limit (1 MiB).
DEFAULT_MAX_BLOB_SIZE = 1_048_576


def blobref_hasher(hash_name: str = "sha1"):
    """Return a function ``bytes -> blobref`` for ``hash_name`` (``sha1``/``sha256``)."""
    if hash_name not in BLOBREF_HASHES:
        raise KVSError(
            f"unsupported content hash {hash_name!r} (expected one of {', '.join(BLOBREF_HASHES)})"
        )
    ctor = getattr(hashlib, hash_name)
    prefix = hash_name + "-"

    def blobref(data: bytes) -> str:
        return prefix + ctor(data).hexdigest()

    return blobref


class Checkpoint(NamedTuple):
    """The durable head of one namespace.

    Attributes
    ----------
    namespace : str
    owner : int
        User id that owns the namespace (the instance owner for ``primary``).
    version : int
        Root sequence number; 0 for a fresh namespace, +1 per applied batch.
    rootref : str
        Blobref of the root directory at ``version``.
    """

    namespace: str
    owner: int
    version: int
    rootref: str


class ContentStore(ABC):
    """Interface of a content store backend.

    Parameters
    ----------
    hash_name
        Hash used for blobrefs, ``"sha1"`` (Flux's default) or ``"sha256"``.
    max_blob_size
        Largest value blob accepted by :meth:`check_size`, in bytes.
    """

    def __init__(self, hash_name: str = "sha1", max_blob_size: int = DEFAULT_MAX_BLOB_SIZE):
        if not isinstance(max_blob_size, int) or max_blob_size < 1:
            raise KVSError(f"max_blob_size must be a positive integer, not {max_blob_size!r}")
        self.hash_name = hash_name
        self.max_blob_size = max_blob_size
        self.blobref = blobref_hasher(hash_name)

    def check_size(self, size: int, what: str = "blob") -> None:
        """Raise :class:`BlobTooLargeError` if ``size`` exceeds the limit."""
        if size > self.max_blob_size:
            raise BlobTooLargeError(
                f"{what} is {size} bytes, over the content store limit of "
                f"{self.max_blob_size} bytes"
            )

    def store(self, data: bytes) -> str:
        """Store one blob now (size-checked) and return its blobref."""
        data = bytes(data)
        self.check_size(len(data))
        ref = self.blobref(data)
        self.write({ref: data})
        return ref

    @abstractmethod
    def load(self, ref: str) -> bytes:
        """Return the blob named ``ref``; raise :class:`BlobNotFoundError` if absent."""

    @abstractmethod
    def contains(self, ref: str) -> bool:
        """True if the blob ``ref`` is stored."""

    @abstractmethod
    def write(
        self,
        blobs: Mapping[str, bytes],
        checkpoints: Iterable[Checkpoint] = (),
        removed: Iterable[str] = (),
        history: int = 0,
    ) -> None:
        """Atomically store ``blobs`` and update namespace heads.

        Each checkpoint replaces its namespace's head and adds
        ``(version, rootref)`` to that namespace's history, keeping the newest
        ``history`` entries when ``history > 0``.  Namespaces in ``removed``
        lose their head and history.  The caller guarantees that each key of
        ``blobs`` is the blobref of its value.
        """

    @abstractmethod
    def checkpoints(self) -> dict[str, Checkpoint]:
        """All namespace heads, by namespace name."""

    @abstractmethod
    def history(self, namespace: str, limit: int) -> list[tuple[int, str]]:
        """Up to ``limit`` newest ``(version, rootref)`` pairs, oldest first."""

    @abstractmethod
    def refs(self) -> Iterator[str]:
        """Iterate over every stored blobref (for garbage collection)."""

    @abstractmethod
    def delete(self, refs: Iterable[str]) -> int:
        """Delete the blobs ``refs`` (absent ones are skipped); return how many went.

        Garbage collection (``fluxlab/kvs/_gc.py``) decides what is dead.
        """

    @abstractmethod
    def stats(self) -> dict[str, int]:
        """``{"count": blobs, "bytes": total blob bytes}`` and backend extras."""

    def count(self) -> int:
        """Number of blobs stored (cheap where the backend allows)."""
        return int(self.stats()["count"])

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources; the store must not be used afterwards."""

    def __enter__(self) -> ContentStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class MemoryContentStore(ContentStore):
    """A content store in a Python dict; state lives as long as the object.

    Blobs are kept by reference (no copy), so a value stored by the model costs
    its bytes once.
    """

    def __init__(self, hash_name: str = "sha1", max_blob_size: int = DEFAULT_MAX_BLOB_SIZE):
        super().__init__(hash_name, max_blob_size)
        self._blobs: dict[str, bytes] = {}
        self._heads: dict[str, Checkpoint] = {}
        self._history: dict[str, dict[int, str]] = {}

    def load(self, ref: str) -> bytes:
        try:
            return self._blobs[ref]
        except KeyError:
            raise BlobNotFoundError(f"blob {ref} is not in the content store") from None
        except TypeError:
            raise BlobNotFoundError(f"blobref must be a string, not {type(ref).__name__}") from None

    def contains(self, ref: str) -> bool:
        return isinstance(ref, str) and ref in self._blobs

    def write(self, blobs, checkpoints=(), removed=(), history=0) -> None:
        # a blobref names exactly one byte string, so overwriting is harmless
        self._blobs.update(blobs)
        self._set_heads(checkpoints, removed, history)

    def _set_heads(
        self, checkpoints: Iterable[Checkpoint], removed: Iterable[str], history: int
    ) -> list[str]:
        """Apply ``write``'s namespace changes; return the root blobrefs that
        left a history (removed, trimmed, or replaced at the same version)."""
        dropped: list[str] = []
        for name in removed:
            self._heads.pop(name, None)
            dropped.extend(self._history.pop(name, {}).values())
        for cp in checkpoints:
            self._heads[cp.namespace] = cp
            hist = self._history.setdefault(cp.namespace, {})
            old = hist.get(cp.version)
            if old is not None:
                dropped.append(old)
            hist[cp.version] = cp.rootref
            if history > 0:
                gone = hist.pop(cp.version - history, None)
                if gone is not None:
                    dropped.append(gone)
                if len(hist) > history:  # versions jumped (e.g. reloaded); trim fully
                    for v in sorted(hist)[: len(hist) - history]:
                        dropped.append(hist.pop(v))
        return dropped

    def checkpoints(self) -> dict[str, Checkpoint]:
        return dict(self._heads)

    def history(self, namespace: str, limit: int) -> list[tuple[int, str]]:
        hist = self._history.get(namespace, {})
        return sorted(hist.items())[-limit:] if limit > 0 else []

    def refs(self) -> Iterator[str]:
        return iter(list(self._blobs))

    def delete(self, refs: Iterable[str]) -> int:
        pop = self._blobs.pop
        return sum(pop(ref, None) is not None for ref in refs)

    def stats(self) -> dict[str, int]:
        return {"count": len(self._blobs), "bytes": sum(map(len, self._blobs.values()))}

    def count(self) -> int:
        return len(self._blobs)
