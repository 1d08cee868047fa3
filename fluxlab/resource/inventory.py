"""The resource inventory kept by rank 0: R plus each rank's state (pure).

State per rank of R:

* **online/offline** — online while its broker is up and its ``resource``
  module has reported (rank 0 is online from the start);
* **drained** — with a reason and a timestamp, independent of online;
* **excluded** — by configuration; never given to the scheduler.

A rank is **up** for the scheduler when it is online, not drained and not
excluded (RFC 28: drained ranks count as down).  Every method is pure: the
service module turns the returned changes into acquire responses.  Drain
state lives in memory only and is lost when the instance stops.
"""

from __future__ import annotations

import errno
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from fluxlab.resource.idset import IDset
from fluxlab.resource.rv1 import ResourceSet
from fluxlab.resource.shape import ResourceConfigError, ranks_of

__all__ = ["DRAIN_MODES", "DrainEntry", "Inventory", "InventoryError"]

#: ``resource.drain`` modes: None = fail (EEXIST) if a target is already drained.
DRAIN_MODES = ("update", "overwrite", "force-overwrite")
_HISTORY = 64


class InventoryError(ValueError):
    """A request the inventory refuses; ``errno`` is the RPC error number."""

    def __init__(self, errnum: int, message: str):
        super().__init__(message)
        self.errno = errnum


@dataclass(frozen=True)
class DrainEntry:
    """Why and when a rank was drained."""

    reason: str
    timestamp: float


class Inventory:
    """R and the state of each of its ranks.

    Parameters
    ----------
    R : ResourceSet
        Every resource of the instance (immutable once built).
    exclude : iterable of int
        Ranks excluded by configuration (kept in R, never up).
    """

    def __init__(self, R: ResourceSet, exclude: Iterable[int] = ()):
        self.R = R
        self.ranks = R.ranks
        self.exclude = IDset(exclude) & self.ranks
        self.online = IDset()
        self.drained: dict[int, DrainEntry] = {}
        #: recent changes ``(time, what, idset)``, newest last, for debugging
        self.history: deque[tuple[float, str, str]] = deque(maxlen=_HISTORY)
        self._hosts = {r: R.hostname(r) for r in self.ranks}

    # -- queries ------------------------------------------------------------
    @property
    def offline(self) -> IDset:
        return self.ranks - self.online

    @property
    def up(self) -> IDset:
        """Ranks the scheduler may use: online, not drained, not excluded."""
        return self.online - IDset(self.drained) - self.exclude

    def targets(self, spec: Any, where: str = "targets") -> IDset:
        """Ranks named by an idset or hostlist; every one must be in R."""
        try:
            return ranks_of(spec, self._hosts, where)
        except ResourceConfigError as exc:
            raise InventoryError(errno.EINVAL, str(exc)) from None

    # -- transitions ------------------------------------------------------------
    def set_online(self, ranks: Iterable[int], online: bool) -> IDset:
        """Mark ranks of R online or offline; returns those that changed."""
        ranks = IDset(ranks) & self.ranks
        changed = (ranks - self.online) if online else (ranks & self.online)
        if changed:
            if online:
                self.online.add(changed)
            else:
                self.online.subtract(changed)
            self._note("online" if online else "offline", changed)
        return changed

    def drain(
        self, spec: Any, reason: str = "", mode: str | None = None, now: float | None = None
    ) -> IDset:
        """Drain the target ranks; returns the ranks newly drained.

        ``mode``: None fails with EEXIST if a target is already drained;
        ``update`` leaves those alone; ``overwrite`` replaces their reason;
        ``force-overwrite`` replaces reason and timestamp.
        """
        if mode is not None and mode not in DRAIN_MODES:
            raise InventoryError(
                errno.EINVAL, f"mode must be one of {', '.join(DRAIN_MODES)}, not {mode!r}"
            )
        ranks = self.targets(spec)
        already = IDset(r for r in ranks if r in self.drained)
        if already and mode is None:
            raise InventoryError(
                errno.EEXIST,
                f"rank{'s' if len(already) > 1 else ''} {already} already drained",
            )
        now = time.time() if now is None else now
        new = ranks - already
        for rank in new:
            self.drained[rank] = DrainEntry(reason, now)
        if mode in ("overwrite", "force-overwrite"):
            for rank in already:
                old = self.drained[rank]
                stamp = now if mode == "force-overwrite" else old.timestamp
                self.drained[rank] = DrainEntry(reason, stamp)
        self._note("drain", ranks)
        return new

    def undrain(self, spec: Any, mode: str | None = None) -> IDset:
        """Undrain the target ranks; returns the ranks that were drained.

        ``mode``: None fails with EINVAL if a target is not drained;
        ``force`` ignores such targets.
        """
        if mode is not None and mode != "force":
            raise InventoryError(errno.EINVAL, f"mode must be 'force', not {mode!r}")
        ranks = self.targets(spec)
        missing = IDset(r for r in ranks if r not in self.drained)
        if missing and mode is None:
            raise InventoryError(
                errno.EINVAL, f"rank{'s' if len(missing) > 1 else ''} {missing} not drained"
            )
        done = ranks - missing
        for rank in done:
            del self.drained[rank]
        if done:
            self._note("undrain", done)
        return done

    def _note(self, what: str, ranks: IDset) -> None:
        self.history.append((time.time(), what, ranks.encode()))

    # -- payloads ---------------------------------------------------------------
    def drain_payload(self) -> dict[str, dict[str, Any]]:
        """``{idset: {timestamp, reason}}``: ranks with the same entry share a key."""
        groups: dict[DrainEntry, list[int]] = {}
        for rank in sorted(self.drained):
            groups.setdefault(self.drained[rank], []).append(rank)
        return {
            IDset(ranks).encode(): {"timestamp": entry.timestamp, "reason": entry.reason}
            for entry, ranks in groups.items()
        }

    def status_payload(self) -> dict[str, Any]:
        """The ``resource.status`` response (what ``flux resource status`` reads)."""
        return {
            "R": self.R.to_dict(),
            "online": self.online.encode(),
            "offline": self.offline.encode(),
            "exclude": self.exclude.encode(),
            "torpid": "",
            "drain": self.drain_payload(),
        }

    def sched_R(self) -> ResourceSet:
        """R as given to the scheduler: without the excluded ranks."""
        return self.R.copy_ranks(self.ranks - self.exclude)

    def sched_status_payload(self) -> dict[str, Any]:
        """``{all, down, allocated}`` as ``sched.resource-status`` answers it,
        with nothing allocated (the inventory knows no jobs)."""
        avail = self.sched_R()
        return {
            "all": avail.to_dict(),
            "down": avail.copy_ranks(avail.ranks - self.up).to_dict(),
            "allocated": ResourceSet().to_dict(),
        }
