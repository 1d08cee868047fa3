"""What every job driven by job-exec shares: responses, eventlog, timers, kills.

A job answers the job manager's ``job-exec.start`` stream (RFC 32) with
``{id, type, data}`` responses, posts RFC 50 events to its exec eventlog,
and feeds its :class:`~fluxlab.exec.escalation.KillEscalation` the kill
requests and time-limit expiry.  Subclasses (:mod:`~fluxlab.exec._simjob`,
:mod:`~fluxlab.exec._realjob`) implement how tasks are signalled and when
they are gone.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from fluxlab.exec.escalation import Arm, Disarm, KillEscalation, Raise, Signal
from fluxlab.job.eventlog import event_line

if TYPE_CHECKING:
    from fluxlab.exec.job_exec import JobExec

__all__ = ["ExecJob", "shell_status"]


def shell_status(wait_status: int) -> int:
    """A task's wait status as its job shell would exit: code, or 128+signal, << 8.

    flux-shell exits with the largest task exit code, counting a task killed
    by signal N as 128+N; job-exec reports the shells' wait statuses.
    """
    if os.WIFSIGNALED(wait_status):
        return (128 + os.WTERMSIG(wait_status)) << 8
    if os.WIFEXITED(wait_status):
        return os.WEXITSTATUS(wait_status) << 8
    return wait_status


class ExecJob:
    """One job in job-exec (rank 0).

    Attributes
    ----------
    status : int
        The finish wait status so far (the largest reported).
    exception : bool
        A fatal exception (ours or the job manager's escalated kill) is in
        progress; a job that then exits 0 finishes with status ``1 << 8``,
        as flux-core does.
    """

    def __init__(self, mod: JobExec, msg: Any, jobid: int, R: dict):
        self.mod = mod
        self.msg = msg
        self.id = jobid
        self.R = R
        self.key = mod.exec_eventlog_key(jobid)
        self.esc = KillEscalation(jobid, mod.kill_timeout)
        self.status = 0
        self.exception = False
        self.started = False
        self.finished = False
        self.released = False
        self._kill_timer = None
        self._limit_timer = None

    # -- responses to the job manager -----------------------------------------------
    def respond(self, rtype: str, data: dict | None = None) -> None:
        if not self.released:
            self.mod.respond(self.msg, {"id": self.id, "type": rtype, "data": data or {}})

    def raise_exception(self, etype: str, note: str, severity: int = 0) -> None:
        """Send an ``exception`` response (only the first fatal one is sent)."""
        if severity == 0:
            if self.exception:
                return
            self.exception = True
        self.mod.log(6, f"job-exception: id={self.id}: {note}")
        self.respond("exception", {"type": etype, "severity": severity, "note": note})

    def post(self, name: str, context: dict | None = None) -> None:
        """Append an RFC 50 event (names are this module's constants: no validation)."""
        self.mod.kvs.append(self.key, event_line(time.time(), name, context) + "\n")

    def respond_start(self) -> None:
        if self.started:
            return
        self.started = True
        self.respond("start")
        self._arm_time_limit()

    def finish(self) -> None:
        """Every task is gone: post complete, respond finish, release (see :meth:`release`)."""
        if self.finished:
            return
        self.finished = True
        self._do(self.esc.exited())
        if self.exception and self.status == 0:
            self.status = 1 << 8
        self.post("complete", {"status": self.status})
        self.respond("finish", {"status": self.status})
        self.release()

    def release(self) -> None:
        """Post ``done``; once its commit is sent, send ``release`` final and end the stream.

        Sent, not answered: the KVS applies the commit before anything the
        release leads to (the job-manager's ``release``/``free``/``clean``,
        or a reader who saw them), see :mod:`fluxlab.exec.kvsbatch`.
        """
        self.post("done")
        self.mod.kvs.when_sent(self._released)

    def _released(self) -> None:
        self.respond("release", {"ranks": "all", "final": True})
        self.released = True
        self.mod.job_ended(self)

    # -- kill escalation -------------------------------------------------------------
    def kill(self, signum: int, escalate: bool) -> None:
        if escalate:
            self.exception = True
        self._do(self.esc.kill(signum, escalate))

    def _expired(self) -> None:
        self._limit_timer = None
        self._do(self.esc.expire())

    def _kill_timer_fired(self) -> None:
        self._kill_timer = None
        self._do(self.esc.timer())
        if self.esc.kills in (8, 64):
            self.mod.log(4, f"job {self.id}: tasks still running after {self.esc.kills} SIGKILLs")

    def _do(self, actions: list) -> None:
        for action in actions:
            if isinstance(action, Signal):
                self.signal(action.signum)
            elif isinstance(action, Arm):
                if self._kill_timer is not None:
                    self._kill_timer.cancel()
                self._kill_timer = self.mod.h.reactor.call_later(
                    action.seconds, self._kill_timer_fired
                )
            elif isinstance(action, Disarm):
                for timer in (self._kill_timer, self._limit_timer):
                    if timer is not None:
                        timer.cancel()
                self._kill_timer = self._limit_timer = None
            elif isinstance(action, Raise):
                self.raise_exception(action.type, action.note)

    def _arm_time_limit(self) -> None:
        """Arm the expiration timer from R (flux-core's rule, start delay forgiven)."""
        execution = self.R.get("execution") if isinstance(self.R, dict) else None
        if not isinstance(execution, dict):
            return
        expiration = execution.get("expiration") or 0.0
        if not isinstance(expiration, (int, float)) or expiration <= 0:
            return
        now = time.time()
        starttime = execution.get("starttime") or 0.0
        if isinstance(starttime, (int, float)) and starttime > 0:
            expiration += now - starttime
        self._limit_timer = self.mod.h.reactor.call_later(max(0.0, expiration - now), self._expired)

    # -- what subclasses provide ----------------------------------------------------
    def signal(self, signum: int) -> None:
        """Deliver ``signum`` to every task of the job (a refused job has none)."""
