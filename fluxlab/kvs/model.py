"""The KVS model: namespaces of content-addressed trees, commits, lookups.

:class:`KVSModel` is the pure, I/O-free core of the ``kvs`` service (the only
I/O is the :class:`~fluxlab.kvs.content.ContentStore` it is given).  The
service on rank 0 is a thin adapter: it gathers pending ``kvs.commit`` requests
of one namespace, calls :meth:`KVSModel.commit_batch`, answers each request
from the per-transaction result, publishes ``kvs.setroot`` with the batch's
version, rootref and changed keys, and hands the batch to a
:class:`~fluxlab.kvs.watch.WatchRegistry`.  Spec: ``docs/spec/kvs.md``.

Each namespace keeps a *working copy* of its current tree in memory: mutable
:class:`~fluxlab.kvs._nodes.Dir` objects whose blobrefs are recomputed only
along the paths a batch touched, with per-entry JSON fragments cached, so a
commit costs O(path length) encodes, independent of directory sizes (large
directories are stored as RFC 11 ``hdir`` buckets).  Older versions (a bounded
history, ``history`` versions per namespace) and arbitrary root blobrefs are
read from the content store through a cache of decoded directory blobs.

The model is not thread-safe; one service thread owns it.
"""

from __future__ import annotations

import errno as _errno
import os
from collections.abc import Sequence
from typing import Any

from fluxlab.kvs import flags as _flags, treeobj as _treeobj
from fluxlab.kvs._apply import Applier
from fluxlab.kvs._gc import Collection
from fluxlab.kvs._maintenance import Maintenance
from fluxlab.kvs._nodes import (
    Dir,
    DirRef,
    Flusher,
    Symlink,
    Val,
    ValRef,
)
from fluxlab.kvs._read_helpers import ReadHelpers
from fluxlab.kvs._reader import Reader, is_dir_node, is_value_node
from fluxlab.kvs.content import Checkpoint, ContentStore, MemoryContentStore
from fluxlab.kvs.errors import (
    InvalidArgumentError,
    InvalidFlagsError,
    InvalidNamespaceError,
    IsDirError,
    KVSError,
    NamespaceExistsError,
    NamespaceNotFoundError,
    NamespacePermissionError,
    NotDirError,
    NotSymlinkError,
    StoreError,
    VersionNotAvailableError,
    check_int as _check_int,
)
from fluxlab.kvs.keys import PRIMARY_NAMESPACE, split_key, validate_namespace_name
from fluxlab.kvs.results import BatchResult, CommitResult, NamespaceInfo
from fluxlab.kvs.txn import Txn

__all__ = ["BatchResult", "CommitResult", "KVSModel", "NamespaceInfo"]


class _Namespace:
    __slots__ = ("history", "name", "owner", "root", "rootref", "version")

    def __init__(self, name: str, owner: int, version: int, root: Dir, rootref: str) -> None:
        self.name = name
        self.owner = owner
        self.version = version
        self.root = root
        self.rootref = rootref
        self.history: dict[int, str] = {version: rootref}


class KVSModel(ReadHelpers, Maintenance):
    """Namespaces, transactions, versions and lookups over a content store.

    Parameters
    ----------
    store
        Content store; a fresh :class:`MemoryContentStore` by default.  A store
        that holds checkpoints (e.g. a reopened sqlite file) is resumed.
    owner
        Owner user id of ``primary`` when it is created (the instance owner).
    history
        Number of root versions kept per namespace for lookups by version.
    max_dirent
        Directories with more entries are stored as ``hdir`` buckets.
    hdir_size
        Buckets per ``hdir`` (a power of two, 2..65536).
    val_inline_max
        Values up to this size are stored inline as ``val``; larger as ``valref``.
    cache_size
        Decoded directory blobs kept for lookups outside the working copy.
    """

    def __init__(
        self,
        store: ContentStore | None = None,
        *,
        owner: int = 0,
        history: int = 10_000,
        max_dirent: int = 64,
        hdir_size: int = 16,
        val_inline_max: int = 64,
        cache_size: int = 4096,
    ) -> None:
        _check_int(owner, "owner")
        self.history_size = _check_int(history, "history", 1)
        self.max_dirent = _check_int(max_dirent, "max_dirent", 1)
        _check_int(hdir_size, "hdir_size", 2)
        if hdir_size & (hdir_size - 1) or hdir_size > 1 << 16:
            raise InvalidArgumentError(
                f"hdir_size must be a power of two <= 65536, not {hdir_size}"
            )
        self._bits = hdir_size.bit_length() - 1
        _check_int(val_inline_max, "val_inline_max")
        _check_int(cache_size, "cache_size", 1)
        self.store = store if store is not None else MemoryContentStore()
        self._reader = Reader(self.store, cache_size)
        self._applier = Applier(self.store, self._reader, val_inline_max)
        self._flusher = Flusher(self.store.hash_name, self.max_dirent, self._bits)
        #: the store counts references: commits hand it the dirs' links
        self._counted = bool(getattr(self.store, "takes_links", False))
        self._ns: dict[str, _Namespace] = {}
        self._gc: Collection | None = None  # an incremental collection under way
        self._load(owner)

    @classmethod
    def open(
        cls,
        statedir: str | os.PathLike[str] | None = None,
        *,
        hash_name: str = "sha1",
        max_blob_size: int | None = None,
        **kwargs: Any,
    ) -> KVSModel:
        """A model on ``<statedir>/content.sqlite``, or in memory if ``statedir`` is None."""
        store_kw: dict[str, Any] = {"hash_name": hash_name}
        if max_blob_size is not None:
            store_kw["max_blob_size"] = max_blob_size
        if statedir is None:
            return cls(MemoryContentStore(**store_kw), **kwargs)
        from fluxlab.kvs.sqlite_store import SqliteContentStore

        return cls(SqliteContentStore.open_statedir(statedir, **store_kw), **kwargs)

    def close(self) -> None:
        """Close the content store."""
        self.store.close()

    def __enter__(self) -> KVSModel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- loading and namespaces ----------------------------------------------

    def _new_root(self, rootref: str | None) -> tuple[Dir, dict[str, bytes]]:
        if rootref is None:
            root = Dir()
            flusher = Flusher(self.store.hash_name, self.max_dirent, self._bits)
            flusher.flush(root)
            return root, flusher.blobs
        return self._applier.materialize(DirRef(rootref)), {}

    def _load(self, owner: int) -> None:
        for name, cp in sorted(self.store.checkpoints().items()):
            root, _ = self._new_root(cp.rootref)
            ns = _Namespace(name, cp.owner, cp.version, root, cp.rootref)
            for version, ref in self.store.history(name, self.history_size):
                if version <= cp.version:
                    ns.history[version] = ref
            self._ns[name] = ns
        if PRIMARY_NAMESPACE not in self._ns:
            self._create(PRIMARY_NAMESPACE, owner, None)

    def _create(self, name: str, owner: int, rootref: str | None) -> _Namespace:
        root, blobs = self._new_root(rootref)
        if root.ref is None:  # a seeded root holding foreign inline dirs
            flusher = Flusher(self.store.hash_name, self.max_dirent, self._bits)
            flusher.flush(root)
            blobs = flusher.blobs
        ns = _Namespace(name, owner, 0, root, root.ref)  # type: ignore[arg-type]
        self.store.write(blobs, [Checkpoint(name, owner, 0, ns.rootref)], history=self.history_size)
        self._ns[name] = ns
        if self._gc is not None:
            self._gc.add_root(ns.rootref)
        return ns

    def _get_ns(self, name: str) -> _Namespace:
        try:
            return self._ns[name]
        except (KeyError, TypeError):
            if not isinstance(name, str):
                raise InvalidNamespaceError(
                    f"namespace must be a string, not {type(name).__name__}"
                ) from None
            raise NamespaceNotFoundError(f"namespace {name!r} does not exist") from None

    def namespace_create(
        self, name: str, owner: int, *, rootref: str | None = None
    ) -> NamespaceInfo:
        """Create namespace ``name`` owned by ``owner`` at version 0.

        Its root is an empty directory, or the stored directory ``rootref``
        (Flux's ``namespace_create_with``).

        Raises
        ------
        NamespaceExistsError
            ``EEXIST`` if it exists.
        InvalidNamespaceError, InvalidArgumentError
            For a bad name, owner or rootref.
        """
        validate_namespace_name(name)
        _check_int(owner, "owner")
        if name in self._ns:
            raise NamespaceExistsError(f"namespace {name!r} already exists")
        if rootref is not None:
            _treeobj.validate_blobref(rootref, "rootref")
            self._reader.load_dir(rootref)
        ns = self._create(name, owner, rootref)
        return NamespaceInfo(name, owner, 0, ns.rootref)

    def namespace_remove(self, name: str) -> None:
        """Remove namespace ``name`` (its blobs stay until garbage collection).

        Raises
        ------
        NamespaceNotFoundError
            ``ENOTSUP`` if it does not exist.
        InvalidNamespaceError
            ``EINVAL`` for ``primary``, which cannot be removed.
        """
        self._get_ns(name)
        if name == PRIMARY_NAMESPACE:
            raise InvalidNamespaceError("the primary namespace cannot be removed")
        self.store.write({}, removed=[name])
        del self._ns[name]

    def namespace_list(self) -> list[NamespaceInfo]:
        """Every namespace, sorted by name."""
        return [self.namespace_info(n) for n in sorted(self._ns)]

    def namespace_info(self, name: str = PRIMARY_NAMESPACE) -> NamespaceInfo:
        """Owner, version and root blobref of ``name`` (``kvs.getroot``)."""
        ns = self._get_ns(name)
        return NamespaceInfo(ns.name, ns.owner, ns.version, ns.rootref)

    def has_namespace(self, name: str) -> bool:
        return isinstance(name, str) and name in self._ns

    def version(self, namespace: str = PRIMARY_NAMESPACE) -> int:
        """Current version (root sequence number) of ``namespace``."""
        return self._get_ns(namespace).version

    def rootref(self, namespace: str = PRIMARY_NAMESPACE) -> str:
        """Current root blobref of ``namespace``."""
        return self._get_ns(namespace).rootref

    def root_at(self, namespace: str, version: int) -> str:
        """Root blobref of ``namespace`` at ``version``.

        Raises
        ------
        VersionNotAvailableError
            ``ENOENT`` if dropped from history, ``EAGAIN`` if not reached yet.
        """
        ns = self._get_ns(namespace)
        _check_int(version, "version")
        ref = ns.history.get(version)
        if ref is not None:
            return ref
        if version > ns.version:
            raise VersionNotAvailableError(
                f"namespace {namespace!r} is at version {ns.version}, not yet {version}",
                errno=_errno.EAGAIN,
            )
        raise VersionNotAvailableError(
            f"version {version} of namespace {namespace!r} is no longer in history "
            f"(oldest kept: {min(ns.history)})"
        )

    def history_range(self, namespace: str = PRIMARY_NAMESPACE) -> tuple[int, int]:
        """``(oldest, newest)`` versions of ``namespace`` that can be looked up."""
        ns = self._get_ns(namespace)
        return min(ns.history), ns.version

    def authorize(self, namespace: str, userid: int, *, instance_owner: bool) -> None:
        """Raise ``EPERM`` unless the requester is the instance or namespace owner."""
        ns = self._get_ns(namespace)
        if not instance_owner and userid != ns.owner:
            raise NamespacePermissionError(
                f"user {userid} may not access namespace {namespace!r} (owner {ns.owner})"
            )

    # -- commits --------------------------------------------------------------

    def commit(self, txn: Txn, namespace: str = PRIMARY_NAMESPACE) -> CommitResult:
        """Commit one transaction alone; raise its error if it fails."""
        return self.commit_batch([txn], namespace).result(0)

    def commit_batch(self, txns: Sequence[Txn], namespace: str = PRIMARY_NAMESPACE) -> BatchResult:
        """Apply ``txns`` in order as one root update (commit merging).

        Each transaction is atomic: it applies entirely or, on error, not at all
        and without affecting the others.  If any transaction applied, the
        namespace moves to ``version + 1`` with a new root, written to the
        content store in one ``write`` together with the checkpoint.

        Raises
        ------
        NamespaceNotFoundError
            ``ENOTSUP`` if the namespace does not exist.
        InvalidArgumentError
            If ``txns`` is not a sequence of :class:`Txn`.
        """
        ns = self._get_ns(namespace)
        if isinstance(txns, Txn) or not isinstance(txns, Sequence):
            raise InvalidArgumentError("commit_batch takes a list of Txn objects")
        for i, txn in enumerate(txns):
            if not isinstance(txn, Txn):
                raise InvalidArgumentError(
                    f"batch element {i} is a {type(txn).__name__}, not a Txn"
                )
        apply = self._applier.apply
        rollback = self._applier.rollback
        root = ns.root
        blobs: dict[str, bytes] = {}
        keys: dict[str, None] = {}
        errors: list[KVSError | None] = []
        applied = False
        try:
            for txn in txns:
                undo: list = []
                tblobs: dict[str, bytes] = {}
                try:
                    apply(root, ns.name, txn, undo, tblobs)
                except KVSError as exc:
                    rollback(undo)
                    errors.append(exc)
                    continue
                blobs.update(tblobs)
                for op in txn.ops:
                    keys[op.key] = None
                errors.append(None)
                applied = True
            if not applied:
                return BatchResult(ns.name, ns.version, ns.rootref, (), tuple(errors))
            flusher = self._flusher
            flusher.blobs = blobs
            flusher.links = links = {} if self._counted else None
            flusher.gen += 1
            ref = flusher.flush(root)
            flusher.blobs = {}
            flusher.links = None
        except BaseException:
            self._reload(ns)  # a bug or interrupt mid-batch: drop the working copy
            raise
        version = ns.version + 1
        try:
            cps = [Checkpoint(ns.name, ns.owner, version, ref)]
            if links is not None:
                self.store.write(blobs, cps, history=self.history_size, links=links)
            else:
                self.store.write(blobs, cps, history=self.history_size)
        except StoreError as exc:
            self._reload(ns)
            failed = tuple(exc if e is None else e for e in errors)
            return BatchResult(ns.name, ns.version, ns.rootref, (), failed)
        ns.version = version
        ns.rootref = ref
        hist = ns.history
        hist[version] = ref
        hist.pop(version - self.history_size, None)
        if self._gc is not None:
            self._gc.add_root(ref)
        return BatchResult(ns.name, version, ref, tuple(sorted(keys)), tuple(errors))

    def _reload(self, ns: _Namespace) -> None:
        """Rebuild the working copy of ``ns`` from its last committed root."""
        ns.root = self._applier.materialize(DirRef(ns.rootref))

    # -- lookups --------------------------------------------------------------

    def _resolve(self, key, namespace, version, root, follow: bool):
        comps = split_key(key)
        if root is None and version is None:
            snap = self._get_ns(namespace).root
        else:
            snap = self._snapshot(namespace, version, root)

        def root_of(name: str):
            if name == namespace:
                return snap
            return self._get_ns(name).root

        return self._reader.walk(root_of, namespace, comps, follow, key)[0]

    def _snapshot(self, namespace: str, version: int | None, root: object):
        if version is not None and root is not None:
            raise InvalidArgumentError("give a version or a root, not both")
        if root is not None:
            if isinstance(root, dict):
                _treeobj.validate(root)
                if root["type"] != "dirref":
                    raise InvalidArgumentError(f"root treeobj must be a dirref, not {root['type']}")
                ref = root["data"][0]
            else:
                ref = _treeobj.validate_blobref(root, "root")
            if not isinstance(namespace, str):
                raise InvalidNamespaceError(
                    f"namespace must be a string, not {type(namespace).__name__}"
                )
            ns = self._ns.get(namespace)
        else:
            ns = self._get_ns(namespace)
            ref = self.root_at(namespace, version)  # type: ignore[arg-type]
        if ns is not None and ref == ns.rootref:
            return ns.root
        self._reader.load_dir(ref)  # surface a missing or non-directory root now
        return DirRef(ref)

    def lookup(
        self,
        key: str,
        namespace: str = PRIMARY_NAMESPACE,
        *,
        flags: int = 0,
        version: int | None = None,
        root: str | dict | None = None,
    ) -> dict[str, Any]:
        """Look ``key`` up as the ``kvs.lookup`` RPC does; return a tree object.

        Parameters
        ----------
        flags
            :data:`~fluxlab.kvs.flags.READDIR` (want a directory, returned as a
            ``dir`` of all entries), :data:`~fluxlab.kvs.flags.READLINK` (want a
            symlink, not followed) or :data:`~fluxlab.kvs.flags.TREEOBJ` (the
            entry as stored: ``valref``/``dirref`` not expanded, final symlink
            not followed).  With none, values come back as one ``val``.
        version, root
            Look up in an older version, or in the tree at a root blobref (or a
            ``dirref`` tree object); default is the current version.

        Raises
        ------
        KeyNotFoundError, IsDirError, NotDirError, NotSymlinkError, SymlinkLoopError,
        NamespaceNotFoundError, VersionNotAvailableError, InvalidFlagsError
        """
        if type(flags) is not int or flags & ~_flags.LOOKUP_FLAGS:
            raise InvalidFlagsError(f"invalid lookup flags {flags!r}")
        readlink = flags & _flags.READLINK
        node = self._resolve(
            key, namespace, version, root, not (readlink or flags & _flags.TREEOBJ)
        )
        if flags & _flags.TREEOBJ:
            return node.treeobj()
        if is_dir_node(node):
            if readlink:
                raise NotSymlinkError(f"key {key!r} is a directory, not a symlink")
            if not flags & _flags.READDIR:
                raise IsDirError(f"key {key!r} is a directory")
            entries = self._reader.entries(node)
            return {"ver": 1, "type": "dir", "data": {n: e.treeobj() for n, e in entries.items()}}
        if flags & _flags.READDIR:
            raise NotDirError(f"key {key!r} is not a directory")
        if type(node) is Symlink:
            return node.treeobj()
        if readlink:
            raise NotSymlinkError(f"key {key!r} is a value, not a symlink")
        return _treeobj.create_val(self._reader.value(node))

    def get(
        self,
        key: str,
        namespace: str = PRIMARY_NAMESPACE,
        *,
        version: int | None = None,
        root: str | dict | None = None,
    ) -> bytes:
        """Raw bytes of the value at ``key`` (symlinks followed).

        Raises
        ------
        KeyNotFoundError
            ``ENOENT``.
        IsDirError
            ``EISDIR`` if ``key`` is a directory.
        """
        node = self._resolve(key, namespace, version, root, True)
        if is_value_node(node):
            return self._reader.value(node)
        raise IsDirError(f"key {key!r} is a directory")

    def _append_state(
        self, key: str, namespace: str, version: int | None
    ) -> tuple[bytes | None, tuple[str, ...]]:
        """For append watchers: ``(data, ())`` for a ``val``, ``(None, refs)`` for a ``valref``."""
        node = self._resolve(key, namespace, version, None, True)
        if type(node) is Val:
            return node.data, ()
        if type(node) is ValRef:
            return None, node.refs
        raise IsDirError(f"key {key!r} is a directory")

    def load_blob(self, ref: str) -> bytes:
        """Raw blob ``ref`` from the content store (``content.load``)."""
        _treeobj.validate_blobref(ref)
        return self.store.load(ref)

    def stats(self) -> dict[str, Any]:
        """Counters for ``kvs.stats``: namespaces, versions, store and cache sizes."""
        return {
            "namespaces": {
                n: {"version": ns.version, "owner": ns.owner, "history": len(ns.history)}
                for n, ns in sorted(self._ns.items())
            },
            "store": self.store.stats(),
            "cache": len(self._reader._cache),
        }
