"""Gantt bars (jobs per node over time) and utilization, from job rows.

Pure: :func:`timeline_data` takes the rows of a
:class:`~fluxlab.jupyter.model.jobs.JobStore`, the clock and (optionally)
host names per rank and the total core count, and returns plain lists a
chart can plot.  Bars are capped at ``max_bars`` (the most recent jobs
first) so a long history stays drawable; utilization covers every job.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fluxlab.jupyter.model.resources import job_color
from fluxlab.resource.idset import IDset, IdsetError

__all__ = ["TimelineData", "timeline_data"]


@dataclass
class TimelineData:
    """What the timeline draws.

    Attributes
    ----------
    bars : list of dict
        ``{job, f58, node, start, end, color, status, running}``, one per
        job and node (``start``/``end`` in seconds since the epoch).
    util_t, util_cores : list of float
        Step function: cores in use from ``util_t[i]`` on.
    nodes : list of str
        Node labels in rank order (the Gantt's rows).
    total_cores : int
        Cores of the instance (0 when unknown).
    """

    bars: list[dict[str, Any]] = field(default_factory=list)
    util_t: list[float] = field(default_factory=list)
    util_cores: list[float] = field(default_factory=list)
    nodes: list[str] = field(default_factory=list)
    total_cores: int = 0
    t0: float = 0.0
    t1: float = 0.0


def _ranks(text: str) -> list[int]:
    if not text:
        return []
    try:
        return list(IDset(text))
    except (IdsetError, ValueError):
        return []


def timeline_data(
    rows: Iterable[Any],
    now: float,
    hostnames: Mapping[int, str] | Callable[[int], str] | None = None,
    total_cores: int = 0,
    max_bars: int = 2000,
) -> TimelineData:
    """Bars and utilization of jobs that ran (``t_run`` set)."""
    if hostnames is None:

        def host(rank: int) -> str:
            return f"rank{rank}"

    elif callable(hostnames):
        host = hostnames
    else:

        def host(rank: int) -> str:
            return hostnames.get(rank, f"rank{rank}")

    ran = [r for r in rows if r.t_run > 0]
    ran.sort(key=lambda r: r.t_run)
    steps: list[tuple[float, float]] = []
    for r in ran:
        end = r.t_cleanup or r.t_inactive or 0.0
        steps.append((r.t_run, r.ncores))
        if end:
            steps.append((end, -r.ncores))
    steps.sort()
    out = TimelineData(total_cores=total_cores, t1=now)
    level = 0.0
    for t, d in steps:
        level += d
        if out.util_t and out.util_t[-1] == t:
            out.util_cores[-1] = level
        else:
            out.util_t.append(t)
            out.util_cores.append(level)
    if out.util_t:
        out.util_t.append(now)
        out.util_cores.append(level)
        out.t0 = out.util_t[0]
    used_ranks: set[int] = set()
    groups: list[list[dict[str, Any]]] = []
    nbars = 0
    for r in reversed(ran):
        ranks = list(r.alloc) if r.alloc else _ranks(r.ranks)
        end = r.t_cleanup or r.t_inactive or 0.0
        bars: list[dict[str, Any]] = []
        for rank in sorted(ranks):
            used_ranks.add(rank)
            bars.append(
                {
                    "job": r.id,
                    "f58": r.f58,
                    "name": r.name,
                    "node": host(rank),
                    "rank": rank,
                    "start": r.t_run,
                    "end": end or now,
                    "running": not end,
                    "color": job_color(r.id),
                    "status": r.status,
                }
            )
        groups.append(bars)
        nbars += len(bars)
        if nbars >= max_bars:
            break
    out.bars = [b for group in reversed(groups) for b in group]
    out.nodes = [host(rank) for rank in sorted(used_ranks)]
    return out
