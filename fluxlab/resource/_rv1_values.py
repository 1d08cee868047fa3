"""Field values of R version 1 (RFC 20), checked one at a time (internal).

The validators :mod:`fluxlab.resource.rv1` parses R with: idsets and
hostlists refused *before* they expand past :data:`MAX_IDS`, times, property
names, and the builder's core/GPU arguments.  Each raises :class:`RvError`
naming the field (``where``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

from fluxlab.resource.idset import IDset, IdsetError, decode_ranges

#: Largest number of ids one R may expand to (ranks, or cores of one entry).
MAX_IDS = 1_000_000
_BAD_PROPERTY_CHARS = set("!&'\"^`|()")


class RvError(ValueError):
    """An R object that does not follow RFC 20, or a bad operation on one."""


def _ids(text: Any, where: str) -> frozenset[int]:
    if not isinstance(text, str):
        raise RvError(f"{where}: must be an idset string")
    try:
        ranges = decode_ranges(text)
    except IdsetError as exc:
        raise RvError(f"{where}: {exc}") from None
    if sum(hi - lo + 1 for lo, hi in ranges) > MAX_IDS:
        raise RvError(f"{where}: more than {MAX_IDS} ids")
    return frozenset(i for lo, hi in ranges for i in range(lo, hi + 1))


def hostlist_within_limit(text: str) -> bool:
    """Cheap upper bound on the hosts a hostlist expands to (before expanding)."""
    total = 0
    for body in re.findall(r"\[([^\]]*)\]", text):
        for part in body.split(","):
            lo, _, hi = part.strip().partition("-")
            if lo.isdigit() and hi.isdigit():
                total += max(0, int(hi) - int(lo)) + 1
            else:
                total += 1
    return total + text.count(",") + 1 <= MAX_IDS


def safe_idset(value: Any, where: str = "idset") -> IDset:
    """An :class:`IDset` from a string or iterable, refusing more than
    :data:`MAX_IDS` ids *before* expanding them (RvError)."""
    if isinstance(value, str):
        return IDset(sorted(_ids(value, where)))
    try:
        ids = list(value)
    except TypeError:
        raise RvError(f"{where}: must be an idset string or iterable of ids") from None
    if len(ids) > MAX_IDS:
        raise RvError(f"{where}: more than {MAX_IDS} ids")
    try:
        return IDset(ids)
    except IdsetError as exc:
        raise RvError(f"{where}: {exc}") from None


def _idstr(ids: Iterable[int]) -> str:
    return IDset(sorted(ids)).encode()


def _time(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise RvError(f"{where}: must be a number")
    if value < 0:
        raise RvError(f"{where}: must be >= 0")
    return float(value)


def _check_property(name: Any, where: str) -> None:
    if not isinstance(name, str) or not name:
        raise RvError(f"{where}: property names must be non-empty strings")
    if _BAD_PROPERTY_CHARS & set(name) or "@" in name:
        raise RvError(f"{where}: invalid character in property name {name!r}")


def _cpu_ids(value: Any, where: str) -> frozenset[int]:
    """Cores/GPUs for the builder: a count, an idset string or an iterable."""
    if isinstance(value, bool):
        raise RvError(f"{where}: must be a count, idset or list of ids")
    if isinstance(value, int):
        if not 0 <= value <= MAX_IDS:
            raise RvError(f"{where}: count must be 0..{MAX_IDS}")
        return frozenset(range(value))
    if isinstance(value, str):
        return _ids(value, where)
    try:
        ids = frozenset(value)
    except TypeError:
        raise RvError(f"{where}: must be a count, idset or list of ids") from None
    if not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in ids):
        raise RvError(f"{where}: ids must be non-negative integers")
    return ids
