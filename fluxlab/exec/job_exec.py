"""The ``job-exec`` service (rank 0): runs jobs for the job manager (RFC 32).

At start it registers with ``job-manager.exec-hello {service: "job-exec"}``.
``job-exec.start {id, userid, jobspec, R}`` (streaming) runs one job and
answers with ``{id, type, data}`` responses: ``start``, ``exception``,
``finish {status}``, and last ``release {ranks: "all", final: true}``,
which ends the stream (RFC 32: no ``ENODATA`` follows).  A jobspec or R
the service cannot use is answered with an ``exec`` exception and the final
release (never an error response, which the job manager would take as the
death of the exec service).

``job-exec.kill {id, signum, escalate?}`` signals the job's tasks; with
``escalate`` SIGKILL follows after the kill timeout and is repeated until
the tasks are gone.

Jobs with ``attributes.system.exec.test`` are simulated
(:mod:`~fluxlab.exec._simjob`); others run real processes through the
``exec`` module of each rank (:mod:`~fluxlab.exec._realjob`).

Configuration: ``kill-timeout`` (FSD, default 5s) from the module argument
``kill-timeout=T``, else the instance config ``[exec] kill-timeout`` or
``[job-exec] kill-timeout``.  Protocol: ``docs/spec/exec.md``.
"""

from __future__ import annotations

import errno
from typing import Any

from fluxlab.core.errors import ServiceError
from fluxlab.core.module import ServiceModule, request_handler, unpack
from fluxlab.exec._jobbase import ExecJob
from fluxlab.exec._realjob import RealJob
from fluxlab.exec._simjob import SimJob
from fluxlab.exec.kvsbatch import KVSBatcher
from fluxlab.exec.layout import compute_layout
from fluxlab.exec.service import job_key
from fluxlab.exec.spec import ExecSpec, ExecSpecError, simulated_exec
from fluxlab.job.duration import DurationError, duration_seconds
from fluxlab.resource.rv1 import RvError

__all__ = ["DEFAULT_KILL_TIMEOUT", "JobExec", "kill_timeout_from"]

#: Seconds between SIGTERM/SIGALRM and SIGKILL when nothing is configured.
DEFAULT_KILL_TIMEOUT = 5.0


def kill_timeout_from(args: list[str], conf: dict) -> float:
    """The kill timeout from module arguments, else config, else the default.

    Raises
    ------
    ValueError
        For an argument or config value that is not a valid FSD duration.
    """
    value: Any = None
    for table in ("exec", "job-exec"):
        section = conf.get(table) if isinstance(conf, dict) else None
        if isinstance(section, dict) and "kill-timeout" in section:
            value = section["kill-timeout"]
            break
    for arg in args:
        if arg.startswith("kill-timeout="):
            value = arg.partition("=")[2]
    if value is None:
        return DEFAULT_KILL_TIMEOUT
    try:
        return duration_seconds(value)
    except DurationError as e:
        raise ValueError(f"job-exec: invalid kill-timeout {value!r}: {e}") from None


class JobExec(ServiceModule):
    """``job-exec``: the execution service the job manager talks to."""

    name = "job-exec"

    def start(self) -> None:
        self.kill_timeout = kill_timeout_from(self.args, self.h.conf)
        for arg in self.args:
            if not arg.startswith("kill-timeout="):
                raise ValueError(f"job-exec: unknown module argument {arg!r}")
        self.jobs: dict[int, ExecJob] = {}
        self.kvs = KVSBatcher(self.h, on_error=lambda text: self.log(3, text))
        self.counts = {"started": 0, "simulated": 0, "finished": 0}
        self.h.rpc("job-manager.exec-hello", {"service": self.name}).then(self._hello)

    def _hello(self, fut) -> None:
        try:
            fut.get()
        except Exception as e:  # noqa: BLE001 - logged; the job manager may load later
            self.log(4, f"job-manager.exec-hello failed: {e}")

    def stop(self) -> None:
        for job in list(self.jobs.values()):
            if isinstance(job, RealJob):
                job.detach()

    def stats(self) -> dict:
        return {
            "jobs": len(self.jobs),
            "streams": len(self.streams),  # open job-exec.start streams
            "kill-timeout": self.kill_timeout,
            "kvs-commits": self.kvs.commits,
            **self.counts,
        }

    # -- keys ---------------------------------------------------------------------------
    @staticmethod
    def exec_eventlog_key(jobid: int) -> str:
        return job_key(jobid, "guest", "exec", "eventlog")

    @staticmethod
    def output_key(jobid: int) -> str:
        return job_key(jobid, "guest", "output")

    # -- start ----------------------------------------------------------------------------
    @request_handler("start", streaming=True)
    def start_job(self, msg):
        jobid, userid, jobspec, R = unpack(
            msg, ("id", int), ("userid", int, 0), ("jobspec", dict), ("R", dict)
        )
        if not 0 <= jobid < 2**64:
            raise ServiceError(errno.EPROTO, f"job-exec.start: job id {jobid} is out of range")
        if jobid in self.jobs:
            raise ServiceError(errno.EEXIST, f"job-exec.start: job {jobid} is already running")
        self.stream_add(msg)
        self.counts["started"] += 1
        try:
            test = simulated_exec(jobspec)
        except ExecSpecError as e:
            self._refuse(msg, jobid, R, str(e))
            return
        if test is not None:
            self.counts["simulated"] += 1
            job: ExecJob = SimJob(self, msg, jobid, R, test)
            self.jobs[jobid] = job
            job.run()
            return
        try:
            spec = ExecSpec.from_jobspec(jobspec)
            layout = compute_layout(jobspec, R)
        except (ExecSpecError, RvError) as e:
            self._refuse(msg, jobid, R, str(e))
            return
        job = RealJob(self, msg, jobid, R, jobspec, spec, layout, userid)
        self.jobs[jobid] = job
        job.run()

    def _refuse(self, msg: Any, jobid: int, R: dict, note: str) -> None:
        job = ExecJob(self, msg, jobid, R)
        self.jobs[jobid] = job
        job.post("init")
        job.raise_exception("exec", note)
        job.release()

    def job_ended(self, job: ExecJob) -> None:
        """A job sent its final release, which ends its stream (RFC 32): forget it."""
        self.counts["finished"] += 1
        if self.jobs.get(job.id) is job:
            del self.jobs[job.id]
        self.stream_ended(job.msg)

    # -- kill -----------------------------------------------------------------------------
    @request_handler("kill")
    def kill(self, msg):
        jobid, signum, escalate = unpack(
            msg, ("id", int), ("signum", int, 15), ("escalate", bool, False)
        )
        if not 0 < signum < 65:
            raise ServiceError(errno.EINVAL, f"job-exec.kill: invalid signal number {signum}")
        job = self.jobs.get(jobid)
        if job is None:
            raise ServiceError(errno.ENOENT, f"job-exec.kill: job {jobid} is not running")
        job.kill(signum, escalate)
        return {}

    def on_cancel(self, msg) -> None:
        self._orphaned(lambda job: job.msg is msg)

    def on_disconnect(self, sender: str) -> None:
        self._orphaned(lambda job: job.msg.sender == sender)

    def _orphaned(self, match) -> None:
        """Whoever started these jobs is gone: kill them, report nothing more."""
        for job in list(self.jobs.values()):
            if match(job):
                job.released = True
                job.kill(15, escalate=True)
