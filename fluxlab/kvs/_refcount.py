"""An in-memory content store that frees blobs by reference counting (internal).

A KVS commit writes a new root and the directories on the paths it changed;
the versions it replaces become garbage once they leave the kept history.
Finding that garbage by tracing costs a walk of every live blob (the whole
job tree of a busy instance) for a small fraction of dead ones.
:class:`CountedMemoryStore` frees each dead blob when its last reference
goes, so the work is proportional to what is written, not to what is kept.

Counts, and why they stay right:

* ``count[b]`` = how many stored blobs name ``b`` (a blob naming ``b`` twice
  counts twice) + how many kept history entries have ``b`` as their root.
  What a blob names is read from its bytes (:func:`links`), so a blob is
  counted the same way when it is written and when it is freed.  For the
  small dirs a commit writes, the model's flusher lists the same refs from
  its entries (``write(links=...)``, checked equal to the scan by a test);
  the store keeps those lists for the blobs written in the last two sweep
  intervals and scans the bytes of older ones when they go.
* A write first stores its new blobs and counts their links, then pins the
  new roots, and only then drops history entries beyond the kept length, so
  a subtree shared by old and new versions never reaches zero in between.
* A blob whose count reaches zero is deleted and its links are released,
  possibly freeing more (content addressing makes the graph acyclic, so
  nothing unreachable keeps a positive count for ever).
* A blob written with nothing naming it (none in the model's own commits;
  a value stored ahead of the commit that links it would be one) is freed by
  :meth:`CountedMemoryStore.sweep_unlinked` only if still unnamed one sweep
  later, which gives such a writer a whole sweep interval to link it.

Tracing (``fluxlab/kvs/_gc.py``) still works on this store: :meth:`delete`
releases the links of what it deletes, which keeps every count exact.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from fluxlab.kvs._nodes import decode_dir_blob
from fluxlab.kvs._reader import _mark, blob_links
from fluxlab.kvs.content import Checkpoint, MemoryContentStore
from fluxlab.kvs.errors import KVSError

__all__ = ["CountedMemoryStore", "links"]

_DIR_START = b'{"data":'


def links(blob: bytes) -> list[str]:
    """The blobrefs ``blob`` names; [] for a value blob.

    A canonical blob's refs come with their repeats; one that must be decoded
    names each value blob once.  Either way the same bytes always give the
    same list, which is all the counts need.  Only text that starts like a
    tree object is read (a value that happens to be one is counted as one:
    deterministic, and it only keeps blobs)."""
    if not blob.startswith(_DIR_START):
        return []
    found = blob_links(blob)
    if found is not None:
        return found[0] + found[1] if found[1] else found[0]
    try:
        node = decode_dir_blob(blob, "")
    except (KVSError, ValueError):
        return []
    vals: set[str] = set()
    out: list[str] = []
    _mark(node, vals, out)
    return out + sorted(vals)


_links = links  # the module function, under a name write's argument does not hide


class CountedMemoryStore(MemoryContentStore):
    """:class:`~fluxlab.kvs.content.MemoryContentStore` with reference counts.

    Kept roots are the ``(version, rootref)`` history entries the store holds
    (the model writes them with every commit and keeps ``history`` of them).
    """

    #: ``write`` takes ``links``: what the model's flusher knows each new dir
    #: blob names, so neither counting nor freeing has to scan its bytes
    takes_links = True

    def __init__(self, hash_name: str = "sha1", **kwargs) -> None:
        super().__init__(hash_name, **kwargs)
        self._count: dict[str, int] = {}
        # what write was told each blob names (its links argument), by
        # blobref: blobs written since the last sweep, and in the interval
        # before (older ones are read from the bytes again when freed:
        # bounded memory, same answer)
        self._told: dict[str, list[str]] = {}
        self._told_old: dict[str, list[str]] = {}
        self._unlinked: list[str] = []  # written unnamed since the last sweep
        self._unlinked_old: list[str] = []  # ... since the sweep before
        self.freed = 0

    # -- writing -----------------------------------------------------------------
    def write(
        self,
        blobs: Mapping[str, bytes],
        checkpoints: Iterable[Checkpoint] = (),
        removed: Iterable[str] = (),
        history: int = 0,
        links: Mapping[str, list[str]] | None = None,
    ) -> None:
        """:meth:`MemoryContentStore.write`, counting what the new blobs name.

        ``links`` optionally gives, for some new blobs, the refs they name
        (:func:`fluxlab.kvs._nodes.entry_links`): it must be what
        :func:`links` reads from the same bytes, as a multiset."""
        checkpoints = list(checkpoints)
        stored, count, told = self._blobs, self._count, self._told
        new = [(ref, data) for ref, data in blobs.items() if ref not in stored]
        for ref, data in new:
            stored[ref] = data
            count.setdefault(ref, 0)  # keyed by the stored ref object (one copy)
        for ref, data in new:
            named = links.get(ref) if links else None
            if named is None:
                named = _links(data)
            else:
                told[ref] = named
            for child in named:
                count[child] = count.get(child, 0) + 1
        for cp in checkpoints:  # pinned before anything is released
            count[cp.rootref] = count.get(cp.rootref, 0) + 1
        unpin = self._set_heads(checkpoints, removed, history)
        self._unlinked.extend(ref for ref, _ in new if not count[ref])
        if unpin:
            self._release(unpin)

    def _release(self, refs: Iterable[str]) -> None:
        """Drop one reference to each of ``refs``; free what reaches zero."""
        count, stored = self._count, self._blobs
        stack = list(refs)
        while stack:
            ref = stack.pop()
            n = count.get(ref)
            if n is None:
                continue  # named but never stored
            if n > 1:
                count[ref] = n - 1
                continue
            del count[ref]
            data = stored.pop(ref, None)
            if data is not None:
                self.freed += 1
                stack.extend(self._named(ref, data))

    def _named(self, ref: str, data: bytes) -> list[str]:
        """What the blob ``ref`` (going now) names: as ``write`` was told, or read."""
        named = self._told.pop(ref, None)
        if named is None:
            named = self._told_old.pop(ref, None)
            if named is None:
                named = _links(data)
        return named

    # -- freeing -------------------------------------------------------------------
    def sweep_unlinked(self) -> int:
        """Free blobs written unnamed before the previous sweep and still unnamed."""
        self._told_old, self._told = self._told, {}
        before = self.freed
        count, stored = self._count, self._blobs
        for ref in self._unlinked_old:
            if count.get(ref) == 0 and ref in stored:
                count[ref] = 1
                self._release([ref])
        self._unlinked_old, self._unlinked = self._unlinked, []
        return self.freed - before

    def delete(self, refs: Iterable[str]) -> int:
        """Delete ``refs`` whatever their counts (a tracing collection found them
        unreachable) and release what they name."""
        count, stored = self._count, self._blobs
        gone = 0
        for ref in refs:
            data = stored.pop(ref, None)
            if data is None:
                continue
            gone += 1
            count.pop(ref, None)
            self._release(self._named(ref, data))
        return gone

    def refcount(self, ref: str) -> int:
        """Current count of ``ref`` (0 if not stored): for tests and stats."""
        return self._count.get(ref, 0)

    def stats(self) -> dict[str, int]:
        return {**super().stats(), "freed": self.freed}
