"""``JobInfo``: one job-list record with the computed fields ``flux jobs`` shows.

Built from a job-list style dict (``id``, ``userid``, ``urgency``,
``priority``, ``state``, ``result``, ``name``, ``ntasks``, ``nnodes``,
``ncores``, ``ngpus``, ``duration``, ``t_submit`` ... ``t_inactive``,
``waitstatus``, ``nodelist``, ``exception_*``, ``annotations``,
``dependencies``, ...) such as :meth:`fluxlab.job.record.JobRecord.to_dict`
plus jobspec/R derived fields.  Missing values default to ``""`` or ``0.0`` as
in ``flux.job.JobInfo`` so formats print blanks rather than failing.

Time-dependent fields (``runtime`` of a running job, ``t_remaining``, the
SCHED ``eta:``) read the clock passed as ``now`` (default: ``time.time``),
which keeps the class deterministic under test.
"""

from __future__ import annotations

import datetime
import json
import os
import signal
import time
from collections.abc import Callable, Mapping
from typing import Any

from fluxlab.job.jobid import JobID
from fluxlab.job.states import JobResult, JobState, resulttostr, statetostr
from fluxlab.util.duration import fsd

__all__ = ["AnnotationsInfo", "EmptyObject", "ExceptionInfo", "JobInfo", "JobInfoError"]

_STATE_EMOJI = {
    "N": "\U0001f381",
    "D": "\U0001f6d1",
    "P": "\U0001f6a6",
    "S": "\U0001f4c5",
    "R": "\U0001f3c3",
    "C": "\U0001f5d1",
    "I": "\U0001f480",
}
_RESULT_EMOJI = {"CD": "\U0001f600", "F": "\U0001f4a9", "CA": "\U0001f4a5", "TO": "⌛"}


class JobInfoError(ValueError):
    """A job-list record that cannot be interpreted (bad id, state...)."""


class EmptyObject:
    """Stands in for a missing value: every attribute is another EmptyObject
    and it formats as an empty string with any spec."""

    def __getattr__(self, attr: str) -> EmptyObject:
        if attr.startswith("__"):
            raise AttributeError(attr)
        return EmptyObject()

    def __str__(self) -> str:
        return ""

    __repr__ = __str__

    def __format__(self, spec: str) -> str:
        return format("", spec.rstrip("bcdoxXeEfFgGn%"))

    def __bool__(self) -> bool:
        return False


class AnnotationsInfo:
    """Attribute access into a nested annotations dict; missing keys give
    :class:`EmptyObject`; ``str()`` is the JSON (empty when there is none)."""

    def __init__(self, data: Mapping[str, Any] | None):
        self.annotationsDict = dict(data or {})

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__") or attr == "annotationsDict":
            raise AttributeError(attr)
        value = self.annotationsDict.get(attr)
        if value is None:
            return EmptyObject()
        if isinstance(value, Mapping):
            return AnnotationsInfo(value)
        return value

    def __str__(self) -> str:
        return json.dumps(self.annotationsDict) if self.annotationsDict else ""

    __repr__ = __str__

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


class ExceptionInfo:
    """``exception.occurred/severity/type/note`` ("" when unknown)."""

    def __init__(self, occurred: Any = "", severity: Any = "", type: Any = "", note: Any = ""):
        self.occurred = occurred
        self.severity = severity
        self.type = type
        self.note = note


class DependencyList(list):
    """Outstanding dependencies; ``str()`` joins with commas and shows
    ``begin-time=T`` as ``begin@HH:MM`` (or ``begin@MonDD-HH:MM``)."""

    def __init__(self, items: Any, today: datetime.date | None = None):
        out = []
        for dep in items or []:
            dep = str(dep)
            if dep.startswith("begin-time="):
                try:
                    when = datetime.datetime.fromtimestamp(float(dep.partition("=")[2]))
                except (ValueError, OverflowError, OSError):
                    out.append(dep)
                    continue
                if when.date() == (today or datetime.date.today()):
                    dep = f"begin@{when:%H:%M}"
                else:
                    dep = f"begin@{when:%b%d-%H:%M}"
                if when.second:
                    dep += f":{when:%S}"
            out.append(dep)
        super().__init__(out)

    def __str__(self) -> str:
        return ",".join(self)

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


def _username(userid: Any) -> str:
    if not isinstance(userid, int):
        return ""
    try:
        import pwd

        return pwd.getpwuid(userid).pw_name
    except (KeyError, ImportError, OverflowError):
        return str(userid)


class JobInfo:
    """A job-list record (``flux.job.JobInfo``)."""

    defaults = {
        "userid": "",
        "urgency": "",
        "t_submit": 0.0,
        "t_depend": 0.0,
        "t_run": 0.0,
        "t_cleanup": 0.0,
        "t_inactive": 0.0,
        "duration": 0.0,
        "expiration": 0.0,
        "name": "",
        "cwd": "",
        "queue": "",
        "project": "",
        "bank": "",
        "ntasks": "",
        "ncores": "",
        "ngpus": "",
        "nnodes": "",
        "priority": "",
        "ranks": "",
        "nodelist": "",
        "success": "",
        "result": "",
        "waitstatus": "",
    }

    properties = (
        "id",
        "t_submit",
        "t_remaining",
        "state",
        "result",
        "username",
        "userid",
        "urgency",
        "runtime",
        "status",
        "returncode",
        "dependencies",
    )

    def __init__(self, info_resp: Mapping[str, Any], now: Callable[[], float] | None = None):
        if not isinstance(info_resp, Mapping):
            raise JobInfoError("job info must be a mapping")
        if "id" not in info_resp:
            raise JobInfoError("job info: id: missing")
        d = {**self.defaults, **info_resp}
        try:
            d["id"] = JobID(d["id"])
        except ValueError as exc:
            raise JobInfoError(f"job info: id: {exc}") from None
        self._now = now or time.time
        self.state_id = d.pop("state", 0)
        self.result_id = d.pop("result", "")
        if not isinstance(self.state_id, int) or isinstance(self.state_id, bool):
            raise JobInfoError(f"job info: state: must be an integer, not {self.state_id!r}")
        self.exception = ExceptionInfo(
            d.get("exception_occurred", ""),
            d.get("exception_severity", ""),
            d.get("exception_type", ""),
            d.get("exception_note", ""),
        )
        self.annotations = AnnotationsInfo(d.pop("annotations", None))
        self.dependencies = DependencyList(d.pop("dependencies", []))
        self.instance = EmptyObject()
        self._data = d

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("_"):
            raise AttributeError(attr)
        try:
            return self._data[attr]
        except KeyError:
            raise AttributeError(f"invalid JobInfo attribute '{attr}'") from None

    # -- simple derived fields -------------------------------------------------
    @property
    def sched(self) -> Any:
        return self.annotations.sched

    @property
    def user(self) -> Any:
        return self.annotations.user

    @property
    def uri(self) -> str | None:
        uri = self.annotations.user.uri
        return str(uri) if str(uri) else None

    @property
    def state(self) -> str:
        return statetostr(self.state_id)

    @property
    def state_single(self) -> str:
        return statetostr(self.state_id, "S")

    @property
    def state_emoji(self) -> str:
        return _STATE_EMOJI.get(self.state_single, "")

    @property
    def result(self) -> str:
        return "" if self.result_id == "" else resulttostr(self.result_id)

    @property
    def result_abbrev(self) -> str:
        return "" if self.result_id == "" else resulttostr(self.result_id, "S")

    @property
    def result_emoji(self) -> str:
        return _RESULT_EMOJI.get(self.result_abbrev, "\u3000")

    def _active(self) -> bool:
        return bool(self.state_id & (JobState.PENDING | JobState.RUNNING))

    @property
    def status(self) -> str:
        return self.state if self._active() else self.result

    @property
    def status_abbrev(self) -> str:
        return self.state_single if self._active() else self.result_abbrev

    @property
    def status_emoji(self) -> str:
        return self.state_emoji if self._active() else self.result_emoji

    @property
    def username(self) -> str:
        return self._data.get("username") or _username(self._data.get("userid"))

    @property
    def runtime(self) -> float:
        t_run, t_cleanup = self._data["t_run"] or 0.0, self._data["t_cleanup"] or 0.0
        if t_cleanup > 0 and t_run > 0:
            return t_cleanup - t_run
        if t_run > 0:
            return self._now() - t_run
        return 0.0

    @property
    def t_remaining(self) -> float:
        if self.status != "RUN":
            return 0.0
        try:
            return max(0.0, float(self._data["expiration"]) - self._now())
        except (TypeError, ValueError):
            return 0.0

    @property
    def returncode(self) -> int | str:
        """Exit code, ``-signal``, -128 if canceled before running, 1 for a
        failure without wait status, ``""`` while active."""
        status = self._data["waitstatus"]
        if not isinstance(status, int) or isinstance(status, bool):
            if self.result_id == JobResult.CANCELED:
                return -128
            if self.result_id == JobResult.FAILED:
                return 1
            return ""
        if os.WIFSIGNALED(status):
            return -os.WTERMSIG(status)
        if os.WIFEXITED(status):
            return os.WEXITSTATUS(status)
        return ""

    @property
    def contextual_info(self) -> str:
        """PRIORITY: ``priority-wait``; DEPEND: ``depends:...``; SCHED:
        ``eta:...``, ``held`` or ``priority-hold``; later: the nodelist."""
        state = self.state
        if state == "PRIORITY":
            return "priority-wait"
        if state == "DEPEND":
            return f"depends:{self.dependencies}"
        if state == "SCHED":
            estimate = self.sched.t_estimate
            if isinstance(estimate, (int, float)) and not isinstance(estimate, bool):
                eta = estimate - self._now()
                return f"eta:{'now' if eta < 0 else fsd(eta)}"
            if self._data.get("urgency") == 0:
                return "held"
            if self._data.get("priority") == 0:
                return "priority-hold"
            return ""
        return str(self._data["nodelist"])

    @property
    def contextual_time(self) -> float:
        """Duration while pending, runtime afterwards."""
        if self.state in ("PRIORITY", "DEPEND", "SCHED"):
            return self._data["duration"]
        return self.runtime

    @property
    def inactive_reason(self) -> str:
        """Why an inactive job ended (``Exit 1``, ``Timeout``, ``Canceled: ...``,
        a signal description...)."""
        if self.state != "INACTIVE":
            return ""
        result, exc = self.result, self.exception
        if result == "CANCELED":
            if exc.occurred and exc.type == "cancel" and exc.note:
                return f"Canceled: {exc.note}"
            return "Canceled"
        if result == "FAILED":
            if exc.occurred and exc.type != "exec" and exc.severity == 0:
                note = f" note={exc.note}" if exc.note else ""
                return f"Exception: type={exc.type}{note}"
            code = self.returncode
            if isinstance(code, int) and code > 128:
                try:
                    return signal.strsignal(code - 128) or f"Signaled {code - 128}"
                except ValueError:
                    return f"Signaled {code - 128}"
            if code == 126:
                return "Command invoked cannot execute"
            if code == 127:
                return "command not found"
            if code == 128:
                return "Invalid argument to exit"
            return f"Exit {code}"
        if result == "TIMEOUT":
            return "Timeout"
        return f"Exit {self.returncode}"

    def to_dict(self, filtered: bool = True) -> dict[str, Any]:
        """The attributes as a dict (``flux jobs --json``); by default empty
        values, unset timestamps and zero runtimes are left out."""
        out: dict[str, Any] = {}
        for attr in dict.fromkeys((*self.defaults, *self.properties)):
            val = getattr(self, attr)
            out[attr] = int(val) if attr == "id" else (list(val) if attr == "dependencies" else val)
        out["annotations"] = dict(self.annotations.annotationsDict)
        out["exception"] = dict(vars(self.exception))
        if self.uri is not None:
            out["uri"] = self.uri
        if not filtered:
            return out
        for key in list(out):
            val = out[key]
            if val == "" or (
                (key.startswith("t_") or key in ("runtime", "expiration")) and val == 0
            ):
                del out[key]
            elif key == "exception" and not val["occurred"]:
                out["exception"] = {"occurred": False}
        return out

    def _repr_html_(self) -> str:  # notebook display, rendered by fluxlab.jupyter.display
        return __import__("fluxlab.jupyter.display", fromlist=["_"]).repr_html(self)

    def _repr_pretty_(self, p, cycle: bool) -> None:  # IPython text form (fluxlab.jupyter.display)
        __import__("fluxlab.jupyter.display", fromlist=["_"]).repr_pretty(self, p, cycle)
