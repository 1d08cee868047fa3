"""Kill escalation and time limits for one job: a pure state machine.

The job-exec service feeds a :class:`KillEscalation` the events of a job —
a kill request, the expiry of its time limit, the kill timer firing, all
tasks gone — and performs the actions it returns: signal the tasks, arm or
disarm the kill timer, raise an exception.  Nothing here touches a process
or a timer, so every path is testable without a broker.

States and transitions::

    RUNNING --kill--> RUNNING               signal(signum)
    RUNNING --kill(escalate)--> TERMINATING signal(signum), arm(kill_timeout)
    RUNNING --expire--> TERMINATING         raise timeout, signal(SIGALRM), arm
    TERMINATING --timer--> KILLING          signal(SIGKILL), arm
    KILLING --timer--> KILLING              signal(SIGKILL), arm   (until gone)
    TERMINATING|KILLING --kill*--> same     signal(signum)
    TERMINATING|KILLING --expire--> same    nothing (already going away)
    any but DONE --exited--> DONE           disarm
    DONE --kill*|expire--> DONE             nothing (late request)

``timer`` in RUNNING or DONE and ``exited`` in DONE cannot happen (the timer
is only armed while terminating and is disarmed on exit); they raise
:class:`EscalationError` naming the job, the state and the event.
"""

from __future__ import annotations

import signal
from collections import deque
from dataclasses import dataclass
from enum import Enum

__all__ = [
    "Arm",
    "Disarm",
    "EscalationError",
    "KillEscalation",
    "KillState",
    "Raise",
    "Signal",
    "TIMEOUT_NOTE",
]

#: Note of the exception raised when a job's time limit expires (as flux-core).
TIMEOUT_NOTE = "resource allocation expired"


class EscalationError(RuntimeError):
    """An event that cannot happen in the current state (a bug in the caller)."""


class KillState(Enum):
    RUNNING = "running"
    TERMINATING = "terminating"
    KILLING = "killing"
    DONE = "done"


@dataclass(frozen=True)
class Signal:
    """Send ``signum`` to every task of the job."""

    signum: int


@dataclass(frozen=True)
class Arm:
    """(Re)arm the kill timer to fire after ``seconds``."""

    seconds: float


@dataclass(frozen=True)
class Disarm:
    """Stop the kill timer (and the time limit timer)."""


@dataclass(frozen=True)
class Raise:
    """Raise a fatal job exception of ``type`` with ``note``."""

    type: str
    note: str


_R, _T, _K, _D = KillState.RUNNING, KillState.TERMINATING, KillState.KILLING, KillState.DONE

#: (state, event) -> new state; actions are computed in :meth:`KillEscalation._actions`.
TRANSITIONS: dict[tuple[KillState, str], KillState] = {
    (_R, "kill"): _R,
    (_R, "kill-escalate"): _T,
    (_R, "expire"): _T,
    (_R, "exited"): _D,
    (_T, "kill"): _T,
    (_T, "kill-escalate"): _T,
    (_T, "expire"): _T,
    (_T, "timer"): _K,
    (_T, "exited"): _D,
    (_K, "kill"): _K,
    (_K, "kill-escalate"): _K,
    (_K, "expire"): _K,
    (_K, "timer"): _K,
    (_K, "exited"): _D,
    (_D, "kill"): _D,
    (_D, "kill-escalate"): _D,
    (_D, "expire"): _D,
}


class KillEscalation:
    """Escalation state of one job.

    Parameters
    ----------
    jobid : int
        For error messages and the transition log.
    kill_timeout : float
        Seconds between SIGTERM (or SIGALRM) and SIGKILL, and between
        repeated SIGKILLs.

    Attributes
    ----------
    state : KillState
    kills : int
        Number of SIGKILL rounds sent by the timer (flux-core drains a node
        after ``max-kill-count``; the caller may log when this grows).
    log : deque
        The last transitions as ``(old state, event, new state)``.
    """

    def __init__(self, jobid: int, kill_timeout: float):
        self.jobid = jobid
        self.kill_timeout = kill_timeout
        self.state = KillState.RUNNING
        self.kills = 0
        self.log: deque[tuple[str, str, str]] = deque(maxlen=16)

    def _step(self, event: str) -> KillState:
        old = self.state
        new = TRANSITIONS.get((old, event))
        if new is None:
            raise EscalationError(
                f"job {self.jobid}: impossible event {event!r} in state {old.value}"
            )
        self.state = new
        self.log.append((old.value, event, new.value))
        return old

    def kill(self, signum: int, escalate: bool = False) -> list:
        """A kill request; with ``escalate``, SIGKILL follows after the kill timeout."""
        old = self._step("kill-escalate" if escalate else "kill")
        if old == _D:
            return []
        if escalate and old == _R:
            return [Signal(signum), Arm(self.kill_timeout)]
        return [Signal(signum)]

    def expire(self) -> list:
        """The job's time limit expired."""
        old = self._step("expire")
        if old != _R:
            return []
        return [Raise("timeout", TIMEOUT_NOTE), Signal(signal.SIGALRM), Arm(self.kill_timeout)]

    def timer(self) -> list:
        """The kill timer fired: (re)send SIGKILL and re-arm."""
        self._step("timer")
        self.kills += 1
        return [Signal(signal.SIGKILL), Arm(self.kill_timeout)]

    def exited(self) -> list:
        """Every task of the job is gone."""
        self._step("exited")
        return [Disarm()]

    @property
    def terminating(self) -> bool:
        """True once a fatal kill or the time limit started the job's end."""
        return self.state in (_T, _K)
