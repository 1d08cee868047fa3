"""JSON encoders for the hot paths (eventlog lines, message payloads, R).

``json.JSONEncoder.encode`` builds a new C encoder object on every call,
which costs more than encoding a small dict such as an event's context.
:func:`encoder` builds CPython's C encoder once and reuses it: the text is
byte-for-byte what ``JSONEncoder(...).encode`` writes with the same options.

Invariant: the reused encoder holds no per-call state, because it runs
without the circular-reference ``markers`` dict.  A self-referencing object
therefore hits the interpreter's recursion limit inside C instead; that is
turned back into the ``ValueError("Circular reference detected")`` that
``json`` raises, so callers see the same error either way.  Where the C
accelerator is missing (another Python implementation) the plain
``JSONEncoder.encode`` is returned.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from json import encoder as _enc

__all__ = ["encoder"]


def _default(o: object) -> object:
    raise TypeError(f"Object of type {o.__class__.__name__} is not JSON serializable")


def encoder(
    separators: tuple[str, str] = (",", ":"), allow_nan: bool = True
) -> Callable[[object], str]:
    """A function ``obj -> str`` equal to ``JSONEncoder(ensure_ascii=False,
    separators=separators, allow_nan=allow_nan).encode``, faster on small
    objects."""
    plain = json.JSONEncoder(separators=separators, ensure_ascii=False, allow_nan=allow_nan).encode
    make = getattr(_enc, "c_make_encoder", None)
    if make is None:  # pragma: no cover - CPython always has it
        return plain
    item_sep, key_sep = separators
    try:
        c = make(
            None, _default, _enc.encode_basestring, None, key_sep, item_sep, False, False, allow_nan
        )
    except TypeError:  # pragma: no cover - a different C signature
        return plain
    join = "".join

    def encode(obj: object) -> str:
        if type(obj) is str:
            return _enc.encode_basestring(obj)
        try:
            return join(c(obj, 0))
        except RecursionError:
            raise ValueError("Circular reference detected") from None

    return encode
