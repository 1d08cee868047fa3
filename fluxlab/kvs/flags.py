"""Flag bits of KVS lookups, watches and commits, with Flux's numeric values.

Lookup flags (``kvs.lookup``): :data:`READDIR`, :data:`READLINK`, :data:`TREEOBJ`.
Watch flags (``kvs-watch.lookup``) add :data:`WATCH`, :data:`WAITCREATE`,
:data:`WATCH_FULL`, :data:`WATCH_UNIQ`, :data:`WATCH_APPEND` and
:data:`WATCH_INITIAL_SENTINEL`.  Commit flags (``kvs.commit``) are
:data:`COMMIT_NO_MERGE`, :data:`COMMIT_TXN_COMPACT` and :data:`COMMIT_SYNC`; the
model accepts every batch the service hands it, so these only guide how the
service forms batches (``NO_MERGE`` commits go alone).
"""

__all__ = [
    "APPEND",
    "COMMIT_NO_MERGE",
    "COMMIT_SYNC",
    "COMMIT_TXN_COMPACT",
    "LOOKUP_FLAGS",
    "READDIR",
    "READLINK",
    "TREEOBJ",
    "WAITCREATE",
    "WATCH",
    "WATCH_APPEND",
    "WATCH_FLAGS",
    "WATCH_FULL",
    "WATCH_INITIAL_SENTINEL",
    "WATCH_UNIQ",
]

READDIR = 1
READLINK = 2
WATCH = 4
WAITCREATE = 8
TREEOBJ = 16
#: Op flag of an append in a transaction's wire form.
APPEND = 32
WATCH_FULL = 64
WATCH_UNIQ = 128
WATCH_APPEND = 256
WATCH_INITIAL_SENTINEL = 1024

LOOKUP_FLAGS = READDIR | READLINK | TREEOBJ
WATCH_FLAGS = WATCH | WAITCREATE | WATCH_FULL | WATCH_UNIQ | WATCH_APPEND | WATCH_INITIAL_SENTINEL

COMMIT_NO_MERGE = 1
COMMIT_TXN_COMPACT = 2
COMMIT_SYNC = 4
