"""The broker life-cycle as an explicit state table (pure).

::

    JOIN --joined--> INIT --rc1-done--> QUORUM --quorum--> RUN
    RUN --shutdown--> CLEANUP --cleanup-done--> SHUTDOWN --children-gone--> EXIT
    (any state before EXIT) --shutdown/abort--> CLEANUP or SHUTDOWN

JOIN: connect to the parent (rank 0 joins at once).  INIT: load the rank's
service modules (rc1).  QUORUM: wait until every rank of the instance is
online (rank 0 counts subtrees; the others wait for its ``quorum`` event).
RUN: the instance serves jobs; rank 0 runs the initial program if any.
CLEANUP: the initial program is done or shutdown was requested; stop accepting
work.  SHUTDOWN: tell children to go and wait for them; unload modules.  EXIT.
"""

from __future__ import annotations

import time

__all__ = ["BrokerState", "StateError", "StateMachine", "TRANSITIONS"]


class BrokerState:
    JOIN = "join"
    INIT = "init"
    QUORUM = "quorum"
    RUN = "run"
    CLEANUP = "cleanup"
    SHUTDOWN = "shutdown"
    EXIT = "exit"
    ORDER = ["join", "init", "quorum", "run", "cleanup", "shutdown", "exit"]


S = BrokerState

#: ``(state, event) -> next state``; anything else is refused.
TRANSITIONS: dict[tuple[str, str], str] = {
    (S.JOIN, "joined"): S.INIT,
    (S.INIT, "rc1-done"): S.QUORUM,
    (S.QUORUM, "quorum"): S.RUN,
    (S.RUN, "shutdown"): S.CLEANUP,
    (S.CLEANUP, "cleanup-done"): S.SHUTDOWN,
    (S.SHUTDOWN, "children-gone"): S.EXIT,
    # shutdown before the instance ever ran (abort, parent lost)
    (S.JOIN, "shutdown"): S.SHUTDOWN,
    (S.INIT, "shutdown"): S.SHUTDOWN,
    (S.QUORUM, "shutdown"): S.SHUTDOWN,
    (S.CLEANUP, "shutdown"): S.CLEANUP,
    (S.SHUTDOWN, "shutdown"): S.SHUTDOWN,
}


class StateError(RuntimeError):
    """An event that has no transition from the current state."""


class StateMachine:
    """Tracks the current state, when it was entered, and a transition log."""

    def __init__(self, rank: int):
        self.rank = rank
        self.state = S.JOIN
        self.t_entered = time.time()
        self.history: list[tuple[float, str, str, str]] = []

    def post(self, event: str) -> tuple[str, str]:
        """Apply ``event``; returns ``(old_state, new_state)``.

        Raises
        ------
        StateError
            If ``(state, event)`` is not in :data:`TRANSITIONS`.
        """
        new = TRANSITIONS.get((self.state, event))
        if new is None:
            raise StateError(
                f"broker rank {self.rank}: no transition from {self.state} on {event!r}"
            )
        old = self.state
        self.state = new
        self.t_entered = time.time()
        self.history.append((self.t_entered, old, event, new))
        del self.history[:-64]
        return old, new

    def at_least(self, state: str) -> bool:
        return S.ORDER.index(self.state) >= S.ORDER.index(state)
