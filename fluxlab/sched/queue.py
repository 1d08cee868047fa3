"""Queue policies (Fluxion's ``qmanager``): fcfs, easy, conservative, hybrid.

:class:`QueueManager` is a pure object: events in (``submit``, ``cancel``,
``free``, ``prioritize``), decisions out (``schedule(now)``).  It touches no
socket, so the broker's ``sched`` service can drive it as it likes (see
``docs/spec/sched-library.md``).

Each :meth:`QueueManager.schedule` pass walks at most ``queue_depth`` pending
jobs in queue order (priority high to low, then submit time, then id):

``fcfs``
    allocate in order; the first job that does not fit now blocks the rest.
``easy``
    the first blocked job gets a reservation at its earliest start; later
    jobs start now only where they do not delay it (backfill).
``conservative``
    every blocked job (up to ``max_reservation_depth``) gets a reservation,
    so no job delays any job ahead of it.
``hybrid``
    the first ``reservation_depth`` blocked jobs get reservations.

Reservations live in the graph only during the pass and are cancelled at
its end (each pass recomputes them, as Fluxion does).  A job the graph can
never satisfy is denied.  Pending jobs are annotated (RFC 27) with
``sched.t_estimate`` (reserved start) or ``sched.reason_pending``; an
annotation is emitted only when it changed.
"""

from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass, field

from fluxlab.sched.errors import SchedError

__all__ = ["QueueManager", "Decision", "QUEUE_POLICIES"]

QUEUE_POLICIES = ("fcfs", "easy", "conservative", "hybrid")


@dataclass
class Decision:
    """One scheduler decision (RFC 27 response types).

    ``kind`` is ``"alloc"`` (with ``R``), ``"annotate"`` (with
    ``annotations``), ``"deny"`` (with ``note``) or ``"cancel"``.
    """

    kind: str
    jobid: int
    R: object = None
    annotations: dict | None = None
    note: str = ""


@dataclass
class _Job:
    jobid: int
    priority: int
    t_submit: float
    jobspec: object
    annotations: dict = field(default_factory=dict)
    # matcher graph version the job was last found satisfiable on
    sat_version: object = None
    # its entry in the pending order while queued, else None (see _insert)
    qentry: tuple | None = None


class QueueManager:
    """Pending queue plus a queue policy over a graph matcher.

    Parameters
    ----------
    policy : str
        One of :data:`QUEUE_POLICIES`.
    graph_matcher
        Object with ``match(op, jobspec, jobid=..., at=..., fmt=...)`` (a
        :class:`~fluxlab.sched.context.ResourceQuery`) and ``cancel(jobid)``.
    queue_depth : int
        Pending jobs considered per pass (Fluxion default 32).
    reservation_depth : int
        Blocked jobs that may reserve under ``hybrid`` (default 64);
        ``easy`` uses 1, ``conservative`` ``max_reservation_depth``.
    """

    def __init__(
        self,
        policy: str,
        graph_matcher,
        queue_depth: int = 32,
        reservation_depth: int = 64,
        *,
        max_queue_depth: int = 1_000_000,
        max_reservation_depth: int = 100_000,
        fmt: str = "rv1",
    ):
        if policy not in QUEUE_POLICIES:
            raise SchedError(f"unknown queue policy {policy!r} (use one of {QUEUE_POLICIES})")
        if queue_depth < 1 or reservation_depth < 0:
            raise SchedError("queue_depth must be >= 1 and reservation_depth >= 0")
        self.policy = policy
        self.matcher = graph_matcher
        self.queue_depth = min(queue_depth, max_queue_depth)
        if policy == "fcfs":
            self.reservation_depth = 0
        elif policy == "easy":
            self.reservation_depth = 1
        elif policy == "conservative":
            self.reservation_depth = max_reservation_depth
        else:
            self.reservation_depth = min(reservation_depth, max_reservation_depth)
        self.fmt = fmt
        self._pending: dict[int, _Job] = {}
        self._running: dict[int, _Job] = {}
        self._order: list[tuple[tuple, int, _Job]] = []  # (key, seq, job), in queue order
        #: the last pass started all it considered and more jobs are pending
        self.more = False
        self._seq = itertools.count()  # makes every entry unique (see _insert)
        self._dead = 0  # entries of jobs no longer queued (see _discard)

    # -- events ------------------------------------------------------------------
    def submit(self, jobid: int, priority: int, jobspec, t_submit: float) -> list[Decision]:
        """Queue a job.

        A jobspec the matcher cannot parse, or one the graph could never
        satisfy (Fluxion's feasibility check), is denied at once.
        """
        if jobid in self._pending or jobid in self._running:
            raise SchedError(f"job {jobid} is already known to the queue")
        parse = getattr(self.matcher, "parse", None)
        if parse is not None:
            try:
                jobspec = parse(jobspec)
            except SchedError as exc:
                return [Decision("deny", jobid, note=str(exc))]
        sat = self.matcher.match("satisfiability", jobspec, jobid=jobid, at=0)
        if not sat.satisfiable or sat.error:
            return [Decision("deny", jobid, note=(sat.error or "unsatisfiable request").strip())]
        self._pending[jobid] = _Job(
            jobid,
            priority,
            t_submit,
            jobspec,
            sat_version=getattr(self.matcher, "graph_version", None),
        )
        self._insert(self._pending[jobid])
        return []

    def cancel(self, jobid: int) -> list[Decision]:
        """Withdraw a pending job (answered with a ``cancel`` decision)."""
        job = self._pending.pop(jobid, None)
        if job is None:
            return []
        self._discard(job)
        return [Decision("cancel", jobid)]

    def free(self, jobid: int) -> None:
        """Release the resources of a running job."""
        if self._running.pop(jobid, None) is None:
            raise SchedError(f"job {jobid} is not running")
        self.matcher.cancel(jobid)

    def prioritize(self, jobs) -> None:
        """Update priorities: ``[(jobid, priority), ...]`` (unknown ids ignored)."""
        for jobid, prio in jobs:
            job = self._pending.get(jobid)
            if job is not None and job.priority != prio:
                self._discard(job)
                job.priority = prio
                self._insert(job)

    # -- queries -------------------------------------------------------------------
    def pending(self) -> list[int]:
        return [j.jobid for j in self._queue()]

    def running(self) -> list[int]:
        return list(self._running)

    def annotations(self, jobid: int) -> dict:
        job = self._pending.get(jobid) or self._running.get(jobid)
        return dict(job.annotations) if job else {}

    def _queue(self, limit: int | None = None) -> list[_Job]:
        """Queued jobs in order (the first ``limit`` of them)."""
        out = []
        for entry in self._order:
            job = entry[2]
            if job.qentry is entry:
                out.append(job)
                if len(out) == limit:
                    break
        return out

    # The pending queue is a list of (key, seq, job) entries kept sorted
    # incrementally (bisect), so a scheduling pass costs
    # O(queue_depth), not a sort of every pending job: with 10,000 jobs
    # queued that sort dominated the scheduler.
    #
    # Removal leaves a tombstone: the job forgets its entry (``job.qentry``),
    # and an entry is live only while its job still points at it, so a job
    # re-inserted with a new priority is never seen twice.  Deleting from
    # the middle of a list moves everything after it; the scheduler starts
    # jobs from the head of a queue that can be 10,000 deep, so each start
    # would move the whole queue.  Instead :meth:`_compact` drops the dead
    # head once per pass, and rebuilds the list when most of it is dead.
    def _insert(self, job: _Job) -> None:
        # seq is unique, so a tie on the key (a dead entry of the same job
        # at the same priority) never goes on to compare jobs
        entry = ((-job.priority, job.t_submit, job.jobid), next(self._seq), job)
        job.qentry = entry
        bisect.insort(self._order, entry)

    def _discard(self, job: _Job) -> None:
        if job.qentry is not None:
            job.qentry = None
            self._dead += 1
            if self._dead > 64 and self._dead * 2 > len(self._order):
                self._compact()  # many removals outside a pass (a mass cancel)

    def _compact(self) -> None:
        order = self._order
        if self._dead * 2 > len(order):
            self._order = [e for e in order if e[2].qentry is e]
            self._dead = 0
            return
        k = 0
        n = len(order)
        while k < n and order[k][2].qentry is not order[k]:
            k += 1
        if k:
            del order[:k]
            self._dead -= k

    # -- scheduling --------------------------------------------------------------------
    def _annotate(self, job: _Job, sched: dict, out: list[Decision]) -> None:
        if job.annotations.get("sched") != sched:
            job.annotations["sched"] = sched
            out.append(Decision("annotate", job.jobid, annotations={"sched": dict(sched)}))

    def _start(self, job: _Job, R, out: list[Decision]) -> None:
        del self._pending[job.jobid]
        self._discard(job)
        self._running[job.jobid] = job
        ann = None
        if job.annotations.get("sched"):
            job.annotations["sched"] = None
            ann = {"sched": None}
        out.append(Decision("alloc", job.jobid, R=R, annotations=ann))

    def schedule(self, now: int) -> list[Decision]:
        """One scheduling pass at time ``now``; return the decisions made.

        A pass considers the first ``queue_depth`` pending jobs.  When it
        started every one of them and more are pending, :attr:`more` is set:
        another pass now can start more (the head of the queue moved), where
        otherwise free resources would wait for the next event.
        """
        out: list[Decision] = []
        queue = self._queue(self.queue_depth + 1)
        deeper = len(queue) > self.queue_depth
        if deeper:
            queue.pop()
        self.more = False
        reserved: list[int] = []
        m = self.matcher
        try:
            version = getattr(m, "graph_version", None)
            for job in queue:
                reserve = len(reserved) < self.reservation_depth
                if reserve:
                    op = "allocate_orelse_reserve"
                elif version is not None and job.sat_version == version:
                    # known satisfiable on this graph: "busy" is the only failure
                    op = "allocate"
                else:
                    op = "allocate_with_satisfiability"
                res = m.match(op, job.jobspec, jobid=job.jobid, at=now, fmt=self.fmt)
                if op == "allocate_with_satisfiability" and res.satisfiable:
                    job.sat_version = version
                if res.error and not res.matched:
                    del self._pending[job.jobid]
                    self._discard(job)
                    out.append(Decision("deny", job.jobid, note=res.error.strip()))
                    continue
                if res.matched and res.at == now:
                    self._start(job, res.R, out)
                    continue
                if res.matched:
                    reserved.append(job.jobid)
                    self._annotate(job, {"t_estimate": res.at, "reason_pending": "reserved"}, out)
                    continue
                if not res.satisfiable:
                    del self._pending[job.jobid]
                    self._discard(job)
                    out.append(Decision("deny", job.jobid, note="unsatisfiable request"))
                    continue
                self._annotate(job, {"reason_pending": "insufficient resources"}, out)
                if self.policy == "fcfs":
                    break
        finally:
            for jobid in reserved:
                m.cancel(jobid)
            self._compact()
        self.more = deeper and sum(d.kind == "alloc" for d in out) == len(queue)
        return out
