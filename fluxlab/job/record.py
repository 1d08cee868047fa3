"""A job's state rebuilt from its eventlog (RFC 21: "replaying the job
eventlog SHALL accurately reproduce the current job state").

:class:`JobRecord` is a pure state machine.  :meth:`JobRecord.apply` takes one
event, checks it against :data:`fluxlab.job.states.TRANSITIONS` and the
event's own rules, and updates the record; it never performs I/O.  The job
manager applies events as it posts them; a restarted manager or the job-list
service calls :meth:`JobRecord.replay` on the stored eventlog and gets the
identical record.

Derived values follow flux-core's job-list: ``t_depend``/``t_run``/...
are the times the job *first* entered each state (0.0 if never); the
recorded exception is the most severe one (first wins on ties); ``result``
is COMPLETED if the shells finished with status 0, otherwise CANCELED or
TIMEOUT for a ``cancel``/``timeout`` exception and FAILED for anything else.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from fluxlab.job._flags import FLAG_DEBUG, FLAG_NOVALIDATE, FLAG_WAITABLE
from fluxlab.job.eventlog import EventlogError, EventLogEvent, parse_eventlog
from fluxlab.job.states import (
    KNOWN_EVENTS,
    TRANSITIONS as _TRANSITIONS,
    JobResult,
    JobState,
    JobStateError,
    event_key,
    next_state_by_key,
)
from fluxlab.job.urgency import PRIORITY_MAX, URGENCY_MAX, URGENCY_MIN

__all__ = [
    "FLAG_DEBUG",
    "FLAG_NOVALIDATE",
    "FLAG_WAITABLE",
    "ExceptionInfo",
    "JobRecord",
    "Transition",
]

_FLAG_NAMES = {"debug": FLAG_DEBUG, "waitable": FLAG_WAITABLE, "novalidate": FLAG_NOVALIDATE}
#: (record class, event name) -> its ``_on_<name>`` rule or None (names with a
#: rule, and names without one up to a bound: eventlogs may hold any name)
_RULES: dict[tuple[type, str], Any] = {}
_RULES_MAX = 4096
_LOG_LENGTH = 32
#: event names that are their own table key (event_key splits only these two)
_PLAIN_KEYS = frozenset(KNOWN_EVENTS) - {"exception", "release"}
#: (record class, state, name) -> (next state, rule) for table events that
#: are their own key, filled as they are first applied: every such pair is in
#: the transition table, so this holds at most (states x events) entries
_STEPS: dict[tuple[type, JobState, str], tuple[JobState, Any]] = {}


def _rule(cls: type, name: str) -> Any:
    """``cls``'s ``_on_<name>`` rule, or None (remembered in :data:`_RULES`)."""
    rule = _RULES.get((cls, name), _RULES)
    if rule is _RULES:
        rule = None if "." in name else getattr(cls, "_on_" + name.replace("-", "_"), None)
        if rule is not None or len(_RULES) < _RULES_MAX:
            _RULES[(cls, name)] = rule
    return rule


@dataclass(frozen=True)
class ExceptionInfo:
    """An exception event's context (``flux jobs {exception.*}``)."""

    occurred: bool = False
    severity: int | None = None
    type: str = ""
    note: str = ""
    userid: int | None = None


_new_tuple = tuple.__new__
_NO_EXCEPTION = ExceptionInfo()  # frozen, so one shared default is safe


class Transition(NamedTuple):
    """One state change, kept in :attr:`JobRecord.log` for debugging (a named
    tuple: one is made per state change of every record, on the hot path)."""

    timestamp: float
    event: str
    from_state: JobState
    to_state: JobState


def _int(ctx: Mapping, key: str, event: str, lo: int, hi: int, jobid: object) -> int:
    val = ctx.get(key)
    if type(val) is int and lo <= val <= hi:  # the common case (never a bool)
        return val
    if isinstance(val, bool) or not isinstance(val, int) or not lo <= val <= hi:
        raise JobStateError(
            f"job {jobid}: {event} event: context.{key} must be an integer {lo}..{hi}"
        )
    return val


def _str(ctx: Mapping, key: str, event: str, jobid: object, optional: bool = False) -> str:
    if optional and key not in ctx:
        return ""
    val = ctx.get(key)
    if not isinstance(val, str):
        raise JobStateError(f"job {jobid}: {event} event: context.{key} must be a string")
    return val


def _merge(target: dict, update: Mapping) -> None:
    """Merge ``update`` into ``target``; a ``None`` value deletes the key."""
    for key, val in update.items():
        if val is None:
            target.pop(key, None)
        elif isinstance(val, Mapping) and isinstance(target.get(key), dict):
            _merge(target[key], val)
            if not target[key]:
                del target[key]
        elif isinstance(val, Mapping):
            sub: dict = {}
            _merge(sub, val)
            if sub:
                target[key] = sub
        else:
            target[key] = val


class JobRecord:
    """Everything the eventlog says about one job.

    Attributes are public and read-only by convention: only :meth:`apply`
    changes them, so a record is always the image of the events applied.
    """

    def __init__(self, jobid: object = None):
        self.id = jobid
        self.state = JobState.NEW
        self.userid: int | None = None
        self.urgency: int | None = None
        self.priority: int | None = None
        self.flags = 0
        self.t_submit = 0.0
        self.state_times: dict[JobState, float] = {}
        self.dependencies: list[str] = []
        self.annotations: dict = {}
        self.exception = _NO_EXCEPTION
        self.exceptions: list[ExceptionInfo] = []
        self.waitstatus: int | None = None
        self.success: bool | None = None
        self.has_resources = False
        self.started = False
        self.released_final = False
        self.expiration: float | None = None
        self.jobspec_updates: dict[str, Any] = {}
        self.perilog_active = 0
        self.invalid = False
        self.end_event: EventLogEvent | None = None
        self.nevents = 0
        #: the last _LOG_LENGTH state changes (a list: an empty deque with a
        #: maxlen costs 760 bytes, and each active job has two records)
        self.log: list[Transition] = []

    # -- derived values ----------------------------------------------------
    def _t(self, state: JobState) -> float:
        return self.state_times.get(state, 0.0)

    t_depend = property(lambda self: self._t(JobState.DEPEND))
    t_priority = property(lambda self: self._t(JobState.PRIORITY))
    t_sched = property(lambda self: self._t(JobState.SCHED))
    t_run = property(lambda self: self._t(JobState.RUN))
    t_cleanup = property(lambda self: self._t(JobState.CLEANUP))
    t_inactive = property(lambda self: self._t(JobState.INACTIVE))

    @property
    def waitable(self) -> bool:
        return bool(self.flags & FLAG_WAITABLE)

    @property
    def result(self) -> JobResult | None:
        """Final result once INACTIVE (None before, and for invalid jobs)."""
        if self.state != JobState.INACTIVE or self.invalid:
            return None
        if self.success:
            return JobResult.COMPLETED
        if self.exception.occurred:
            if self.exception.type == "cancel":
                return JobResult.CANCELED
            if self.exception.type == "timeout":
                return JobResult.TIMEOUT
        return JobResult.FAILED

    @property
    def returncode(self) -> int | None:
        """Highest shell exit code, ``-signal`` if killed by a signal, -128
        for a job canceled before it ran, 1 for other failures without a
        wait status; None while active."""
        if self.state != JobState.INACTIVE:
            return None
        status = self.waitstatus
        if status is None:
            res = self.result
            if res == JobResult.CANCELED:
                return -128
            if res == JobResult.FAILED:
                return 1
            return None
        if os.WIFSIGNALED(status):
            return -os.WTERMSIG(status)
        return os.WEXITSTATUS(status)

    # -- applying events -----------------------------------------------------
    def apply(self, event: Mapping[str, Any] | str) -> JobState:
        """Apply one eventlog event; return the new state.

        Raises
        ------
        JobStateError
            For an impossible transition or a malformed context.  The record
            is unchanged in that case.
        """
        try:
            ev = event if isinstance(event, EventLogEvent) else EventLogEvent(event)
        except EventlogError as exc:
            raise JobStateError(f"job {self.id}: {exc}") from None
        name, ctx, ts = ev["name"], ev["context"], ev["timestamp"]
        if type(ts) is not float:
            ts = float(ts)
        old = self.state
        cls = type(self)
        # the common case, one dict lookup: a table event that is its own key
        # (see _STEPS) in a state that allows it, on a record past 'submit'
        step = _STEPS.get((cls, old, name)) if self.nevents else None
        if step is not None:
            new, rule = step
            key = name
        else:
            if (self.nevents == 0) != (name == "submit"):
                if self.nevents == 0:
                    raise JobStateError(
                        f"job {self.id}: first event must be 'submit', not {name!r}"
                    )
                raise JobStateError(
                    f"job {self.id}: duplicate 'submit' event in state {self.state.name}"
                )
            key = name if name in _PLAIN_KEYS else event_key(name, ctx, self.id)
            new = _TRANSITIONS.get((old, key)) if name in KNOWN_EVENTS else old
            if new is None:  # not in the table: raises the error that explains why
                new = next_state_by_key(old, name, key, self.id)
            rule = _rule(cls, name)
            if key in _PLAIN_KEYS and name != "submit":
                _STEPS[(cls, old, name)] = (new, rule)
        if rule is not None:
            rule(self, ctx, ts, key)
        self.nevents += 1
        if new != old:
            self.state = new
            self.state_times.setdefault(new, ts)
            # tuple.__new__ skips the named tuple's Python-level __new__ (3x faster)
            log = self.log
            if len(log) >= _LOG_LENGTH:
                del log[0]
            log.append(_new_tuple(Transition, (ts, name, old, new)))
        return new

    @classmethod
    def replay(cls, events: Iterable[Mapping[str, Any]] | str, jobid: object = None) -> JobRecord:
        """Build a record from a whole eventlog (text or a list of events)."""
        if isinstance(events, str):
            try:
                events = parse_eventlog(events)
            except EventlogError as exc:
                raise JobStateError(f"job {jobid}: {exc}") from None
        rec = cls(jobid)
        for ev in events:
            rec.apply(ev)
        return rec

    # -- per-event rules (run after the table accepted the event) ------------
    def _on_submit(self, ctx: Mapping, ts: float, key: str) -> None:
        urgency = _int(ctx, "urgency", "submit", URGENCY_MIN, URGENCY_MAX, self.id)
        userid = _int(ctx, "userid", "submit", 0, 2**32 - 1, self.id)
        flags = _int(ctx, "flags", "submit", 0, 2**31 - 1, self.id)
        self.urgency, self.userid, self.flags = urgency, userid, flags
        self.t_submit = ts
        self.state_times.setdefault(JobState.NEW, ts)

    def _on_invalidate(self, ctx: Mapping, ts: float, key: str) -> None:
        self.invalid = True

    def _on_urgency(self, ctx: Mapping, ts: float, key: str) -> None:
        self.urgency = _int(ctx, "urgency", "urgency", URGENCY_MIN, URGENCY_MAX, self.id)

    def _on_priority(self, ctx: Mapping, ts: float, key: str) -> None:
        self.priority = _int(ctx, "priority", "priority", 0, PRIORITY_MAX, self.id)

    def _on_set_flags(self, ctx: Mapping, ts: float, key: str) -> None:
        flags = ctx.get("flags")
        if not isinstance(flags, list) or not all(f in _FLAG_NAMES for f in flags):
            raise JobStateError(
                f"job {self.id}: set-flags event: context.flags must be a list of "
                f"{', '.join(sorted(_FLAG_NAMES))}"
            )
        for f in flags:
            self.flags |= _FLAG_NAMES[f]

    def _on_dependency_add(self, ctx: Mapping, ts: float, key: str) -> None:
        desc = _str(ctx, "description", "dependency-add", self.id)
        if desc not in self.dependencies:
            self.dependencies.append(desc)

    def _on_dependency_remove(self, ctx: Mapping, ts: float, key: str) -> None:
        desc = _str(ctx, "description", "dependency-remove", self.id)
        if desc not in self.dependencies:
            raise JobStateError(
                f"job {self.id}: dependency-remove event in state {self.state.name}: "
                f"no outstanding dependency {desc!r}"
            )
        self.dependencies.remove(desc)

    def _on_depend(self, ctx: Mapping, ts: float, key: str) -> None:
        if self.dependencies:
            raise JobStateError(
                f"job {self.id}: impossible transition DEPEND->PRIORITY on event 'depend' "
                f"with dependencies outstanding: {', '.join(self.dependencies)}"
            )

    def _on_jobspec_update(self, ctx: Mapping, ts: float, key: str) -> None:
        if not ctx or not all(isinstance(k, str) and k.startswith("attributes.") for k in ctx):
            raise JobStateError(
                f"job {self.id}: jobspec-update event: context keys must start with 'attributes.'"
            )
        self.jobspec_updates.update(ctx)

    def _on_resource_update(self, ctx: Mapping, ts: float, key: str) -> None:
        if "expiration" in ctx:
            exp = ctx["expiration"]
            if isinstance(exp, bool) or not isinstance(exp, (int, float)) or exp < 0:
                raise JobStateError(
                    f"job {self.id}: resource-update event: context.expiration must be a number >= 0"
                )
            self.expiration = float(exp)

    def _on_memo(self, ctx: Mapping, ts: float, key: str) -> None:
        _merge(self.annotations, {"user": dict(ctx)})

    def _on_annotations(self, ctx: Mapping, ts: float, key: str) -> None:
        ann = ctx.get("annotations")
        if ann is not None and not isinstance(ann, Mapping):
            raise JobStateError(f"job {self.id}: annotations event: must be an object or null")
        user = self.annotations.get("user")
        self.annotations = {}
        _merge(self.annotations, ann or {})
        if user is not None:
            self.annotations["user"] = user

    def _on_alloc(self, ctx: Mapping, ts: float, key: str) -> None:
        ann = ctx.get("annotations")
        if ann is not None:
            if not isinstance(ann, Mapping):
                raise JobStateError(
                    f"job {self.id}: alloc event: context.annotations must be an object"
                )
            _merge(self.annotations, ann)
        self.has_resources = True

    def _on_prolog_start(self, ctx: Mapping, ts: float, key: str) -> None:
        _str(ctx, "description", "prolog-start", self.id)
        self.perilog_active += 1

    def _on_prolog_finish(self, ctx: Mapping, ts: float, key: str) -> None:
        _str(ctx, "description", "prolog-finish", self.id)
        self.perilog_active = max(0, self.perilog_active - 1)

    _on_epilog_start = _on_prolog_start
    _on_epilog_finish = _on_prolog_finish

    def _on_start(self, ctx: Mapping, ts: float, key: str) -> None:
        if not self.has_resources:
            raise JobStateError(
                f"job {self.id}: impossible transition {self.state.name}->RUN on event "
                "'start': the job holds no resources"
            )
        self.started = True

    def _on_release(self, ctx: Mapping, ts: float, key: str) -> None:
        _str(ctx, "ranks", "release", self.id)
        if key == "release(final)":
            self.released_final = True

    def _on_finish(self, ctx: Mapping, ts: float, key: str) -> None:
        status = _int(ctx, "status", "finish", 0, 2**31 - 1, self.id)
        self.waitstatus = status
        if status == 0:
            self.success = True
        if self.end_event is None:
            self.end_event = EventLogEvent.make(ts, "finish", dict(ctx))

    def _on_free(self, ctx: Mapping, ts: float, key: str) -> None:
        if not self.has_resources:
            raise JobStateError(
                f"job {self.id}: impossible transition CLEANUP->CLEANUP on event 'free': "
                "no resources were allocated"
            )
        self.has_resources = False

    def _on_clean(self, ctx: Mapping, ts: float, key: str) -> None:
        if self.has_resources:
            raise JobStateError(
                f"job {self.id}: impossible transition CLEANUP->INACTIVE on event 'clean': "
                "resources were never freed"
            )

    def _on_exception(self, ctx: Mapping, ts: float, key: str) -> None:
        info = ExceptionInfo(
            occurred=True,
            severity=_int(ctx, "severity", "exception", 0, 7, self.id),
            type=_str(ctx, "type", "exception", self.id),
            note=_str(ctx, "note", "exception", self.id, optional=True),
            userid=ctx.get("userid") if isinstance(ctx.get("userid"), int) else None,
        )
        self.exceptions.append(info)
        if not self.exception.occurred or info.severity < self.exception.severity:
            self.exception = info
        if info.severity == 0 and self.end_event is None:
            self.end_event = EventLogEvent(
                {"timestamp": ts, "name": "exception", "context": dict(ctx)}
            )

    # -- export -----------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """job-list style attributes (the dict :class:`fluxlab.job.info.JobInfo` takes)."""
        out: dict[str, Any] = {
            "id": int(self.id) if isinstance(self.id, int) else self.id,
            "userid": self.userid,
            "urgency": self.urgency,
            "state": int(self.state),
            "t_submit": self.t_submit,
            "dependencies": list(self.dependencies),
        }
        if self.priority is not None:
            out["priority"] = self.priority
        for name in ("t_depend", "t_run", "t_cleanup", "t_inactive"):
            if getattr(self, name):
                out[name] = getattr(self, name)
        if self.waitstatus is not None:
            out["waitstatus"] = self.waitstatus
        if self.expiration is not None:
            out["expiration"] = self.expiration
        if self.annotations:
            out["annotations"] = self.annotations
        out["exception_occurred"] = self.exception.occurred
        if self.exception.occurred:
            out["exception_severity"] = self.exception.severity
            out["exception_type"] = self.exception.type
            out["exception_note"] = self.exception.note
        if self.result is not None:
            out["result"] = int(self.result)
            out["success"] = bool(self.success)
        return out

    def __repr__(self) -> str:
        return f"JobRecord(id={self.id!r}, state={self.state.name}, events={self.nevents})"
