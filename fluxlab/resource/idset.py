"""Idsets: sets of non-negative integers in RFC 22 string form.

An idset string is a comma separated list of ids and ``a-b`` ranges in strictly
ascending order, optionally wrapped in one pair of brackets, e.g. ``1-3,5,42``
or ``[0-7]``.  Leading zeros, repeated or unordered ids and descending ranges
are refused, so every set has exactly one canonical spelling per encoding mode.

:class:`IDset` mirrors ``flux.idset.IDset``: it is a mutable set of ints with
set operators and :meth:`IDset.encode`.  Internally the ids live in a plain
Python ``set``; encoding sorts them, which keeps mutation O(1) and makes the
(rarer) string form O(n log n).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

__all__ = [
    "IDSET_FLAG_AUTOGROW",
    "IDSET_FLAG_BRACKETS",
    "IDSET_FLAG_RANGE",
    "IDSET_INVALID_ID",
    "IDset",
    "IdsetError",
    "decode",
    "encode",
]

IDSET_FLAG_AUTOGROW = 1
IDSET_FLAG_BRACKETS = 2
IDSET_FLAG_RANGE = 4
IDSET_INVALID_ID = 2**32 - 1
#: Most ids a decoded string may expand to (a guard against "0-4000000000").
MAX_IDS = 1 << 24


class IdsetError(ValueError):
    """Raised for an idset string that does not follow RFC 22."""


def _parse_id(tok: str, text: str) -> int:
    if not tok or not tok.isdigit() or not tok.isascii():
        raise IdsetError(f"invalid idset {text!r}: {tok!r} is not a non-negative integer")
    if len(tok) > 1 and tok[0] == "0":
        raise IdsetError(f"invalid idset {text!r}: {tok!r} has a leading zero")
    return int(tok)


def decode_ranges(text: str) -> list[tuple[int, int]]:
    """Parse ``text`` into a list of inclusive ``(lo, hi)`` ranges.

    Raises
    ------
    IdsetError
        If the string is not a valid RFC 22 idset.
    """
    if not isinstance(text, str):
        raise IdsetError(f"idset must be a string, not {type(text).__name__}")
    s = text.strip()
    if s.startswith("["):
        if not s.endswith("]"):
            raise IdsetError(f"invalid idset {text!r}: unbalanced brackets")
        s = s[1:-1]
    if "[" in s or "]" in s:
        raise IdsetError(f"invalid idset {text!r}: unbalanced or nested brackets")
    if s == "":
        return []
    ranges: list[tuple[int, int]] = []
    last = -1
    total = 0
    for part in s.split(","):
        lo_s, sep, hi_s = part.partition("-")
        lo = _parse_id(lo_s, text)
        hi = _parse_id(hi_s, text) if sep else lo
        if hi < lo:
            raise IdsetError(f"invalid idset {text!r}: range {part!r} is descending")
        if lo <= last:
            raise IdsetError(f"invalid idset {text!r}: ids must be unique and ascending")
        total += hi - lo + 1
        if total > MAX_IDS:
            raise IdsetError(f"invalid idset {text!r}: more than {MAX_IDS} ids")
        ranges.append((lo, hi))
        last = hi
    return ranges


def _runs(ids: Iterable[int]) -> Iterator[tuple[int, int]]:
    lo = hi = None
    for i in sorted(ids):
        if lo is None:
            lo = hi = i
        elif i == hi + 1:
            hi = i
        else:
            yield lo, hi
            lo = hi = i
    if lo is not None:
        yield lo, hi


def encode(ids: Iterable[int], flags: int = IDSET_FLAG_RANGE) -> str:
    """Encode ``ids`` as an idset string.

    ``IDSET_FLAG_RANGE`` collapses runs into ``a-b``; ``IDSET_FLAG_BRACKETS``
    adds brackets when the set holds more than one id.
    """
    ids = set(ids)
    if flags & IDSET_FLAG_RANGE:
        parts = [str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in _runs(ids)]
    else:
        parts = [str(i) for i in sorted(ids)]
    s = ",".join(parts)
    if flags & IDSET_FLAG_BRACKETS and len(ids) > 1:
        s = f"[{s}]"
    return s


def decode(text: str) -> IDset:
    """Decode an idset string into an :class:`IDset`."""
    return IDset(text)


class IDset:
    """A mutable set of non-negative integer ids (``flux.idset.IDset``).

    Parameters
    ----------
    arg : str, iterable of int, or IDset
        Initial content: an RFC 22 string or any iterable of ints.
    flags : int
        Default encoding flags used by ``str()``.
    """

    __slots__ = ("_ids", "flags")

    def __init__(self, arg: str | Iterable[int] | IDset = "", flags: int = IDSET_FLAG_RANGE):
        self.flags = flags
        if isinstance(arg, IDset):
            self._ids = set(arg._ids)
        elif isinstance(arg, str):
            self._ids = set()
            for lo, hi in decode_ranges(arg):
                self._ids.update(range(lo, hi + 1))
        elif arg is None or isinstance(arg, int):
            raise IdsetError("IDset() takes a string or an iterable of ints, not an int")
        else:
            ids = set()
            for i in arg:
                if not isinstance(i, int) or isinstance(i, bool) or i < 0:
                    raise IdsetError(f"invalid id {i!r}: ids are non-negative integers")
                ids.add(i)
            self._ids = ids

    # -- set protocol -----------------------------------------------------
    def __contains__(self, i: object) -> bool:
        return i in self._ids

    def __iter__(self) -> Iterator[int]:
        return iter(sorted(self._ids))

    def __len__(self) -> int:
        return len(self._ids)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, IDset):
            return self._ids == other._ids
        if isinstance(other, str):
            return self._ids == IDset(other)._ids
        return NotImplemented

    def __hash__(self):  # mutable
        raise TypeError("unhashable type: 'IDset'")

    def __bool__(self) -> bool:
        return bool(self._ids)

    def __or__(self, other: IDset | str | Iterable[int]) -> IDset:
        return IDset(self._ids | IDset(other)._ids, self.flags)

    def __and__(self, other: IDset | str | Iterable[int]) -> IDset:
        return IDset(self._ids & IDset(other)._ids, self.flags)

    def __sub__(self, other: IDset | str | Iterable[int]) -> IDset:
        return IDset(self._ids - IDset(other)._ids, self.flags)

    union = __or__
    intersect = __and__
    difference = __sub__

    def set(self, start: int, end: int | None = None) -> IDset:
        """Add ``start`` (or the inclusive range ``start..end``); returns self."""
        end = start if end is None else end
        if start < 0 or end < start:
            raise IdsetError(f"invalid range {start}-{end}")
        self._ids.update(range(start, end + 1))
        return self

    def clear(self, start: int, end: int | None = None) -> IDset:
        """Remove ``start`` (or the inclusive range ``start..end``); returns self."""
        end = start if end is None else end
        self._ids.difference_update(range(start, end + 1))
        return self

    def add(self, other: IDset | str | Iterable[int]) -> IDset:
        """Add every id of ``other`` in place; returns self."""
        self._ids |= IDset(other)._ids
        return self

    def subtract(self, other: IDset | str | Iterable[int]) -> IDset:
        """Remove every id of ``other`` in place; returns self."""
        self._ids -= IDset(other)._ids
        return self

    def test(self, i: int) -> bool:
        return i in self._ids

    def count(self) -> int:
        return len(self._ids)

    def first(self) -> int:
        return min(self._ids) if self._ids else IDSET_INVALID_ID

    def last(self) -> int:
        return max(self._ids) if self._ids else IDSET_INVALID_ID

    def copy(self) -> IDset:
        return IDset(self, self.flags)

    def encode(self, flags: int | None = None) -> str:
        return encode(self._ids, self.flags if flags is None else flags)

    def __str__(self) -> str:
        return self.encode()

    def __repr__(self) -> str:
        return f"IDset('{self.encode()}')"
