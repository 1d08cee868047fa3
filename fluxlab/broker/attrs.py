"""Broker attributes: named string values, some read-only (pure).

Mirrors ``flux getattr/setattr/lsattr``.  Values are strings on the wire;
read-only attributes are fixed at start-up (``rank``, ``size`` ...), the rest
may be changed at run time and some have an ``on_set`` hook that validates and
applies the change (``log-stderr-level`` ...).
"""

from __future__ import annotations

import errno
from collections.abc import Callable

from fluxlab.core.errors import ServiceError

__all__ = ["ATTR_IMMUTABLE", "ATTR_READONLY", "Attributes"]

ATTR_READONLY = 0x01
ATTR_IMMUTABLE = 0x02


class Attributes:
    """The attribute table of one broker."""

    def __init__(self):
        self._values: dict[str, str] = {}
        self._flags: dict[str, int] = {}
        self._hooks: dict[str, Callable[[str], str]] = {}

    def add(
        self, name: str, value: object, flags: int = 0, on_set: Callable[[str], str] | None = None
    ) -> None:
        """Define (or redefine, at start-up) an attribute."""
        self._values[name] = "" if value is None else str(value)
        self._flags[name] = flags
        if on_set is not None:
            self._hooks[name] = on_set

    def get(self, name: str) -> str:
        try:
            return self._values[name]
        except KeyError:
            raise ServiceError(errno.ENOENT, f"unknown attribute {name!r}") from None

    def flags(self, name: str) -> int:
        self.get(name)
        return self._flags[name]

    def set(self, name: str, value: str) -> None:
        """Set an attribute at run time.

        Raises
        ------
        ServiceError
            EPERM for read-only attributes, EINVAL for a value the hook refuses.
        """
        if not isinstance(value, str):
            raise ServiceError(errno.EINVAL, f"attribute {name!r}: value must be a string")
        if self._flags.get(name, 0) & (ATTR_READONLY | ATTR_IMMUTABLE):
            raise ServiceError(errno.EPERM, f"attribute {name!r} is read-only")
        hook = self._hooks.get(name)
        if hook is not None:
            value = hook(value)
        self._values[name] = value
        self._flags.setdefault(name, 0)

    def remove(self, name: str) -> None:
        if self.flags(name) & (ATTR_READONLY | ATTR_IMMUTABLE):
            raise ServiceError(errno.EPERM, f"attribute {name!r} is read-only")
        del self._values[name]
        self._flags.pop(name, None)
        self._hooks.pop(name, None)

    def names(self) -> list[str]:
        return sorted(self._values)

    def items(self) -> list[tuple[str, str, int]]:
        return [(n, self._values[n], self._flags[n]) for n in self.names()]
