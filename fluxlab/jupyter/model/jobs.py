"""Job rows for the live job table, kept current from two public sources.

A :class:`JobStore` starts from a snapshot of ``job-list.list`` records
(:meth:`JobStore.load_records`) and then follows ``job-manager.events-journal``
entries (:meth:`JobStore.apply`).  The two are not ordered with respect to
each other — job-list follows the same journal and may lag — so applying an
event is *forgiving*:

* a transition the RFC 21 table allows from the row's state is taken;
* otherwise an event whose destination lies further along the life cycle
  (``alloc`` -> RUN, ``clean`` -> INACTIVE ...) moves the row forward: the
  snapshot was behind;
* anything else is a replay of history the snapshot already holds and only
  its fields (times, exit status) are merged.

Invariants: a row's state only changes through the RFC 21 table or forward
along the life cycle; ``version`` increases whenever a row changes, so views
can cache their sorted order until it moves.
"""

from __future__ import annotations

import fnmatch
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from fluxlab.job.jobid import JobID
from fluxlab.job.states import JobResult, JobState, JobStateError, event_key, next_state

__all__ = ["FILTERS", "SORT_KEYS", "JobRow", "JobStore", "status_color"]

#: life-cycle order of the real states (for "forward only" moves)
_ORDER = {
    JobState.NEW: 0,
    JobState.DEPEND: 1,
    JobState.PRIORITY: 2,
    JobState.SCHED: 3,
    JobState.RUN: 4,
    JobState.CLEANUP: 5,
    JobState.INACTIVE: 6,
}
#: where an event leads whatever the state it happens in (forward moves)
_DEST = {
    "validate": JobState.DEPEND,
    "depend": JobState.PRIORITY,
    "priority": JobState.SCHED,
    "alloc": JobState.RUN,
    "start": JobState.RUN,
    "finish": JobState.CLEANUP,
    "exception": JobState.CLEANUP,
    "free": JobState.CLEANUP,
    "clean": JobState.INACTIVE,
    "invalidate": JobState.INACTIVE,
}

#: colours of statuses (pending amber, running blue, results as flux-restful)
_STATUS_COLORS = {
    "NEW": "#9e9e9e",
    "DEPEND": "#b8860b",
    "PRIORITY": "#d4a017",
    "SCHED": "#e0a800",
    "RUN": "#1f77b4",
    "CLEANUP": "#6a5acd",
    "COMPLETED": "#2e8b57",
    "FAILED": "#c0392b",
    "CANCELED": "#8d6e63",
    "TIMEOUT": "#e67e22",
    "INACTIVE": "#7f7f7f",
}


def status_color(status: str) -> str:
    """CSS colour of a status (a state name, or a result name once inactive)."""
    return _STATUS_COLORS.get(status, "#7f7f7f")


#: state/result filters by name -> (state mask, result mask or 0)
FILTERS: dict[str, tuple[int, int]] = {
    "all": (int(JobState.ACTIVE | JobState.INACTIVE | JobState.NEW), 0),
    "active": (int(JobState.ACTIVE | JobState.NEW), 0),
    "pending": (int(JobState.PENDING | JobState.NEW), 0),
    "running": (int(JobState.RUNNING), 0),
    "inactive": (int(JobState.INACTIVE), 0),
    "completed": (int(JobState.INACTIVE), int(JobResult.COMPLETED)),
    "failed": (int(JobState.INACTIVE), int(JobResult.FAILED)),
    "canceled": (int(JobState.INACTIVE), int(JobResult.CANCELED)),
    "timeout": (int(JobState.INACTIVE), int(JobResult.TIMEOUT)),
}
for _st in _ORDER:
    FILTERS.setdefault(_st.name.lower(), (int(_st), 0))

_STATE_NAMES = {int(st): st.name for st in _ORDER}
_RESULT_NAMES = {int(r): r.name for r in JobResult}

SORT_KEYS = ("id", "name", "status", "nnodes", "ncores", "ngpus", "runtime", "t_submit")


def _fsd(seconds: float) -> str:
    if seconds <= 0:
        return ""
    if seconds < 60:
        return f"{seconds:.3g}s" if seconds < 10 else f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds / 60:.3g}m"
    if seconds < 86400:
        return f"{seconds / 3600:.3g}h"
    return f"{seconds / 86400:.3g}d"


class JobRow:
    """What the job table knows about one job (slots: cheap at 100,000 rows)."""

    __slots__ = (
        "alloc",
        "exc_note",
        "exc_occurred",
        "exc_severity",
        "exc_type",
        "f58",
        "id",
        "name",
        "ncores",
        "ngpus",
        "nnodes",
        "nodelist",
        "ntasks",
        "priority",
        "ranks",
        "result",
        "state",
        "status",
        "success",
        "t_cleanup",
        "t_inactive",
        "t_run",
        "t_submit",
        "urgency",
        "userid",
        "waitstatus",
    )

    def __init__(self, jobid: int):
        self.id = int(jobid)
        self.f58 = JobID(jobid).f58
        self.name = ""
        self.userid = -1
        self.urgency = 16
        self.priority = -1
        #: a plain int (JobState value): enum arithmetic is too slow at 100k rows
        self.state = int(JobState.NEW)
        #: state name while active, result name once inactive (kept current)
        self.status = "NEW"
        self.result = 0
        self.t_submit = self.t_run = self.t_cleanup = self.t_inactive = 0.0
        self.waitstatus: int | None = None
        self.success = False
        self.exc_occurred = False
        self.exc_severity = 7
        self.exc_type = self.exc_note = ""
        self.ntasks = self.nnodes = self.ncores = self.ngpus = 0
        self.ranks = self.nodelist = ""
        #: ``{rank: (core ids, gpu ids)}`` while the job holds resources
        self.alloc: dict[int, tuple[frozenset, frozenset]] | None = None

    # -- derived ---------------------------------------------------------------
    def set_state(self, state: int, result: int | None = None) -> None:
        """Change state (and result); keeps ``status`` (``flux jobs`` STATUS) current."""
        self.state = int(state)
        if result is not None:
            self.result = result
        if self.state == JobState.INACTIVE:
            self.status = _RESULT_NAMES.get(self.result, "INACTIVE")
        else:
            self.status = _STATE_NAMES.get(self.state, "NEW")

    def runtime(self, now: float) -> float:
        if self.t_run <= 0:
            return 0.0
        end = self.t_cleanup or (self.t_inactive if self.state == JobState.INACTIVE else 0.0)
        return (end or now) - self.t_run

    @property
    def returncode(self) -> int | str:
        if self.state != JobState.INACTIVE:
            return ""
        if self.waitstatus is None:
            if self.result == JobResult.CANCELED:
                return -128
            return 1 if self.result == JobResult.FAILED else ""
        if self.waitstatus & 0x7F:
            return -(self.waitstatus & 0x7F)
        return (self.waitstatus >> 8) & 0xFF

    def as_dict(self, now: float) -> dict[str, Any]:
        """The row as the table widget shows it (JSON-able)."""
        status = self.status
        return {
            "id": self.id,
            "f58": self.f58,
            "name": self.name,
            "state": _STATE_NAMES.get(self.state, "?"),
            "status": status,
            "color": status_color(status),
            "ntasks": self.ntasks,
            "nnodes": self.nnodes,
            "ncores": self.ncores,
            "ngpus": self.ngpus,
            "runtime": _fsd(self.runtime(now)),
            "rc": self.returncode,
            "nodelist": self.nodelist,
            "note": self.exc_note if self.exc_occurred else "",
        }

    # -- updates -----------------------------------------------------------------
    def set_jobspec(self, jobspec: Any) -> None:
        """Name and requested counts from a jobspec (what job-list derives)."""
        if not isinstance(jobspec, Mapping):
            return
        attrs = jobspec.get("attributes")
        system = attrs.get("system") if isinstance(attrs, Mapping) else None
        job = system.get("job") if isinstance(system, Mapping) else None
        name = job.get("name") if isinstance(job, Mapping) else None
        if not isinstance(name, str):
            try:
                name = str(jobspec["tasks"][0]["command"][0]).rsplit("/", 1)[-1]
            except (KeyError, IndexError, TypeError):
                name = ""
        self.name = name
        counts = _resource_counts(jobspec.get("resources"))
        self.nnodes = counts.get("node", 0)
        self.ncores = counts.get("core", 0)
        self.ngpus = counts.get("gpu", 0)
        try:
            count = jobspec["tasks"][0]["count"]
            if "total" in count:
                self.ntasks = int(count["total"])
            else:
                self.ntasks = counts.get("slot", 1) * int(count.get("per_slot", 1))
        except (KeyError, IndexError, TypeError, ValueError):
            pass

    def set_R(self, R: Any) -> None:
        """Allocation details from R (ranks, nodelist, counts, per-rank ids)."""
        if not isinstance(R, Mapping):
            return
        from fluxlab.resource.rv1 import ResourceSet

        try:
            rs = ResourceSet(R)
        except ValueError:
            return
        self.ranks = str(rs.ranks)
        self.nodelist = str(rs.nodelist)
        self.nnodes, self.ncores, self.ngpus = rs.nnodes, rs.ncores, rs.ngpus
        alloc = {}
        for rank in rs.ranks:
            kids = rs.children(rank)
            alloc[rank] = (kids.get("core", frozenset()), kids.get("gpu", frozenset()))
        self.alloc = alloc

    def load_record(self, rec: Mapping[str, Any]) -> None:
        """Fields of a job-list record (missing keys keep their value)."""
        state = rec.get("state", self.state)
        if not isinstance(state, int) or state not in _STATE_NAMES:
            state = self.state
        for key in ("name", "userid", "urgency", "priority", "ranks", "nodelist"):
            if key in rec and rec[key] is not None:
                setattr(self, key, rec[key])
        for key in ("ntasks", "nnodes", "ncores", "ngpus"):
            if isinstance(rec.get(key), int):
                setattr(self, key, rec[key])
        for key in ("t_submit", "t_run", "t_cleanup", "t_inactive"):
            if isinstance(rec.get(key), (int, float)):
                setattr(self, key, float(rec[key]))
        self.set_state(state, rec["result"] if isinstance(rec.get("result"), int) else None)
        if isinstance(rec.get("waitstatus"), int):
            self.waitstatus = rec["waitstatus"]
        self.success = bool(rec.get("success", self.success))
        if rec.get("exception_occurred"):
            self.exc_occurred = True
            self.exc_type = str(rec.get("exception_type", ""))
            self.exc_note = str(rec.get("exception_note", ""))
            sev = rec.get("exception_severity")
            self.exc_severity = sev if isinstance(sev, int) else 0


def _resource_counts(resources: Any) -> dict[str, int]:
    out: dict[str, int] = {}

    def walk(lst: Any, mult: int) -> None:
        if not isinstance(lst, list):
            return
        for res in lst:
            if not isinstance(res, Mapping):
                continue
            count = res.get("count", 1)
            if isinstance(count, Mapping):
                count = count.get("min", 1)
            n = mult * (count if isinstance(count, int) else 1)
            rtype = res.get("type")
            if isinstance(rtype, str):
                out[rtype] = out.get(rtype, 0) + n
            walk(res.get("with"), n)

    walk(resources, 1)
    return out


class JobStore:
    """All job rows, with the queries the table needs.

    Parameters
    ----------
    clock : callable
        Time source for runtimes of running jobs (tests pass a fixed one).
    """

    def __init__(self, clock=time.time):
        self.rows: dict[int, JobRow] = {}
        self.version = 0
        self.clock = clock
        #: ids whose rows changed since :meth:`take_changed`
        self.changed: set[int] = set()
        #: journal entries for jobs the store has never seen (fetch them)
        self.orphans: dict[int, list[dict]] = {}
        self._cache_key: tuple | None = None
        self._cache: list[JobRow] = []

    def __len__(self) -> int:
        return len(self.rows)

    def touch(self, jobid: int) -> None:
        self.version += 1
        self.changed.add(jobid)

    def take_changed(self) -> set[int]:
        out, self.changed = self.changed, set()
        return out

    # -- feeding ---------------------------------------------------------------
    def load_records(self, records: Iterable[Mapping[str, Any]]) -> int:
        """Merge job-list records; returns how many rows were added."""
        added = 0
        for rec in records:
            try:
                jobid = int(rec["id"])
            except (KeyError, TypeError, ValueError):
                continue
            row = self.rows.get(jobid)
            if row is None:
                row = self.rows[jobid] = JobRow(jobid)
                added += 1
            elif _ORDER.get(row.state, 0) > _ORDER.get(rec.get("state"), 0):
                continue  # the journal already took this job further
            row.load_record(rec)
            self.touch(jobid)
            for entry in self.orphans.pop(jobid, []):
                self.apply(entry)
        return added

    def apply(self, entry: Mapping[str, Any]) -> bool:
        """Apply one journal entry ``{id, event, jobspec?, R?}``; True if a row changed."""
        try:
            jobid = int(entry["id"])
            ev = entry["event"]
            name = ev["name"]
            ts = float(ev.get("timestamp", 0.0))
        except (KeyError, TypeError, ValueError):
            return False
        ctx = ev.get("context") or {}
        if not isinstance(ctx, Mapping):
            ctx = {}
        row = self.rows.get(jobid)
        if row is None:
            if name != "submit":
                if jobid >= 0:
                    self.orphans.setdefault(jobid, []).append(dict(entry))
                return False
            row = self.rows[jobid] = JobRow(jobid)
        self._fields(row, name, ctx, ts, entry)
        self._move(row, name, ctx, ts)
        self.touch(jobid)
        return True

    def _move(self, row: JobRow, name: str, ctx: Mapping, ts: float) -> None:
        old = JobState(row.state)
        try:
            new = next_state(old, name, ctx)
        except (JobStateError, ValueError):
            key = name if name != "exception" else _exception_key(ctx)
            dest = _DEST.get(key) if key else None
            if dest is None or _ORDER[dest] <= _ORDER[old]:
                return
            new = dest
        if new == old:
            return
        if new == JobState.RUN and not row.t_run:
            row.t_run = ts
        elif new == JobState.CLEANUP and not row.t_cleanup:
            row.t_cleanup = ts
        if new == JobState.INACTIVE:
            row.t_inactive = row.t_inactive or ts
            row.alloc = None
            row.set_state(int(new), int(_result(row)))
        else:
            row.set_state(int(new))

    @staticmethod
    def _fields(row: JobRow, name: str, ctx: Mapping, ts: float, entry: Mapping) -> None:
        if name == "submit":
            row.t_submit = row.t_submit or ts
            if isinstance(ctx.get("userid"), int):
                row.userid = ctx["userid"]
            if isinstance(ctx.get("urgency"), int):
                row.urgency = ctx["urgency"]
            if "jobspec" in entry:
                row.set_jobspec(entry["jobspec"])
        elif name == "urgency" and isinstance(ctx.get("urgency"), int):
            row.urgency = ctx["urgency"]
        elif name == "priority" and isinstance(ctx.get("priority"), int):
            row.priority = ctx["priority"]
        elif name == "alloc" and "R" in entry:
            row.set_R(entry["R"])
        elif name == "finish" and isinstance(ctx.get("status"), int):
            row.waitstatus = ctx["status"]
            if ctx["status"] == 0:
                row.success = True
        elif name == "exception":
            sev = ctx.get("severity", 0)
            sev = sev if isinstance(sev, int) else 0
            if not row.exc_occurred or sev < row.exc_severity:
                row.exc_occurred = True
                row.exc_severity = sev
                row.exc_type = str(ctx.get("type", ""))
                row.exc_note = str(ctx.get("note", ""))
        elif name == "free":
            row.alloc = None

    # -- queries -------------------------------------------------------------------
    def select(
        self, state: str = "all", name: str = "", sort: str = "id", descending: bool = True
    ) -> list[JobRow]:
        """Rows matching a state/result filter and a name pattern, sorted.

        ``name`` is a case-insensitive substring, or a glob if it has ``*?[``.

        Raises
        ------
        ValueError
            For an unknown filter or sort key (the message lists valid ones).
        """
        key = (self.version, state, name, sort, descending)
        if key == self._cache_key:
            return self._cache
        if state not in FILTERS:
            raise ValueError(f"unknown state filter {state!r}: use one of {', '.join(FILTERS)}")
        if sort not in SORT_KEYS:
            raise ValueError(f"unknown sort key {sort!r}: use one of {', '.join(SORT_KEYS)}")
        smask, rmask = FILTERS[state]
        rows: Iterable[JobRow] = self.rows.values()
        rows = [r for r in rows if r.state & smask and (not rmask or r.result & rmask)]
        if name:
            pat = name.lower()
            if any(c in pat for c in "*?["):
                rows = [r for r in rows if fnmatch.fnmatchcase(r.name.lower(), pat)]
            else:
                rows = [r for r in rows if pat in r.name.lower()]
        if sort == "runtime":
            now = self.clock()
            rows.sort(key=lambda r: r.runtime(now), reverse=descending)
        elif sort == "id":
            rows.sort(key=lambda r: r.id, reverse=descending)
        else:
            rows.sort(key=lambda r: (getattr(r, sort), r.id), reverse=descending)
        self._cache_key, self._cache = key, rows
        return rows

    def page(
        self,
        state: str = "all",
        name: str = "",
        sort: str = "id",
        descending: bool = True,
        offset: int = 0,
        limit: int = 50,
    ) -> tuple[list[dict], int]:
        """One page of rows as dicts, and how many rows match in all."""
        rows = self.select(state, name, sort, descending)
        now = self.clock()
        return [r.as_dict(now) for r in rows[offset : offset + limit]], len(rows)

    def counts(self) -> dict[str, int]:
        """Number of jobs per status."""
        return dict(Counter(r.status for r in self.rows.values()))

    def running(self) -> list[JobRow]:
        """Rows holding resources (RUN or CLEANUP with an allocation)."""
        return [r for r in self.rows.values() if r.alloc is not None]


def _exception_key(ctx: Mapping) -> str | None:
    try:
        return event_key("exception", ctx)
    except (JobStateError, ValueError):
        return None


def _result(row: JobRow) -> JobResult:
    if row.success:
        return JobResult.COMPLETED
    if row.exc_occurred and row.exc_severity == 0:
        if row.exc_type == "cancel":
            return JobResult.CANCELED
        if row.exc_type == "timeout":
            return JobResult.TIMEOUT
    return JobResult.FAILED
