"""Durations for jobs: RFC 23 Flux Standard Duration plus job time limits.

Re-exports :func:`parse_fsd`, :func:`fsd` and :func:`hms` from
:mod:`fluxlab.util.duration` (shared with the output formatters) and adds the
conversions jobs need:

* :func:`duration_seconds` turns any accepted duration value (FSD string,
  number of seconds, ``timedelta``) into float seconds, as the
  ``Jobspec.duration`` setter does.
* :func:`parse_time_limit` implements the command-line ``-t/--time-limit``
  rule: a bare number means **minutes** (``-t 5`` is five minutes), anything
  with a unit is an FSD.
"""

from __future__ import annotations

import math
import re

from fluxlab.util.duration import DurationError, fsd, hms, parse_fsd

TYPE_CHECKING = False  # typing itself costs ~4 ms of every CLI start

if TYPE_CHECKING:
    import datetime

__all__ = [
    "DurationError",
    "duration_seconds",
    "fsd",
    "hms",
    "parse_fsd",
    "parse_time_limit",
]

_BARE_NUMBER = re.compile(r"[0-9]*\.?[0-9]+|[0-9]+\.")


def duration_seconds(value: str | float | int | datetime.timedelta) -> float:
    """Return ``value`` as finite, non-negative float seconds.

    Accepts an FSD string, a number of seconds or a ``timedelta``.  Zero means
    "unlimited" in a jobspec; infinity is refused because jobspec durations
    must be finite JSON numbers.
    """
    if isinstance(value, str):
        seconds = parse_fsd(value)
    elif callable(getattr(value, "total_seconds", None)):  # a timedelta, without importing it
        seconds = float(value.total_seconds())
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        raise DurationError(
            f"duration must be an FSD string, a number or a timedelta, not {type(value).__name__}"
        )
    if math.isnan(seconds) or math.isinf(seconds):
        raise DurationError(f"duration {value!r} must be a finite value")
    if seconds < 0:
        raise DurationError(f"duration {value!r} must not be negative")
    return seconds


def parse_time_limit(text: str) -> float:
    """Parse a ``-t/--time-limit`` argument: bare numbers are minutes."""
    if not isinstance(text, str):
        raise DurationError(f"time limit must be a string, not {type(text).__name__}")
    s = text.strip()
    if _BARE_NUMBER.fullmatch(s):
        return duration_seconds(float(s) * 60.0)
    return duration_seconds(s)
