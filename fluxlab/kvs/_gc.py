"""Incremental garbage collection of a KVS content store (internal).

A full collection walks every live blob; on a store of a million blobs that
takes a second, and a KVS that stops answering commits for that long stalls
every job whose next step waits for a commit.  :class:`Collection` does the
same work in slices that a caller runs between commit batches
(:meth:`~fluxlab.kvs.model.KVSModel.gc_start`, ``gc_step``).  The ``kvs``
service no longer does: its in-memory store frees blobs by reference
counting (``fluxlab/kvs/_refcount.py``), which needs no walk at all.

Correctness rests on two facts: blobs are immutable, and every blob a root
can reach was stored before (or with) that root.

1. *Mark.*  The roots kept when the collection starts are marked in slices
   (:class:`~fluxlab.kvs._reader.Marker`).  A root made while the collection
   runs (a commit, a new namespace) is added with :meth:`Collection.add_root`,
   so whatever it reaches, including old blobs it links again (a ``treeobj``
   op, or a directory encoded again with the same content), is marked too.
2. *Sweep.*  Once nothing is left to mark, the refs stored at that moment are
   listed and deleted in slices unless marked.  A root made during the sweep
   is marked at once, before the next slice, for the same reason.  Blobs
   stored after the listing are not in it, so they are never candidates.

So a blob is deleted only if no root kept at the start, and no root made
since, reaches it.  Blobs that become garbage while a collection runs wait
for the next one.
"""

from __future__ import annotations

from itertools import islice

from fluxlab.kvs._reader import Marker, Reader, mark_key
from fluxlab.kvs.content import ContentStore

__all__ = ["Collection"]


class Collection:
    """One incremental collection of ``store`` from the roots ``roots``.

    Parameters
    ----------
    store
        The content store to sweep.
    reader
        Gives the decoded-directory cache the marker may use.
    roots
        Root blobrefs of every version kept (history already trimmed).
    """

    def __init__(self, store: ContentStore, reader: Reader, roots) -> None:
        self.store = store
        self.marker = Marker(reader)
        self.marker.push(roots)
        self.removed = 0
        self._refs = None  # the sweep's listing, once marking is done

    def add_root(self, ref: str) -> None:
        """A root made while this collection runs: everything it reaches lives."""
        self.marker.push([ref])
        if self._refs is not None:
            self.marker.step()  # sweeping: mark before any further deletion

    def step(self, mark_budget: int | None, sweep_budget: int | None) -> bool:
        """Mark up to ``mark_budget`` directory blobs, or sweep up to
        ``sweep_budget`` listed refs (None: no limit); True when finished."""
        if self._refs is None:
            if not self.marker.step(mark_budget):
                return False
            self._refs = self.store.refs()
        live = self.marker.live
        while True:
            chunk = list(islice(self._refs, sweep_budget))
            if not chunk:
                return True
            dead = [ref for ref in chunk if mark_key(ref) not in live]
            if dead:
                self.removed += self.store.delete(dead)
            if sweep_budget is not None:
                return False
