"""The ``exec`` service: start and watch a job's tasks on one rank.

Loaded on every rank.  job-exec (rank 0) sends one ``exec.launch`` stream
per rank of the job; this module starts one process per local task with
:class:`~fluxlab.exec.proc.Proc`, routes their output
(:class:`~fluxlab.exec.taskio.TaskOutput`) and reports back.  Protocol:
``docs/spec/exec.md``.

``exec.launch {id, jobspec, R, tasks, ntasks, nnodes}`` (streaming):

* ``{"type": "started", "pids": {taskrank: pid}}`` once every local task runs;
* ``{"type": "failed", "taskrank", "status", "errnum", "note"}`` instead, if
  a task could not be started (missing program, unreadable input, output
  file error); tasks after it are not started, those before it keep running
  until job-exec kills them;
* ``{"type": "exit", "taskrank", "status"}`` for each task that ran, with
  its wait status, once it exited and its output reached EOF;
* ``ENODATA`` once every started task exited and all of the job's output on
  this rank is sent to the KVS (which applies it before anything the end of
  the stream leads to: :mod:`fluxlab.exec.kvsbatch`).

``exec.kill {id, signum}`` signals every running task of the job here.
Cancelling the launch stream, or its sender going away, kills the tasks.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import socket
import tempfile
import time
from typing import Any

from fluxlab.core.errors import ServiceError
from fluxlab.core.module import ServiceModule, request_handler, unpack
from fluxlab.exec.environ import gpu_sets, job_environment, task_environment
from fluxlab.exec.kvsbatch import KVSBatcher
from fluxlab.exec.output import log_context, template_values
from fluxlab.exec.proc import Proc, ProcError
from fluxlab.exec.spec import ExecSpec, ExecSpecError
from fluxlab.exec.taskio import TaskOutput
from fluxlab.job.eventlog import encode_event
from fluxlab.job.jobid import id_encode, job_key
from fluxlab.resource.rv1 import ResourceSet, RvError

__all__ = ["ExecModule", "exit_status_for_errno", "job_key"]


def exit_status_for_errno(errnum: int) -> int:
    """Wait status of a task that could not start, as flux-shell exits then.

    126 for permission problems, 127 for a missing program, 1 otherwise
    (bash's conventions), as an exit status ``code << 8``.
    """
    if errnum in (errno.EPERM, errno.EACCES):
        return 126 << 8
    if errnum == errno.ENOENT:
        return 127 << 8
    return 1 << 8


class _LocalJob:
    """The tasks of one job on this rank."""

    def __init__(self, mod: ExecModule, msg: Any, jobid: int, tasks: list[int]):
        self.mod = mod
        self.msg = msg
        self.id = jobid
        self.tasks = tasks
        self.procs: dict[int, Proc] = {}
        self.running = 0
        self.output: TaskOutput | None = None
        self.tmpdir: str | None = None
        self.finishing = False  # every task gone; waiting for the last commit
        self.detached = False  # the launch stream was cancelled: report nothing more

    def kill(self, signum: int) -> None:
        for proc in self.procs.values():
            proc.signal(signum)


class ExecModule(ServiceModule):
    """``exec``: runs the tasks of jobs on this rank."""

    name = "exec"

    def start(self) -> None:
        self.jobs: dict[int, _LocalJob] = {}
        self.kvs = KVSBatcher(self.h, on_error=lambda text: self.log(3, text))
        self.hostname = socket.gethostname()
        try:
            self.uri = self.h.attr_get("local-uri")
        except Exception:  # noqa: BLE001 - a broker without the attribute
            self.uri = ""
        try:
            rundir = self.h.attr_get("rundir")
        except Exception:  # noqa: BLE001
            rundir = ""
        self.tmpbase = rundir if rundir and os.path.isdir(rundir) else tempfile.gettempdir()
        self.started_tasks = 0

    def stop(self) -> None:
        for job in list(self.jobs.values()):
            job.kill(signal.SIGKILL)
            self._cleanup(job)
        self.jobs.clear()

    def stats(self) -> dict:
        return {
            "jobs": len(self.jobs),
            "running-tasks": sum(j.running for j in self.jobs.values()),
            "started-tasks": self.started_tasks,
            "kvs-commits": self.kvs.commits,
        }

    # -- launch -----------------------------------------------------------------------
    @request_handler("launch", streaming=True)
    def launch(self, msg):
        jobid, jobspec, R, tasks, ntasks, nnodes = unpack(
            msg,
            ("id", int),
            ("jobspec", dict),
            ("R", dict),
            ("tasks", list),
            ("ntasks", int),
            ("nnodes", int),
        )
        if not 0 <= jobid < 2**64:
            raise ServiceError(errno.EPROTO, f"exec.launch: job id {jobid} is out of range")
        if jobid in self.jobs:
            raise ServiceError(errno.EEXIST, f"exec.launch: job {jobid} already runs here")
        if not tasks or not all(isinstance(t, int) and 0 <= t < ntasks for t in tasks):
            raise ServiceError(errno.EPROTO, "exec.launch: tasks must be task ranks < ntasks")
        try:
            spec = ExecSpec.from_jobspec(jobspec)
            rs = ResourceSet(R)
            kids = rs.children(self.h.rank)
        except (ExecSpecError, RvError) as e:
            raise ServiceError(errno.EINVAL, f"exec.launch: job {jobid}: {e}") from None
        self.stream_add(msg)
        job = _LocalJob(self, msg, jobid, tasks)
        self.jobs[jobid] = job
        node_index = sorted(rs.ranks).index(self.h.rank)
        self._start_tasks(job, spec, kids, ntasks, nnodes, node_index)

    def _start_tasks(
        self, job: _LocalJob, spec: ExecSpec, kids: dict, ntasks: int, nnodes: int, node: int
    ) -> None:
        f58 = id_encode(job.id, "f58")
        out_key = job_key(job.id, "guest", "output")

        def values(task: int, local_id: int) -> dict:
            return template_values(spec.name, ntasks, nnodes, task, local_id, node, self.hostname)

        cwd = spec.cwd
        if cwd and not os.path.isdir(cwd):
            # flux-shell logs this and runs the tasks in /tmp
            note = (
                f"host {self.hostname}: Could not change dir to {cwd}: "
                f"{os.strerror(errno.ENOENT)}. Going to /tmp instead"
            )
            self._post_log(out_key, 3, note, node)
            cwd = "/tmp"
        try:
            job.tmpdir = tempfile.mkdtemp(prefix=f"jobtmp-{node}-{f58}-", dir=self.tmpbase)
        except OSError as e:
            self.log(3, f"job {f58}: cannot create FLUX_JOB_TMPDIR: {e}")
        base = spec.environment if spec.environment is not None else dict(os.environ)
        env = job_environment(
            base, jobid_f58=f58, ntasks=ntasks, nnodes=nnodes, uri=self.uri, tmpdir=job.tmpdir
        )
        gpus = sorted(kids.get("gpu", ()))
        sets = gpu_sets(gpus, len(job.tasks), spec.gpu_affinity)
        try:
            job.output = TaskOutput(
                spec, job.id, out_key, self.kvs.append, values, job.tasks, time.time
            )
        except OSError as e:  # an output file: flux-shell exits 1 then
            self._failed(job, job.tasks[0], e.errno or errno.EIO, e.strerror or str(e), 1 << 8)
            return
        if spec.input_path is not None and not os.access(spec.input_path, os.R_OK):
            code = errno.EACCES if os.path.exists(spec.input_path) else errno.ENOENT
            note = f"error opening input file '{spec.input_path}': {os.strerror(code)}"
            self._failed(job, job.tasks[0], code, note, status=1 << 8)
            return
        pids = {}
        for local_id, task in enumerate(job.tasks):
            tenv = task_environment(
                env,
                task_rank=task,
                local_id=local_id,
                gpus=None if sets is None else sets[local_id],
                rank_has_gpus=bool(gpus),
            )
            try:
                proc = Proc(
                    self.h.reactor,
                    spec.command,
                    tenv,
                    cwd,
                    on_output=lambda stream, data, t=task: self._output(job, t, stream, data),
                    on_exit=lambda p, t=task: self._exited(job, t, p),
                    stdin_path=spec.input_path,
                )
            except ProcError as e:
                code = e.errno or errno.EINVAL
                note = (
                    f"task {task} (host {self.hostname}): start failed: "
                    f"{spec.command[0]}: {os.strerror(code)}"
                )
                self._failed(job, task, code, note)
                return
            job.procs[task] = proc
            job.running += 1
            self.started_tasks += 1
            pids[str(task)] = proc.pid
        self.respond(job.msg, {"type": "started", "pids": pids})

    def _post_log(self, key: str, level: int, message: str, node: int) -> None:
        event = {
            "timestamp": time.time(),
            "name": "log",
            "context": log_context(level, message, rank=node, component="exec"),
        }
        self.kvs.append(key, encode_event(event))

    def _failed(
        self, job: _LocalJob, task: int, errnum: int, note: str, status: int | None = None
    ) -> None:
        """Report that ``task`` could not start (``status`` default: from ``errnum``)."""
        self.respond(
            job.msg,
            {
                "type": "failed",
                "taskrank": task,
                "status": exit_status_for_errno(errnum) if status is None else status,
                "errnum": errnum,
                "note": note,
            },
        )
        self._maybe_done(job)

    # -- running tasks ------------------------------------------------------------------
    def _output(self, job: _LocalJob, task: int, stream: str, data: bytes) -> None:
        if job.output is not None:
            job.output.write(task, stream, data)

    def _exited(self, job: _LocalJob, task: int, proc: Proc) -> None:
        job.running -= 1
        if job.output is not None:
            job.output.task_eof(task)
        if not job.detached:
            self.respond(job.msg, {"type": "exit", "taskrank": task, "status": proc.status})
        self._maybe_done(job)

    def _maybe_done(self, job: _LocalJob) -> None:
        if job.running > 0 or job.finishing:
            return
        job.finishing = True
        for proc in job.procs.values():
            proc.kill_group()  # background processes a task left behind end with the job
        # the stream ends once every output line of the job is sent to the KVS,
        # which applies them before anything the end leads to (exec.kvsbatch)
        self.kvs.when_sent(lambda job=job: self._job_done(job))

    def _job_done(self, job: _LocalJob) -> None:
        self._cleanup(job)
        self.jobs.pop(job.id, None)
        if not job.detached:
            self.stream_end(job.msg)

    def _cleanup(self, job: _LocalJob) -> None:
        if job.output is not None:
            job.output.close()
        if job.tmpdir:
            shutil.rmtree(job.tmpdir, ignore_errors=True)
            job.tmpdir = None

    # -- kill ---------------------------------------------------------------------------
    @request_handler("kill")
    def kill(self, msg):
        jobid, signum = unpack(msg, ("id", int), ("signum", int))
        if not 0 < signum < 65:
            raise ServiceError(errno.EINVAL, f"exec.kill: invalid signal number {signum}")
        job = self.jobs.get(jobid)
        if job is None:
            raise ServiceError(errno.ENOENT, f"exec.kill: job {jobid} has no tasks on this rank")
        job.kill(signum)
        return {"signaled": job.running}

    def on_cancel(self, msg) -> None:
        for job in self.jobs.values():
            if job.msg is msg:
                job.detached = True
                job.kill(signal.SIGKILL)

    def on_disconnect(self, sender: str) -> None:
        for job in self.jobs.values():
            if job.msg.sender == sender:
                job.detached = True
                job.kill(signal.SIGKILL)
