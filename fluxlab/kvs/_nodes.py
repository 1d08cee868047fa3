"""In-memory tree nodes and their incremental RFC 11 encoding (internal).

Node kinds
----------
Leaves are immutable and may be shared between the live tree and the decoded
blob cache:

- :class:`Val` (raw bytes inline), :class:`ValRef` (tuple of blobrefs),
  :class:`Symlink`, and :class:`DirRef` (a directory not loaded into memory).

Directories come in two flavours:

- :class:`Dir` is a *live*, mutable directory of a namespace's working tree.
  It always holds the complete logical entry map, whatever its stored form.
- :class:`StoredDir` / :class:`StoredHDir` are read-only decodings of stored
  ``dir`` / ``hdir`` blobs, kept in the reader's cache.  They are never mutated;
  writing below one first copies it into a :class:`Dir` (see ``_apply``).

Invariants of a live :class:`Dir` ``d`` (outside a commit batch all hold with
``d.dirty`` empty):

- ``d.ref`` is the blobref of ``d``'s canonical encoding, or ``None`` when a
  name in ``d.dirty`` changed since the last flush.  A dir whose ``ref`` is
  ``None`` is always reachable from the root through dirty names, so
  :func:`flush` finds it by following dirty names only.
- ``d.frags[name]`` is the JSON fragment ``"name":<treeobj>`` of every entry not
  in ``d.dirty``; fragments of dirty names are recomputed by :func:`flush`.
  Untouched entries are therefore never re-serialised.
- ``d.order`` caches ``sorted(d.frags)`` while the set of names is unchanged.
- ``d.layout`` caches the hash-bucket tree used when the directory has more
  than ``max_dirent`` entries and is stored as an ``hdir``; only buckets
  holding changed names are re-encoded, so an update of a huge directory costs
  O(max_dirent + hdir_size) per level instead of O(entries).

Canonical form
--------------
A set of names at bucket offset ``off`` is encoded as a flat ``dir`` when it has
at most ``max_dirent`` names (or when no hash bits remain), otherwise as an
``hdir`` of ``2**bits`` buckets where a name goes to bucket
``(crc32(utf8(name)) >> off) & (2**bits - 1)`` and each non-empty bucket is a
``dirref`` to the encoding of its names at offset ``off + bits``.  This is a
pure function of the entry set, so equal directories always have equal
blobrefs, however they were built.
"""

from __future__ import annotations

import base64
import hashlib
import json
import zlib
from json.encoder import encode_basestring_ascii as _quote

from fluxlab.kvs import treeobj as _treeobj
from fluxlab.kvs.errors import InvalidTreeobjError

HASH_BITS = 32
_VALREF_TAIL = '],"type":"valref","ver":1}'


def crc(name: str) -> int:
    """The bucket hash of an entry name."""
    return zlib.crc32(name.encode("utf-8"))


class Val:
    """An inline value (``val``)."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def json(self) -> str:
        return '{"data":"' + base64.b64encode(self.data).decode("ascii") + '","type":"val","ver":1}'

    def treeobj(self) -> dict:
        return {"ver": 1, "type": "val", "data": base64.b64encode(self.data).decode("ascii")}


class ValRef:
    """A value stored as blobs (``valref``); appends make a new, longer ValRef."""

    __slots__ = ("_json", "refs")

    def __init__(self, refs: tuple[str, ...]) -> None:
        self.refs = refs
        self._json: str | None = None

    def json(self) -> str:
        j = self._json
        if j is None:
            j = self._json = '{"data":["' + '","'.join(self.refs) + '"' + _VALREF_TAIL
        return j

    def appended(self, ref: str) -> ValRef:
        """A new ValRef with ``ref`` added; reuses this one's JSON text (no re-join)."""
        new = ValRef(self.refs + (ref,))
        if self._json is not None:
            new._json = self._json[: -len(_VALREF_TAIL)] + ',"' + ref + '"' + _VALREF_TAIL
        return new

    def treeobj(self) -> dict:
        return {"ver": 1, "type": "valref", "data": list(self.refs)}


class Symlink:
    """A symlink to ``target`` (a key), optionally in another namespace."""

    __slots__ = ("namespace", "target")

    def __init__(self, target: str, namespace: str | None = None) -> None:
        self.target = target
        self.namespace = namespace

    def treeobj(self) -> dict:
        data = {"target": self.target}
        if self.namespace is not None:
            data["namespace"] = self.namespace
        return {"ver": 1, "type": "symlink", "data": data}

    def json(self) -> str:
        return json.dumps(self.treeobj(), separators=(",", ":"), sort_keys=True)


class DirRef:
    """A directory known only by blobref (not loaded)."""

    __slots__ = ("ref",)

    def __init__(self, ref: str) -> None:
        self.ref = ref

    def json(self) -> str:
        return '{"data":["' + self.ref + '"],"type":"dirref","ver":1}'

    def treeobj(self) -> dict:
        return {"ver": 1, "type": "dirref", "data": [self.ref]}


class StoredDir:
    """Read-only decoding of a ``dir`` object (from a blob, or inline in one)."""

    __slots__ = ("entries",)

    def __init__(self, entries: dict) -> None:
        self.entries = entries

    def treeobj(self) -> dict:
        return {"ver": 1, "type": "dir", "data": {n: e.treeobj() for n, e in self.entries.items()}}


class StoredHDir:
    """Read-only decoding of an ``hdir`` object: bucket blobrefs (or None)."""

    __slots__ = ("bits", "buckets", "size")

    def __init__(self, size: int, buckets: list) -> None:
        self.size = size
        self.bits = size.bit_length() - 1
        self.buckets = buckets

    def treeobj(self) -> dict:
        bucket = [
            None if r is None else {"ver": 1, "type": "dirref", "data": [r]} for r in self.buckets
        ]
        return {
            "ver": 1,
            "type": "hdir",
            "data": {"size": self.size, "func": _treeobj.HDIR_FUNC, "bucket": bucket},
        }


class Leaf:
    """Layout node: a bucket encoded as a flat ``dir`` of ``names``."""

    __slots__ = ("names", "order", "ref")

    def __init__(self, names: set[str]) -> None:
        self.names = names
        self.order: list[str] | None = None  # sorted(names) while membership is unchanged
        self.ref: str | None = None


class Split:
    """Layout node: a bucket encoded as an ``hdir`` over ``kids``.

    ``parts[i]`` caches the JSON of bucket ``i`` (``null`` or a dirref) and
    ``counts[i]`` its number of names; ``dirty`` holds the indices of buckets
    changed since the last encode, so updates never scan all buckets.
    """

    __slots__ = ("counts", "dirty", "kids", "parts", "ref")

    def __init__(self, size: int) -> None:
        self.kids: list = [None] * size
        self.parts: list[str] = ["null"] * size
        self.counts: list[int] = [0] * size
        self.dirty: set[int] = set()
        self.ref: str | None = None


class Dir:
    """A live, mutable directory (see module docstring for its invariants)."""

    __slots__ = ("dirty", "entries", "frags", "gen", "layout", "order", "ref")

    def __init__(self, entries: dict | None = None) -> None:
        self.entries: dict = entries if entries is not None else {}
        #: Flusher generation of the last flush that re-encoded this dir
        self.gen = 0
        self.frags: dict[str, str] = {}
        self.order: list[str] | None = None
        self.ref: str | None = None
        self.dirty: set[str] = set(self.entries)
        self.layout: Leaf | Split | None = None

    def json(self) -> str:
        return '{"data":["' + self.ref + '"],"type":"dirref","ver":1}'  # type: ignore[operator]

    def treeobj(self) -> dict:
        return {"ver": 1, "type": "dirref", "data": [self.ref]}


DIR_TYPES = (Dir, DirRef, StoredDir, StoredHDir)


#: largest flat dir whose links :class:`Flusher` lists (a Python loop over
#: its entries; bigger ones are left to the store's scan of the bytes)
LINKS_MAX_ENTRIES = 64
_REF_TAGS = ("dirref", "valref")


def entry_links(entries: dict, names: list[str]) -> list[str] | None:
    """The blobrefs a flat dir of ``names`` names, as its encoding lists them.

    The same multiset as :func:`fluxlab.kvs._reader.blob_links` reads from
    the encoded blob, repeats included.  None where that scan would not be
    canonical (a name ending in a ref type tag) or an entry is not a plain
    value, value ref or dir (a symlink, an inline dir): the store then reads
    the blob itself."""
    out: list[str] = []
    for name in names:
        node = entries[name]
        t = type(node)
        if t is ValRef:
            out.extend(node.refs)
        elif t is Dir or t is DirRef:
            out.append(node.ref)
        elif t is not Val:
            return None
        if name.endswith(_REF_TAGS):
            return None
    return out


def compact(d: Dir, cutoff: int) -> int:
    """Unload clean live subdirectories not re-encoded since generation ``cutoff``.

    Each such child is replaced in its parent by a :class:`DirRef` to its blob.
    The parent's encoding is unchanged (a clean :class:`Dir` and a
    :class:`DirRef` of the same ref serialise identically), and readers and
    writers load a :class:`DirRef` again on demand, so this only trades memory
    for a later decode.  Returns the number of directories unloaded.
    """
    n = 0
    entries = d.entries
    for name, child in list(entries.items()):
        if type(child) is not Dir:
            continue
        if child.ref is not None and not child.dirty and child.gen < cutoff:
            entries[name] = DirRef(child.ref)
            n += 1
        else:
            n += compact(child, cutoff)
    return n


def node_from_obj(obj: dict) -> object:
    """Convert a validated tree object into a node (dirs become Stored*)."""
    typ = obj["type"]
    data = obj["data"]
    if typ == "val":
        return Val(base64.b64decode(data))
    if typ == "valref":
        return ValRef(tuple(data))
    if typ == "dirref":
        return DirRef(data[0])
    if typ == "symlink":
        return Symlink(data["target"], data.get("namespace"))
    if typ == "dir":
        return StoredDir({name: node_from_obj(e) for name, e in data.items()})
    bucket = [None if b is None else b["data"][0] for b in data["bucket"]]
    return StoredHDir(data["size"], bucket)


def decode_dir_blob(blob: bytes, ref: str) -> StoredDir | StoredHDir:
    """Decode a stored directory blob; raise InvalidTreeobjError if it is not one."""
    try:
        obj = _treeobj.decode(blob)
    except InvalidTreeobjError as exc:
        raise InvalidTreeobjError(f"blob {ref} is not a tree object: {exc}") from None
    if obj["type"] not in ("dir", "hdir"):
        raise InvalidTreeobjError(f"blob {ref} is a {obj['type']}, not a directory")
    return node_from_obj(obj)  # type: ignore[return-value]


def frag(name: str, node) -> str:
    """The ``"name":<treeobj>`` fragment of one directory entry."""
    return _quote(name) + ":" + node.json()


class Flusher:
    """Re-encodes dirty directories of a live tree, collecting new blobs.

    Parameters
    ----------
    hash_name
        Content store hash (``sha1``/``sha256``) naming the blobs.
    max_dirent
        Largest entry count stored as a flat ``dir``.
    bits
        log2 of the hdir bucket count.
    """

    def __init__(self, hash_name: str, max_dirent: int, bits: int) -> None:
        self._hash = getattr(hashlib, hash_name)
        self._prefix = hash_name + "-"
        self.max_dirent = max_dirent
        self.bits = bits
        self.mask = (1 << bits) - 1
        self.blobs: dict[str, bytes] = {}
        #: when a dict, ``flush`` adds {ref: refs it names} for the blobs it
        #: encodes: small flat dirs and hdir buckets (see :func:`entry_links`)
        #: and hdir objects (their buckets), for a counting store
        self.links: dict[str, list[str]] | None = None
        #: bumped once per commit batch; flushed dirs remember it (see compact)
        self.gen = 0

    def _store(self, text: str) -> str:
        blob = text.encode("ascii")
        ref = self._prefix + self._hash(blob).hexdigest()
        self.blobs[ref] = blob
        return ref

    def _dir_blob(self, frags: dict[str, str], names) -> str:
        blob = (
            '{"data":{' + ",".join(map(frags.__getitem__, names)) + '},"type":"dir","ver":1}'
        ).encode("ascii")
        ref = self._prefix + self._hash(blob).hexdigest()
        self.blobs[ref] = blob
        return ref

    def flush(self, d: Dir) -> str:
        """Encode ``d`` and every dirty dir below it; return ``d``'s blobref."""
        entries = d.entries
        frags = d.frags
        for name in d.dirty:
            node = entries.get(name)
            if node is None:
                if frags.pop(name, None) is not None:
                    d.order = None
                continue
            if type(node) is Dir and node.ref is None:
                self.flush(node)
            if name not in frags:
                d.order = None
            frags[name] = _quote(name) + ":" + node.json()
        if len(entries) <= self.max_dirent:
            d.layout = None
            order = d.order
            if order is None:
                order = d.order = sorted(frags)
            ref = self._dir_blob(frags, order)
            self._note_links(ref, entries, order)
        else:
            d.order = None
            lay = d.layout
            if lay is None:
                lay = self.build(list(entries), 0)
            else:
                for name in d.dirty:
                    self._touch(lay, name, name in entries)
                lay = self._normalize(lay, 0)
            d.layout = lay
            ref = self._encode(lay, frags, entries)
        d.dirty.clear()
        d.ref = ref
        d.gen = self.gen
        return ref

    def build(self, names, off: int):
        """Canonical layout of ``names`` at bucket offset ``off`` (all refs unset)."""
        if len(names) <= self.max_dirent or off + self.bits > HASH_BITS:
            return Leaf(set(names))
        groups: dict[int, list[str]] = {}
        mask = self.mask
        for name in names:
            groups.setdefault((crc(name) >> off) & mask, []).append(name)
        node = Split(mask + 1)
        for idx, group in groups.items():
            node.kids[idx] = self.build(group, off + self.bits)
            node.counts[idx] = len(group)
        node.dirty.update(groups)
        return node

    def _touch(self, node: Split, name: str, present: bool) -> None:
        h = crc(name)
        off = 0
        while True:
            node.ref = None
            idx = (h >> off) & self.mask
            kid = node.kids[idx]
            if kid is None:
                if present:
                    node.kids[idx] = Leaf({name})
                    node.dirty.add(idx)
                return
            node.dirty.add(idx)
            if type(kid) is Leaf:
                kid.ref = None
                names = kid.names
                if present:
                    if name not in names:
                        names.add(name)
                        kid.order = None
                elif name in names:
                    names.discard(name)
                    kid.order = None
                return
            node = kid
            off += self.bits

    def _normalize(self, node, off: int):
        if type(node) is Leaf:
            n = len(node.names)
            if n == 0:
                return None
            if n > self.max_dirent and off + self.bits <= HASH_BITS:
                return self.build(list(node.names), off)
            return node
        kids = node.kids
        counts = node.counts
        sub = off + self.bits
        for idx in node.dirty:
            kid = kids[idx] = self._normalize(kids[idx], sub)
            if kid is None:
                counts[idx] = 0
            else:
                counts[idx] = len(kid.names) if type(kid) is Leaf else sum(kid.counts)
        if sum(counts) <= self.max_dirent:
            names: set[str] = set()
            _gather(node, names)
            return Leaf(names)
        return node

    def _note_links(self, ref: str, entries: dict, order: list[str]) -> None:
        """Record what the flat dir blob ``ref`` of ``order`` names (see links)."""
        links = self.links
        if links is not None and len(order) <= LINKS_MAX_ENTRIES:
            named = entry_links(entries, order)
            if named is not None:
                links[ref] = named

    def _encode(self, node, frags: dict[str, str], entries: dict) -> str:
        if node.ref is not None:
            return node.ref
        if type(node) is Leaf:
            order = node.order
            if order is None:
                order = node.order = sorted(node.names)
            ref = self._dir_blob(frags, order)
            self._note_links(ref, entries, order)
        else:
            kids = node.kids
            parts = node.parts
            for idx in node.dirty:
                kid = kids[idx]
                parts[idx] = (
                    "null"
                    if kid is None
                    else '{"data":["'
                    + self._encode(kid, frags, entries)
                    + '"],"type":"dirref","ver":1}'
                )
            node.dirty.clear()
            ref = self._store(
                '{"data":{"bucket":['
                + ",".join(parts)
                + '],"func":"'
                + _treeobj.HDIR_FUNC
                + '","size":'
                + str(len(kids))
                + '},"type":"hdir","ver":1}'
            )
            if self.links is not None:  # its buckets, in order (all encoded by now)
                self.links[ref] = [kid.ref for kid in kids if kid is not None]
        node.ref = ref
        return ref


def _gather(node, out: set[str]) -> None:
    if type(node) is Leaf:
        out.update(node.names)
        return
    for kid in node.kids:
        if kid is not None:
            _gather(kid, out)
