"""The ``kvs`` service module (rank 0): RPCs over the pure :class:`KVSModel`.

Protocol: ``docs/spec/kvs-rpc.md``.  Commit requests that arrive during one
reactor iteration are merged per namespace into one
:meth:`KVSModel.commit_batch` (one new root version, one sqlite transaction
when persistent); each request is answered from its own transaction's result,
so a bad transaction fails alone.  Watches are driven by
:class:`WatchRegistry` after every batch.
"""

from __future__ import annotations

import base64
import errno
import os
from typing import Any

from fluxlab.core.errors import ServiceError
from fluxlab.core.module import ServiceModule, request_handler, unpack
from fluxlab.kvs import flags as F
from fluxlab.kvs._refcount import CountedMemoryStore
from fluxlab.kvs.errors import KVSError
from fluxlab.kvs.keys import PRIMARY_NAMESPACE
from fluxlab.kvs.model import KVSModel
from fluxlab.kvs.txn import Txn
from fluxlab.kvs.watch import WatchRegistry

__all__ = ["KEEP_VERSIONS", "KVSModule"]

#: Root versions an in-memory store keeps for ``kvs.lookup`` at a version.
KEEP_VERSIONS = 256
#: batches between sweeps of blobs written but never linked (and compactions)
_UPKEEP_EVERY = 256


def _data(raw: bytes) -> dict:
    try:
        return {"data": raw.decode()}
    except UnicodeDecodeError:
        return {"data_b64": base64.b64encode(raw).decode()}


def _bytes(op: dict, where: str) -> bytes:
    if "data" in op:
        if not isinstance(op["data"], str):
            raise ServiceError(errno.EPROTO, f"{where}: 'data' must be a string")
        return op["data"].encode()
    if "data_b64" in op:
        try:
            return base64.b64decode(op["data_b64"], validate=True)
        except (ValueError, TypeError):
            raise ServiceError(errno.EPROTO, f"{where}: 'data_b64' is not valid base64") from None
    raise ServiceError(errno.EPROTO, f"{where}: needs 'data' or 'data_b64'")


def _txn(ops: Any) -> Txn:
    """Build a transaction from the RPC's op list (errors name the op)."""
    if not isinstance(ops, list):
        raise ServiceError(errno.EPROTO, "kvs.commit: 'ops' must be an array")
    txn = Txn()
    try:
        for i, op in enumerate(ops):
            where = f"kvs.commit: ops[{i}]"
            if not isinstance(op, dict):
                raise ServiceError(errno.EPROTO, f"{where}: must be an object")
            kind, key = op.get("op"), op.get("key")
            if not isinstance(key, str):
                raise ServiceError(errno.EPROTO, f"{where}: 'key' must be a string")
            if kind == "put":
                txn.put(key, _bytes(op, where))
            elif kind == "append":
                txn.append(key, _bytes(op, where))
            elif kind == "unlink":
                txn.unlink(key)
            elif kind == "mkdir":
                txn.mkdir(key)
            elif kind == "symlink":
                target = op.get("target")
                if not isinstance(target, str):
                    raise ServiceError(errno.EPROTO, f"{where}: symlink needs a string 'target'")
                txn.symlink(key, target, op.get("target_namespace"))
            else:
                raise ServiceError(
                    errno.EPROTO,
                    f"{where}: unknown op {kind!r} (put, append, unlink, mkdir, symlink)",
                )
    except KVSError as e:
        raise ServiceError(e.errno, str(e)) from None
    return txn


class KVSModule(ServiceModule):
    name = "kvs"

    def start(self) -> None:
        statedir = self.h.attr_get("statedir") or None
        if statedir is None:
            # in memory, old versions' blobs are freed as they leave the kept
            # history, by reference counts (fluxlab/kvs/_refcount.py): work in
            # proportion to what commits write, none to the size of the tree
            self.model = KVSModel(CountedMemoryStore(), owner=os.getuid(), history=KEEP_VERSIONS)
        else:
            self.model = KVSModel.open(statedir, owner=os.getuid())
        self.watches = WatchRegistry(self.model)
        self._wmsg: dict[int, Any] = {}  # watcher id -> request
        self._wid: dict[tuple[str, int], int] = {}  # (sender, matchtag) -> watcher id
        self._pending: dict[str, list[tuple[Any, Txn]]] = {}
        self._flush_scheduled = False
        self._version_waits: list[tuple[Any, str, int]] = []
        self.ncommits = 0
        self.nbatches = 0
        self._upkeep_scheduled = False

    def stop(self) -> None:
        self._flush()
        self.model.close()

    def stats(self) -> dict:
        return {
            "commits": self.ncommits,
            "batches": self.nbatches,
            "watchers": len(self.watches),
            "version": self.model.version(PRIMARY_NAMESPACE),
            **self.model.stats(),
        }

    def _settle(self) -> None:
        """Apply the commits that arrived before the read being answered.

        Every read (lookup, getroot, namespace-list, a watch's first value)
        sees every commit that reached the KVS before it, so a commit sent
        before a message lands before any read that message leads to (e.g.
        the job-manager's R + ``alloc``, sent before its journal reached a
        reader; job-exec's ``done``, sent before its ``release``).
        """
        if self._pending:
            self._flush()

    @staticmethod
    def _err(e: KVSError) -> ServiceError:
        return ServiceError(e.errno, str(e))

    # -- lookups -------------------------------------------------------------
    @request_handler("lookup")
    def lookup(self, msg):
        key, ns, version, root, want_dir, want_tobj, readlink = unpack(
            msg,
            ("key", str),
            ("namespace", str, PRIMARY_NAMESPACE),
            ("version", (int, type(None)), None),
            ("root", (str, dict, type(None)), None),
            ("dir", bool, False),
            ("treeobj", bool, False),
            ("readlink", bool, False),
        )
        self._settle()
        m = self.model
        try:
            cur = m.version(ns) if version is None else version
            if want_tobj:
                return {
                    "key": key,
                    "treeobj": m.get_treeobj(key, ns, version=version, root=root),
                    "version": cur,
                }
            if readlink:
                target_ns, target = m.readlink(key, ns, version=version, root=root)
                out = {"key": key, "target": target, "version": cur}
                if target_ns:
                    out["namespace"] = target_ns
                return out
            if want_dir:
                entries = m.list_dir(key, ns, version=version, root=root)
                return {
                    "key": key,
                    "version": cur,
                    "entries": {n: t.get("type", "?") for n, t in entries.items()},
                }
            return {"key": key, "version": cur, **_data(m.get(key, ns, version=version, root=root))}
        except KVSError as e:
            raise self._err(e) from None

    @request_handler("getroot")
    def getroot(self, msg):
        (ns,) = unpack(msg, ("namespace", str, PRIMARY_NAMESPACE))
        self._settle()
        try:
            info = self.model.namespace_info(ns)
        except KVSError as e:
            raise self._err(e) from None
        return {
            "namespace": info.name,
            "owner": info.owner,
            "version": info.version,
            "rootref": info.rootref,
        }

    @request_handler("wait-version")
    def wait_version(self, msg):
        ns, version = unpack(msg, ("namespace", str, PRIMARY_NAMESPACE), ("version", int))
        try:
            cur = self.model.version(ns)
        except KVSError as e:
            raise self._err(e) from None
        if cur >= version:
            return {"version": cur}
        self.defer(msg)
        self._version_waits.append((msg, ns, version))
        return None

    # -- commits -----------------------------------------------------------------
    @request_handler("commit")
    def commit(self, msg):
        ns, ops = unpack(msg, ("namespace", str, PRIMARY_NAMESPACE), ("ops", list))
        txn = _txn(ops)
        self.defer(msg)
        self._pending.setdefault(ns, []).append((msg, txn))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.h.reactor.call_soon(self._flush)
        return None

    def _flush(self) -> None:
        self._flush_scheduled = False
        pending, self._pending = self._pending, {}
        for ns, items in pending.items():
            try:
                batch = self.model.commit_batch([t for _, t in items], ns)
            except KVSError as e:
                for msg, _ in items:
                    self.respond_error(msg, e.errno, str(e))
                continue
            self.nbatches += 1
            for (msg, _), err in zip(items, batch.errors, strict=True):
                if err is None:
                    self.ncommits += 1
                    self.respond(msg, {"version": batch.version, "rootref": batch.rootref})
                else:
                    self.respond_error(msg, err.errno, str(err))
            if batch.committed:
                self._deliver(self.watches.on_commit(batch))
                self._check_version_waits(ns)
        if self.nbatches % _UPKEEP_EVERY == 0 and not self._upkeep_scheduled:
            # queued after the responses' write (also a call_soon): the
            # commits are answered before the KVS spends time on upkeep
            self._upkeep_scheduled = True
            self.h.reactor.call_soon(self._upkeep)

    def _upkeep(self) -> None:
        """Every few hundred batches: unload working-copy directories no batch
        touched lately, and free blobs that were written but never linked."""
        self._upkeep_scheduled = False
        # finished jobs' directories go back to being blobs (bounded memory)
        self.model.compact(keep_batches=256)
        store = self.model.store
        if isinstance(store, CountedMemoryStore):
            store.sweep_unlinked()

    def _check_version_waits(self, ns: str) -> None:
        if not self._version_waits:
            return
        cur = self.model.version(ns)
        keep = []
        for msg, wns, version in self._version_waits:
            if wns == ns and cur >= version:
                self.respond(msg, {"version": cur})
            else:
                keep.append((msg, wns, version))
        self._version_waits = keep

    # -- namespaces ---------------------------------------------------------------
    @request_handler("namespace-create")
    def namespace_create(self, msg):
        ns, owner = unpack(msg, ("namespace", str), ("owner", int, os.getuid()))
        try:
            self.model.namespace_create(ns, owner)
        except KVSError as e:
            raise self._err(e) from None
        self._deliver(self.watches.on_namespace_created(ns))
        return {}

    @request_handler("namespace-remove")
    def namespace_remove(self, msg):
        (ns,) = unpack(msg, ("namespace", str))
        try:
            self.model.namespace_remove(ns)
        except KVSError as e:
            raise self._err(e) from None
        self._deliver(self.watches.on_namespace_removed(ns))
        return {}

    @request_handler("namespace-list")
    def namespace_list(self, msg):
        self._settle()
        return {
            "namespaces": [
                {"namespace": i.name, "owner": i.owner, "version": i.version}
                for i in self.model.namespace_list()
            ]
        }

    # -- watches --------------------------------------------------------------------
    @request_handler("watch", streaming=True)
    def watch(self, msg):
        key, ns, waitcreate, uniq, full, append, initial = unpack(
            msg,
            ("key", str),
            ("namespace", str, PRIMARY_NAMESPACE),
            ("waitcreate", bool, False),
            ("uniq", bool, False),
            ("full", bool, False),
            ("append", bool, False),
            ("initial", bool, True),
        )
        flags = F.WATCH
        if waitcreate:
            flags |= F.WAITCREATE
        if uniq:
            flags |= F.WATCH_UNIQ
        if full:
            flags |= F.WATCH_FULL
        if append:
            flags |= F.WATCH_APPEND
        self._settle()
        try:
            wid, events = self.watches.add(key, ns, flags)
        except KVSError as e:
            raise self._err(e) from None
        self.stream_add(msg)
        self._wmsg[wid] = msg
        self._wid[(msg.sender, msg.matchtag)] = wid
        if not initial:
            events = [e for e in events if e.errno or e.final]
        self._deliver(events)

    def _deliver(self, events) -> None:
        for ev in events:
            msg = self._wmsg.get(ev.watcher_id)
            if msg is None:
                continue
            if ev.errno:
                self._drop_watch(ev.watcher_id)
                self.stream_end(msg, ev.errno, ev.message)
                continue
            if not ev.sentinel:
                data = ev.data
                self.respond(
                    msg,
                    {
                        "key": self._key_of(msg),
                        "version": ev.version,
                        **_data(data if data is not None else b""),
                    },
                )
            if ev.final:
                self._drop_watch(ev.watcher_id)
                self.stream_end(msg, errno.ENODATA)

    @staticmethod
    def _key_of(msg) -> str:
        p = msg.payload
        return p.get("key", "") if isinstance(p, dict) else ""

    def _drop_watch(self, wid: int) -> None:
        msg = self._wmsg.pop(wid, None)
        if msg is not None:
            self._wid.pop((msg.sender, msg.matchtag), None)

    def on_cancel(self, msg) -> None:
        wid = self._wid.pop((msg.sender, msg.matchtag), None)
        if wid is not None:
            self._wmsg.pop(wid, None)
            self.watches.remove(wid)

    def on_disconnect(self, sender: str) -> None:
        for key in [k for k in self._wid if k[0] == sender]:
            wid = self._wid.pop(key)
            self._wmsg.pop(wid, None)
            self.watches.remove(wid)
        self._version_waits = [w for w in self._version_waits if w[0].sender != sender]
