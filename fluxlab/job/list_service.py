"""The job-list service (RFC 43 in fluxlab form): what ``fluxlab jobs`` asks.

It follows the job-manager's journal (``job-manager.events-journal``), keeps
one record per job and answers queries without touching the KVS.  Active
jobs keep a live :class:`~fluxlab.job.record.JobRecord`; when a job becomes
inactive its record is flattened into a plain dict of final attributes (a few
hundred bytes), which is what keeps 100,000 inactive jobs cheap.

Ordering of ``job-list.list`` follows ``flux jobs``: pending jobs by
priority (then submission), running jobs newest first, inactive jobs most
recently finished first.

Journal events are applied in the broker's idle moments, a slice at a
time (:meth:`~fluxlab.core.reactor.Reactor.add_idle`): a busy instance
then spends its turns on moving jobs, not on bookkeeping for listings.
Every query first applies whatever is still pending, so an answer always
reflects every event the job-manager had sent before it; the backlog is
also applied at once when it reaches :data:`_BACKLOG_MAX` entries, which
bounds it in a broker that is never idle.
"""

from __future__ import annotations

import errno
import os
import time
from collections import deque
from typing import Any

from fluxlab._proto import FLAG_STREAMING
from fluxlab.core.errors import FluxError, ServiceError
from fluxlab.core.module import ServiceModule, event_handler, request_handler, unpack
from fluxlab.job.jobid import JobIDError, id_parse
from fluxlab.job.record import JobRecord
from fluxlab.job.states import JobState

__all__ = ["JobList", "jobspec_summary", "R_summary"]

_ALL_STATES = int(JobState.ACTIVE | JobState.INACTIVE | JobState.NEW)
# plain ints: enum flag arithmetic is slow in the per-job loops below
_PENDING = int(JobState.PENDING | JobState.NEW)
_RUNNING = int(JobState.RUNNING)
_INACTIVE = int(JobState.INACTIVE)
#: journal entries applied per idle slice (well under a millisecond)
_IDLE_SLICE = 64
#: pending journal entries beyond which they are applied at once
_BACKLOG_MAX = 8192


def jobspec_summary(jobspec: Any) -> dict:
    """Name, task/core/node counts, duration, cwd, queue... from a jobspec."""
    out: dict[str, Any] = {}
    if not isinstance(jobspec, dict):
        return out
    system = (
        jobspec.get("attributes", {}).get("system", {})
        if isinstance(jobspec.get("attributes"), dict)
        else {}
    )
    if not isinstance(system, dict):
        system = {}
    job = system.get("job", {})
    name = job.get("name") if isinstance(job, dict) else None
    tasks = jobspec.get("tasks")
    if not isinstance(name, str):
        try:
            name = os.path.basename(str(tasks[0]["command"][0]))
        except (TypeError, KeyError, IndexError):
            name = ""
    out["name"] = name
    for key in ("cwd", "queue", "project", "bank"):
        if isinstance(system.get(key), str):
            out[key] = system[key]
    dur = system.get("duration")
    if isinstance(dur, (int, float)) and not isinstance(dur, bool):
        out["duration"] = float(dur)
    try:
        from fluxlab.job.jj import jj_get_counts

        c = jj_get_counts(jobspec)
        count = tasks[0]["count"]
        if "total" in count:
            ntasks = int(count["total"])
        else:
            ntasks = c.nslots * int(count.get("per_slot", 1))
        out["ntasks"] = ntasks
        out["ncores"] = c.nslots * c.slot_size
        if c.slot_gpus:
            out["ngpus"] = c.nslots * c.slot_gpus
        if c.nnodes:
            out["nnodes"] = c.nnodes
    except Exception:  # noqa: BLE001 - unusual jobspecs just lack counts
        pass
    return out


#: R_summary results by allocation shape (see there); bounded by clearing
_R_SHAPES: dict[tuple, dict] = {}
_R_SHAPES_MAX = 4096
_SUMMARIES_MAX = 1024


def _R_shape_key(R: dict) -> tuple | None:
    """What of R the summary depends on, apart from ``expiration``: its ranks'
    children and the nodelist (``starttime`` and ``scheduling`` do not count).
    None when R is not plain enough to key (then it is parsed in full)."""
    try:
        ex = R["execution"]
        key = [tuple(ex.get("nodelist") or ())]
        for e in ex["R_lite"]:
            kids = e["children"]
            key.append((e["rank"], tuple(sorted(kids.items()))))
        return tuple(key)
    except (KeyError, TypeError, AttributeError):
        return None


def R_summary(R: Any) -> dict:
    """Ranks, nodelist, node/core/gpu counts and expiration from R.

    Allocations repeat (the same cores of the same node, job after job), so
    the parsed part is remembered per shape; ``expiration`` is read each time.
    """
    if not isinstance(R, dict):
        return {}
    key = _R_shape_key(R)
    try:
        base = _R_SHAPES.get(key) if key is not None else None
    except TypeError:  # an unhashable part: not a shape worth keeping
        key = base = None
    if base is None:
        try:
            from fluxlab.resource.rv1 import ResourceSet

            rs = ResourceSet(R)
        except (ValueError, TypeError):
            return {}
        base = {
            "ranks": str(rs.ranks),
            "nodelist": str(rs.nodelist),
            "nnodes": rs.nnodes,
            "ncores": rs.ncores,
        }
        if rs.ngpus:
            base["ngpus"] = rs.ngpus
        if key is not None:
            if len(_R_SHAPES) >= _R_SHAPES_MAX:
                _R_SHAPES.clear()
            _R_SHAPES[key] = base
    out = dict(base)
    try:
        expiration = R["execution"].get("expiration")
    except (KeyError, AttributeError):
        expiration = None
    if isinstance(expiration, (int, float)) and not isinstance(expiration, bool) and expiration:
        out["expiration"] = float(expiration)
    return out


class _Entry:
    __slots__ = ("attrs", "nevents", "record")

    def __init__(self, record: JobRecord | None, attrs: dict):
        self.record = record
        self.attrs = attrs
        self.nevents = record.nevents if record is not None else 0

    def view(self) -> dict:
        if self.record is None:
            return self.attrs
        return {**self.attrs, **self.record.to_dict()}


class JobList(ServiceModule):
    name = "job-list"

    def start(self) -> None:
        self.jobs: dict[int, _Entry] = {}
        self.inactive_order: list[int] = []
        self._idwaits: list = []
        #: id(jobspec) -> (jobspec, summary).  Jobs submitted with the same
        #: text share one decoded jobspec (job-ingest's validation cache), so
        #: a bulk submission is summarised once; the object is kept with its
        #: summary so that a recycled id() can never match.
        self._summaries: dict[int, tuple[Any, dict]] = {}
        self._backlog: deque[dict] = deque()  # journal entries not yet applied
        self._journal = self.h.rpc(
            "job-manager.events-journal", {"full": True}, flags=FLAG_STREAMING
        )
        self._journal.then(self._on_journal)
        self.h.spawn(self._load_inactive(), lambda v, e: e and self.log(3, f"reload failed: {e}"))

    def stop(self) -> None:
        self._journal.cancel()

    def stats(self) -> dict:
        self._catch_up()
        return {"jobs": len(self.jobs), "inactive": len(self.inactive_order)}

    # -- feeding -------------------------------------------------------------------
    def _on_journal(self, fut) -> None:
        try:
            resp = fut.get()
        except FluxError as e:
            if e.errno not in (errno.ENODATA, errno.ECANCELED, errno.ENOSYS):
                self.log(3, f"job-manager journal failed: {e}")
            return
        fut.reset()
        if resp.get("active"):
            self._catch_up()
            for snap in resp["active"]:
                self._snapshot(snap)
        backlog = self._backlog
        backlog.extend(resp.get("events", ()))
        if self._idwaits:
            self._check_idwaits(final=False)  # catches up first
        elif len(backlog) > _BACKLOG_MAX:
            self._catch_up()
        elif backlog:
            self.h.reactor.add_idle(self._apply_idle)

    def _apply_backlog(self, n: int) -> None:
        backlog, apply = self._backlog, self._apply
        for _ in range(n):
            apply(backlog.popleft())

    def _apply_idle(self) -> bool:
        """Apply one slice of the backlog; True while some is left."""
        self._apply_backlog(min(_IDLE_SLICE, len(self._backlog)))
        return bool(self._backlog)

    def _catch_up(self) -> None:
        """Apply every pending journal entry (before a query reads the jobs)."""
        self._apply_backlog(len(self._backlog))

    def _snapshot(self, snap: dict) -> None:
        """An active job as the job-manager knows it (journal ``full`` start)."""
        jobid = snap["id"]
        if jobid in self.jobs:
            return
        try:
            rec = JobRecord.replay(snap.get("events", []), jobid)
        except ValueError as exc:
            self.log(4, f"job {jobid}: snapshot not replayable: {exc}")
            return
        e = _Entry(rec, {**jobspec_summary(snap.get("jobspec")), **R_summary(snap.get("R"))})
        self.jobs[jobid] = e

    def _jobspec_summary(self, jobspec: Any) -> dict:
        """:func:`jobspec_summary`, remembered per jobspec object (a new dict each time)."""
        hit = self._summaries.get(id(jobspec))
        if hit is None or hit[0] is not jobspec:
            hit = (jobspec, jobspec_summary(jobspec))
            if len(self._summaries) >= _SUMMARIES_MAX:
                self._summaries.clear()
            self._summaries[id(jobspec)] = hit
        return dict(hit[1])

    def _apply(self, entry: dict) -> None:
        jobid = entry["id"]
        e = self.jobs.get(jobid)
        n = entry.get("n", 0)
        if e is None:
            if n != 0:
                return  # history we never saw the start of (reload fills it in)
            e = _Entry(JobRecord(jobid), self._jobspec_summary(entry.get("jobspec")))
            self.jobs[jobid] = e
        if n < e.nevents:
            return
        if e.record is None:  # already inactive
            return
        try:
            e.record.apply(entry["event"])
        except ValueError as exc:
            self.log(4, f"job {jobid}: journal event not applied: {exc}")
            return
        e.nevents = n + 1
        if "R" in entry:
            e.attrs.update(R_summary(entry["R"]))
        if entry["event"].get("name") == "memo":
            memo = entry["event"].get("context", {})
            if isinstance(memo, dict) and isinstance(memo.get("uri"), str):
                e.attrs["uri"] = memo["uri"]
        if e.record.state == JobState.INACTIVE:
            e.attrs = e.view()
            e.record = None
            self.inactive_order.append(jobid)

    async def _load_inactive(self) -> None:
        """After a restart, read inactive jobs' eventlogs from the KVS."""
        from fluxlab.job._jm_restart import _entries, _text

        keys = []
        for a in await _entries(self, "job"):
            for b in await _entries(self, f"job.{a}"):
                for c in await _entries(self, f"job.{a}.{b}"):
                    for d in await _entries(self, f"job.{a}.{b}.{c}"):
                        keys.append(f"{a}.{b}.{c}.{d}")
        import json

        loaded = []
        for dothex in keys:
            try:
                jobid = id_parse(dothex)
            except JobIDError:
                continue
            self._catch_up()
            if jobid in self.jobs:
                continue
            text = await _text(self, f"job.{dothex}.eventlog")
            if not text:
                continue
            try:
                rec = JobRecord.replay(text, jobid)
            except ValueError:
                continue
            spec = await _text(self, f"job.{dothex}.jobspec")
            R = await _text(self, f"job.{dothex}.R")
            attrs = {}
            try:
                attrs.update(jobspec_summary(json.loads(spec)) if spec else {})
                attrs.update(R_summary(json.loads(R)) if R else {})
            except ValueError:
                pass
            e = _Entry(rec, attrs)
            self._catch_up()
            if jobid in self.jobs:
                continue
            self.jobs[jobid] = e
            if rec.state == JobState.INACTIVE:
                e.attrs = e.view()
                e.record = None
                loaded.append((e.attrs.get("t_inactive", 0.0), jobid))
        self.inactive_order = [j for _, j in sorted(loaded)] + self.inactive_order

    @event_handler("job-purge")
    def on_purge(self, msg):
        self._catch_up()
        ids = set((msg.payload or {}).get("ids", []))
        for jobid in ids:
            self.jobs.pop(jobid, None)
        if ids:
            self.inactive_order = [j for j in self.inactive_order if j not in ids]

    # -- queries -----------------------------------------------------------------
    @request_handler("list")
    def list(self, msg):
        max_entries, attrs, userid, states, results, since, name, queue = unpack(
            msg,
            ("max_entries", int, 1000),
            ("attrs", list, ["all"]),
            ("userid", int, -1),
            ("states", int, 0),
            ("results", int, 0),
            ("since", (int, float), 0.0),
            ("name", (str, type(None)), None),
            ("queue", (str, type(None)), None),
        )
        self._catch_up()
        if max_entries < 0:
            raise ServiceError(errno.EINVAL, "max_entries must be >= 0")
        if states & ~_ALL_STATES:
            raise ServiceError(errno.EINVAL, f"invalid states mask {states}")
        states = states or _ALL_STATES
        want_inactive = bool(states & _INACTIVE) or bool(results)
        out: list[dict] = []
        limit = max_entries or float("inf")

        def accept(v: dict) -> bool:
            if userid not in (-1, 0xFFFFFFFF) and v.get("userid") != userid:
                return False
            if name is not None and v.get("name") != name:
                return False
            if queue is not None and v.get("queue") != queue:
                return False
            return True

        pending, running = [], []
        for e in self.jobs.values():
            if e.record is None:
                continue
            st = int(e.record.state)
            if st & _PENDING:
                if states & st:
                    pending.append(e)
            elif st & _RUNNING and states & st:
                running.append(e)
        pending.sort(key=lambda e: (-(e.record.priority or 0), e.record.t_submit, e.record.id))
        running.sort(key=lambda e: -(e.record.t_run or e.record.t_submit))
        for e in pending + running:
            if len(out) >= limit:
                break
            v = e.view()
            if accept(v):
                out.append(self._attrs(v, attrs))
        if want_inactive:
            for jobid in reversed(self.inactive_order):
                if len(out) >= limit:
                    break
                e = self.jobs.get(jobid)
                if e is None or e.record is not None:
                    continue
                v = e.attrs
                if since and v.get("t_inactive", 0.0) <= since:
                    break
                if results and not (v.get("result", 0) & results):
                    continue
                if accept(v):
                    out.append(self._attrs(v, attrs))
        return {"jobs": out}

    @staticmethod
    def _attrs(v: dict, attrs: list) -> dict:
        if "all" in attrs:
            return dict(v)
        return {k: v[k] for k in ("id", *attrs) if k in v}

    @request_handler("list-id")
    def list_id(self, msg):
        raw, attrs = unpack(msg, ("id", (int, str)), ("attrs", list, ["all"]))
        try:
            jobid = id_parse(raw) if isinstance(raw, str) else raw
        except JobIDError as e:
            raise ServiceError(errno.EINVAL, str(e)) from None
        self._catch_up()
        e = self.jobs.get(jobid)
        if e is not None:
            return {"job": self._attrs(e.view(), attrs)}
        self.defer(msg)
        self._idwaits.append((msg, jobid, attrs, time.monotonic()))
        self.h.reactor.call_later(0.5, self._check_idwaits, True)
        return None

    def _check_idwaits(self, final: bool) -> None:
        self._catch_up()
        keep = []
        now = time.monotonic()
        for msg, jobid, attrs, t0 in self._idwaits:
            e = self.jobs.get(jobid)
            if e is not None:
                self.respond(msg, {"job": self._attrs(e.view(), attrs)})
            elif final and now - t0 >= 0.5:
                self.respond_error(msg, errno.ENOENT, f"unknown job id {jobid}")
            else:
                keep.append((msg, jobid, attrs, t0))
        self._idwaits = keep
