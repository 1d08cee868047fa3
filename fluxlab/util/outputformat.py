"""The output format language of ``flux jobs -o`` and ``flux resource -o``.

A format is a Python format string whose fields name attributes of the items
being listed (``{id.f58:>12} {name:<10.10+} {runtime!F}``).  On top of
``str.format`` it supports:

* conversions ``!d`` (timestamp to datetime; the strftime format and a
  width may follow, separated by ``::``: ``{t_run!d:%H:%M::>8}``), ``!D``
  (ISO 8601 date-time), ``!F`` (Flux Standard Duration), ``!H``
  (``H:MM:SS``), ``!P`` (fraction as a percentage);
* spec suffixes ``h`` (print ``-`` for an empty/zero value) and ``+``
  (mark truncation with a final ``+``; it goes after ``h``);
* field prefixes ``?:`` (drop the column when it is empty for every item)
  and ``+:`` (widen the column so no item is truncated; ``?+:`` does both).

Every field must have a heading; the header row is the format applied to the
headings with only fill, alignment and width kept.  The formatter is pure:
:meth:`OutputFormat.render` returns lines, :meth:`OutputFormat.print_items`
writes them.  This mirrors flux-core's ``flux.util.OutputFormat``.
"""

from __future__ import annotations

import datetime
import re
import string
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import IO, Any

from fluxlab.util.duration import fsd, hms

__all__ = ["Deduplicator", "FormatError", "OutputFormat", "UtilDatetime", "empty_outputs"]

_SPEC = re.compile(
    r"(?P<align>(?:.?[<>=^])?)(?P<sign>[-+ ]?)(?P<alt>#?)(?P<zero>0?)(?P<width>\d*)"
    r"(?P<group>[,_]?)(?:\.(?P<prec>\d+))?(?P<type>.*)",
    re.S,
)


class FormatError(ValueError):
    """A malformed format string, an unknown field, or a value that cannot be
    formatted with its spec."""


def empty_outputs() -> tuple[str, ...]:
    """Formatted values that count as empty for ``?:`` and the ``h`` suffix."""
    local_epoch = datetime.datetime.fromtimestamp(0.0).strftime("%Y-%m-%dT%H:%M:%S")
    return ("", "0", "0s", "0.0", "0:00:00", "1970-01-01T00:00:00", local_epoch)


class UtilDatetime(datetime.datetime):
    """A datetime whose format spec is ``STRFTIME[::PYSPEC]``; the epoch
    (an unset timestamp) formats as an empty string."""

    def __format__(self, fmt: str) -> str:
        timefmt, _, spec = fmt.partition("::")
        if self.timestamp() == 0.0:
            result = ""
        else:
            result = self.strftime(timefmt or "%Y-%m-%dT%H:%M:%S")
        if spec.endswith("h"):
            result = result or "-"
            spec = spec[:-1] + "s"
        return format(result, spec) if spec else result


class _Formatter(string.Formatter):
    def convert_field(self, value: Any, conversion: str | None) -> Any:
        if conversion is None:
            return value
        if conversion in ("d", "D", "F", "H", "P") and value == "":
            return "" if conversion != "d" else UtilDatetime.fromtimestamp(0.0)
        try:
            if conversion == "d":
                return UtilDatetime.fromtimestamp(value)
            if conversion == "D":
                if not value:
                    return ""
                return datetime.datetime.fromtimestamp(value).strftime("%Y-%m-%dT%H:%M:%S")
            if conversion == "F":
                return fsd(value)
            if conversion == "H":
                return hms(value)
            if conversion == "P":
                pct = value * 100
                return f"{pct:.2f}%" if 0 < pct < 1 else f"{pct:.3g}%"
        except (TypeError, ValueError, OverflowError, OSError) as exc:
            raise FormatError(f"cannot convert {value!r} with !{conversion}: {exc}") from None
        return super().convert_field(value, conversion)

    def format_field(self, value: Any, spec: str) -> str:
        mark_truncation = spec.endswith("+")
        if mark_truncation:
            spec = spec[:-1]
        if spec.endswith("h") and not isinstance(value, UtilDatetime):
            value = "-" if str(value) in empty_outputs() else str(value)
            spec = spec[:-1] + "s"
        if not isinstance(value, (str, int, float, datetime.datetime)) and (
            type(value).__format__ is object.__format__
        ):
            value = str(value)
        try:
            result = format(value, spec)
        except (TypeError, ValueError) as exc:
            raise FormatError(f"cannot format {value!r} with spec {spec!r}: {exc}") from None
        if mark_truncation and len(result) < len(str(value)):
            result = result[:-1] + "+"
        return result


class _HeaderFormatter(_Formatter):
    def get_field(self, field_name: str, args: Any, kwargs: Mapping) -> Any:
        if field_name in kwargs:
            return kwargs[field_name], None
        return super().get_field(field_name, args, kwargs)


def _parse(fmt: str) -> list[list[str]]:
    if not isinstance(fmt, str):
        raise FormatError(f"format must be a string, not {type(fmt).__name__}")
    try:
        return [[s or "" for s in t] for t in string.Formatter().parse(fmt)]
    except ValueError as exc:
        raise FormatError(f"invalid format {fmt!r}: {exc}") from None


def _tuple(text: str, field: str, spec: str, conv: str) -> str:
    if not field:
        return text.replace("{", "{{").replace("}", "}}")
    spec = ":" + spec if spec else ""
    conv = "!" + conv if conv else ""
    return f"{text.replace('{', '{{').replace('}', '}}')}{{{field}{conv}{spec}}}"


class OutputFormat:
    """A parsed output format (``flux.util.OutputFormat``).

    Parameters
    ----------
    fmt : str
        The format string.
    headings : mapping of field name to column heading
        Every field used must appear here (else :class:`FormatError`).
    prepend : str
        Prefix added to field names so they address the item (``"0."``).
    """

    headings: Mapping[str, str] = {}

    def __init__(self, fmt: str, headings: Mapping[str, str] | None = None, prepend: str = "0."):
        if headings is not None:
            self.headings = headings
        self.prepend = prepend
        self.fmt_orig = fmt
        self.format_list = _parse(fmt)
        self._fields = [field for _, field, _, _ in self.format_list]
        for field in self._fields:
            name = field[2:] if field.startswith("0.") else field
            if name and name not in self.headings:
                raise FormatError(f"Unknown format field: {name}")
        self.fmt = self._joined(self.format_list, prepend)

    @property
    def fields(self) -> list[str]:
        return self._fields

    @staticmethod
    def _joined(format_list: Iterable[list[str]], prepend: str, skip: Iterable[str] = ()) -> str:
        out = []
        skip = set(skip)
        for text, field, spec, conv in format_list:
            if field in skip:
                out.append(_tuple(text, "", "", ""))
                continue
            if field and prepend and not field.startswith(prepend):
                field = prepend + field
            out.append(_tuple(text, field, spec, conv))
        return "".join(out)

    def get_format(self, orig: bool = False) -> str:
        return self.fmt_orig if orig else self.fmt

    def copy(self, except_fields: Iterable[str] | None = None) -> OutputFormat:
        """A copy, optionally without some fields (their text is kept)."""
        fmt = self._joined(self.format_list, "", except_fields or ())
        return type(self)(fmt, headings=self.headings, prepend=self.prepend)

    def header_format(self) -> str:
        parts = []
        for text, field, spec, _ in self.format_list:
            spec = re.sub(r"(0?\.)?(\d+)?[bcdoxXeEfFgGn%]$", r"\2", spec)
            m = re.search(r"([<>=^])?(\d+)", spec)
            parts.append(_tuple(text, field, m[0] if m else "", ""))
        return "".join(parts)

    def header(self) -> str:
        """The heading row."""
        try:
            return _HeaderFormatter().format(self.header_format(), **self.headings)
        except (KeyError, IndexError, AttributeError) as exc:
            raise FormatError(f"cannot format header: {exc}") from None

    def format(self, obj: Any) -> str:
        """Format one item."""
        try:
            return _Formatter().format(self.fmt, obj)
        except (KeyError, AttributeError, IndexError) as exc:
            raise FormatError(f"Invalid format field {exc} for {type(obj).__name__}") from None

    def filter_empty(self, items: Iterable[Any]) -> str:
        """The original format without ``?:`` fields that are empty for all
        ``items`` (and with the ``?:`` markers removed)."""
        items = list(items)
        empty = empty_outputs()
        drop = set()
        for index, (text, field, _, conv) in enumerate(self.format_list):
            if not text.endswith(("?:", "?+:", "+?:")):
                continue
            probe = _tuple("", "0." + field, "", conv)
            if all(_Formatter().format(probe, item) in empty for item in items):
                drop.add(index)
        kept = [list(e) for i, e in enumerate(self.format_list) if i not in drop]
        for entry in kept:
            for marker in ("?+:", "+?:", "?:"):
                if entry[0].endswith(marker):
                    entry[0] = entry[0][: -len(marker)] + ("+:" if "+" in marker else "")
                    break
        return self._joined(kept, "")

    def expand(self, fmt: str, items: Iterable[Any]) -> str:
        """Widen ``+:`` fields of ``fmt`` to fit every item and the heading."""
        items = list(items)
        format_list = _parse(fmt)
        for entry in format_list:
            text, field, spec, conv = entry
            if not text.endswith("+:"):
                continue
            entry[0] = text[:-2]
            m = _SPEC.fullmatch(spec)
            if not field or not m or conv == "d":
                continue
            probe = _tuple("", "0." + field, "", conv)
            width = max(
                [len(str(self.headings.get(field, "")))]
                + [len(_Formatter().format(probe, it)) for it in items]
            )
            old_w = int(m["width"] or 0)
            new = (
                m["align"] + m["sign"] + m["alt"] + m["zero"] + str(max(old_w, width)) + m["group"]
            )
            if m["prec"] is not None:
                new += "." + str(max(int(m["prec"]), width))
            entry[2] = new + m["type"]
        return self._joined(format_list, "")

    def render(self, items: Iterable[Any], no_header: bool = False) -> list[str]:
        """Lines for ``items``: the header (unless ``no_header``) then one
        line per item; items that format to an empty line are skipped."""
        items = list(items)
        fmt = self.expand(self.filter_empty(items), items)
        formatter = type(self)(fmt, headings=self.headings, prepend=self.prepend)
        lines = [] if no_header else [formatter.header()]
        for item in items:
            line = formatter.format(item)
            if line:
                lines.append(line)
        return lines

    def print_items(
        self, items: Iterable[Any], no_header: bool = False, file: IO[str] | None = None
    ) -> None:
        """Write :meth:`render` output to ``file`` (stdout by default)."""
        out = sys.stdout if file is None else file
        for line in self.render(items, no_header=no_header):
            print(line, file=out)


class Deduplicator:
    """Merge items whose formatted lines are identical apart from
    ``except_fields`` (e.g. node counts and node lists), in first-seen order.

    ``combine(existing, new)`` folds a duplicate into the first item.
    """

    def __init__(
        self,
        formatter: OutputFormat,
        except_fields: Iterable[str] | None = None,
        combine: Callable[[Any, Any], None] | None = None,
    ):
        self.formatter = formatter.copy(except_fields=except_fields)
        self.combine = combine
        self._index: dict[str, Any] = {}
        self.items: list[Any] = []

    def append(self, item: Any) -> None:
        key = self.formatter.format(item)
        if key in self._index:
            if self.combine is not None:
                self.combine(self._index[key], item)
        else:
            self._index[key] = item
            self.items.append(item)

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)
