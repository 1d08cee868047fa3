"""Follow jobs until they finish: stream their output and collect exit codes.

Used by ``run``, ``submit --watch/--wait``, ``bulksubmit`` and ``job attach``.
Everything happens in the handle's reactor with then-callbacks (one
eventlog watch and one output watch per job), so any number of jobs is
followed from one thread.  The first interrupt (Ctrl-C, or the stop button in
a notebook) cancels the jobs and keeps following them to the end; a second
one stops waiting.
"""

from __future__ import annotations

import errno
import os
import sys

from fluxlab.core.errors import FluxError
from fluxlab.job.event import event_watch_async
from fluxlab.job.jobid import JobID

TYPE_CHECKING = False  # typing itself costs ~4 ms of every CLI start
if TYPE_CHECKING:  # annotations only (they are never evaluated)
    from typing import TextIO

__all__ = ["JobFollower", "exit_code_of"]


def exit_code_of(status: int) -> int:
    """Shell exit code of a wait status (128+N when killed by signal N)."""
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status)
    return status & 0xFF


class _Job:
    __slots__ = ("clean", "code", "exception", "id", "output_done", "started", "watchers")

    def __init__(self, jobid: int):
        self.id = JobID(jobid)
        self.code: int | None = None
        self.exception: str | None = None
        self.clean = False
        self.started = False
        self.output_done = False
        self.watchers: list = []


class JobFollower:
    """Follow ``jobids``; :meth:`run` returns the largest exit code.

    Parameters
    ----------
    output : bool
        Stream each job's stdout/stderr (``run``/``--watch``); False only waits.
    label_io : bool
        Prefix output lines with the task rank.
    prog : str
        For messages (``fluxlab-run``).
    """

    def __init__(
        self,
        h,
        jobids: list[int],
        *,
        output: bool = True,
        label_io: bool = False,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
        prog: str = "fluxlab",
        show_ids: bool = False,
        progress=None,
    ):
        self.h = h
        self.jobs = {int(j): _Job(j) for j in jobids}
        self.output = output
        self.label_io = label_io
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self.prog = prog
        self.show_ids = show_ids
        self.progress = progress
        self._partial: dict[tuple[int, str, str], str] = {}

    # -- callbacks ----------------------------------------------------------------
    def _on_event(self, w, job: _Job) -> None:
        try:
            ev = w.get_event()
        except FluxError as e:
            job.clean = True
            job.output_done = True
            if job.exception is None:
                job.exception = f"cannot follow job: {e}"
                self.stderr.write(f"{self.prog}: {job.id}: {job.exception}\n")
                self.stderr.flush()
            self._check_done()
            return
        if ev is None:
            job.clean = True
            self._check_done()
            return
        if ev.name == "exception" and ev.context.get("severity") == 0:
            ctx = ev.context
            job.exception = f"type={ctx.get('type')} {ctx.get('note', '')}".rstrip()
            self.stderr.write(f"{self.prog}: {job.id}: job.exception {job.exception}\n")
            self.stderr.flush()
        elif ev.name == "start":
            job.started = True
        elif ev.name == "finish":
            job.code = exit_code_of(int(ev.context.get("status", 0)))
        elif ev.name == "clean":
            job.clean = True
            if not job.started:
                job.output_done = True  # never ran: there will be no output
            w.cancel()
            if self.progress is not None:
                self.progress(job.id)
        self._check_done()

    def _on_output(self, w, job: _Job) -> None:
        try:
            ev = w.get_event()
        except FluxError as e:
            if e.errno not in (errno.ENOENT, errno.ECANCELED):
                self.stderr.write(f"{self.prog}: {job.id}: output: {e}\n")
            job.output_done = True
            self._check_done()
            return
        if ev is None:
            self._flush_partials(job)
            job.output_done = True
            self._check_done()
            return
        if ev.name == "data":
            ctx = ev.context
            data = ctx.get("data")
            if data:
                self._write(job, ctx.get("stream", "stdout"), str(ctx.get("rank", "0")), data)
        elif ev.name == "log":
            msg = ev.context.get("message", "")
            self.stderr.write(f"{self.prog}: {job.id}: {msg}\n")

    def _write(self, job: _Job, stream: str, rank: str, data: str) -> None:
        out = self.stdout if stream == "stdout" else self.stderr
        prefix = ""
        if self.show_ids:
            prefix += f"{job.id}: "
        if self.label_io:
            prefix += f"{rank}: "
        if not prefix:
            out.write(data)
            out.flush()
            return
        key = (job.id, stream, rank)
        buf = self._partial.pop(key, "") + data
        lines = buf.split("\n")
        tail = lines.pop()
        for line in lines:
            out.write(f"{prefix}{line}\n")
        if tail:
            self._partial[key] = tail
        out.flush()

    def _flush_partials(self, job: _Job) -> None:
        for key in [k for k in self._partial if k[0] == job.id]:
            _, stream, rank = key
            out = self.stdout if stream == "stdout" else self.stderr
            prefix = (f"{job.id}: " if self.show_ids else "") + (
                f"{rank}: " if self.label_io else ""
            )
            out.write(f"{prefix}{self._partial.pop(key)}\n")
        self.stdout.flush()

    def _check_done(self) -> None:
        if all(j.clean and (j.output_done or not self.output) for j in self.jobs.values()):
            self.h.reactor_stop()

    # -- driving -------------------------------------------------------------------
    def _start(self) -> None:
        for job in self.jobs.values():
            w = event_watch_async(self.h, job.id)
            job.watchers.append(w)
            w.then(self._on_event, job)
            if self.output:
                ow = event_watch_async(self.h, job.id, "guest.output")
                job.watchers.append(ow)
                ow.then(self._on_output, job)

    def cancel_all(self, reason: str) -> None:
        from fluxlab.job.kill import cancel_async

        for job in self.jobs.values():
            if not job.clean:
                cancel_async(self.h, job.id, reason)

    def run(self) -> int:
        """Follow every job to the end; returns the largest exit code."""
        self._start()
        interrupted = False
        while True:
            try:
                self.h.reactor_run()
                break
            except KeyboardInterrupt:
                if interrupted:
                    self.stderr.write(
                        f"{self.prog}: interrupted again: detaching (jobs keep their state)\n"
                    )
                    for job in self.jobs.values():
                        for w in job.watchers:
                            w.cancel()
                    return 130
                interrupted = True
                self.stderr.write(
                    f"{self.prog}: interrupt: canceling job(s) (interrupt again to detach)\n"
                )
                self.stderr.flush()
                self.cancel_all("interrupted by the user")
        return self.exit_code()

    def exit_code(self) -> int:
        code = 0
        for job in self.jobs.values():
            if job.code is not None:
                code = max(code, job.code)
            elif job.exception is not None:
                code = max(code, 1)
        return code
