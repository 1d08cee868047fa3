"""Helpers for tests of fluxlab and of code built on it.

``wait_for`` is the only sanctioned way to wait in a test: it polls a
condition with a deadline and fails loudly, naming what it waited for.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

__all__ = ["WaitTimeout", "wait_for"]


class WaitTimeout(AssertionError):
    """A condition did not become true before its deadline."""


def wait_for(
    cond: Callable[[], Any], timeout: float = 10.0, what: str = "condition", interval: float = 0.01
) -> Any:
    """Return ``cond()``'s first truthy value, or raise :class:`WaitTimeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise WaitTimeout(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
