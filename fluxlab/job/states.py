"""Job states, results and the RFC 21 transition table.

States carry Flux's bitmask values so masks such as :data:`JobState.PENDING`
work with ``in``.  The transition table :data:`TRANSITIONS` maps
``(state, event_key)`` to the next state; it is the *only* place that decides
how eventlog events move a job (see ``docs/spec/job-states.md``).  A pair
missing from the table is an impossible transition.

Event keys are event names, except that two events split by context:

* ``exception`` is a fatal exception (severity 0); ``exception(severity>0)``
  is a non-fatal one, which never changes the state;
* ``release`` is a partial release; ``release(final)`` releases the last
  resources and cannot happen before the job shells finish.

Event names the table does not know (``debug.*`` and anything a plugin adds)
are allowed in every state and never change it, as RFC 21 permits.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

__all__ = [
    "KNOWN_EVENTS",
    "TRANSITIONS",
    "JobResult",
    "JobState",
    "JobStateError",
    "event_key",
    "next_state",
    "resulttostr",
    "statetostr",
    "strtoresult",
    "strtostate",
]


class JobState(enum.IntFlag):
    """Job states (RFC 21) with flux-core's bitmask values.

    ``PENDING``, ``RUNNING`` and ``ACTIVE`` are the virtual states (unions).
    """

    NEW = 1
    DEPEND = 2
    PRIORITY = 4
    SCHED = 8
    RUN = 16
    CLEANUP = 32
    INACTIVE = 64
    PENDING = DEPEND | PRIORITY | SCHED
    RUNNING = RUN | CLEANUP
    ACTIVE = PENDING | RUNNING

    @property
    def short(self) -> str:
        """One-letter name (``N D P S R C I``); ``?`` for a virtual state."""
        return _STATE_SHORT.get(self, "?")


class JobResult(enum.IntEnum):
    """Final result of an inactive job."""

    COMPLETED = 1
    FAILED = 2
    CANCELED = 4
    TIMEOUT = 8

    @property
    def short(self) -> str:
        """Abbreviation (``CD F CA TO``)."""
        return _RESULT_SHORT[self]


_REAL_STATES = (
    JobState.NEW,
    JobState.DEPEND,
    JobState.PRIORITY,
    JobState.SCHED,
    JobState.RUN,
    JobState.CLEANUP,
    JobState.INACTIVE,
)
_STATE_SHORT = dict(zip(_REAL_STATES, "NDPSRCI", strict=True))
_RESULT_SHORT = {
    JobResult.COMPLETED: "CD",
    JobResult.FAILED: "F",
    JobResult.CANCELED: "CA",
    JobResult.TIMEOUT: "TO",
}


class JobStateError(ValueError):
    """An event that cannot happen to a job in its current state, or an event
    whose context is malformed.  The message names the job id, the states
    and the event."""


def statetostr(state: int, fmt: str = "L") -> str:
    """Name of ``state``: ``fmt`` ``"L"``/``"l"`` long, ``"S"``/``"s"`` one letter
    (lower-case variants give lower case), like ``flux_job_statetostr``."""
    st = next((x for x in _REAL_STATES if x == state), None)
    if st is None:
        text = "(unknown)" if fmt in ("L", "l") else "?"
    else:
        text = st.name if fmt in ("L", "l") else st.short
    return text.lower() if fmt in ("l", "s") else text


def strtostate(text: str) -> JobState:
    """Parse a state name or one-letter name (case-insensitive); the virtual
    names ``pending``, ``running`` and ``active`` give masks."""
    if isinstance(text, str):
        key = text.strip().upper()
        for st in _REAL_STATES:
            if key in (st.name, st.short):
                return st
        if key in ("PENDING", "RUNNING", "ACTIVE"):
            return JobState[key]
    raise JobStateError(f"unknown job state {text!r}")


def resulttostr(result: int, fmt: str = "L") -> str:
    """Name of a result, long (``COMPLETED``) or short (``CD``)."""
    try:
        res = JobResult(result)
        text = res.name if fmt in ("L", "l") else res.short
    except ValueError:
        text = "(unknown)" if fmt in ("L", "l") else "?"
    return text.lower() if fmt in ("l", "s") else text


def strtoresult(text: str) -> JobResult:
    """Parse a result name or abbreviation (case-insensitive)."""
    if isinstance(text, str):
        key = text.strip().upper()
        for res in JobResult:
            if key in (res.name, res.short):
                return res
    raise JobStateError(f"unknown job result {text!r}")


N, D, P, S, R, C, I = _REAL_STATES  # noqa: E741  (local shorthand for the table)

#: Events that are bookkeeping only: allowed in every active state, no change.
_ANY_ACTIVE = ("memo", "set-flags", "exception(severity>0)", "flux-restart", "annotations")

TRANSITIONS: dict[tuple[JobState, str], JobState] = {
    # NEW: submitted, waiting for validation
    (N, "submit"): N,
    (N, "validate"): D,
    (N, "invalidate"): I,
    (N, "dependency-add"): N,
    (N, "dependency-remove"): N,
    (N, "jobspec-update"): N,
    (N, "memo"): N,
    (N, "set-flags"): N,
    (N, "exception(severity>0)"): N,
    # DEPEND: waiting for dependencies
    (D, "depend"): P,
    (D, "dependency-add"): D,
    (D, "dependency-remove"): D,
    (D, "urgency"): D,
    (D, "jobspec-update"): D,
    (D, "exception"): C,
    # PRIORITY: waiting for a priority
    (P, "priority"): S,
    (P, "urgency"): P,
    (P, "jobspec-update"): P,
    (P, "exception"): C,
    # SCHED: waiting for resources
    (S, "alloc"): R,
    (S, "priority"): S,
    (S, "urgency"): P,
    (S, "flux-restart"): P,
    (S, "jobspec-update"): P,
    (S, "exception"): C,
    # RUN: resources allocated, shells starting or running
    (R, "prolog-start"): R,
    (R, "prolog-finish"): R,
    (R, "start"): R,
    (R, "release"): R,
    (R, "resource-update"): R,
    (R, "jobspec-update"): R,
    (R, "finish"): C,
    (R, "exception"): C,
    # CLEANUP: shells done or fatal exception; late responses still arrive
    (C, "alloc"): C,
    (C, "start"): C,
    (C, "prolog-finish"): C,
    (C, "release"): C,
    (C, "release(final)"): C,
    (C, "finish"): C,
    (C, "epilog-start"): C,
    (C, "epilog-finish"): C,
    (C, "resource-update"): C,
    (C, "free"): C,
    (C, "exception"): C,
    (C, "clean"): I,
}
for _st in (D, P, S, R, C):
    for _ev in _ANY_ACTIVE:
        TRANSITIONS.setdefault((_st, _ev), _st)

#: Every event name the table knows (others are always allowed, no change).
KNOWN_EVENTS = frozenset(key.split("(")[0] for _, key in TRANSITIONS)


def event_key(name: str, context: Mapping[str, Any] | None = None, jobid: object = None) -> str:
    """Table key of an event: splits ``exception`` by severity and ``release``
    by ``final``.  Malformed context values raise :class:`JobStateError`."""
    if name == "exception":
        sev = (context or {}).get("severity")
        if isinstance(sev, bool) or not isinstance(sev, int) or not 0 <= sev <= 7:
            raise JobStateError(
                f"{_who(jobid)}exception event: context.severity must be an integer 0..7"
            )
        return "exception" if sev == 0 else "exception(severity>0)"
    if name == "release":
        final = (context or {}).get("final")
        if not isinstance(final, bool):
            raise JobStateError(f"{_who(jobid)}release event: context.final must be a boolean")
        return "release(final)" if final else "release"
    return name


def _who(jobid: object) -> str:
    return f"job {jobid}: " if jobid is not None else ""


def _allowed_in(key: str) -> list[JobState]:
    return [st for (st, k) in TRANSITIONS if k == key]


def next_state(
    state: JobState,
    name: str,
    context: Mapping[str, Any] | None = None,
    jobid: object = None,
) -> JobState:
    """Return the state after event ``name`` in ``state`` (pure table lookup).

    Raises
    ------
    JobStateError
        If the table has no entry: the message names the job, the current
        state, the state the event leads to, and the event.
    """
    return next_state_by_key(state, name, event_key(name, context, jobid), jobid)


def next_state_by_key(state: JobState, name: str, key: str, jobid: object = None) -> JobState:
    """:func:`next_state` with the event's table key already computed."""
    if name not in KNOWN_EVENTS:
        return state
    new = TRANSITIONS.get((state, key))  # an int state hashes like its JobState
    if new is not None:
        return new
    allowed = _allowed_in(key)
    who = f"job {jobid}" if jobid is not None else "job"
    if allowed:
        targets = sorted({TRANSITIONS[(st, key)] for st in allowed}, key=int)
        moves = ", ".join(f"{st.name}->{TRANSITIONS[(st, key)].name}" for st in allowed)
        raise JobStateError(
            f"{who}: impossible transition {JobState(state).name}->"
            f"{'/'.join(t.name for t in targets)} on event {key!r} "
            f"(the event is only valid as {moves})"
        )
    raise JobStateError(f"{who}: event {key!r} is impossible in state {JobState(state).name}")
