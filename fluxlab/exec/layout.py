"""Task layout: how many tasks run on each rank of R, and their task ranks.

The rules follow flux-shell (``rcalc``) and RFC 14:

* the number of tasks is ``nslots * per_slot`` (``nslots`` counted over the
  whole resource request, node level included) or ``count.total``;
* each rank of R can hold ``(cores on the rank // cores per slot)`` slots,
  i.e. that many tasks times ``per_slot``;
* tasks are dealt one at a time to the ranks in order of their capacity
  (largest first, ties by rank), skipping ranks that are full, so a
  ``count.total`` that does not divide evenly spreads as evenly as the slots
  allow (``-N2 -n3`` gives 2 + 1);
* task ranks are then numbered ``0..N-1`` in rank order (block layout), so
  the tasks of one broker rank have consecutive task ranks.

If R has less room than tasks (it should not: the scheduler allocated it
for this jobspec) the remaining tasks are dealt round-robin over all ranks
rather than refused.

:func:`taskmap` encodes the layout as an RFC 34 task map, which the exec
system posts in the ``shell.start`` event as flux-shell does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fluxlab.exec.spec import ExecSpec, ExecSpecError
from fluxlab.job.jj import JJError, jj_get_counts
from fluxlab.resource.rv1 import ResourceSet

__all__ = ["TaskLayout", "compute_layout", "taskmap"]


@dataclass(frozen=True)
class TaskLayout:
    """Tasks per broker rank.

    Attributes
    ----------
    ntasks : int
        Total number of tasks.
    ranks : dict
        ``{broker rank: [task ranks]}`` for every rank of R in rank order
        (a rank with no task maps to an empty list).
    """

    ntasks: int
    ranks: dict[int, list[int]]

    @property
    def nnodes(self) -> int:
        """Number of broker ranks in R (``FLUX_JOB_NNODES``)."""
        return len(self.ranks)

    def active_ranks(self) -> list[int]:
        """Broker ranks that run at least one task, ascending."""
        return [r for r, tasks in self.ranks.items() if tasks]

    def node_index(self, rank: int) -> int:
        """Position of ``rank`` among R's ranks (flux-shell's shell rank)."""
        return list(self.ranks).index(rank)


def _deal(ntasks: int, capacity: dict[int, int]) -> dict[int, int]:
    order = sorted(capacity, key=lambda r: (-capacity[r], r))
    counts = dict.fromkeys(capacity, 0)
    dealt = 0
    while dealt < ntasks:
        progressed = False
        for rank in order:
            if dealt == ntasks:
                break
            if counts[rank] < capacity[rank]:
                counts[rank] += 1
                dealt += 1
                progressed = True
        if not progressed:  # R is too small: oversubscribe round-robin
            for rank in order:
                if dealt == ntasks:
                    break
                counts[rank] += 1
                dealt += 1
    return counts


def compute_layout(jobspec: Mapping[str, Any], R: ResourceSet | Mapping[str, Any]) -> TaskLayout:
    """Lay the jobspec's tasks out over the ranks of ``R``.

    Raises
    ------
    ExecSpecError
        If the jobspec has no slot/core request or task count, or R has no
        ranks.
    """
    spec = ExecSpec.from_jobspec(jobspec)
    rs = R if isinstance(R, ResourceSet) else ResourceSet(R)
    try:
        jj = jj_get_counts(jobspec)
    except JJError as e:
        raise ExecSpecError(f"resources: {e}") from None
    ranks = list(rs.ranks)
    if not ranks:
        raise ExecSpecError("R: the allocation has no ranks")
    kind, n = spec.count
    per_slot = n if kind == "per_slot" else 1
    ntasks = jj.nslots * n if kind == "per_slot" else n
    capacity = {r: (len(rs.children(r).get("core", ())) // jj.slot_size) * per_slot for r in ranks}
    counts = _deal(ntasks, capacity)
    layout: dict[int, list[int]] = {}
    next_task = 0
    for r in ranks:
        layout[r] = list(range(next_task, next_task + counts[r]))
        next_task += counts[r]
    return TaskLayout(ntasks, layout)


def taskmap(layout: TaskLayout) -> dict[str, Any]:
    """RFC 34 task map: ``{"version": 1, "map": [[nodeid, nnodes, ppn, 1], ...]}``.

    Consecutive nodes (indices into R's ranks) with the same task count are
    merged into one block; nodes without tasks are left out.
    """
    blocks: list[list[int]] = []
    for index, tasks in enumerate(layout.ranks.values()):
        ppn = len(tasks)
        if not ppn:
            continue
        last = blocks[-1] if blocks else None
        if last and last[0] + last[1] == index and last[2] == ppn:
            last[1] += 1
        else:
            blocks.append([index, 1, ppn, 1])
    return {"version": 1, "map": blocks}
