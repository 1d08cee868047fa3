"""Pure models behind the notebook widgets (no I/O, no widgets).

* :mod:`~fluxlab.jupyter.model.jobs` — a store of job rows fed by job-list
  records and job-manager journal events, with filtering, sorting, paging;
* :mod:`~fluxlab.jupyter.model.resources` — the resource hierarchy
  (cluster, node groups, nodes, sockets, cores/GPUs) with per-element state;
* :mod:`~fluxlab.jupyter.model.timeline` — Gantt bars and utilization series.
"""

from fluxlab.jupyter.model.jobs import JobRow, JobStore, status_color
from fluxlab.jupyter.model.resources import ResourceModel, job_color
from fluxlab.jupyter.model.timeline import TimelineData, timeline_data

__all__ = [
    "JobRow",
    "JobStore",
    "ResourceModel",
    "TimelineData",
    "job_color",
    "status_color",
    "timeline_data",
]
