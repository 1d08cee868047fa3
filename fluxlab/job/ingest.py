"""The job-ingest service: validate, assign FLUIDs, commit, hand to job-manager.

See ``docs/spec/job-services.md``.  Requests that arrive during one reactor
iteration are processed as a batch: one ``kvs.commit`` for all their
jobspecs and ``submit`` events and one ``job-manager.submit``.  Jobspec
validation and the scheduler's feasibility answer are cached by jobspec text
(bulk submission sends the same jobspec thousands of times).  Every job
succeeds or fails on its own.
"""

from __future__ import annotations

import errno
import json
import os
import time
from typing import Any

from fluxlab.core.errors import FluxError, ServiceError
from fluxlab.core.module import ServiceModule, request_handler
from fluxlab.job.eventlog import event_line
from fluxlab.job.jobid import FluidGenerator, job_key
from fluxlab.job.jobspec import JobspecError, validate_jobspec
from fluxlab.job.record import FLAG_DEBUG, FLAG_NOVALIDATE, FLAG_WAITABLE
from fluxlab.job.urgency import UrgencyError, parse_urgency

__all__ = ["JobIngest", "job_key"]

_FLAGS = FLAG_DEBUG | FLAG_WAITABLE | FLAG_NOVALIDATE
_CACHE_MAX = 1024
_UNKNOWN = object()  # not in the feasibility cache (None there means feasible)


class _Pending:
    """One job of a submit request on its way through the batch."""

    __slots__ = ("error", "flags", "id", "jobspec", "text", "urgency")

    def __init__(self):
        self.error: tuple[int, str] | None = None
        self.id = 0
        self.text = ""
        self.jobspec: dict | None = None
        self.urgency = 16
        self.flags = 0


class JobIngest(ServiceModule):
    name = "job-ingest"

    def start(self) -> None:
        self.owner = os.getuid()
        # ids count milliseconds since the instance started (RFC 19); never 0
        t0 = float(self.h.attr_get("broker.starttime") or time.time())
        self._gen = FluidGenerator(0, timestamp=max(1, int((time.time() - t0) * 1000)))
        self._batch: list[tuple[Any, list[_Pending], bool]] = []
        self._valid: dict[str, tuple[dict | None, str | None]] = {}
        self._feasible: dict[str, tuple[int, str] | None] = {}
        self._flush_scheduled = False
        self.submitted = 0
        self.rejected = 0

    def stats(self) -> dict:
        return {
            "submitted": self.submitted,
            "rejected": self.rejected,
            "validation_cache": len(self._valid),
        }

    # -- requests -----------------------------------------------------------
    @request_handler("submit")
    def submit(self, msg):
        payload = msg.payload
        if not isinstance(payload, dict):
            raise ServiceError(errno.EPROTO, "job-ingest.submit: payload must be a JSON object")
        bulk = "jobs" in payload
        items = payload["jobs"] if bulk else [payload]
        if not isinstance(items, list) or not items:
            raise ServiceError(errno.EPROTO, "job-ingest.submit: 'jobs' must be a non-empty array")
        jobs = [self._parse(item, i if bulk else None) for i, item in enumerate(items)]
        self.defer(msg)
        self._batch.append((msg, jobs, bulk))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.h.reactor.call_soon(self._flush)
        return None

    def _parse(self, item: Any, index: int | None) -> _Pending:
        p = _Pending()
        where = f"jobs[{index}]." if index is not None else ""
        if not isinstance(item, dict):
            p.error = (errno.EPROTO, f"{where[:-1] or 'payload'}: must be a JSON object")
            return p
        js = item.get("jobspec")
        if isinstance(js, dict):
            text = json.dumps(js, separators=(",", ":"), sort_keys=True)
        elif isinstance(js, str):
            text = js
        else:
            p.error = (errno.EPROTO, f"{where}jobspec: missing, or not a JSON object or string")
            return p
        try:
            p.urgency = parse_urgency(item.get("urgency", 16), guest=False)
        except UrgencyError as e:
            p.error = (errno.EINVAL, f"{where}urgency: {e}")
            return p
        flags = item.get("flags", 0)
        if isinstance(flags, bool) or not isinstance(flags, int) or flags & ~_FLAGS:
            p.error = (errno.EINVAL, f"{where}flags: unknown flag bits in {flags!r}")
            return p
        p.flags = flags
        p.text = text
        valid = self._valid.get(text)
        if valid is None:
            valid = self._validate(text, novalidate=bool(flags & FLAG_NOVALIDATE))
            if len(self._valid) >= _CACHE_MAX:
                self._valid.pop(next(iter(self._valid)))
            self._valid[text] = valid
        obj, err = valid
        if err is not None:
            p.error = (errno.EINVAL, err)
        else:
            p.jobspec = obj
        return p

    @staticmethod
    def _validate(text: str, novalidate: bool) -> tuple[dict | None, str | None]:
        try:
            obj = json.loads(text)
        except ValueError:
            obj = None
        try:
            if novalidate and isinstance(obj, dict):
                return obj, None
            _, js = validate_jobspec(obj if obj is not None else text)
            return js.jobspec, None
        except JobspecError as e:
            return None, f"invalid jobspec: {e}"

    # -- batch pipeline: feasibility -> ids + commit -> job-manager ---------------------
    def _flush(self) -> None:
        self._flush_scheduled = False
        batch, self._batch = self._batch, []
        # this batch's answers, by jobspec text: taken from the bounded cache
        # now, or asked for; the commit reads them here, since the cache may
        # evict an answer before then (more distinct jobspecs than it holds)
        answers: dict[str, tuple[int, str] | None] = {}
        unknown: dict[str, dict] = {}
        cache = self._feasible
        for _, js, _ in batch:
            for p in js:
                text = p.text
                if p.error is not None or text in answers or text in unknown:
                    continue
                known = cache.get(text, _UNKNOWN)
                if known is _UNKNOWN:
                    unknown[text] = p.jobspec
                else:
                    answers[text] = known
        if not unknown:
            self._commit(batch, answers)
            return
        waiting = {"n": len(unknown)}

        def done(text: str, result) -> None:
            answers[text] = cache[text] = result
            if len(cache) > _CACHE_MAX:
                cache.pop(next(iter(cache)))
            waiting["n"] -= 1
            if waiting["n"] == 0:
                self._commit(batch, answers)

        for text, obj in unknown.items():
            f = self.h.rpc("feasibility.check", {"jobspec": obj})
            f.then(lambda fut, t=text: done(t, self._feasibility_result(fut)))

    @staticmethod
    def _feasibility_result(fut) -> tuple[int, str] | None:
        try:
            fut.get()
            return None
        except FluxError as e:
            if e.errno == errno.ENOSYS:  # no scheduler loaded: accept, it may come later
                return None
            return (e.errno, f"unsatisfiable request: {e}")

    def _commit(self, batch, answers: dict[str, tuple[int, str] | None]) -> None:
        now = time.time()
        ops, manager_jobs = [], []
        for _, jobs, _ in batch:
            for p in jobs:
                if p.error is None:
                    bad = answers[p.text]
                    if bad is not None:
                        p.error = bad
                        continue
                    p.id = self._gen.generate()
                    ops.append({"op": "put", "key": job_key(p.id, "jobspec"), "data": p.text})
                    ctx = {
                        "userid": self.owner,
                        "urgency": p.urgency,
                        "flags": p.flags,
                        "version": 1,
                    }
                    ev = event_line(now, "submit", ctx) + "\n"
                    ops.append({"op": "put", "key": job_key(p.id, "eventlog"), "data": ev})
                    manager_jobs.append(
                        {
                            "id": p.id,
                            "userid": self.owner,
                            "urgency": p.urgency,
                            "flags": p.flags,
                            "t_submit": now,
                            "jobspec": p.jobspec,
                        }
                    )
        if not ops:
            self._respond_all(batch)
            return

        def committed(fut) -> None:
            try:
                fut.get()
            except FluxError as e:
                self._fail_all(batch, e.errno, f"job-ingest: KVS commit failed: {e}")
                return
            self.h.rpc("job-manager.submit", {"jobs": manager_jobs}).then(submitted)

        def submitted(fut) -> None:
            try:
                resp = fut.get()
            except FluxError as e:
                self._fail_all(batch, e.errno, f"job-ingest: job-manager refused the jobs: {e}")
                return
            refused = resp.get("errors") or {}
            if refused:
                self._refuse(batch, refused)
            self._respond_all(batch)

        self.h.rpc("kvs.commit", {"ops": ops}).then(committed)

    def _refuse(self, batch, refused: dict) -> None:
        """Jobs the job-manager would not take: fail them and remove their KVS data."""
        ops = []
        for _, jobs, _ in batch:
            for p in jobs:
                err = refused.get(str(p.id))
                if p.error is None and err is not None:
                    p.error = (int(err[0]), str(err[1]))
                    ops.append({"op": "unlink", "key": job_key(p.id)})
        if ops:
            self.h.rpc("kvs.commit", {"ops": ops})

    def _fail_all(self, batch, errnum: int, text: str) -> None:
        for _, jobs, _ in batch:
            for p in jobs:
                if p.error is None:
                    p.error = (errnum, text)
        self._respond_all(batch)

    def _respond_all(self, batch) -> None:
        for msg, jobs, bulk in batch:
            for p in jobs:
                if p.error is None:
                    self.submitted += 1
                else:
                    self.rejected += 1
            if bulk:
                self.respond(
                    msg,
                    {
                        "ids": [
                            p.id
                            if p.error is None
                            else {"errnum": p.error[0], "errstr": p.error[1]}
                            for p in jobs
                        ]
                    },
                )
            else:
                p = jobs[0]
                if p.error is None:
                    self.respond(msg, {"id": p.id})
                else:
                    self.respond_error(msg, *p.error)

    def start_after_restart(self, max_id: int) -> None:
        """Seed the id generator so new ids exceed every stored one."""
        self._gen = FluidGenerator.from_max_id(max_id)

    @request_handler("seed")
    def seed(self, msg):
        """``{max_id}``: the job-manager tells ingest the largest id after a restart."""
        max_id = msg.payload.get("max_id") if isinstance(msg.payload, dict) else None
        if not isinstance(max_id, int) or isinstance(max_id, bool) or max_id < 0:
            raise ServiceError(
                errno.EPROTO, "job-ingest.seed: max_id must be a non-negative integer"
            )
        if max_id:
            self.start_after_restart(max_id)
        return {}
