"""Flux Standard Duration (RFC 23): parse and format time spans.

An FSD string is a non-negative number with an optional unit suffix:
``ms`` (milliseconds), ``s`` (seconds, the default), ``m`` (minutes),
``h`` (hours) or ``d`` (days), e.g. ``"90"``, ``"1.5m"``, ``"2h"``; or
``inf``/``infinity`` (any case) for an unlimited span.

:func:`fsd` formats seconds the way Flux prints them (``"1.5m"``); :func:`hms`
gives ``H:MM:SS`` as used by ``flux jobs {runtime!H}``.  Both are pure.
"""

from __future__ import annotations

import math
import re

__all__ = ["DurationError", "fsd", "hms", "parse_fsd"]

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_FSD = re.compile(r"([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?|[0-9]+\.)(ms|s|m|h|d)?")


class DurationError(ValueError):
    """A string that is not a valid Flux Standard Duration."""


def parse_fsd(text: str) -> float:
    """Return the number of seconds in FSD string ``text``.

    Raises
    ------
    DurationError
        For anything that is not a non-negative, finite FSD (``inf`` and
        ``infinity`` are the only way to ask for an infinite span).
    """
    if not isinstance(text, str):
        raise DurationError(f"duration must be a string, not {type(text).__name__}")
    s = text.strip()
    if s.lower() in ("inf", "infinity"):
        return math.inf
    m = _FSD.fullmatch(s)
    if not m:
        raise DurationError(
            f"invalid Flux standard duration {text!r}: expected a non-negative "
            "number with an optional unit ms, s, m, h or d"
        )
    seconds = float(m.group(1)) * _UNITS[m.group(2) or "s"]
    if math.isinf(seconds) or math.isnan(seconds):
        raise DurationError(f"invalid Flux standard duration {text!r}: value is too large")
    return seconds


def fsd(seconds: float) -> str:
    """Format ``seconds`` as a short FSD string, exactly like Flux.

    Below 1 ms gives ``"0s"``; below 10 s three decimals (``"1.500s"``);
    then 4 significant digits in the largest unit that keeps the number
    small: ``"42s"``, ``"1.5m"``, ``"2h"``, ``"1.25d"``.  Infinity is ``"inf"``.
    """
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise DurationError(f"duration must be a number, not {type(seconds).__name__}")
    if math.isnan(seconds):
        raise DurationError("duration must not be NaN")
    if math.isinf(seconds):
        return "inf"
    if seconds < 1.0e-3:
        return "0s"
    if seconds < 10.0:
        return f"{seconds:.3f}s"
    if seconds < 60.0:
        return f"{seconds:.4g}s"
    if seconds < 3600.0:
        return f"{seconds / 60.0:.4g}m"
    if seconds < 86400.0:
        return f"{seconds / 3600.0:.4g}h"
    return f"{seconds / 86400.0:.4g}d"


def hms(seconds: float) -> str:
    """Format ``seconds`` as ``H:MM:SS`` (``flux jobs {runtime!H}``).

    A span strictly between 0 and 1 s rounds up to ``0:00:01`` so that a
    job that ran is never shown as taking no time; more than a day prints
    like ``1 day, 2:03:04`` (Python's ``timedelta`` style, as Flux does).
    """
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise DurationError(f"duration must be a number, not {type(seconds).__name__}")
    if math.isnan(seconds) or math.isinf(seconds):
        raise DurationError("duration must be finite")
    if 0 < seconds < 1:
        seconds = 1
    import datetime

    return str(datetime.timedelta(seconds=round(seconds)))
