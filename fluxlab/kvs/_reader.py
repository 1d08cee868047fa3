"""Reading trees: decoded-blob cache, entry lookup, path walks (internal).

The same walker serves the live tree of a namespace and any stored snapshot
(an older version, or a root blobref given by a client): live :class:`Dir`
nodes are read directly, :class:`DirRef` nodes are resolved through a bounded
LRU cache of decoded directory blobs.

Path resolution follows Flux's lookup rules:

- an intermediate component that is missing *or is a value* makes the key
  not found (``ENOENT``), as in flux-core ``lookup.c``;
- symlinks in the middle of a path are always followed; a final symlink is
  followed unless the caller asks for the link itself;
- a symlink target is a key from the root of its namespace (the symlink's
  ``namespace`` if set, else the namespace being walked);
- more than :data:`SYMLINK_LIMIT` hops raise ``ELOOP``.
"""

from __future__ import annotations

from binascii import Error as _HexError, unhexlify as _unhex
from collections import OrderedDict
from collections.abc import Callable

from fluxlab.kvs._nodes import (
    DIR_TYPES,
    Dir,
    DirRef,
    StoredDir,
    StoredHDir,
    Symlink,
    Val,
    ValRef,
    crc,
    decode_dir_blob,
)
from fluxlab.kvs.content import ContentStore
from fluxlab.kvs.errors import BlobNotFoundError, KeyNotFoundError, SymlinkLoopError
from fluxlab.kvs.keys import split_key

#: Symlinks followed per lookup before ELOOP (flux-core SYMLINK_CYCLE_LIMIT).
SYMLINK_LIMIT = 10


class Reader:
    """Resolves names and paths over live and stored directory nodes.

    Parameters
    ----------
    store
        Where blobs come from.
    cache_size
        Number of decoded directory blobs kept (LRU).
    """

    def __init__(self, store: ContentStore, cache_size: int = 4096) -> None:
        self.store = store
        self.cache_size = max(1, int(cache_size))
        self._cache: OrderedDict[str, StoredDir | StoredHDir] = OrderedDict()

    def load_dir(self, ref: str) -> StoredDir | StoredHDir:
        """Decoded directory blob ``ref`` (cached)."""
        cache = self._cache
        node = cache.get(ref)
        if node is not None:
            cache.move_to_end(ref)
            return node
        node = decode_dir_blob(self.store.load(ref), ref)
        cache[ref] = node
        if len(cache) > self.cache_size:
            cache.popitem(last=False)
        return node

    def forget(self, keep: Callable[[str], bool]) -> None:
        """Drop cached decodings whose ref fails ``keep`` (after garbage collection)."""
        for ref in [r for r in self._cache if not keep(r)]:
            del self._cache[ref]

    def child(self, node, name: str):
        """Entry ``name`` of directory node ``node``, or ``None``."""
        off = 0
        while True:
            t = type(node)
            if t is Dir or t is StoredDir:
                return node.entries.get(name)
            if t is DirRef:
                node = self.load_dir(node.ref)
                off = 0
                continue
            # StoredHDir: descend into the bucket holding name
            ref = node.buckets[(crc(name) >> off) & (node.size - 1)]
            if ref is None:
                return None
            off += node.bits
            node = self.load_dir(ref)

    def entries(self, node) -> dict:
        """Every entry of directory node ``node`` (a fresh dict)."""
        t = type(node)
        if t is Dir or t is StoredDir:
            return dict(node.entries)
        if t is DirRef:
            return self.entries(self.load_dir(node.ref))
        out: dict = {}
        stack = [node]
        while stack:
            hd = stack.pop()
            for ref in hd.buckets:
                if ref is None:
                    continue
                sub = self.load_dir(ref)
                if type(sub) is StoredHDir:
                    stack.append(sub)
                else:
                    out.update(sub.entries)
        return out

    def value(self, node) -> bytes:
        """Raw bytes of a Val/ValRef node (valref blobs concatenated)."""
        if type(node) is Val:
            return node.data
        load = self.store.load
        refs = node.refs
        if len(refs) == 1:
            return load(refs[0])
        return b"".join([load(r) for r in refs])

    def walk(
        self,
        root_of: Callable[[str], object],
        namespace: str,
        comps: tuple[str, ...],
        follow: bool,
        key: str,
    ) -> tuple[object, str]:
        """Resolve ``comps`` from ``root_of(namespace)``.

        Returns ``(node, namespace)`` where ``namespace`` is the one the node was
        found in (symlinks may cross).  ``follow`` says whether a final symlink
        is followed.  ``root_of`` may raise ``NamespaceNotFoundError``.

        Raises
        ------
        KeyNotFoundError
            A component is missing or an intermediate component is a value.
        SymlinkLoopError
            More than :data:`SYMLINK_LIMIT` symlinks.
        """
        node = root_of(namespace)
        hops = 0
        i = 0
        n = len(comps)
        while i < n:
            if type(node) not in DIR_TYPES:
                raise KeyNotFoundError(f"key {key!r} not found in namespace {namespace!r}")
            child = self.child(node, comps[i])
            if child is None:
                raise KeyNotFoundError(f"key {key!r} not found in namespace {namespace!r}")
            if type(child) is Symlink and (follow or i < n - 1):
                hops += 1
                if hops > SYMLINK_LIMIT:
                    raise SymlinkLoopError(
                        f"key {key!r}: more than {SYMLINK_LIMIT} symlinks followed"
                    )
                if child.namespace is not None:
                    namespace = child.namespace
                comps = split_key(child.target, "symlink target") + comps[i + 1 :]
                n = len(comps)
                i = 0
                node = root_of(namespace)
                continue
            node = child
            i += 1
        return node, namespace


def is_dir_node(node) -> bool:
    return type(node) in DIR_TYPES


def is_value_node(node) -> bool:
    t = type(node)
    return t is Val or t is ValRef


#: A ``dirref``/``valref`` object as the canonical encoder writes it is
#: ``{"data":["<ref>",...],"type":"dirref","ver":1}``.  Every string inside a
#: blob is JSON-escaped, so unescaped quotes only match structure.
_REFS_OPEN = b'{"data":["'
_REFS_CLOSE = b'"],"type":"'
_DIRREF_TAIL = b'dirref","ver":1}'
_VALREF_TAIL = b'valref","ver":1}'


def blob_links(blob: bytes) -> tuple[list[str], list[str]] | None:
    """(child dir blobs, value blobs) named in a canonically encoded dir blob.

    A scan of the text with ``bytes`` methods only, exact because the
    encoder's output is canonical and strings are escaped: each reference
    array opens with ``{"data":["``, and every ``dirref``/``valref`` type tag,
    however spelled, is the only unescaped text ending in ``dirref"`` or
    ``valref"`` besides names ending so.  When the canonical arrays and those
    endings do not pair up one to one (another spelling, or such a name), it
    returns None and the caller decodes the blob.
    """
    parts = blob.split(_REFS_OPEN)
    if len(parts) - 1 != blob.count(b'dirref"') + blob.count(b'valref"'):
        return None
    dirs: list[bytes] = []
    vals: list[bytes] = []
    for part in parts[1:]:
        refs, sep, rest = part.partition(_REFS_CLOSE)
        if not sep or b"]" in refs:
            return None
        if rest.startswith(_DIRREF_TAIL):
            dirs.append(refs)
        elif rest.startswith(_VALREF_TAIL):
            vals.append(refs)
        else:
            return None
    try:
        return (
            b'","'.join(dirs).decode("ascii").split('","') if dirs else [],
            b'","'.join(vals).decode("ascii").split('","') if vals else [],
        )
    except UnicodeDecodeError:  # not a blobref: let the decoder say what it is
        return None


def mark_key(ref: str) -> bytes | str:
    """What :class:`Marker` keeps of ``ref``: its digest's last 32 hex digits
    as 16 bytes (the ref itself if they are not hex).

    ``unhexlify`` is about 3x faster than ``int(..., 16)`` and its 16 bytes
    cost 5 bytes more than the int; unlike the int it keeps leading zeros, so
    no two distinct hex tails share a key."""
    try:
        return _unhex(ref[-32:])
    except (_HexError, ValueError):
        return ref


class Marker:
    """The mark phase of a collection, run all at once or in slices.

    :attr:`live` collects the :func:`mark_key` of every blobref reachable
    from the roots given to :meth:`push`: the
    last 128 bits of its digest as 16 bytes, not the ref itself (refs parsed
    out of blobs are new ~90-byte strings; a million-blob store would hold
    ~40 MB more during a collection).  The store already relies on digests
    never colliding, and 128 of their bits are as good for that, so marking
    stays exact (a dir skipped as "already seen" really was).  Directory
    blobs are scanned with
    :func:`blob_links` (decoded only when not in canonical form; the
    reader's cache is used when it holds one, without filling it).
    ``valref`` blobs are marked without being loaded.

    A blob that is gone by the time it is scanned is skipped: a
    reference-counted store (``fluxlab/kvs/_refcount.py``) frees a version
    as it leaves the kept history, and whatever of it is still kept is
    reached, present, from a root that is.

    Invariant: every directory blob marked and not on the stack has had its
    references marked or pushed, so once the stack is empty :attr:`live` is
    closed under "names".  Blobs are immutable, so roots pushed later only
    add blobs; nothing marked ever needs unmarking.
    """

    def __init__(self, reader: Reader) -> None:
        self.live: set[bytes | str] = set()
        self._stack: list[str] = []
        self._cache = reader._cache
        self._load = reader.store.load

    def push(self, roots) -> None:
        """Mark what ``roots`` (directory blobrefs) reach, on later steps."""
        self._stack.extend(roots)

    def step(self, budget: int | None = None) -> bool:
        """Scan up to ``budget`` directory blobs (all with None); True when done."""
        live = self.live
        stack = self._stack
        cache = self._cache
        load = self._load
        scanned = 0
        while stack:
            if budget is not None and scanned >= budget:
                return False
            ref = stack.pop()
            k = mark_key(ref)
            if k in live:
                continue
            live.add(k)
            scanned += 1
            node = cache.get(ref)
            if node is None:
                try:
                    blob = load(ref)
                except BlobNotFoundError:
                    continue  # freed meanwhile (see the class notes)
                link = blob_links(blob)
                if link is not None:
                    stack.extend(link[0])
                    live.update(map(mark_key, link[1]))
                    continue
                node = decode_dir_blob(blob, ref)
            vals: set[str] = set()
            _mark(node, vals, stack)
            live.update(map(mark_key, vals))
        return True


def _mark(node, live: set[str], stack: list[str]) -> None:
    if type(node) is StoredHDir:
        stack.extend(r for r in node.buckets if r is not None)
        return
    for e in node.entries.values():
        t = type(e)
        if t is DirRef:
            stack.append(e.ref)
        elif t is ValRef:
            live.update(e.refs)
        elif t is StoredDir or t is StoredHDir:
            _mark(e, live, stack)
