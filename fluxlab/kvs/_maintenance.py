"""Maintenance of a :class:`~fluxlab.kvs.model.KVSModel` (internal mixin).

Work that changes what is kept, not what the keys hold: tracing garbage
collection of blobs no kept root version reaches (all at once or in
slices, :mod:`fluxlab.kvs._gc`), trimming history, and unloading working-
copy directories that no batch touched lately.  Kept apart so ``model.py``
holds namespaces, commits and lookups.
"""

from __future__ import annotations

from fluxlab.kvs._gc import Collection
from fluxlab.kvs._nodes import Dir, compact
from fluxlab.kvs.content import Checkpoint
from fluxlab.kvs.errors import InvalidArgumentError, check_int as _check_int


class Maintenance:
    """Mixin: needs ``store``, ``_reader``, ``_ns``, ``_flusher`` and ``_gc``
    (None, or the collection under way) from the model."""

    def collect_garbage(self, keep_versions: int | None = None) -> int:
        """Delete blobs unreachable from any kept root version; return the count.

        With ``keep_versions``, each namespace's history is first trimmed to its
        newest ``keep_versions`` versions (in the store too), which is what
        bounds memory for a long-running in-memory instance.
        """
        self._gc = None  # an incremental one under way is superseded
        self.gc_start(keep_versions)
        return self.gc_step(None, None) or 0  # no budget: one step does it all

    def gc_start(self, keep_versions: int | None = None) -> bool:
        """Begin an incremental collection (see :mod:`fluxlab.kvs._gc`).

        Trims history as :meth:`collect_garbage` does, then returns at once;
        :meth:`gc_step` does the work.  Commits may go on in between.  Returns
        False (and does nothing) while one is already under way.
        """
        if self._gc is not None:
            return False
        self._trim_history(keep_versions)
        roots = [ref for ns in self._ns.values() for ref in ns.history.values()]
        self._gc = Collection(self.store, self._reader, roots)
        return True

    def gc_step(
        self, mark_budget: int | None = 500, sweep_budget: int | None = 20_000
    ) -> int | None:
        """Advance the incremental collection by one slice.

        Returns the number of blobs deleted when it has finished, None while
        work remains (or when none is under way: see :attr:`gc_running`).
        """
        for name, budget in (("mark_budget", mark_budget), ("sweep_budget", sweep_budget)):
            if budget is not None and (type(budget) is not int or budget < 1):
                raise InvalidArgumentError(f"{name} must be a positive integer or None")
        gc = self._gc
        if gc is None or not gc.step(mark_budget, sweep_budget):
            return None
        self._gc = None
        self._reader.forget(self.store.contains)
        return gc.removed

    @property
    def gc_running(self) -> bool:
        """True while an incremental collection is under way."""
        return self._gc is not None

    def _trim_history(self, keep_versions: int | None) -> None:
        """Keep each namespace's newest ``keep_versions`` versions (store too)."""
        if keep_versions is None:
            return
        _check_int(keep_versions, "keep_versions", 1)
        cps = []
        for ns in self._ns.values():
            for v in [v for v in ns.history if v <= ns.version - keep_versions]:
                del ns.history[v]
            cps.append(Checkpoint(ns.name, ns.owner, ns.version, ns.rootref))
        self.store.write({}, cps, history=keep_versions)

    def compact(self, keep_batches: int = 64) -> int:
        """Unload working-copy directories untouched for ``keep_batches`` batches.

        Bounds the memory of a long-lived namespace (finished jobs' directories
        go back to being blobs); they are decoded again if read or written.
        Returns the number of directories unloaded.
        """
        _check_int(keep_batches, "keep_batches", 1)
        cutoff = self._flusher.gen - keep_batches
        return sum(compact(ns.root, cutoff) for ns in self._ns.values() if type(ns.root) is Dir)
