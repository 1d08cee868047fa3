"""Exceptions raised by the scheduler library.

Every error caused by bad input (a malformed graph file, a jobspec that
Fluxion's parser refuses, an impossible request) is a subclass of
:class:`ValueError` and names the element at fault, so a caller such as the
broker service can report it for one job and keep serving the others.
"""

from __future__ import annotations

__all__ = [
    "SchedError",
    "GraphError",
    "JobspecError",
    "MatchError",
    "PlannerError",
]


class SchedError(ValueError):
    """Base class of all scheduler-library errors caused by bad input."""


class GraphError(SchedError):
    """A resource graph (or a graph file) is malformed or inconsistent."""


class JobspecError(SchedError):
    """A jobspec was rejected by the Fluxion-compatible jobspec parser.

    Attributes
    ----------
    line : int
        1-based line of the offending YAML node, or -1 when unknown.
    """

    def __init__(self, message: str, line: int = -1):
        super().__init__(message)
        self.line = line


class MatchError(SchedError):
    """A request cannot be processed (as opposed to "no resources now")."""


class PlannerError(SchedError):
    """An invalid planner operation (bad time window, unknown span...)."""
