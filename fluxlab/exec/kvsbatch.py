"""Batch a module's KVS writes: one ``kvs.commit`` per reactor iteration.

Services append eventlog lines for many jobs in the same reactor iteration
(the throughput benchmark runs hundreds of jobs a second); sending each as
its own commit would multiply messages and root updates.  A
:class:`KVSBatcher` collects the operations and sends them as one
``kvs.commit`` from a ``call_soon`` callback, i.e. at the start of the next
loop iteration, after everything that arrived in this one was handled.

:meth:`KVSBatcher.then` runs a callback once every operation added so far
is committed (or failed): how job-exec learns that a job's eventlogs could
not be written.

:meth:`KVSBatcher.when_sent` runs a callback once every operation added so
far is *sent*.  That is enough to order a write before whatever the
callback causes: the KVS lives on rank 0 and every request reaches it
through rank 0's broker, in the order the broker routed them, and the KVS
applies commits in arrival order and answers a read only after the commits
that arrived before it (docs/spec/kvs-rpc.md, "Order").  So a commit sent
before a message M lands before any commit or read that M leads to.  The
exec services launch a job's tasks, end a rank's launch stream and send a
job's final ``release`` this way: waiting for the commit's answer held
every finished job's cores for a KVS round trip, and in the throughput
benchmark left the broker idle ~10% of the time with all cores waiting on
it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["KVSBatcher", "append_op"]


def append_op(key: str, text: str) -> dict[str, Any]:
    """A ``kvs.commit`` operation appending ``text`` (UTF-8) to ``key``."""
    return {"op": "append", "key": key, "data": text}


class _Commit:
    __slots__ = ("callbacks", "done", "error")

    def __init__(self) -> None:
        self.callbacks: list[Callable[[BaseException | None], None]] = []
        self.done = False
        self.error: BaseException | None = None


class KVSBatcher:
    """Collects KVS operations and commits them once per reactor iteration.

    Parameters
    ----------
    h : ModuleHandle
        The module's broker handle (``rpc`` and ``reactor``).
    on_error : callable(str), optional
        Told about failed commits (the callbacks also get the exception).

    Notes
    -----
    Commits are sent in order and the KVS applies them in arrival order, so
    an operation added later never lands before one added earlier.
    """

    def __init__(self, h: Any, on_error: Callable[[str], None] | None = None):
        self.h = h
        self.on_error = on_error
        self._ops: list[dict[str, Any]] = []
        self._pending = _Commit()
        self._inflight: list[_Commit] = []
        self._scheduled = False
        self._on_sent: list[Callable[[], None]] = []
        self._tail_key: str | None = None  # key of the last op if it is our append
        self.commits = 0

    def add(self, op: dict[str, Any]) -> None:
        """Queue one operation (``{"op": "append"|"put"|..., "key", "data"}``)."""
        self._ops.append(op)
        self._tail_key = None  # the caller's dict: never extended
        self._schedule()

    def append(self, key: str, text: str) -> None:
        """Queue an append of ``text`` to ``key``.

        Consecutive appends to one key become one operation (a job posts
        ``init`` and ``starting``, or ``complete`` and ``done``, together):
        the KVS stores the same text with fewer operations to apply."""
        if key == self._tail_key:
            self._ops[-1]["data"] += text
            return
        self._ops.append({"op": "append", "key": key, "data": text})
        self._tail_key = key
        self._schedule()

    def then(self, callback: Callable[[BaseException | None], None]) -> None:
        """Call ``callback(error_or_None)`` once everything queued so far is committed."""
        if self._ops:
            self._pending.callbacks.append(callback)
        elif self._inflight:
            self._inflight[-1].callbacks.append(callback)
        else:
            self.h.reactor.call_soon(callback, None)

    def when_sent(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` once everything queued so far is sent to the KVS.

        It runs right after the commit leaves (in the same reactor callback),
        or on the next turn if nothing is queued.  It is not told about
        errors: a failed commit is reported to ``on_error``.
        """
        if self._ops:
            self._on_sent.append(callback)
        else:
            self.h.reactor.call_soon(callback)

    def _schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            self.h.reactor.call_soon(self.flush)

    def flush(self) -> None:
        """Send what is queued now (normally called by the reactor)."""
        self._scheduled = False
        if not self._ops:
            return
        ops, self._ops = self._ops, []
        self._tail_key = None
        commit, self._pending = self._pending, _Commit()
        self._inflight.append(commit)
        self.commits += 1
        self.h.rpc("kvs.commit", {"ops": ops}).then(self._committed, commit)
        if self._on_sent:
            sent, self._on_sent = self._on_sent, []
            for callback in sent:
                callback()

    def _committed(self, fut: Any, commit: _Commit) -> None:
        err: BaseException | None = None
        try:
            fut.get()
        except Exception as e:  # noqa: BLE001 - reported to the callbacks
            err = e
            if self.on_error is not None:
                self.on_error(f"kvs.commit failed: {e}")
        commit.done, commit.error = True, err
        # release finished commits in the order they were sent
        while self._inflight and self._inflight[0].done:
            done = self._inflight.pop(0)
            for cb in done.callbacks:
                cb(done.error)
