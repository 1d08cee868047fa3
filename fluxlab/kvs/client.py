"""KVS client API with the names of ``flux.kvs`` (see ``docs/spec/kvs-rpc.md``).

``get/put/commit`` follow Flux: ``put``, ``put_mkdir``, ``put_unlink`` and
``put_symlink`` add operations to a transaction kept on the handle, and
``commit`` sends it.  :class:`KVSTxn` is an explicit transaction (a context
manager that commits on exit); :class:`KVSDir` is a mutable mapping view of a
directory.  Values are JSON-encoded on the way in and decoded on the way out
(``raw=True`` stores bytes/str as they are).
"""

from __future__ import annotations

import base64
import errno
import json
from collections.abc import Iterator, MutableMapping
from typing import Any

from fluxlab._proto import FLAG_STREAMING
from fluxlab.core.errors import FluxError
from fluxlab.core.future import Future

__all__ = [
    "KVSDir",
    "KVSTxn",
    "KVSWatchFuture",
    "commit",
    "commit_async",
    "decode_value",
    "encode_value",
    "exists",
    "get",
    "get_dir",
    "get_raw",
    "isdir",
    "join",
    "kvs_watch_async",
    "lookup_async",
    "namespace_create",
    "namespace_list",
    "namespace_remove",
    "put",
    "put_mkdir",
    "put_symlink",
    "put_unlink",
    "walk",
]

_TXN_AUX = "fluxlab.kvs.txn"


def join(*args: str) -> str:
    """Join key components with ``.``."""
    return ".".join(a for a in args if a and a != ".")


def encode_value(value: Any, raw: bool = False) -> dict:
    """Wire form of a value: ``{"data": text}`` or ``{"data_b64": ...}``."""
    if raw:
        data = value if isinstance(value, bytes) else str(value).encode()
    else:
        try:
            data = json.dumps(value, separators=(",", ":")).encode()
        except (TypeError, ValueError) as e:
            raise TypeError(f"KVS value is not JSON-serialisable: {e}") from None
    try:
        return {"data": data.decode()}
    except UnicodeDecodeError:
        return {"data_b64": base64.b64encode(data).decode()}


def raw_bytes(resp: dict) -> bytes:
    if "data_b64" in resp:
        return base64.b64decode(resp["data_b64"])
    return resp.get("data", "").encode()


def decode_value(resp: dict) -> Any:
    """A JSON value if the stored bytes are JSON, else the text (or bytes)."""
    if "data_b64" in resp:
        return base64.b64decode(resp["data_b64"])
    text = resp.get("data", "")
    try:
        return json.loads(text)
    except ValueError:
        return text


def _ns(namespace: str | None) -> dict:
    return {"namespace": namespace} if namespace else {}


def lookup_async(h, key: str, namespace: str | None = None, **flags: Any) -> Future:
    return h.rpc("kvs.lookup", {"key": key, **_ns(namespace), **flags})


def get(flux_handle, key: str, namespace: str | None = None, _kvstxn=None) -> Any:
    """The value at ``key``; a :class:`KVSDir` when ``key`` is a directory.

    Raises
    ------
    FluxError
        ``ENOENT`` when the key does not exist.
    """
    try:
        resp = lookup_async(flux_handle, key, namespace).get()
    except FluxError as e:
        if e.errno == errno.EISDIR:
            return KVSDir(flux_handle, key, namespace=namespace)
        raise
    return decode_value(resp)


def get_raw(flux_handle, key: str, namespace: str | None = None) -> bytes:
    return raw_bytes(lookup_async(flux_handle, key, namespace).get())


def exists(flux_handle, key: str, namespace: str | None = None) -> bool:
    try:
        lookup_async(flux_handle, key, namespace, treeobj=True).get()
        return True
    except FluxError as e:
        if e.errno in (errno.ENOENT, errno.ENOTDIR):
            return False
        raise


def isdir(flux_handle, key: str, namespace: str | None = None) -> bool:
    try:
        t = lookup_async(flux_handle, key, namespace, treeobj=True).get()["treeobj"]
    except FluxError as e:
        if e.errno in (errno.ENOENT, errno.ENOTDIR):
            return False
        raise
    return t.get("type") in ("dir", "dirref")


def get_dir(flux_handle, key: str = ".", namespace: str | None = None, _kvstxn=None) -> KVSDir:
    return KVSDir(flux_handle, key, namespace=namespace)


# -- handle-level transaction (flux.kvs.put + commit) --------------------------------
def _handle_txn(h, namespace: str | None = None) -> KVSTxn:
    txns = h.aux_get(_TXN_AUX)
    if txns is None:
        txns = {}
        h.aux_set(_TXN_AUX, txns)
    key = namespace or ""
    if key not in txns:
        txns[key] = KVSTxn(h, namespace=namespace)
    return txns[key]


def put(
    flux_handle, key: str, value: Any, _kvstxn: KVSTxn | None = None, raw: bool = False
) -> None:
    (_kvstxn or _handle_txn(flux_handle)).put(key, value, raw=raw)


def put_mkdir(flux_handle, key: str, _kvstxn: KVSTxn | None = None) -> None:
    (_kvstxn or _handle_txn(flux_handle)).mkdir(key)


def put_unlink(flux_handle, key: str, _kvstxn: KVSTxn | None = None) -> None:
    (_kvstxn or _handle_txn(flux_handle)).unlink(key)


def put_symlink(flux_handle, key: str, target: str, _kvstxn: KVSTxn | None = None) -> None:
    (_kvstxn or _handle_txn(flux_handle)).symlink(key, target)


def commit_async(
    flux_handle, flags: int = 0, namespace: str | None = None, _kvstxn: KVSTxn | None = None
) -> Future:
    txn = _kvstxn
    if txn is None:
        txns = flux_handle.aux_get(_TXN_AUX) or {}
        txn = txns.pop(namespace or "", None) or KVSTxn(flux_handle, namespace=namespace)
    return txn.commit_async()


def commit(
    flux_handle, flags: int = 0, namespace: str | None = None, _kvstxn: KVSTxn | None = None
) -> int:
    """Commit pending puts; returns the new version."""
    return commit_async(flux_handle, flags, namespace, _kvstxn).get()["version"]


# -- namespaces -----------------------------------------------------------------
def namespace_create(flux_handle, namespace: str, owner: int = 0, flags: int = 0) -> None:
    flux_handle.rpc("kvs.namespace-create", {"namespace": namespace, "owner": owner}).get()


def namespace_remove(flux_handle, namespace: str) -> None:
    flux_handle.rpc("kvs.namespace-remove", {"namespace": namespace}).get()


def namespace_list(flux_handle) -> list[str]:
    return [n["namespace"] for n in flux_handle.rpc("kvs.namespace-list").get()["namespaces"]]


class KVSTxn:
    """A KVS transaction: operations applied atomically by :meth:`commit`.

    Keys are relative to ``path``.  Used as a context manager it commits on a
    clean exit.
    """

    def __init__(self, flux_handle=None, path: str = ".", namespace: str | None = None):
        self.h = flux_handle
        self.path = path
        self.namespace = namespace
        self.ops: list[dict] = []

    def _key(self, key: str) -> str:
        if not isinstance(key, str) or not key:
            raise ValueError(f"KVS key must be a non-empty string, not {key!r}")
        return join(self.path, key) if self.path not in (".", "") else key

    def put(self, key: str, value: Any, raw: bool = False) -> KVSTxn:
        self.ops.append({"op": "put", "key": self._key(key), **encode_value(value, raw)})
        return self

    def append(self, key: str, value: Any, raw: bool = False) -> KVSTxn:
        self.ops.append({"op": "append", "key": self._key(key), **encode_value(value, raw)})
        return self

    def mkdir(self, key: str) -> KVSTxn:
        self.ops.append({"op": "mkdir", "key": self._key(key)})
        return self

    def unlink(self, key: str) -> KVSTxn:
        self.ops.append({"op": "unlink", "key": self._key(key)})
        return self

    def symlink(self, key: str, target: str, namespace: str | None = None) -> KVSTxn:
        op = {"op": "symlink", "key": self._key(key), "target": target}
        if namespace:
            op["target_namespace"] = namespace
        self.ops.append(op)
        return self

    def commit_async(self) -> Future:
        ops, self.ops = self.ops, []
        return self.h.rpc("kvs.commit", {"ops": ops, **_ns(self.namespace)})

    def commit(self) -> int:
        return self.commit_async().get()["version"]

    def __enter__(self) -> KVSTxn:
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is None and self.ops:
            self.commit()


class KVSDir(MutableMapping):
    """A directory of the KVS as a mapping (``flux.kvs.KVSDir``).

    Reads go to the service; writes are collected in a transaction and sent
    by :meth:`commit` (or on leaving a ``with`` block).
    """

    def __init__(
        self,
        flux_handle=None,
        path: str = ".",
        handle=None,
        namespace: str | None = None,
        _kvstxn: KVSTxn | None = None,
    ):
        self.h = flux_handle or handle
        self.path = path
        self.namespace = namespace
        self._txn = _kvstxn or KVSTxn(self.h, path, namespace)

    def _entries(self) -> dict[str, str]:
        return lookup_async(self.h, self.path, self.namespace, dir=True).get()["entries"]

    def _full(self, key: str) -> str:
        return key if self.path in (".", "") else join(self.path, key)

    def __getitem__(self, key: str) -> Any:
        full = self._full(key)
        if isdir(self.h, full, self.namespace):
            return KVSDir(self.h, full, namespace=self.namespace)
        try:
            return get(self.h, full, self.namespace)
        except FluxError as e:
            if e.errno == errno.ENOENT:
                raise KeyError(key) from None
            raise

    def __setitem__(self, key: str, value: Any) -> None:
        self._txn.put(key, value)

    def __delitem__(self, key: str) -> None:
        self._txn.unlink(key)

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._entries()))

    def __len__(self) -> int:
        return len(self._entries())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key in self._entries()

    def files(self) -> list[str]:
        return sorted(k for k, t in self._entries().items() if t not in ("dir", "dirref"))

    def directories(self) -> list[str]:
        return sorted(k for k, t in self._entries().items() if t in ("dir", "dirref"))

    def list_all(self) -> tuple[list[str], list[str]]:
        return self.files(), self.directories()

    def mkdir(self, key: str, contents: dict | None = None) -> None:
        self._txn.mkdir(key)
        for k, v in (contents or {}).items():
            self._txn.put(join(key, k), v)

    def fill(self, contents: dict) -> None:
        for k, v in contents.items():
            self[k] = v

    def commit(self) -> int:
        return self._txn.commit()

    def __enter__(self) -> KVSDir:
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is None and self._txn.ops:
            self.commit()

    def __repr__(self) -> str:
        return f"KVSDir({self.path!r})"


def walk(
    directory: str | KVSDir, topdown: bool = False, flux_handle=None, namespace: str | None = None
):
    """Yield ``(path, dirs, files)`` for a KVS directory tree, like ``os.walk``."""
    d = (
        directory
        if isinstance(directory, KVSDir)
        else KVSDir(flux_handle, directory, namespace=namespace)
    )
    files, dirs = d.list_all()
    if topdown:
        yield d.path, dirs, files
    for sub in dirs:
        yield from walk(KVSDir(d.h, d._full(sub), namespace=d.namespace), topdown)
    if not topdown:
        yield d.path, dirs, files


class KVSWatchFuture:
    """A watch on a key: ``get()`` returns the next value (blocking).

    Wraps the streaming ``kvs.watch`` RPC; ``cancel()`` ends it.
    """

    def __init__(self, fut: Future, raw: bool = False):
        self.future = fut
        self.raw = raw

    def get(self, timeout: float | None = None) -> Any:
        resp = self.future.get(timeout)
        self.future.reset()
        return raw_bytes(resp) if self.raw else decode_value(resp)

    def get_response(self, timeout: float | None = None) -> dict:
        resp = self.future.get(timeout)
        self.future.reset()
        return resp

    def then(self, cb, *args) -> KVSWatchFuture:
        self.future.then(lambda f: cb(self, *args))
        return self

    def cancel(self) -> None:
        self.future.cancel()

    def __iter__(self):
        for resp in self.future.stream():
            yield raw_bytes(resp) if self.raw else decode_value(resp)


def kvs_watch_async(
    flux_handle,
    key: str,
    namespace: str | None = None,
    waitcreate: bool = False,
    uniq: bool = False,
    full: bool = False,
    append: bool = False,
    initial: bool = True,
) -> KVSWatchFuture:
    """Watch ``key``: a response now (unless ``initial=False``) and one per change."""
    payload = {
        "key": key,
        "waitcreate": waitcreate,
        "uniq": uniq,
        "full": full,
        "append": append,
        "initial": initial,
        **_ns(namespace),
    }
    return KVSWatchFuture(flux_handle.rpc("kvs.watch", payload, flags=FLAG_STREAMING), raw=append)
