"""The I/O edge of the widgets: feeds that keep the pure models current.

Everything goes through fluxlab's public, Flux-compatible API on one handle:

* :class:`JobFeed` — ``job-manager.events-journal`` (streaming; every event
  of every job, batched per broker iteration) plus one ``job_list`` snapshot
  at start.  At 10,000 jobs one snapshot costs ~0.3 s while re-querying
  job-list on every tick would cost that 2-4 times a second, so after the
  snapshot only journal events are applied (cost proportional to change).
* :class:`ResourceFeed` — ``sched.resource-status`` (or, without a
  scheduler, ``resource.sched-status``) and ``resource.status`` polled every
  few seconds (small payloads), plus per-job allocations from the jobs' R
  (journal ``alloc`` entries, or ``job.<id>.R`` for jobs already running).

All replies are handled by then-callbacks, so they run wherever the handle
runs its callbacks: the kernel's asyncio loop (see :mod:`fluxlab.jupyter.live`)
or an explicit ``pump``.  Nothing here touches a widget.
"""

from __future__ import annotations

import errno
import time
from typing import Any

from fluxlab._proto import FLAG_STREAMING
from fluxlab.core.errors import FluxError
from fluxlab.job.jobid import JobID
from fluxlab.job.list import job_list, job_list_id
from fluxlab.jupyter.model.jobs import JobStore
from fluxlab.jupyter.model.resources import ResourceModel
from fluxlab.kvs.client import decode_value, lookup_async

__all__ = ["JOB_ATTRS", "JobFeed", "ResourceFeed"]

#: job-list attributes the table needs (fewer than "all": a cheaper snapshot)
JOB_ATTRS = [
    "userid",
    "urgency",
    "priority",
    "state",
    "result",
    "name",
    "ntasks",
    "nnodes",
    "ncores",
    "ngpus",
    "t_submit",
    "t_run",
    "t_cleanup",
    "t_inactive",
    "waitstatus",
    "ranks",
    "nodelist",
    "success",
    "exception_occurred",
    "exception_type",
    "exception_note",
    "exception_severity",
]


def _why(e: FluxError, what: str) -> str:
    if e.errno == errno.ENOSYS:
        return f"{what}: the instance does not run that service"
    return f"{what}: {e.strerror or e}"


class JobFeed:
    """Journal + snapshot into a :class:`JobStore`.

    Parameters
    ----------
    h : fluxlab.Flux
    store : JobStore, optional
    max_jobs : int
        At most this many jobs in the start snapshot (newest first).
    """

    def __init__(self, h, store: JobStore | None = None, max_jobs: int = 50_000):
        self.h = h
        self.store = store if store is not None else JobStore()
        self.max_jobs = max_jobs
        self.ready = False
        self.error = ""
        self._buffer: list[dict] = []
        self._journal = None
        self._asked: set[int] = set()
        self.started = False

    def start(self) -> None:
        if self.started:
            return
        self.started = True
        self._journal = self.h.rpc("job-manager.events-journal", {}, flags=FLAG_STREAMING)
        self._journal.then(self._on_journal)
        rpc = job_list(self.h, max_entries=self.max_jobs, attrs=JOB_ATTRS, userid=-1)
        rpc.then(self._on_snapshot)

    def stop(self) -> None:
        if self._journal is not None:
            try:
                self._journal.cancel()
            except (FluxError, OSError):
                pass
            self._journal = None

    # -- callbacks -------------------------------------------------------------------
    def _on_journal(self, fut) -> None:
        try:
            resp = fut.get()
        except FluxError as e:
            if e.errno not in (errno.ENODATA, errno.ECANCELED):
                self.error = _why(e, "job journal")
            self._journal = None
            return
        fut.reset()
        entries = resp.get("events", []) if isinstance(resp, dict) else []
        if not self.ready:
            self._buffer.extend(entries)
            return
        for entry in entries:
            if self.store.apply(entry) and entry.get("event", {}).get("name") == "alloc":
                self._need_R(int(entry["id"]), entry)
        self._fetch_orphans()

    def _on_snapshot(self, rpc) -> None:
        try:
            jobs = rpc.get_jobs()
        except FluxError as e:
            self.error = _why(e, "job list")
            jobs = []
        self.store.load_records(jobs)
        self.ready = True
        buffered, self._buffer = self._buffer, []
        for entry in buffered:
            self.store.apply(entry)
        for row in list(self.store.rows.values()):
            if row.ranks and row.alloc is None and row.state in (16, 32):
                self._fetch_R(row.id)
        self._fetch_orphans()

    def _need_R(self, jobid: int, entry: dict) -> None:
        if "R" not in entry:
            self._fetch_R(jobid)

    def _fetch_R(self, jobid: int) -> None:
        def got(fut, jobid=jobid):
            try:
                R = decode_value(fut.get())
            except FluxError:
                return
            row = self.store.rows.get(jobid)
            if row is not None and row.state in (16, 32):
                row.set_R(R)
                self.store.touch(jobid)

        lookup_async(self.h, f"{JobID(jobid).kvs}.R").then(got)

    def _fetch_orphans(self) -> None:
        for jobid in list(self.store.orphans):
            if jobid in self._asked:
                continue
            self._asked.add(jobid)

            def got(fut, jobid=jobid):
                try:
                    rec = fut.get()["job"]
                except (FluxError, KeyError, TypeError):
                    self.store.orphans.pop(jobid, None)
                    return
                self.store.load_records([rec])

            job_list_id(self.h, jobid, JOB_ATTRS).then(got)


class ResourceFeed:
    """Inventory and status into a :class:`ResourceModel`; allocations from a store.

    Parameters
    ----------
    h : fluxlab.Flux
    model : ResourceModel
    store : JobStore
        Where running jobs' allocations come from.
    period : float
        Seconds between status polls.
    """

    def __init__(self, h, model: ResourceModel, store: JobStore, period: float = 2.0):
        self.h, self.model, self.store, self.period = h, model, store, period
        self.error = ""
        self.ready = False
        self._last_poll = 0.0
        self._inflight = 0
        self._R_text: str | None = None
        self._alloc_version = -1

    def poll(self, force: bool = False) -> None:
        """Ask for status if ``period`` has passed (or ``force``)."""
        now = time.monotonic()
        if self._inflight or (not force and now - self._last_poll < self.period):
            return
        self._last_poll = now
        self._inflight = 2
        self.h.rpc("sched.resource-status", nodeid=0).then(self._on_sched, False)
        self.h.rpc("resource.status", nodeid=0).then(self._on_status)

    def _on_sched(self, fut, fallback: bool) -> None:
        try:
            resp = fut.get()
        except FluxError as e:
            if e.errno == errno.ENOSYS and not fallback:
                self.h.rpc("resource.sched-status", nodeid=0).then(self._on_sched, True)
                return
            self._inflight -= 1
            if e.errno == errno.EAGAIN:
                self.error = "waiting for the scheduler to receive resources"
            elif e.errno == errno.ENOSYS:
                self.error = "the instance runs no scheduler and no resource module"
            else:
                self.error = _why(e, "resource status")
            return
        self._inflight -= 1
        import json

        R = resp.get("all") if isinstance(resp, dict) else None
        if isinstance(R, dict):
            text = json.dumps(R, sort_keys=True)
            if text != self._R_text:
                try:
                    self.model.set_R(R)
                except ValueError as e:
                    self.error = f"resource status: bad R: {e}"
                    return
                self._R_text = text
            self.ready = True
            self.error = ""
            down = set()
            Rdown = resp.get("down")
            if isinstance(Rdown, dict):
                from fluxlab.resource.rv1 import ResourceSet

                try:
                    down = set(ResourceSet(Rdown).ranks)
                except ValueError:
                    pass
            drained = {r: self.model.drained.get(r, "") for r in down if r in self.model.drained}
            self.model.set_status(down - set(drained), drained)

    def _on_status(self, fut) -> None:
        self._inflight -= 1
        try:
            resp = fut.get()
        except FluxError:
            return  # no resource module: sched's "down" is all we know
        drain = resp.get("drain") if isinstance(resp, dict) else None
        offline = resp.get("offline", "") if isinstance(resp, dict) else ""
        from fluxlab.resource.idset import IDset, IdsetError

        drained: dict[int, str] = {}
        if isinstance(drain, dict):
            for ids, info in drain.items():
                try:
                    ranks = list(IDset(ids))
                except (IdsetError, ValueError):
                    continue
                reason = info.get("reason", "") if isinstance(info, dict) else ""
                for r in ranks:
                    drained[r] = reason
        try:
            down = set(IDset(offline)) if offline else set()
        except (IdsetError, ValueError):
            down = set()
        self.model.set_status(down, drained)

    def update_allocations(self) -> bool:
        """Recompute allocations when the job store moved; True if it did."""
        if self.store.version == self._alloc_version:
            return False
        self._alloc_version = self.store.version
        allocs: dict[int, Any] = {r.id: r.alloc for r in self.store.running()}
        self.model.set_allocations(allocs)
        return True
