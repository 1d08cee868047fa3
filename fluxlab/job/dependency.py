"""Job dependency URIs (RFC 26) parsed into jobspec entries.

On the command line a dependency is ``scheme:value[?key=val&...]``, e.g.
``afterok:ƒ2zGkDm`` or ``begin-time:1700000000.0``.  In the jobspec it becomes
an entry of ``attributes.system.dependencies``::

    {"scheme": "afterok", "value": "ƒ2zGkDm"}

with any query keys added (numbers converted, repeated keys collected into a
list).  The value is always kept as the string the user gave.

Known schemes and the value each requires:

``afterstart`` (``after`` is its deprecated alias), ``afterany``, ``afterok``,
``afternotok``, ``afterexcept``
    a job id in any RFC 19 encoding;
``begin-time``
    a Unix timestamp (seconds, a non-negative finite number);
``singleton``
    no value.

Evaluating dependencies is the job manager's business; this module only
parses and validates.  Errors raise :class:`DependencyError` naming the URI.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping

from fluxlab.job.jobid import JobIDError, id_parse

TYPE_CHECKING = False  # typing itself costs ~4 ms of every CLI start
if TYPE_CHECKING:  # annotations only (they are never evaluated)
    from typing import Any

__all__ = [
    "AFTER_SCHEMES",
    "SCHEMES",
    "DependencyError",
    "dependency_array_create",
    "parse_dependency",
    "query_value",
    "validate_dependency",
]

AFTER_SCHEMES = ("afterstart", "after", "afterany", "afterok", "afternotok", "afterexcept")
SCHEMES = (*AFTER_SCHEMES, "singleton", "begin-time")

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*")
_TIMESTAMP = re.compile(r"[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?|[0-9]+\.")


class DependencyError(ValueError):
    """A malformed dependency URI or entry, or an unknown scheme."""


def query_value(text: str) -> int | float | str:
    """A URI query value as int or float when it is one, else the string."""
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            continue
    return text


def _check_value(scheme: str, value: str, where: str) -> None:
    if scheme in AFTER_SCHEMES:
        if not value:
            raise DependencyError(f"{where}: scheme '{scheme}' needs a job id")
        try:
            id_parse(value)
        except JobIDError as exc:
            raise DependencyError(f"{where}: {exc}") from None
    elif scheme == "begin-time":
        if not _TIMESTAMP.fullmatch(value) or not math.isfinite(float(value)):
            raise DependencyError(
                f"{where}: begin-time needs a Unix timestamp (seconds >= 0), not {value!r}"
            )
    elif scheme == "singleton":
        if value:
            raise DependencyError(f"{where}: singleton takes no value (got {value!r})")
    else:
        raise DependencyError(
            f"{where}: unknown dependency scheme {scheme!r} (known: {', '.join(SCHEMES)})"
        )


def parse_dependency(uri: str) -> dict[str, Any]:
    """Parse one ``scheme:value[?query]`` string into an RFC 26 entry."""
    if not isinstance(uri, str):
        raise DependencyError(f"dependency must be a string, not {type(uri).__name__}")
    where = f"dependency {uri!r}"
    text = uri.strip()
    scheme, sep, rest = text.partition(":")
    if not sep and scheme != "singleton":
        raise DependencyError(f"{where}: expected scheme:value")
    if not _SCHEME.fullmatch(scheme):
        raise DependencyError(f"{where}: invalid scheme {scheme!r}")
    value, qsep, query = rest.partition("?")
    _check_value(scheme, value, where)
    entry: dict[str, Any] = {"scheme": scheme, "value": value}
    if qsep:
        if not query:
            raise DependencyError(f"{where}: empty query after '?'")
        try:
            from urllib.parse import parse_qs  # lazily: keeps the CLI's start-up short

            fields = parse_qs(query, keep_blank_values=True, strict_parsing=True)
        except ValueError as exc:
            raise DependencyError(f"{where}: malformed query: {exc}") from None
        for key, vals in fields.items():
            if key in ("scheme", "value"):
                raise DependencyError(f"{where}: query may not set {key!r}")
            conv = [query_value(v) for v in vals]
            entry[key] = conv[0] if len(conv) == 1 else conv
    return entry


def dependency_array_create(uris: Iterable[str]) -> list[dict[str, Any]]:
    """Parse several URIs (``--dependency`` given more than once)."""
    if isinstance(uris, str):
        uris = [uris]
    return [parse_dependency(u) for u in uris]


def validate_dependency(entry: Mapping[str, Any], where: str = "dependency") -> None:
    """Check a jobspec dependency entry: ``scheme`` and ``value`` strings, a
    known scheme, and a value of the right form."""
    if not isinstance(entry, Mapping):
        raise DependencyError(f"{where}: must be a mapping")
    for key in ("scheme", "value"):
        if key not in entry:
            raise DependencyError(f"{where}.{key}: missing")
        if not isinstance(entry[key], str):
            raise DependencyError(f"{where}.{key}: must be a string")
    _check_value(entry["scheme"], entry["value"], where)
