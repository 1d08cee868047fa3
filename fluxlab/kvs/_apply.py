"""Applying transaction ops to a live tree, with undo (internal).

Semantics follow flux-core ``kvstxn.c``:

- put/mkdir/symlink/treeobj replace whatever the final component holds;
- a missing intermediate component is created as a directory, and an
  intermediate *value* is silently replaced by a directory;
- unlink of a missing key (or of a key below a value) is a no-op;
- an intermediate symlink is followed (target from the namespace root), but
  not into another namespace (``EINVAL``);
- append to a missing key creates it; to a ``val`` converts it to a
  ``valref`` of [old, new]; to a ``valref`` adds one blobref; to a directory
  is ``EISDIR``; to a symlink is ``EOPNOTSUPP``;
- the root itself cannot be the target of an op (``EINVAL``).

Every change to a live :class:`Dir` goes through :meth:`Applier._set`, which
records ``(dir, name, old_entry, old_ref, name_was_dirty)``; replaying the log
backwards restores the tree exactly, so a failing transaction in a merged batch
leaves no trace.
"""

from __future__ import annotations

from fluxlab.kvs._nodes import (
    Dir,
    DirRef,
    StoredDir,
    StoredHDir,
    Symlink,
    Val,
    ValRef,
    frag,
    node_from_obj,
)
from fluxlab.kvs._reader import SYMLINK_LIMIT, Reader
from fluxlab.kvs.content import ContentStore
from fluxlab.kvs.errors import (
    BlobNotFoundError,
    InvalidOpError,
    InvalidTreeobjError,
    IsDirError,
    KVSError,
    NotSupportedError,
    SymlinkLoopError,
)
from fluxlab.kvs.keys import MAX_KEY_DEPTH, split_key
from fluxlab.kvs.txn import (
    OP_APPEND,
    OP_MKDIR,
    OP_PUT,
    OP_SYMLINK,
    OP_TREEOBJ,
    OP_UNLINK,
    Op,
    Txn,
)

Undo = list[tuple]


class Applier:
    """Applies transactions of one namespace to its live root.

    Parameters
    ----------
    store
        Gives the blobref function, the size limit and existence checks.
    reader
        Loads stored directories that must be copied before writing below them.
    val_inline_max
        Values up to this many bytes are kept inline (``val``); larger ones
        become a ``valref`` to one blob, as flux-core does for large values.
    """

    def __init__(self, store: ContentStore, reader: Reader, val_inline_max: int) -> None:
        self.store = store
        self.reader = reader
        self.val_inline_max = val_inline_max

    # -- undo ---------------------------------------------------------------

    @staticmethod
    def _set(d: Dir, name: str, node, undo: Undo) -> None:
        entries = d.entries
        undo.append((d, name, entries.get(name), d.ref, name in d.dirty))
        if node is None:
            entries.pop(name, None)
        else:
            entries[name] = node
        d.dirty.add(name)
        d.ref = None

    @staticmethod
    def _mark(d: Dir, name: str, undo: Undo) -> None:
        """Record that the child dir ``name`` of ``d`` changed."""
        if d.ref is None and name in d.dirty:
            return
        undo.append((d, name, d.entries.get(name), d.ref, name in d.dirty))
        d.dirty.add(name)
        d.ref = None

    @staticmethod
    def rollback(undo: Undo) -> None:
        """Undo changes not yet flushed."""
        for d, name, old, ref, was_dirty in reversed(undo):
            if old is None:
                d.entries.pop(name, None)
            else:
                d.entries[name] = old
            d.ref = ref
            if not was_dirty:
                d.dirty.discard(name)
        undo.clear()

    # -- node construction --------------------------------------------------

    def _value_node(self, data: bytes, blobs: dict[str, bytes], key: str):
        if len(data) > self.store.max_blob_size:
            self.store.check_size(len(data), f"value of {key!r}")
        if len(data) <= self.val_inline_max:
            return Val(data)
        ref = self.store.blobref(data)
        blobs[ref] = data
        return ValRef((ref,))

    def _blob(self, data: bytes, blobs: dict[str, bytes], key: str) -> str:
        if len(data) > self.store.max_blob_size:
            self.store.check_size(len(data), f"appended value of {key!r}")
        ref = self.store.blobref(data)
        blobs[ref] = data
        return ref

    def _exists(self, ref: str, blobs: dict[str, bytes]) -> bool:
        return ref in blobs or self.store.contains(ref)

    def _node_from_treeobj(self, obj: dict, blobs: dict[str, bytes], key: str):
        typ = obj["type"]
        if typ == "valref":
            for ref in obj["data"]:
                if not self._exists(ref, blobs):
                    raise BlobNotFoundError(f"valref for {key!r} names missing blob {ref}")
            return ValRef(tuple(obj["data"]))
        if typ == "dirref":
            ref = obj["data"][0]
            try:
                self.reader.load_dir(ref)
            except InvalidTreeobjError as exc:
                raise InvalidOpError(f"dirref for {key!r}: {exc}") from None
            return DirRef(ref)
        if typ == "hdir":
            raise InvalidOpError(f"{key!r}: an hdir cannot be put inline; put a dirref to it")
        if typ == "dir":
            d = Dir()
            for name, entry in obj["data"].items():
                d.entries[name] = self._node_from_treeobj(entry, blobs, f"{key}.{name}")
            d.dirty = set(d.entries)
            return d
        if typ == "val":
            return self._value_node(node_from_obj(obj).data, blobs, key)
        data = obj["data"]
        target = ".".join(split_key(data["target"], "symlink target")) or "."
        return Symlink(target, data.get("namespace"))

    def materialize(self, node) -> Dir:
        """A live Dir copy of a stored directory node."""
        stored = self.reader.load_dir(node.ref) if type(node) is DirRef else node
        entries = self.reader.entries(stored)
        d = Dir(entries)
        d.dirty = set()
        for name, e in entries.items():
            if type(e) is StoredDir or type(e) is StoredHDir:
                # an inline directory written by someone else: it gets its own blob
                entries[name] = self.materialize(e)
                d.dirty.add(name)
            else:
                d.frags[name] = frag(name, e)
        # clean (same content, same blobref) unless inline dirs must be unrolled
        d.ref = node.ref if type(node) is DirRef and not d.dirty else None
        return d

    # -- ops ----------------------------------------------------------------

    def apply(self, root: Dir, namespace: str, txn: Txn, undo: Undo, blobs: dict) -> None:
        """Apply every op of ``txn`` to ``root``; on error the caller rolls back."""
        for i, op in enumerate(txn.ops):
            try:
                self._apply_op(root, namespace, op, undo, blobs)
            except KVSError as exc:
                exc.args = (f"op {i} ({op.kind} {op.key!r}): {exc.args[0]}",)
                raise

    def _apply_op(self, root: Dir, namespace: str, op: Op, undo: Undo, blobs: dict) -> None:
        kind = op.kind
        if not op.comps:
            raise InvalidOpError("the root directory cannot be replaced or removed")
        if kind == OP_UNLINK:
            node = None
        elif kind == OP_PUT:
            node = self._value_node(op.data, blobs, op.key)
        elif kind == OP_MKDIR:
            node = Dir()
        elif kind == OP_SYMLINK:
            node = Symlink(op.target, op.namespace)
        elif kind == OP_TREEOBJ:
            node = self._node_from_treeobj(op.obj, blobs, op.key)
        elif kind == OP_APPEND:
            node = None
        else:  # pragma: no cover - Op constructors only make the kinds above
            raise InvalidOpError(f"unknown op kind {kind!r}")
        found = self._descend(root, namespace, op.comps, kind != OP_UNLINK, undo)
        if found is None:
            return  # unlink below a missing or non-directory component
        d, name, path = found
        if kind == OP_APPEND:
            node = self._appended(d.entries.get(name), op, blobs)
        elif kind == OP_UNLINK and name not in d.entries:
            return
        self._set(d, name, node, undo)
        for pd, pname in path:
            self._mark(pd, pname, undo)

    def _appended(self, old, op: Op, blobs: dict):
        t = type(old)
        if old is None:
            return self._value_node(op.data, blobs, op.key)
        if t is ValRef:
            return old.appended(self._blob(op.data, blobs, op.key))
        if t is Val:
            first = self._blob(old.data, blobs, op.key)
            return ValRef((first, self._blob(op.data, blobs, op.key)))
        if t is Symlink:
            raise NotSupportedError("cannot append to a symlink")
        raise IsDirError("cannot append to a directory")

    def _descend(self, root: Dir, namespace: str, comps, create: bool, undo: Undo):
        """Find (or create) the parent dir of the final component.

        Returns ``(dir, final_name, path)`` where ``path`` lists the
        ``(parent, name)`` links walked, or ``None`` when ``create`` is false
        and the parent does not exist.
        """
        d = root
        path: list[tuple[Dir, str]] = []
        hops = 0
        i = 0
        n = len(comps)
        while i < n - 1:
            name = comps[i]
            e = d.entries.get(name)
            t = type(e)
            if t is Dir:
                pass
            elif t is DirRef:
                mat = self.materialize(e)
                if mat.ref is None:  # foreign inline dirs must be unrolled: a real change
                    self._set(d, name, mat, undo)
                else:  # same content, same blobref: only a cache fill, nothing to undo
                    d.entries[name] = mat
                e = mat
            elif t is Symlink:
                if e.namespace is not None and e.namespace != namespace:
                    raise InvalidOpError(
                        f"path crosses a symlink into namespace {e.namespace!r}; "
                        "writes cannot leave their namespace"
                    )
                hops += 1
                if hops > SYMLINK_LIMIT:
                    raise SymlinkLoopError(f"more than {SYMLINK_LIMIT} symlinks followed")
                comps = split_key(e.target, "symlink target") + comps[i + 1 :]
                n = len(comps)
                if n == 0:
                    raise InvalidOpError("path resolves to the root directory")
                if n > MAX_KEY_DEPTH:
                    raise InvalidOpError(f"path through symlinks is deeper than {MAX_KEY_DEPTH}")
                d = root
                path = []
                i = 0
                continue
            else:  # missing, or a value: becomes a directory
                if not create:
                    return None
                e = Dir()
                self._set(d, name, e, undo)
            path.append((d, name))
            d = e
            i += 1
        return d, comps[-1], path
