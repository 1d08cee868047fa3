"""The job-manager service: job states, urgency, dependencies, exceptions.

Each job's state lives in a pure :class:`~fluxlab.job.record.JobRecord`;
:meth:`JobManager.post` applies an event to it, appends the event to the
job's eventlog in the KVS (batched: one commit per reactor iteration), emits
it on the journal, and — when the state changed — performs that state's side
effects (:meth:`JobManager._enter`).  Side effects are idempotent with
respect to the bookkeeping flags on :class:`~fluxlab.job._jm_job.Job`, so a
replay after restart never repeats them.  Protocols: ``docs/spec/job-services.md``.
"""

from __future__ import annotations

import errno
import itertools
import signal
import time

from fluxlab._json import encoder as _json_encoder
from fluxlab.core.errors import ServiceError
from fluxlab.core.module import ServiceModule, request_handler, unpack
from fluxlab.job._jm_depend import Dependencies
from fluxlab.job._jm_exec import ExecInterface
from fluxlab.job._jm_job import InactiveJob, Job
from fluxlab.job._jm_sched import SchedInterface
from fluxlab.job.eventlog import EventlogError, EventLogEvent, event_line
from fluxlab.job.ingest import job_key
from fluxlab.job.jobid import JobIDError, id_parse
from fluxlab.job.states import JobState, JobStateError
from fluxlab.job.urgency import URGENCY_MAX, URGENCY_MIN, default_priority

__all__ = ["JobManager"]


def _after_load(fn):
    """Requests that arrive while jobs are being reloaded wait until it is done."""

    def wrapper(self, msg):
        if self.loading:
            self.defer(msg)
            self._early.append((fn, msg))
            return None
        return fn(self, msg)

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


JOBID_ANY = 0xFFFFFFFFFFFFFFFF
_dumps = _json_encoder()
_INACTIVE_KEEP = 1_000_000


class JobManager(ServiceModule):
    name = "job-manager"

    def start(self) -> None:
        self.jobs: dict[int, Job] = {}
        self.inactive: dict[int, InactiveJob] = {}
        self.sched = SchedInterface(self)
        self.exec = ExecInterface(self)
        self.depend = Dependencies(self)
        self.kill_timeout = float(self.h.conf.get("job-manager", {}).get("kill-timeout", 5.0))
        self.enabled, self.disable_reason = True, ""
        self._ops: list[tuple[str, str]] = []  # (eventlog key, line) to append
        self._puts: list[dict] = []  # kvs put ops committed with the next appends (R)
        self._journal: list[dict] = []
        self._flush_scheduled = False
        self._waits: list = []  # (msg, jobid or ANY)
        self.counts = {"submitted": 0, "inactive": 0}
        self.state_counts: dict[int, int] = {}  # active jobs per state, kept incrementally
        self.max_id = 0
        from fluxlab.job._jm_restart import restart

        self.loading = True
        self._early: list = []
        self.h.spawn(restart(self), self._restarted)

    def _restarted(self, value, exc) -> None:
        self.loading = False
        if exc is not None:
            self.log(3, f"restart: could not reload jobs from the KVS: {exc}")
        early, self._early = self._early, []
        for fn, msg in early:
            msg.handled = False
            self._dispatch_request(lambda m, fn=fn: fn(self, m), False, msg)

    def stop(self) -> None:
        self._flush()

    def stats(self) -> dict:
        states = {JobState(st).name: n for st, n in self.state_counts.items() if n}
        return {
            "active": len(self.jobs),
            "inactive": len(self.inactive),
            "states": states,
            "sched_ready": self.sched.ready,
            "alloc_outstanding": self.sched.outstanding,
            **self.counts,
        }

    # -- posting events ------------------------------------------------------
    def post(
        self,
        job: Job,
        name: str,
        context: dict | None = None,
        ts: float | None = None,
        extra: dict | None = None,
    ) -> bool:
        """Apply, store and publish one event; perform the new state's actions."""
        ts = ts or time.time()
        try:
            # validated once here; the record and job-list reuse the object
            event = EventLogEvent.make(ts, name, context or None)
        except EventlogError as e:
            self.log(3, f"job {job.id}: refused malformed event {name!r}: {e}")
            return False
        line = event_line(ts, name, context)  # RFC 18 (empty context omitted, as Flux does)
        old = job.record.state
        try:
            new = job.record.apply(event)
        except JobStateError as e:
            self.log(3, f"refused event: {e}")
            return False
        self._ops.append((job.eventlog_key, line))
        entry = {"id": job.id, "n": job.nevents, "event": event}
        if extra:
            entry.update(extra)
        job.events.append(event)
        self._journal.append(entry)
        self._schedule_flush()
        if new != old:
            sc = self.state_counts
            sc[int(old)] = sc.get(int(old), 0) - 1
            if new != JobState.INACTIVE:
                sc[int(new)] = sc.get(int(new), 0) + 1
            self._enter(job, new)
        return True

    def _schedule_flush(self) -> None:
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.h.reactor.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        appends, self._ops = self._ops, []
        puts, self._puts = self._puts, []
        if appends or puts:  # a put alone (its event refused) is still stored
            # one append per eventlog per flush (order within a job is kept)
            merged: dict[str, list[str]] = {}
            for key, line in appends:
                merged.setdefault(key, []).append(line)
            ops = puts + [
                {"op": "append", "key": k, "data": "\n".join(v) + "\n"} for k, v in merged.items()
            ]
            self.h.rpc("kvs.commit", {"ops": ops}).then(self._committed)
        journal, self._journal = self._journal, []
        if journal and self.streams:
            for req in list(self.streams.values()):
                self.respond(req, {"events": journal})

    def _committed(self, fut) -> None:
        try:
            fut.get()
        except OSError as e:
            self.log(2, f"eventlog commit failed: {e}")

    def annotate(self, job: Job, annotations: dict) -> None:
        if annotations:
            self.post(job, "annotations", {"annotations": annotations})

    # -- state actions -----------------------------------------------------------
    def _enter(self, job: Job, state: JobState) -> None:
        if state == JobState.DEPEND:
            self.depend.enter(job)
        elif state == JobState.PRIORITY:
            self.post(job, "priority", {"priority": default_priority(job.record.urgency)})
        elif state == JobState.SCHED:
            if job.alloc_pending:
                self.sched.prioritize(job)
            else:
                self.sched.enqueue(job)
        elif state == JobState.RUN:
            self.exec.start(job)
        elif state == JobState.CLEANUP:
            self.progress(job)
        elif state == JobState.INACTIVE:
            self._inactive(job)

    def maybe_depend(self, job: Job) -> None:
        if job.state == JobState.DEPEND and not job.deps:
            self.post(job, "depend")

    def allocated(self, job: Job, R: dict | None, annotations: dict | None) -> None:
        job.R = R
        if R is not None:
            # R goes into the same KVS transaction as the alloc event below, so a
            # reader who sees the event finds R (flux-core's job-manager does this)
            self._puts.append({"op": "put", "key": job_key(job.id, "R"), "data": _dumps(R)})
        if job.state != JobState.SCHED:  # canceled meanwhile: give the resources back
            self.post(
                job, "alloc", {"annotations": annotations} if annotations else None, extra={"R": R}
            )
            self.progress(job)
            return
        self.post(
            job, "alloc", {"annotations": annotations} if annotations else None, extra={"R": R}
        )

    def progress(self, job: Job) -> None:
        """Move a job in CLEANUP along: wait for exec and alloc, free, clean."""
        if job.state != JobState.CLEANUP:
            return
        if job.alloc_pending:
            self.sched.cancel(job)
            return
        if job.exec_fut is not None and not job.exec_done:
            return
        if job.record.has_resources and not job.free_sent:
            job.free_sent = True
            self.sched.free(job)
            self.post(job, "free")
        if not job.record.has_resources and job.state == JobState.CLEANUP:
            self.post(job, "clean")

    def _inactive(self, job: Job) -> None:
        self.jobs.pop(job.id, None)
        inactive = InactiveJob(job)
        self.inactive[job.id] = inactive
        if len(self.inactive) > _INACTIVE_KEEP:
            # forget the oldest 1% at once: popping the first key one job at a
            # time rescans the holes earlier pops left at the dict's front,
            # which costs more with every job (~0.1 ms per job at 100,000)
            n = max(1, _INACTIVE_KEEP // 100)
            for jobid in list(itertools.islice(self.inactive, n)):
                del self.inactive[jobid]
        self.counts["inactive"] += 1
        self.depend.target_changed(job.id)
        self.depend.job_left_running(job)
        self._check_waits(inactive)

    def raise_exception(
        self, job: Job, etype: str, note: str, severity: int = 0, from_exec: bool = False
    ) -> None:
        if job.id not in self.jobs:
            return
        was_running = job.state == JobState.RUN
        self.post(
            job,
            "exception",
            {"type": etype, "severity": severity, "note": note, "userid": job.userid},
        )
        if severity == 0 and was_running and not from_exec and job.exec_fut is not None:
            self.exec.kill(job, signal.SIGTERM, escalate=True)

    # -- submission ---------------------------------------------------------------
    @request_handler("submit")
    @_after_load
    def submit(self, msg):
        (jobs,) = unpack(msg, ("jobs", list))
        errors = {}
        for item in jobs:
            if not self.enabled:
                errors[str(item.get("id"))] = [
                    errno.EINVAL,
                    f"job submission is disabled: {self.disable_reason}",
                ]
                continue
            try:
                jobid, urgency, flags = (
                    int(item["id"]),
                    int(item["urgency"]),
                    int(item.get("flags", 0)),
                )
                t_submit, userid = float(item["t_submit"]), int(item["userid"])
            except (KeyError, TypeError, ValueError):
                raise ServiceError(
                    errno.EPROTO, "job-manager.submit: each job needs id, urgency, t_submit, userid"
                ) from None
            job = Job(jobid, item.get("jobspec"))
            # the submit event is already in the KVS (ingest wrote it): apply, don't append
            event = {
                "timestamp": t_submit,
                "name": "submit",
                "context": {"userid": userid, "urgency": urgency, "flags": flags, "version": 1},
            }
            job.record.apply(event)
            job.events.append(event)
            self.jobs[jobid] = job
            self.state_counts[int(JobState.NEW)] = self.state_counts.get(int(JobState.NEW), 0) + 1
            self.max_id = max(self.max_id, jobid)
            self.counts["submitted"] += 1
            self._journal.append({"id": jobid, "n": 0, "jobspec": job.jobspec, "event": event})
            self._schedule_flush()
            self.post(job, "validate")
        if self.streams or self._journal:
            self._schedule_flush()
        return {"errors": errors} if errors else {}

    # -- user verbs --------------------------------------------------------------
    def _job(self, msg, field: str = "id") -> Job:
        (raw,) = unpack(msg, (field, (int, str)))
        jobid = self._parse_id(raw)
        job = self.jobs.get(jobid)
        if job is None:
            if jobid in self.inactive:
                raise ServiceError(errno.EINVAL, f"job {raw} is inactive")
            raise ServiceError(errno.ENOENT, f"unknown job id {raw}")
        return job

    @staticmethod
    def _parse_id(raw) -> int:
        if isinstance(raw, str):
            try:
                return id_parse(raw)
            except JobIDError as e:
                raise ServiceError(errno.EINVAL, str(e)) from None
        if raw < 0:
            raise ServiceError(errno.EINVAL, f"invalid job id {raw}")
        return raw

    @request_handler("urgency")
    @_after_load
    def urgency(self, msg):
        job = self._job(msg)
        (urgency,) = unpack(msg, ("urgency", int))
        if not URGENCY_MIN <= urgency <= URGENCY_MAX:
            raise ServiceError(
                errno.EINVAL, f"urgency must be {URGENCY_MIN}..{URGENCY_MAX}, not {urgency}"
            )
        if not job.state & JobState.PENDING:
            raise ServiceError(
                errno.EINVAL, f"job {job.id} is not pending (state {job.state.name})"
            )
        old = job.record.urgency
        self.post(job, "urgency", {"urgency": urgency, "userid": job.userid})
        return {"old_urgency": old}

    @request_handler("raise")
    @_after_load
    def raise_(self, msg):
        job = self._job(msg)
        etype, severity, note = unpack(msg, ("type", str), ("severity", int, 0), ("note", str, ""))
        if not 0 <= severity <= 7:
            raise ServiceError(errno.EINVAL, f"severity must be 0..7, not {severity}")
        if not etype or any(c.isspace() for c in etype):
            raise ServiceError(errno.EINVAL, f"invalid exception type {etype!r}")
        self.raise_exception(job, etype, note, severity)
        return {}

    @request_handler("cancel")
    @_after_load
    def cancel(self, msg):
        job = self._job(msg)
        (note,) = unpack(msg, ("note", str, ""))
        if job.state == JobState.CLEANUP:
            raise ServiceError(errno.EINVAL, f"job {job.id} is already finishing")
        self.raise_exception(job, "cancel", note)
        return {}

    @request_handler("kill")
    @_after_load
    def kill(self, msg):
        job = self._job(msg)
        (signum,) = unpack(msg, ("signum", int, int(signal.SIGTERM)))
        if not 0 < signum < signal.NSIG:
            raise ServiceError(errno.EINVAL, f"invalid signal number {signum}")
        if job.state != JobState.RUN or job.exec_fut is None:
            raise ServiceError(
                errno.EINVAL, f"job {job.id} is not running (state {job.state.name})"
            )
        self.exec.kill(job, signum)
        return {}

    @request_handler("memo")
    @_after_load
    def memo(self, msg):
        job = self._job(msg)
        (memo,) = unpack(msg, ("memo", dict))
        self.post(job, "memo", memo)
        return {}

    @request_handler("getinfo")
    @_after_load
    def getinfo(self, msg):
        (raw,) = unpack(msg, ("id", (int, str)))
        jobid = self._parse_id(raw)
        job = self.jobs.get(jobid)
        if job is not None:
            return {**job.record.to_dict(), "R": job.R}
        old = self.inactive.get(jobid)
        if old is None:
            raise ServiceError(errno.ENOENT, f"unknown job id {raw}")
        return {
            "id": jobid,
            "state": int(JobState.INACTIVE),
            "result": int(old.result or 0),
            "success": old.success,
        }

    @request_handler("list")
    @_after_load
    def list(self, msg):
        return {"jobs": [{**j.record.to_dict(), "name": j.name} for j in self.jobs.values()]}

    # -- wait ------------------------------------------------------------------------
    @request_handler("wait")
    @_after_load
    def wait(self, msg):
        (raw,) = unpack(msg, ("id", (int, str), JOBID_ANY))
        jobid = JOBID_ANY if raw == JOBID_ANY else self._parse_id(raw)
        if jobid == JOBID_ANY:
            for old in self.inactive.values():
                if old.waitable:
                    old.waitable = False
                    return self._wait_result(old)
            if not any(j.record.waitable for j in self.jobs.values()):
                raise ServiceError(errno.ECHILD, "there are no waitable jobs")
        else:
            old = self.inactive.get(jobid)
            if old is not None:
                if not old.waitable:
                    raise ServiceError(
                        errno.EINVAL, f"job {raw} is not waitable (submit with --flags=waitable)"
                    )
                old.waitable = False
                return self._wait_result(old)
            job = self.jobs.get(jobid)
            if job is None:
                raise ServiceError(errno.ENOENT, f"unknown job id {raw}")
            if not job.record.waitable:
                raise ServiceError(
                    errno.EINVAL, f"job {raw} is not waitable (submit with --flags=waitable)"
                )
        self.defer(msg)
        self._waits.append((msg, jobid))
        return None

    @staticmethod
    def _wait_result(old: InactiveJob) -> dict:
        return {"id": old.id, "success": old.success, "errstr": old.errstr}

    def _check_waits(self, old: InactiveJob) -> None:
        if not old.waitable:
            return
        for i, (msg, jobid) in enumerate(self._waits):
            if jobid in (old.id, JOBID_ANY):
                del self._waits[i]
                old.waitable = False
                self.respond(msg, self._wait_result(old))
                return

    # -- journal -----------------------------------------------------------------------
    @request_handler("events-journal", streaming=True)
    def events_journal(self, msg):
        (full,) = unpack(msg, ("full", bool, False))
        self.stream_add(msg)
        if full:
            self.respond(
                msg,
                {
                    "events": [],
                    "active": [
                        {"id": j.id, "events": list(j.events), "jobspec": j.jobspec, "R": j.R}
                        for j in self.jobs.values()
                    ],
                },
            )
        return None

    # -- queue control -------------------------------------------------------------------
    def _queue_status(self) -> dict:
        return {
            "enable": self.enabled,
            "start": not self.sched.stopped,
            "disable_reason": self.disable_reason,
        }

    @request_handler("queue-status")
    def queue_status(self, msg):
        return self._queue_status()

    @request_handler("queue-enable")
    def queue_enable(self, msg):
        self.enabled, self.disable_reason = True, ""
        return self._queue_status()

    @request_handler("queue-disable")
    def queue_disable(self, msg):
        (reason,) = unpack(msg, ("reason", str, "disabled by administrator"))
        self.enabled, self.disable_reason = False, reason
        return self._queue_status()

    @request_handler("queue-start")
    def queue_start(self, msg):
        self.sched.stopped = False
        self.sched.kick()
        return self._queue_status()

    @request_handler("queue-stop")
    def queue_stop(self, msg):
        self.sched.stopped = True
        return self._queue_status()

    # -- purge -------------------------------------------------------------------------
    @request_handler("purge")
    def purge(self, msg):
        num, age, force = unpack(
            msg, ("num", int, -1), ("age", (int, float), -1), ("force", bool, False)
        )
        victims = sorted(self.inactive.values(), key=lambda o: o.t_inactive)
        keep = max(num, 0) if num >= 0 else len(victims)
        now = time.time()
        if age >= 0:
            chosen = [o for o in victims if now - o.t_inactive > age]
        else:
            chosen = victims[: max(0, len(victims) - keep)] if num >= 0 else []
        if not force:
            return {"count": len(chosen)}
        ops = [{"op": "unlink", "key": job_key(o.id)} for o in chosen]
        for o in chosen:
            del self.inactive[o.id]
        if ops:
            self.h.rpc("kvs.commit", {"ops": ops}).then(self._committed)
        self.h.event_publish("job-purge", {"ids": [o.id for o in chosen]})
        return {"count": len(chosen)}

    # -- scheduler and exec registration --------------------------------------------------
    @request_handler("sched-hello", streaming=True)
    def sched_hello(self, msg):
        self.sched.hello(msg)

    @request_handler("sched-ready")
    def sched_ready(self, msg):
        mode, limit = unpack(msg, ("mode", str, "unlimited"), ("limit", int, 0))
        if mode not in ("limited", "unlimited") or (mode == "limited" and limit < 1):
            raise ServiceError(
                errno.EPROTO, "sched-ready: mode must be 'unlimited' or 'limited' with limit >= 1"
            )
        return {"count": self.sched.set_ready(mode, limit)}

    @request_handler("exec-hello")
    def exec_hello(self, msg):
        (service,) = unpack(msg, ("service", str))
        self.exec.service = service
        return {}

    # -- helpers for RPC streams used by other parts ---------------------------------------
    def journal_subscribers(self) -> int:
        return len(self.streams)
