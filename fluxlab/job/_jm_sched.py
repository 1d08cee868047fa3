"""The job-manager side of the scheduler protocol (RFC 27).

The scheduler says hello (we stream back the jobs that hold resources), then
ready (``limited`` with a queue depth, or ``unlimited``).  From then on every
job in SCHED with priority > 0 gets one ``sched.alloc`` request, highest
priority first, with at most ``limit`` outstanding in limited mode.  An error
response to an alloc means the scheduler went away: outstanding requests are
put back in the queue until a new scheduler says hello.
"""

from __future__ import annotations

import errno
import heapq
import itertools
from typing import TYPE_CHECKING

from fluxlab._proto import FLAG_NORESPONSE, FLAG_STREAMING
from fluxlab.core.errors import FluxError
from fluxlab.job.states import JobState

if TYPE_CHECKING:
    from fluxlab.job._jm_job import Job
    from fluxlab.job.manager import JobManager

__all__ = ["SchedInterface", "ALLOC_SUCCESS", "ALLOC_ANNOTATE", "ALLOC_DENY", "ALLOC_CANCEL"]

ALLOC_SUCCESS, ALLOC_ANNOTATE, ALLOC_DENY, ALLOC_CANCEL = 0, 1, 2, 3


class SchedInterface:
    def __init__(self, jm: JobManager):
        self.jm = jm
        self.ready = False
        self.limit = 0  # 0 = unlimited
        self.outstanding = 0
        self._queue: list = []  # (-priority, t_submit, id, seq)
        self._seq = itertools.count(1)
        self._kick_scheduled = False
        self.stopped = False  # queue stopped: no new allocs

    # -- hello / ready -----------------------------------------------------------
    def hello(self, msg) -> None:
        """Stream the jobs holding resources, then ENODATA."""
        self.ready = False
        for job in self.jm.jobs.values():
            if job.record.has_resources and job.R is not None:
                self.jm.respond(
                    msg,
                    {
                        "id": job.id,
                        "priority": job.priority,
                        "userid": job.userid,
                        "t_submit": job.t_submit,
                        "R": job.R,
                    },
                )
        self.jm.respond_error(msg, errno.ENODATA)

    def set_ready(self, mode: str, limit: int) -> int:
        self.limit = limit if mode == "limited" else 0
        self.ready = True
        self.outstanding = 0
        for job in self.jm.jobs.values():
            if job.alloc_pending:  # requests to a previous scheduler are void
                job.alloc_pending = False
            if job.state == JobState.SCHED:
                self.enqueue(job)
        self.kick()
        return sum(1 for j in self.jm.jobs.values() if j.state == JobState.SCHED)

    # -- queue ---------------------------------------------------------------------
    def enqueue(self, job: Job) -> None:
        job.sched_seq = next(self._seq)
        heapq.heappush(self._queue, (-job.priority, job.t_submit, job.id, job.sched_seq))
        self.kick()

    def kick(self) -> None:
        if not self._kick_scheduled:
            self._kick_scheduled = True
            self.jm.h.reactor.call_soon(self._send_allocs)

    def _send_allocs(self) -> None:
        self._kick_scheduled = False
        if not self.ready or self.stopped:
            return
        q = self._queue
        while q and (not self.limit or self.outstanding < self.limit):
            prio, _, jobid, seq = q[0]
            job = self.jm.jobs.get(jobid)
            if (
                job is None
                or job.sched_seq != seq
                or job.state != JobState.SCHED
                or job.alloc_pending
            ):
                heapq.heappop(q)
                continue
            if prio == 0:  # held (priority 0): nothing below it can run either
                break
            heapq.heappop(q)
            self._alloc(job)

    def _alloc(self, job: Job) -> None:
        job.alloc_pending = True
        self.outstanding += 1
        fut = self.jm.h.rpc(
            "sched.alloc",
            {
                "id": job.id,
                "priority": job.priority,
                "userid": job.userid,
                "t_submit": job.t_submit,
                "jobspec": job.jobspec,
            },
            flags=FLAG_STREAMING,
        )
        fut.then(self._alloc_response, job)

    def _alloc_response(self, fut, job: Job) -> None:
        try:
            resp = fut.get()
        except FluxError as e:
            # the scheduler is gone (or refused the protocol): wait for a new hello
            self.jm.h.forget(fut)
            if job.alloc_pending:
                job.alloc_pending = False
                self.outstanding = max(0, self.outstanding - 1)
            self.ready = False
            if e.errno not in (errno.ENOSYS,):
                self.jm.log(3, f"sched.alloc for job {job.id} failed: {e}")
            if job.id in self.jm.jobs and job.state == JobState.SCHED:
                self.enqueue(job)
            elif job.id in self.jm.jobs:
                self.jm.progress(job)
            return
        fut.reset()
        rtype = resp.get("type") if isinstance(resp, dict) else None
        if rtype == ALLOC_ANNOTATE:
            self.jm.annotate(job, resp.get("annotations") or {})
            return
        self.jm.h.forget(fut)
        job.alloc_pending = False
        self.outstanding = max(0, self.outstanding - 1)
        if rtype == ALLOC_SUCCESS:
            self.jm.allocated(job, resp.get("R"), resp.get("annotations"))
        elif rtype == ALLOC_DENY:
            self.jm.raise_exception(
                job, "alloc", resp.get("note") or "the scheduler denied the request"
            )
        elif rtype == ALLOC_CANCEL:
            if job.state == JobState.SCHED:
                self.enqueue(job)  # canceled to re-prioritize/hold: back in the queue
            else:
                self.jm.progress(job)
        else:
            self.jm.log(3, f"sched.alloc for job {job.id}: unknown response type {rtype!r}")
        self.kick()

    # -- other requests ---------------------------------------------------------
    def cancel(self, job: Job) -> None:
        if job.alloc_pending:
            self.jm.h.rpc("sched.cancel", {"id": job.id}, flags=FLAG_NORESPONSE)

    def free(self, job: Job) -> None:
        self.jm.h.rpc(
            "sched.free", {"id": job.id, "R": job.R, "final": True}, flags=FLAG_NORESPONSE
        )
        self.kick()

    def prioritize(self, job: Job) -> None:
        if job.alloc_pending:
            if job.priority == 0:
                self.cancel(job)
            else:
                self.jm.h.rpc(
                    "sched.prioritize", {"jobs": [[job.id, job.priority]]}, flags=FLAG_NORESPONSE
                )
