"""The key-value store: pure model of Flux's KVS (RFC 10, 11, 16, 18).

This package holds the I/O-free core the ``kvs`` service is built on:

- :mod:`fluxlab.kvs.treeobj` -- RFC 11 tree objects (validation, encoding);
- :mod:`fluxlab.kvs.content` / :mod:`fluxlab.kvs.sqlite_store` -- RFC 10
  content stores (memory, sqlite) with namespace checkpoints;
- :mod:`fluxlab.kvs.txn` -- transactions and their Flux wire form;
- :mod:`fluxlab.kvs.model` -- namespaces, merged commits, versions, lookups;
- :mod:`fluxlab.kvs.watch` -- watch registry computing watcher notifications;
- :mod:`fluxlab.kvs.errors`, :mod:`fluxlab.kvs.flags`, :mod:`fluxlab.kvs.keys`.

Nothing here imports pyzmq or the broker.  Spec: ``docs/spec/kvs.md``.
"""

from fluxlab.kvs.content import Checkpoint, ContentStore, MemoryContentStore
from fluxlab.kvs.errors import KVSError
from fluxlab.kvs.keys import PRIMARY_NAMESPACE, join_key, normalize_key
from fluxlab.kvs.model import BatchResult, CommitResult, KVSModel, NamespaceInfo
from fluxlab.kvs.sqlite_store import SqliteContentStore
from fluxlab.kvs.txn import Op, Txn
from fluxlab.kvs.watch import WatchEvent, WatchRegistry

__all__ = [
    "PRIMARY_NAMESPACE",
    "BatchResult",
    "Checkpoint",
    "CommitResult",
    "ContentStore",
    "KVSError",
    "KVSModel",
    "MemoryContentStore",
    "NamespaceInfo",
    "Op",
    "SqliteContentStore",
    "Txn",
    "WatchEvent",
    "WatchRegistry",
    "join_key",
    "normalize_key",
]

#: ``flux.kvs`` client API (loaded on first use; see :mod:`fluxlab.kvs.client`).
_CLIENT = {
    "KVSDir",
    "KVSTxn",
    "KVSWatchFuture",
    "commit",
    "commit_async",
    "exists",
    "get",
    "get_dir",
    "isdir",
    "join",
    "kvs_watch_async",
    "namespace_create",
    "namespace_list",
    "namespace_remove",
    "put",
    "put_mkdir",
    "put_symlink",
    "put_unlink",
    "walk",
}
__all__ += sorted(_CLIENT)


def __getattr__(name: str):
    if name in _CLIENT:
        from fluxlab.kvs import client

        return getattr(client, name)
    raise AttributeError(f"module 'fluxlab.kvs' has no attribute {name!r}")
