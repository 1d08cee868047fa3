"""Watching keys: which watcher gets what after each commit (pure).

A :class:`WatchRegistry` holds the watchers of ``kvs-watch.lookup`` requests
and turns model events into :class:`WatchEvent` records that the service sends
as responses (``{"val": event.value}`` or an error ``event.errno``).  It never
touches a socket.  The service calls:

- :meth:`WatchRegistry.add` for a new watch request (gets the initial events);
- :meth:`WatchRegistry.on_commit` after every :meth:`KVSModel.commit_batch`;
- :meth:`WatchRegistry.on_namespace_created` / :meth:`on_namespace_removed`;
- :meth:`WatchRegistry.cancel` (answers ``ENODATA``) or :meth:`remove`
  (silently, on disconnect).

Semantics follow flux-core ``kvs-watch`` (see ``docs/spec/kvs.md``):

``WATCH``       after the initial value, respond each time the key is named by
                an applied op; respond ``ENOENT`` and stop if it was removed.
``WAITCREATE``  a missing key (or namespace) is not an error: wait for it.
                Without ``WATCH`` the first value ends the watch.
``WATCH_UNIQ``  like ``WATCH`` but only when the value differs from the last sent.
``WATCH_FULL``  check after *every* commit of the namespace, respond when the
                value differs, even if the key was not named (parent replaced,
                symlink retargeted...).
``WATCH_APPEND`` the first response carries the whole value, later ones only the
                data appended since (the new ``valref`` blobs, concatenated).
                A value replaced other than by append fails with ``EINVAL``.
``WATCH_INITIAL_SENTINEL`` (with ``WATCH_APPEND``) an empty ``sentinel`` event
                follows the first value.

Every event is final when ``errno`` is set or a one-shot watch is satisfied;
the registry has then already forgotten the watcher.
"""

from __future__ import annotations

import base64
import errno as _errno
from typing import Any, NamedTuple

from fluxlab.kvs import flags as F
from fluxlab.kvs.errors import InvalidFlagsError, IsDirError, KeyNotFoundError, KVSError
from fluxlab.kvs.keys import PRIMARY_NAMESPACE, normalize_key, validate_namespace_name
from fluxlab.kvs.model import BatchResult, KVSModel

__all__ = ["WatchEvent", "WatchRegistry"]


class WatchEvent(NamedTuple):
    """One response for one watcher.

    Attributes
    ----------
    watcher_id : int
    version : int
        Namespace version the response reflects (0 when none applies).
    value : dict or None
        The tree object to send as ``{"val": value}``; ``None`` for errors and
        sentinels.
    errno : int
        0, or the error that ends the watch (``ENOENT``, ``ENOTSUP``,
        ``ENODATA``, ``EINVAL``, ``EISDIR``...).
    message : str
        Error text.
    final : bool
        True if the watcher is gone after this event.
    sentinel : bool
        True for the ``WATCH_INITIAL_SENTINEL`` marker.
    """

    watcher_id: int
    version: int
    value: dict[str, Any] | None = None
    errno: int = 0
    message: str = ""
    final: bool = False
    sentinel: bool = False

    @property
    def data(self) -> bytes | None:
        """Raw bytes of a ``val`` payload, else ``None``."""
        if self.value is not None and self.value.get("type") == "val":
            return base64.b64decode(self.value["data"])
        return None


class _Watcher:
    __slots__ = (
        "count",
        "flags",
        "id",
        "key",
        "last",
        "lookup_flags",
        "namespace",
        "prev",
        "responded",
        "rootseq",
    )

    def __init__(self, wid: int, namespace: str, key: str, flags: int) -> None:
        self.id = wid
        self.namespace = namespace
        self.key = key
        self.flags = flags
        self.lookup_flags = flags & F.LOOKUP_FLAGS
        self.responded = False
        self.rootseq = -1
        self.prev: Any = None
        self.count = 0  # WATCH_APPEND: blobs sent so far
        self.last: str | None = None  # WATCH_APPEND: blobref of the last blob sent


def _check_flags(flags: object) -> int:
    if type(flags) is not int or flags & ~(F.LOOKUP_FLAGS | F.WATCH_FLAGS):
        raise InvalidFlagsError(f"invalid watch flags {flags!r}")
    modifiers = F.WATCH_FULL | F.WATCH_UNIQ | F.WATCH_APPEND | F.WATCH_INITIAL_SENTINEL
    if flags & modifiers and not flags & F.WATCH:
        raise InvalidFlagsError("WATCH_FULL, WATCH_UNIQ, WATCH_APPEND need WATCH")
    if flags & F.WATCH_INITIAL_SENTINEL and not flags & F.WATCH_APPEND:
        raise InvalidFlagsError("WATCH_INITIAL_SENTINEL needs WATCH_APPEND")
    if flags & F.WATCH_APPEND and flags & (F.WATCH_FULL | F.WATCH_UNIQ | F.LOOKUP_FLAGS):
        raise InvalidFlagsError("WATCH_APPEND cannot be combined with FULL, UNIQ or lookup flags")
    if flags & F.READDIR and flags & F.READLINK:
        raise InvalidFlagsError("READDIR and READLINK are exclusive")
    return flags


class WatchRegistry:
    """Watchers of one :class:`~fluxlab.kvs.model.KVSModel` and their notifications.

    Watchers are indexed by ``(namespace, key)``, plus a per-namespace set of
    ``WATCH_FULL`` watchers and of watchers waiting for their namespace to be
    created, so a commit costs one lookup per *affected* watcher.  Every
    finished, cancelled or removed watcher is dropped from all indexes
    (empty index entries included).
    """

    def __init__(self, model: KVSModel) -> None:
        self._model = model
        self._next_id = 1
        self._by_id: dict[int, _Watcher] = {}
        self._by_key: dict[str, dict[str, dict[int, _Watcher]]] = {}
        self._full: dict[str, dict[int, _Watcher]] = {}
        self._waiting_ns: dict[str, dict[int, _Watcher]] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, watcher_id: object) -> bool:
        return watcher_id in self._by_id

    # -- index maintenance -----------------------------------------------------

    def _register(self, w: _Watcher) -> None:
        self._by_id[w.id] = w
        if w.flags & F.WATCH_FULL:
            self._full.setdefault(w.namespace, {})[w.id] = w
        else:
            self._by_key.setdefault(w.namespace, {}).setdefault(w.key, {})[w.id] = w

    def _forget(self, w: _Watcher) -> None:
        self._by_id.pop(w.id, None)
        for index in (self._full, self._waiting_ns):
            ws = index.get(w.namespace)
            if ws is not None and ws.pop(w.id, None) is not None and not ws:
                del index[w.namespace]
        keyed = self._by_key.get(w.namespace)
        if keyed is not None:
            ws = keyed.get(w.key)
            if ws is not None and ws.pop(w.id, None) is not None and not ws:
                del keyed[w.key]
                if not keyed:
                    del self._by_key[w.namespace]

    def _finish(self, w: _Watcher, version: int, errnum: int, message: str) -> WatchEvent:
        self._forget(w)
        return WatchEvent(w.id, version, None, errnum, message, final=True)

    # -- public API --------------------------------------------------------------

    def add(
        self, key: str, namespace: str = PRIMARY_NAMESPACE, flags: int = F.WATCH
    ) -> tuple[int, list[WatchEvent]]:
        """Start watching ``key``; return ``(watcher_id, initial events)``.

        ``flags`` combines the watch flags with lookup flags (``READDIR``,
        ``READLINK``, ``TREEOBJ``) that shape each response.  If the returned
        events end with a final one, the watcher is already gone.

        Raises
        ------
        InvalidFlagsError, InvalidKeyError, InvalidNamespaceError
            For a malformed request (nothing is registered).
        """
        _check_flags(flags)
        key = normalize_key(key)
        validate_namespace_name(namespace)
        w = _Watcher(self._next_id, namespace, key, flags)
        self._next_id += 1
        if not self._model.has_namespace(namespace):
            if flags & F.WAITCREATE:
                self._by_id[w.id] = w
                self._waiting_ns.setdefault(namespace, {})[w.id] = w
                return w.id, []
            msg = f"namespace {namespace!r} does not exist"
            return w.id, [WatchEvent(w.id, 0, None, _errno.ENOTSUP, msg, final=True)]
        self._register(w)
        return w.id, self._update(w, self._model.version(namespace))

    def on_commit(self, batch: BatchResult) -> list[WatchEvent]:
        """Events caused by a commit batch (call once per batch, in order)."""
        if not batch.committed:
            return []
        ns = batch.namespace
        events: list[WatchEvent] = []
        if ns in self._waiting_ns:  # the namespace exists now: start its waiters first
            events.extend(self.on_namespace_created(ns))
        cands: dict[int, _Watcher] = {}
        keyed = self._by_key.get(ns)
        if keyed:
            for key in batch.keys:
                ws = keyed.get(key)
                if ws:
                    cands.update(ws)
        full = self._full.get(ns)
        if full:
            cands.update(full)
        for wid in sorted(cands):
            w = cands[wid]
            if w.rootseq < batch.version:
                events.extend(self._update(w, batch.version))
        return events

    def on_namespace_created(self, namespace: str) -> list[WatchEvent]:
        """Start the watchers that were waiting for ``namespace`` to exist."""
        waiting = self._waiting_ns.pop(namespace, None)
        if not waiting or not self._model.has_namespace(namespace):
            if waiting:
                self._waiting_ns[namespace] = waiting
            return []
        version = self._model.version(namespace)
        events: list[WatchEvent] = []
        for wid in sorted(waiting):
            w = waiting[wid]
            self._register(w)
            events.extend(self._update(w, version))
        return events

    def on_namespace_removed(self, namespace: str) -> list[WatchEvent]:
        """End every watcher of ``namespace`` with ``ENOTSUP``."""
        ws: dict[int, _Watcher] = dict(self._full.get(namespace, {}))
        for group in self._by_key.get(namespace, {}).values():
            ws.update(group)
        msg = f"namespace {namespace!r} was removed"
        return [self._finish(ws[wid], 0, _errno.ENOTSUP, msg) for wid in sorted(ws)]

    def cancel(self, watcher_id: int) -> list[WatchEvent]:
        """End a watcher with ``ENODATA`` (``kvs-watch.cancel``); [] if unknown."""
        w = self._by_id.get(watcher_id)
        if w is None:
            return []
        return [self._finish(w, max(w.rootseq, 0), _errno.ENODATA, "watch canceled")]

    def remove(self, watcher_id: int) -> bool:
        """Forget a watcher without a response (disconnect); True if it existed."""
        w = self._by_id.get(watcher_id)
        if w is None:
            return False
        self._forget(w)
        return True

    def describe(self) -> list[dict[str, Any]]:
        """One dict per live watcher (id, namespace, key, flags), for stats."""
        return [
            {"id": w.id, "namespace": w.namespace, "key": w.key, "flags": w.flags}
            for w in self._by_id.values()
        ]

    # -- per-watcher state machine ----------------------------------------------------

    def _update(self, w: _Watcher, version: int) -> list[WatchEvent]:
        model = self._model
        if model.has_namespace(w.namespace):
            oldest, newest = model.history_range(w.namespace)
            if not oldest <= version <= newest:  # batch fell out of history: use the newest
                version = newest
        w.rootseq = version
        try:
            if w.flags & F.WATCH_APPEND:
                return self._update_append(w, version)
            value = model.lookup(w.key, w.namespace, flags=w.lookup_flags, version=version)
        except KeyNotFoundError as exc:
            if not w.responded and w.flags & F.WAITCREATE:
                return []
            return [self._finish(w, version, exc.errno, str(exc))]
        except KVSError as exc:
            return [self._finish(w, version, exc.errno, str(exc))]
        if w.responded and w.flags & (F.WATCH_UNIQ | F.WATCH_FULL) and value == w.prev:
            return []
        if w.flags & (F.WATCH_UNIQ | F.WATCH_FULL):
            w.prev = value
        return self._respond(w, version, value)

    def _respond(self, w: _Watcher, version: int, value: dict) -> list[WatchEvent]:
        first = not w.responded
        w.responded = True
        if not w.flags & F.WATCH:
            self._forget(w)
            return [WatchEvent(w.id, version, value, final=True)]
        events = [WatchEvent(w.id, version, value)]
        if first and w.flags & F.WATCH_INITIAL_SENTINEL:
            events.append(WatchEvent(w.id, version, sentinel=True))
        return events

    def _update_append(self, w: _Watcher, version: int) -> list[WatchEvent]:
        model = self._model
        try:
            data, refs = model._append_state(w.key, w.namespace, version)
        except IsDirError:
            if not w.responded:
                raise
            data, refs = None, ()
        if not w.responded:
            if data is not None:
                w.count, w.last = 1, model.store.blobref(data)
            else:
                w.count, w.last = len(refs), refs[-1]
                data = b"".join(model.store.load(r) for r in refs)
            return self._respond(w, version, _val(data))
        if data is not None or len(refs) < w.count or refs[w.count - 1] != w.last:
            msg = f"value of {w.key!r} watched with WATCH_APPEND was overwritten"
            return [self._finish(w, version, _errno.EINVAL, msg)]
        if len(refs) == w.count:
            return []
        new = refs[w.count :]
        w.count, w.last = len(refs), refs[-1]
        return self._respond(w, version, _val(b"".join(model.store.load(r) for r in new)))


def _val(data: bytes) -> dict[str, Any]:
    return {"ver": 1, "type": "val", "data": base64.b64encode(data).decode("ascii")}
