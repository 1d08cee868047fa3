"""Job urgency and priority constants (RFC 30) and urgency parsing.

Urgency is the user's say in ordering: an integer 0..31, default 16.  Guests
may set 0..16; the instance owner 0..31.  Two values are special: 0 (*hold*)
means the job is never scheduled, 31 (*expedite*) gives it the maximum
priority.  Priority is what the priority plugin computes from urgency (the
default plugin makes it equal to urgency, mapping hold to 0 and expedite to
:data:`PRIORITY_MAX`).
"""

from __future__ import annotations

__all__ = [
    "PRIORITY_MAX",
    "PRIORITY_MIN",
    "URGENCY_DEFAULT",
    "URGENCY_EXPEDITE",
    "URGENCY_GUEST_MAX",
    "URGENCY_HOLD",
    "URGENCY_MAX",
    "URGENCY_MIN",
    "UrgencyError",
    "default_priority",
    "parse_urgency",
]

URGENCY_MIN = 0
URGENCY_HOLD = 0
URGENCY_DEFAULT = 16
URGENCY_GUEST_MAX = 16
URGENCY_EXPEDITE = 31
URGENCY_MAX = 31
PRIORITY_MIN = 0
PRIORITY_MAX = 4294967295

_NAMES = {"hold": URGENCY_HOLD, "default": URGENCY_DEFAULT, "expedite": URGENCY_EXPEDITE}


class UrgencyError(ValueError):
    """An urgency value that is not 0..31 or one of hold/default/expedite."""


def parse_urgency(value: str | int, guest: bool = False) -> int:
    """Return the urgency for ``value``: an integer, a decimal string, or one
    of ``hold``, ``default``, ``expedite`` (case-insensitive).

    With ``guest=True`` values above :data:`URGENCY_GUEST_MAX` are refused,
    as the job manager refuses them from users other than the owner.
    """
    if isinstance(value, bool):
        raise UrgencyError("urgency must be an integer 0..31 or hold/default/expedite")
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _NAMES:
            urgency = _NAMES[text]
        elif text.isascii() and text.isdigit():
            urgency = int(text)
        else:
            raise UrgencyError(
                f"invalid urgency {value!r}: expected an integer 0..31 or hold, default, expedite"
            )
    elif isinstance(value, int):
        urgency = value
    else:
        raise UrgencyError(f"urgency must be an integer or string, not {type(value).__name__}")
    if not URGENCY_MIN <= urgency <= URGENCY_MAX:
        raise UrgencyError(f"invalid urgency {value!r}: must be in {URGENCY_MIN}..{URGENCY_MAX}")
    if guest and urgency > URGENCY_GUEST_MAX:
        raise UrgencyError(
            f"invalid urgency {value!r}: guests may only set {URGENCY_MIN}..{URGENCY_GUEST_MAX}"
        )
    return urgency


def default_priority(urgency: int) -> int:
    """Priority assigned by Flux's default plugin: hold -> 0, expedite -> max,
    otherwise the urgency itself."""
    urgency = parse_urgency(urgency)
    if urgency == URGENCY_HOLD:
        return PRIORITY_MIN
    if urgency == URGENCY_EXPEDITE:
        return PRIORITY_MAX
    return urgency
