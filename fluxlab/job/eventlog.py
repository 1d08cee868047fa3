"""Eventlogs (RFC 18): JSON Lines of ``{"timestamp", "name", "context"}``.

An eventlog is append-only text.  Each entry is one JSON object on one line,
terminated by ``\\n``:

* ``timestamp`` (required): seconds since the Unix epoch, a finite number >= 0;
* ``name`` (required): a non-empty string with no whitespace;
* ``context`` (optional): an object of event-specific keys.

No other keys are allowed.  :func:`decode_event` and :func:`parse_eventlog`
enforce these rules and raise :class:`EventlogError` naming the line and the
field at fault; :func:`encode_event` writes the canonical compact line.

:class:`EventLogEvent` mirrors ``flux.job.EventLogEvent``: a ``dict``
subclass with ``.name``, ``.timestamp`` and ``.context`` properties.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping

from fluxlab._json import encoder as _json_encoder

TYPE_CHECKING = False  # typing itself costs ~4 ms of every CLI start
if TYPE_CHECKING:  # annotations only (they are never evaluated)
    from typing import Any

__all__ = [
    "EventLogEvent",
    "EventlogError",
    "decode_event",
    "encode_event",
    "event_line",
    "format_eventlog",
    "parse_eventlog",
]

_BAD_NAME = re.compile(r"[\s\x00-\x1f]")
_encode = _json_encoder(allow_nan=False)


_quote = json.encoder.encode_basestring
_dumps = _json_encoder()


def event_line(ts: float, name: str, context: Mapping[str, Any] | None) -> str:
    """The JSON text of the event ``{"timestamp", "name"[, "context"]}``, no
    newline, for parts that are already valid (a service's own events).

    Equal to ``json.dumps(..., separators=(",", ":"), ensure_ascii=False)``
    of that dict, faster: only the context goes through the encoder.  An
    empty or missing context is left out, as Flux does."""
    head = '{"timestamp":' + (repr(ts) if type(ts) is float else _dumps(ts))
    head += ',"name":' + _quote(name)
    return head + ("}" if not context else ',"context":' + _dumps(context) + "}")


class EventlogError(ValueError):
    """An eventlog entry or eventlog that does not follow RFC 18."""


_NO_CONTEXT: dict = {}


_KEYS = frozenset(("timestamp", "name", "context"))
_INF = math.inf
#: names already checked against _BAD_NAME (bounded: eventlogs may hold any name)
_GOOD_NAMES: set[str] = set()


def _plain(ts: Any, name: Any) -> bool:
    """A float time in range and a name already checked: the fast paths' test."""
    return type(ts) is float and 0.0 <= ts < _INF and type(name) is str and name in _GOOD_NAMES


def _validate(obj: Any, where: str) -> None:
    if type(obj) is dict and _plain(obj.get("timestamp"), obj.get("name")):
        n = len(obj)  # fast path: the common, well-formed entry
        if n == 2 or (n == 3 and type(obj.get("context")) is dict):
            return
    if type(obj) is not dict and not isinstance(obj, Mapping):
        raise EventlogError(f"{where}: entry must be a JSON object, not {type(obj).__name__}")
    if not obj.keys() <= _KEYS:
        extra = set(obj) - _KEYS
        raise EventlogError(f"{where}: unknown key(s) {', '.join(sorted(map(str, extra)))}")
    if "timestamp" not in obj:
        raise EventlogError(f"{where}: timestamp: missing")
    ts = obj["timestamp"]
    if isinstance(ts, bool) or not isinstance(ts, (int, float)):
        raise EventlogError(f"{where}: timestamp: must be a number")
    if not math.isfinite(ts) or ts < 0:
        raise EventlogError(f"{where}: timestamp: must be finite and >= 0")
    if "name" not in obj:
        raise EventlogError(f"{where}: name: missing")
    name = obj["name"]
    if not isinstance(name, str) or not name:
        raise EventlogError(f"{where}: name: must be a non-empty string")
    if name not in _GOOD_NAMES:
        if _BAD_NAME.search(name):
            raise EventlogError(f"{where}: name: {name!r} must not contain whitespace")
        if len(_GOOD_NAMES) < 1024:
            _GOOD_NAMES.add(name)
    ctx = obj.get("context", _NO_CONTEXT)
    if type(ctx) is not dict and not isinstance(ctx, Mapping):
        raise EventlogError(f"{where}: context: must be a JSON object")


class EventLogEvent(dict):
    """One eventlog entry.

    Parameters
    ----------
    event : dict or str
        A decoded entry, or one JSON line.  The entry is validated; the
        context defaults to ``{}``.
    """

    def __init__(self, event: Mapping[str, Any] | str):
        if isinstance(event, str):
            event = _loads(event, "event")
        _validate(event, "event")
        super().__init__(event)
        if "context" not in self:
            self["context"] = {}

    @classmethod
    def make(cls, timestamp: float, name: str, context: dict | None = None) -> EventLogEvent:
        """An event from its parts, validated as by the constructor.

        The common case (a float time, a name already seen, a dict or no
        context) builds the entry directly, without an intermediate dict to
        check and copy: the job-manager posts every event through here.
        """
        if _plain(timestamp, name) and (context is None or type(context) is dict):
            ev = dict.__new__(cls)
            ev["timestamp"] = timestamp
            ev["name"] = name
            ev["context"] = {} if context is None else context
            return ev
        raw: dict = {"timestamp": timestamp, "name": name}
        if context is not None:
            raw["context"] = context
        return cls(raw)

    @property
    def name(self) -> str:
        return self["name"]

    @property
    def timestamp(self) -> float:
        return self["timestamp"]

    @property
    def context(self) -> dict:
        return self["context"]

    def __str__(self) -> str:
        return f"{self.timestamp:<0.5f}: {self.name} {self.context}"


def _loads(line: str, where: str) -> Any:
    try:
        return json.loads(line)
    except ValueError as exc:
        raise EventlogError(f"{where}: invalid JSON: {exc}") from None


def decode_event(line: str) -> EventLogEvent:
    """Decode one eventlog line (with or without its trailing newline)."""
    if not isinstance(line, str):
        raise EventlogError(f"event must be a string, not {type(line).__name__}")
    text = line[:-1] if line.endswith("\n") else line
    if "\n" in text:
        raise EventlogError("event: an entry must fit on one line")
    return EventLogEvent(_loads(text, "event"))


def encode_event(
    name_or_event: str | Mapping[str, Any],
    timestamp: float | None = None,
    context: Mapping[str, Any] | None = None,
) -> str:
    """Encode one entry as a compact JSON line ending in ``\\n``.

    Call as ``encode_event(event_dict)`` or ``encode_event(name, timestamp,
    context)``.  An empty context is omitted, as Flux does.
    """
    if isinstance(name_or_event, Mapping):
        event = dict(name_or_event)
    else:
        event = {"timestamp": timestamp, "name": name_or_event}
        if context is not None:
            event["context"] = context
    _validate(event, "event")
    out = {"timestamp": event["timestamp"], "name": event["name"]}
    if event.get("context"):
        out["context"] = event["context"]
    try:
        return _encode(out) + "\n"
    except (TypeError, ValueError) as exc:
        raise EventlogError(f"event {event['name']!r}: context is not JSON: {exc}") from None


def parse_eventlog(text: str) -> list[EventLogEvent]:
    """Parse a whole eventlog.

    The empty string is an empty eventlog.  Every entry, including the last,
    must end with a newline; blank lines are errors.
    """
    if not isinstance(text, str):
        raise EventlogError(f"eventlog must be a string, not {type(text).__name__}")
    if text == "":
        return []
    if not text.endswith("\n"):
        raise EventlogError("eventlog: last entry is not terminated by a newline")
    events = []
    for lineno, line in enumerate(text[:-1].split("\n"), start=1):
        if not line.strip():
            raise EventlogError(f"eventlog line {lineno}: empty line")
        obj = _loads(line, f"eventlog line {lineno}")
        _validate(obj, f"eventlog line {lineno}")
        events.append(EventLogEvent(obj))
    return events


def format_eventlog(events: Iterable[Mapping[str, Any]]) -> str:
    """Encode ``events`` as eventlog text (one line each)."""
    return "".join(encode_event(e) for e in events)
