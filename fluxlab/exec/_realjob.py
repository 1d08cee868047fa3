"""A job with real tasks: one ``exec.launch`` stream per rank that runs tasks.

Sequence (``docs/spec/exec.md``):

1. post ``init``, ``starting`` and ``shell.init`` to the exec eventlog and
   the RFC 24 ``header`` (plus ``redirect`` events for streams sent to
   files) to the output eventlog; truncate job-wide output files;
2. once that commit is done, send ``exec.launch`` to every rank with tasks;
3. when every rank reported ``started`` (or ``failed``): post ``shell.start``
   with the RFC 34 task map and respond ``start``; arm the time limit;
4. a ``failed`` report raises an ``exec`` exception (flux-shell's note) and
   kills the other tasks (SIGTERM, SIGKILL after the kill timeout);
5. each ``exit`` report folds the task's status into the finish status;
6. when every stream ended: ``complete``/``finish``, ``done``, ``release``.
"""

from __future__ import annotations

import errno
import os
import signal
import time
from typing import Any

from fluxlab._proto import FLAG_NORESPONSE, FLAG_STREAMING
from fluxlab.core.errors import FluxError
from fluxlab.exec._jobbase import ExecJob, shell_status
from fluxlab.exec.layout import TaskLayout, taskmap
from fluxlab.exec.output import (
    header_context,
    is_per_task,
    redirect_context,
    render_template,
    template_values,
)
from fluxlab.exec.spec import ExecSpec
from fluxlab.job.eventlog import encode_event

__all__ = ["RealJob"]


class RealJob(ExecJob):
    """A job whose tasks are processes started by the ``exec`` module of each rank."""

    def __init__(
        self,
        mod: Any,
        msg: Any,
        jobid: int,
        R: dict,
        jobspec: dict,
        spec: ExecSpec,
        layout: TaskLayout,
        userid: int,
    ):
        super().__init__(mod, msg, jobid, R)
        self.jobspec = jobspec
        self.spec = spec
        self.layout = layout
        self.userid = userid
        self.launched = False
        self.early_signal = 0
        self.active: set[int] = set()  # ranks whose launch stream has not ended
        self.unstarted: set[int] = set()  # ranks that reported neither started nor failed
        self.failed = False
        self.streams: dict[int, Any] = {}

    def run(self) -> None:
        layout = self.layout
        self.post("init")
        self.post("starting")
        self.post("shell.init", {"leader-rank": next(iter(layout.ranks)), "size": layout.nnodes})
        out_key = self.mod.output_key(self.id)
        self._output_event(out_key, {"name": "header", "context": header_context(layout.ntasks)})
        values = template_values(self.spec.name, layout.ntasks, layout.nnodes)
        truncated = set()
        for stream in ("stdout", "stderr"):
            path = getattr(self.spec, stream).path
            if path is None:
                continue
            where = render_template(path, values, self.id)
            self._output_event(
                out_key,
                {"name": "redirect", "context": redirect_context(stream, layout.ntasks, where)},
            )
            if (
                self.spec.output_mode == "truncate"
                and not is_per_task(path)
                and where not in truncated
            ):
                truncated.add(where)
                _truncate(where)
        # launch once the commit is sent: it lands before anything the tasks
        # write (see fluxlab.exec.kvsbatch); if it then fails, the job fails
        self.mod.kvs.when_sent(self._launch)
        self.mod.kvs.then(self._eventlogs_written)

    def _output_event(self, key: str, event: dict) -> None:
        self.mod.kvs.append(key, encode_event({"timestamp": time.time(), **event}))

    def _eventlogs_written(self, err: BaseException | None) -> None:
        if err is not None and not self.finished:
            # the exception makes finish() report at least 1 << 8
            self._fatal(f"cannot write the job's eventlogs: {err}")

    def _launch(self) -> None:
        if self.early_signal:
            # killed before any task started: report it as the tasks' fate
            self.status = shell_status(self.early_signal)
            self.finish()
            return
        self.launched = True
        h = self.mod.h
        for rank in self.layout.active_ranks():
            payload = {
                "id": self.id,
                "userid": self.userid,
                "jobspec": self.jobspec,
                "R": self.R,
                "tasks": self.layout.ranks[rank],
                "ntasks": self.layout.ntasks,
                "nnodes": self.layout.nnodes,
            }
            self.active.add(rank)
            self.unstarted.add(rank)
            fut = h.rpc("exec.launch", payload, nodeid=rank, flags=FLAG_STREAMING)
            self.streams[rank] = fut
            fut.then(self._response, rank)

    def _response(self, fut: Any, rank: int) -> None:
        try:
            resp = fut.get()
        except FluxError as e:
            self.streams.pop(rank, None)
            self.active.discard(rank)
            if e.errno != errno.ENODATA:
                self.status = max(self.status, 1 << 8)
                self._fatal(f"rank {rank}: {e}")
                self.unstarted.discard(rank)
            self._progress()
            return
        fut.reset()
        rtype = resp.get("type") if isinstance(resp, dict) else None
        if rtype == "started":
            self.unstarted.discard(rank)
        elif rtype == "failed":
            self.unstarted.discard(rank)
            self.status = max(self.status, shell_status(int(resp.get("status", 1 << 8))))
            self._fatal(str(resp.get("note") or "task start failed"))
        elif rtype == "exit":
            self.status = max(self.status, shell_status(int(resp.get("status", 0))))
        else:
            self.mod.log(3, f"job {self.id}: exec.launch on rank {rank}: bad response {resp!r}")
        self._progress()

    def _fatal(self, note: str) -> None:
        first = not self.failed
        self.failed = True
        self.raise_exception("exec", note)
        if first:
            self.kill(signal.SIGTERM, escalate=True)

    def _progress(self) -> None:
        if not self.unstarted and not self.started and self.launched:
            if not self.failed:
                self.post("shell.start", {"taskmap": taskmap(self.layout)})
            self.respond_start()
        if self.launched and not self.active:
            self.finish()

    def signal(self, signum: int) -> None:
        if not self.launched:
            self.early_signal = self.early_signal or signum
            return
        for rank in self.active:
            self.mod.h.rpc(
                "exec.kill", {"id": self.id, "signum": signum}, nodeid=rank, flags=FLAG_NORESPONSE
            )

    def detach(self) -> None:
        """Stop following the launch streams (module unloading)."""
        for fut in self.streams.values():
            fut.cancel()
        self.streams.clear()


def _truncate(path: str) -> None:
    """Empty a job-wide output file before the tasks open it for appending."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    except OSError:
        return  # the exec module reports the error when it opens the file
    os.close(fd)
