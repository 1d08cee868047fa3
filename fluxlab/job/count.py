"""Resource counts: integers, idsets and RFC 45 ranges.

A jobspec resource ``count`` is one of

* a positive integer, ``4``;
* an RFC 22 idset string of allowed values, ``"1,2,4"`` or ``"2-8"``;
* an RFC 45 range string ``MIN-MAX[:OPERAND[:OPERATOR]]`` or
  ``MIN+[:OPERAND[:OPERATOR]]``, e.g. ``"2+"`` or ``"2-32:2:*"``;
* the RFC 14 object ``{min, max, operator, operand}`` (only ``min`` required).

The operator steps from ``min`` towards ``max``: ``+`` adds the operand, ``*``
multiplies and ``^`` exponentiates (``*`` and ``^`` need an operand of at
least 2; ``^`` also needs ``min >= 2``).  :class:`Count` holds any of these
forms; :meth:`Count.encode` writes the compact text used by ``jjc``
(``"4"``, ``"1+"``, ``"2-32:2:*"``).
"""

from __future__ import annotations

from collections.abc import Mapping

from fluxlab.resource.idset import IdsetError, decode_ranges

TYPE_CHECKING = False  # typing itself costs ~4 ms of every CLI start
if TYPE_CHECKING:  # annotations only (they are never evaluated)
    from typing import Any

__all__ = ["COUNT_MAX", "Count", "CountError"]

COUNT_MAX = 2**32 - 1
_OPERATORS = ("+", "*", "^")


class CountError(ValueError):
    """A resource count that is not an integer, idset, range or range object."""


def _posint(text: str, what: str, orig: object) -> int:
    if not text.isascii() or not text.isdigit() or text.startswith("0"):
        raise CountError(f"invalid count {orig!r}: {what} must be a positive integer")
    value = int(text)
    if value > COUNT_MAX:
        raise CountError(f"invalid count {orig!r}: {what} is larger than {COUNT_MAX}")
    return value


_FIELDS = ("integer", "ids", "min", "max", "operand", "operator")


class Count:
    """One resource count (immutable, compared and hashed by value).

    Exactly one form is set: ``integer`` (a fixed count), ``ids`` (a tuple of
    allowed values from an idset) or a range (``min``, ``max`` with
    ``max=None`` meaning unbounded, ``operand``, ``operator``).  A plain class
    rather than a dataclass keeps ``dataclasses`` out of the CLI's imports.
    """

    __slots__ = _FIELDS

    integer: int | None
    ids: tuple[int, ...] | None
    min: int | None
    max: int | None
    operand: int
    operator: str

    def __init__(
        self,
        integer: int | None = None,
        ids: tuple[int, ...] | None = None,
        min: int | None = None,
        max: int | None = None,
        operand: int = 1,
        operator: str = "+",
    ) -> None:
        setter = object.__setattr__
        for name, value in zip(_FIELDS, (integer, ids, min, max, operand, operator), strict=True):
            setter(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r} of an immutable Count")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r} of an immutable Count")

    def __reduce__(self) -> tuple:
        return (Count, self._key())

    def _key(self) -> tuple:
        return tuple(getattr(self, f) for f in _FIELDS)

    def __eq__(self, other: object) -> bool:
        if type(other) is not Count:
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        args = ", ".join(f"{f}={getattr(self, f)!r}" for f in _FIELDS)
        return f"Count({args})"

    # -- construction --------------------------------------------------------
    @classmethod
    def from_json(cls, value: Any) -> Count:
        """Build from a jobspec ``count`` value (int, str or mapping)."""
        if isinstance(value, bool):
            raise CountError("count must be an integer, string or mapping, not a boolean")
        if isinstance(value, int):
            if value < 1:
                raise CountError(f"invalid count {value}: integer count must be >= 1")
            return cls(integer=value)
        if isinstance(value, str):
            return cls.decode(value)
        if isinstance(value, Mapping):
            return cls.from_range(value)
        raise CountError(f"invalid count {value!r}: must be an integer, string or mapping")

    @classmethod
    def from_range(cls, obj: Mapping[str, Any]) -> Count:
        """Build from the RFC 14 object ``{min, max, operand, operator}``."""
        extra = set(obj) - {"min", "max", "operand", "operator"}
        if extra:
            raise CountError(f"count: unknown key(s) {', '.join(sorted(map(str, extra)))}")
        if "min" not in obj:
            raise CountError("count.min: missing")
        for key in ("min", "max", "operand"):
            if key in obj:
                val = obj[key]
                if isinstance(val, bool) or not isinstance(val, int):
                    raise CountError(f"count.{key}: must be an integer")
                if not 1 <= val <= COUNT_MAX:
                    raise CountError(f"count.{key}: must be in 1..{COUNT_MAX}")
        if ("operand" in obj) != ("operator" in obj):
            raise CountError("count: operand and operator must be given together")
        return cls._range(
            obj["min"], obj.get("max"), obj.get("operand", 1), obj.get("operator", "+"), "count"
        )

    @classmethod
    def _range(cls, lo: int, hi: int | None, operand: int, operator: Any, where: str) -> Count:
        if hi is not None and hi < lo:
            raise CountError(f"{where}.max: must not be less than min ({hi} < {lo})")
        if not isinstance(operator, str) or operator not in _OPERATORS:
            raise CountError(f"{where}.operator: must be one of + * ^, not {operator!r}")
        if operator in ("*", "^") and operand < 2:
            raise CountError(f"{where}.operand: must be at least 2 for operator {operator!r}")
        if operator == "^" and lo < 2:
            raise CountError(f"{where}.min: must be at least 2 for operator '^'")
        return cls(min=lo, max=hi, operand=operand, operator=operator)

    @classmethod
    def decode(cls, text: str) -> Count:
        """Parse the string forms (integer, idset or RFC 45 range)."""
        if not isinstance(text, str):
            raise CountError(f"count string expected, not {type(text).__name__}")
        s = text
        if len(s) >= 2 and s[0] == "[" and s[-1] == "]":
            s = s[1:-1]
        if "[" in s or "]" in s:
            raise CountError(f"invalid count {text!r}: unbalanced or nested brackets")
        if s.isascii() and s.isdigit():
            return cls(integer=_posint(s, "count", text))
        if ":" not in s and "+" not in s:
            try:
                ranges = decode_ranges(s)
            except IdsetError as exc:
                raise CountError(f"invalid count {text!r}: {exc}") from None
            if not ranges or ranges[0][0] == 0:
                raise CountError(f"invalid count {text!r}: idset counts must be non-empty and >= 1")
            if sum(hi - lo + 1 for lo, hi in ranges) > 1_000_000:
                raise CountError(f"invalid count {text!r}: idset has too many values")
            return cls(ids=tuple(i for lo, hi in ranges for i in range(lo, hi + 1)))
        parts = s.split(":")
        if len(parts) > 3:
            raise CountError(f"invalid count {text!r}: too many ':' fields")
        head = parts[0]
        if head.endswith("+"):
            lo, hi = _posint(head[:-1], "min", text), None
        elif "-" in head:
            lo_s, _, hi_s = head.partition("-")
            lo, hi = _posint(lo_s, "min", text), _posint(hi_s, "max", text)
        else:
            raise CountError(f"invalid count {text!r}: expected MIN-MAX or MIN+")
        operand = _posint(parts[1], "operand", text) if len(parts) > 1 else 1
        operator = parts[2] if len(parts) > 2 else "+"
        try:
            return cls._range(lo, hi, operand, operator, "count")
        except CountError as exc:
            raise CountError(f"invalid count {text!r}: {exc}") from None

    # -- queries -----------------------------------------------------------
    @property
    def is_integer(self) -> bool:
        return self.integer is not None

    def first(self) -> int:
        """Smallest acceptable count."""
        if self.integer is not None:
            return self.integer
        if self.ids is not None:
            return self.ids[0]
        return self.min

    def encode(self, short: bool = True, brackets: bool = False) -> str:
        """Compact text (flux-core ``count_encode``): ``short`` omits a default
        operand (1) and operator (``+``); ``brackets`` wraps ranges and sets."""
        if self.integer is not None:
            return str(self.integer)
        if self.ids is not None:
            from fluxlab.resource.idset import IDSET_FLAG_BRACKETS, IDSET_FLAG_RANGE, encode

            flags = IDSET_FLAG_RANGE | (IDSET_FLAG_BRACKETS if brackets else 0)
            return encode(self.ids, flags)
        if self.max is not None and self.min == self.max:
            return str(self.min)
        text = f"{self.min}+" if self.max is None else f"{self.min}-{self.max}"
        if not short or self.operand > 1:
            text += f":{self.operand}"
        if not short or self.operator != "+":
            text += f":{self.operator}"
        return f"[{text}]" if brackets else text

    def __str__(self) -> str:
        return self.encode()
