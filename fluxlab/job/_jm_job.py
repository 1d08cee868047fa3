"""The job-manager's in-memory view of one active job."""

from __future__ import annotations

from typing import Any

from fluxlab.job.ingest import job_key
from fluxlab.job.record import JobRecord
from fluxlab.job.states import JobState

__all__ = ["Job", "InactiveJob"]


class Job:
    """An active job: its replayable record plus the manager's bookkeeping.

    Invariant: ``record`` is the image of every event posted for the job;
    the other fields only track requests in flight (alloc, exec, free) so that
    side effects are never performed twice.
    """

    __slots__ = (
        "R",
        "alloc_pending",
        "deps",
        "exec_fut",
        "exec_done",
        "free_sent",
        "id",
        "jobspec",
        "eventlog_key",
        "events",
        "name",
        "record",
        "sched_seq",
        "waiters",
    )

    def __init__(self, jobid: int, jobspec: dict | None):
        self.id = jobid
        self.eventlog_key = job_key(jobid, "eventlog")
        self.jobspec = jobspec or {}
        self.record = JobRecord(jobid)
        self.R: dict | None = None
        self.alloc_pending = False
        self.sched_seq = 0
        self.exec_fut: Any = None
        self.exec_done = False
        self.free_sent = False
        self.deps: dict[str, Any] = {}  # description -> dependency object, outstanding
        self.waiters: list = []
        #: every event posted so far (active jobs only), for journal snapshots
        self.events: list[dict] = []
        attrs = self.jobspec.get("attributes", {}) if isinstance(self.jobspec, dict) else {}
        system = attrs.get("system", {}) if isinstance(attrs, dict) else {}
        job = system.get("job", {}) if isinstance(system, dict) else {}
        name = job.get("name") if isinstance(job, dict) else None
        if not isinstance(name, str):
            tasks = self.jobspec.get("tasks") if isinstance(self.jobspec, dict) else None
            try:
                name = str(tasks[0]["command"][0]).rsplit("/", 1)[-1]
            except (TypeError, KeyError, IndexError):
                name = ""
        self.name = name

    @property
    def nevents(self) -> int:
        return len(self.events)

    @property
    def state(self) -> JobState:
        return self.record.state

    @property
    def priority(self) -> int:
        return self.record.priority or 0

    @property
    def userid(self) -> int:
        return self.record.userid or 0

    @property
    def t_submit(self) -> float:
        return self.record.t_submit

    def system_attr(self, key: str, default: Any = None) -> Any:
        node: Any = self.jobspec.get("attributes", {}).get("system", {})
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node


class InactiveJob:
    """What the manager keeps of an inactive job (dependencies, wait)."""

    __slots__ = (
        "exception",
        "id",
        "name",
        "result",
        "started",
        "success",
        "t_inactive",
        "userid",
        "waitable",
        "errstr",
    )

    def __init__(self, job: Job):
        rec = job.record
        self.id = job.id
        self.userid = rec.userid or 0
        self.name = job.name
        self.result = rec.result
        self.success = bool(rec.success)
        self.started = rec.started
        self.exception = rec.exception.occurred and rec.exception.severity == 0
        self.t_inactive = rec.t_inactive
        self.waitable = rec.waitable
        if self.success:
            self.errstr = ""
        elif rec.exception.occurred:
            self.errstr = f"{rec.exception.type}: {rec.exception.note}".rstrip(": ")
        else:
            self.errstr = (
                f"exit status {rec.returncode}" if rec.returncode is not None else "failed"
            )
