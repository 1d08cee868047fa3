"""RFC 11 tree objects: constructors, validation, canonical encoding.

A tree object is a JSON object ``{"ver": 1, "type": T, "data": ...}``:

``val``      ``data`` is base64 of the raw value bytes.
``valref``   ``data`` is a non-empty list of blobrefs whose blobs, concatenated,
             are the raw value (appends add one blobref).
``dir``      ``data`` maps entry names to tree objects.
``dirref``   ``data`` is a list of exactly one blobref of a stored ``dir`` or ``hdir``.
``hdir``     ``data`` is ``{"size": N, "func": "crc32", "bucket": [...]}``: a large
             directory split into ``N`` (a power of two) hash buckets, each ``null``
             or a ``dirref`` to a ``dir`` or nested ``hdir``.  See ``docs/spec/kvs.md``.
``symlink``  ``data`` is ``{"target": key}`` plus an optional ``"namespace"``.

An optional integer ``size`` member (RFC 11) is accepted on ``val``/``valref``.

The canonical byte encoding (:func:`encode`) is compact JSON with sorted keys,
as Flux's ``treeobj_encode``; blobrefs of stored tree objects are hashes of
exactly these bytes.  :func:`validate` checks objects received from outside and
raises :class:`~fluxlab.kvs.errors.InvalidTreeobjError` naming the path of the
offending member, never a ``KeyError``/``TypeError``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from typing import Any

from fluxlab.kvs.errors import InvalidTreeobjError
from fluxlab.kvs.keys import split_key, validate_namespace_name

__all__ = [
    "BLOBREF_HASHES",
    "HDIR_FUNC",
    "TREEOBJ_TYPES",
    "TREEOBJ_VERSION",
    "create_dir",
    "create_dirref",
    "create_symlink",
    "create_val",
    "create_valref",
    "decode",
    "decode_val",
    "encode",
    "is_blobref",
    "validate",
    "validate_blobref",
]

TREEOBJ_VERSION = 1
TREEOBJ_TYPES = ("val", "valref", "dir", "dirref", "hdir", "symlink")
#: Supported hash names and their hex digest lengths.
BLOBREF_HASHES = {"sha1": 40, "sha256": 64}
#: The only hdir bucket function fluxlab writes and reads.
HDIR_FUNC = "crc32"
_HDIR_MAX_SIZE = 1 << 16
_MAX_DEPTH = 256
_HEX = frozenset("0123456789abcdef")


def is_blobref(ref: object) -> bool:
    """True if ``ref`` looks like ``<hash>-<lowercase hex digest>`` for a known hash."""
    if not isinstance(ref, str):
        return False
    name, sep, digest = ref.partition("-")
    want = BLOBREF_HASHES.get(name)
    return bool(sep) and want == len(digest) and _HEX.issuperset(digest)


def validate_blobref(ref: object, where: str = "blobref") -> str:
    """Return ``ref`` if it is a valid blobref, else raise ``InvalidTreeobjError``."""
    if not is_blobref(ref):
        raise InvalidTreeobjError(
            f"{where}: {ref!r} is not a blobref (expected e.g. 'sha1-' + 40 hex digits)"
        )
    return ref  # type: ignore[return-value]


def create_val(data: bytes) -> dict[str, Any]:
    """A ``val`` holding ``data`` base64-encoded."""
    return {"ver": 1, "type": "val", "data": base64.b64encode(bytes(data)).decode("ascii")}


def create_valref(refs: str | Iterable[str]) -> dict[str, Any]:
    """A ``valref`` over one blobref or a sequence of them."""
    lst = [refs] if isinstance(refs, str) else list(refs)
    obj = {"ver": 1, "type": "valref", "data": lst}
    return validate(obj)


def create_dir(entries: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """A ``dir`` with the given name -> tree object entries (default empty)."""
    return validate({"ver": 1, "type": "dir", "data": dict(entries or {})})


def create_dirref(ref: str) -> dict[str, Any]:
    """A ``dirref`` to the stored directory ``ref``."""
    return {"ver": 1, "type": "dirref", "data": [validate_blobref(ref)]}


def create_symlink(target: str, namespace: str | None = None) -> dict[str, Any]:
    """A ``symlink`` to ``target`` (normalised), optionally in another namespace."""
    data: dict[str, str] = {"target": ".".join(split_key(target, "symlink target")) or "."}
    if namespace is not None:
        data["namespace"] = validate_namespace_name(namespace)
    return {"ver": 1, "type": "symlink", "data": data}


def decode_val(obj: Mapping[str, Any]) -> bytes:
    """Raw bytes of a validated ``val`` object."""
    return base64.b64decode(obj["data"])


def _fail(path: str, msg: str) -> InvalidTreeobjError:
    return InvalidTreeobjError(f"treeobj{path}: {msg}")


def _check_refs(data: object, path: str, exactly_one: bool) -> None:
    if not isinstance(data, list):
        raise _fail(path, f"data must be a list of blobrefs, not {type(data).__name__}")
    if not data:
        raise _fail(path, "data must hold at least one blobref")
    if exactly_one and len(data) != 1:
        raise _fail(path, f"a dirref holds exactly one blobref, not {len(data)}")
    for i, ref in enumerate(data):
        if not is_blobref(ref):
            raise _fail(f"{path}.data[{i}]", f"{ref!r} is not a blobref")


def _check_hdir(data: object, path: str, depth: int) -> None:
    if not isinstance(data, dict):
        raise _fail(path, "hdir data must be an object")
    extra = set(data) - {"size", "func", "bucket"}
    if extra:
        raise _fail(path, f"unexpected hdir member {sorted(extra)[0]!r}")
    size = data.get("size")
    if type(size) is not int or size < 2 or size > _HDIR_MAX_SIZE or size & (size - 1):
        raise _fail(path, f"hdir size must be a power of two in [2, 65536], not {size!r}")
    if data.get("func") != HDIR_FUNC:
        raise _fail(path, f"hdir func must be {HDIR_FUNC!r}, not {data.get('func')!r}")
    bucket = data.get("bucket")
    if not isinstance(bucket, list) or len(bucket) != size:
        raise _fail(path, f"hdir bucket must be a list of {size} entries")
    for i, b in enumerate(bucket):
        if b is None:
            continue
        sub = f"{path}.bucket[{i}]"
        _validate(b, sub, depth + 1)
        if b["type"] != "dirref":
            raise _fail(sub, f"hdir bucket must be null or a dirref, not {b['type']}")


def _validate(obj: object, path: str, depth: int) -> None:
    if depth > _MAX_DEPTH:
        raise _fail(path, f"nested deeper than {_MAX_DEPTH} levels")
    if not isinstance(obj, dict):
        raise _fail(path, f"must be a JSON object, not {type(obj).__name__}")
    for member in ("ver", "type", "data"):
        if member not in obj:
            raise _fail(path, f"missing member {member!r}")
    extra = set(obj) - {"ver", "type", "data", "size"}
    if extra:
        raise _fail(path, f"unexpected member {sorted(map(str, extra))[0]!r}")
    ver = obj["ver"]
    if type(ver) is not int or ver != TREEOBJ_VERSION:
        raise _fail(path, f"ver must be {TREEOBJ_VERSION}, not {ver!r}")
    typ = obj["type"]
    if typ not in TREEOBJ_TYPES:
        raise _fail(path, f"unknown type {typ!r} (expected one of {', '.join(TREEOBJ_TYPES)})")
    if "size" in obj:
        size = obj["size"]
        if typ not in ("val", "valref") or type(size) is not int or size < 0:
            raise _fail(path, "size must be a non-negative integer on a val or valref")
    data = obj["data"]
    if typ == "val":
        if not isinstance(data, str):
            raise _fail(path, f"val data must be a base64 string, not {type(data).__name__}")
        try:
            base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise _fail(path, f"val data is not valid base64 ({exc})") from None
    elif typ in ("valref", "dirref"):
        _check_refs(data, path, exactly_one=typ == "dirref")
    elif typ == "dir":
        if not isinstance(data, dict):
            raise _fail(path, f"dir data must be an object, not {type(data).__name__}")
        for name, entry in data.items():
            if not isinstance(name, str) or not name or "." in name or "\0" in name:
                raise _fail(path, f"invalid directory entry name {name!r}")
            _validate(entry, f"{path}.data[{name!r}]", depth + 1)
    elif typ == "hdir":
        _check_hdir(data, path, depth)
    else:  # symlink
        if not isinstance(data, dict):
            raise _fail(path, "symlink data must be an object")
        extra = set(data) - {"target", "namespace"}
        if extra:
            raise _fail(path, f"unexpected symlink member {sorted(map(str, extra))[0]!r}")
        target = data.get("target")
        if not isinstance(target, str) or not target or "\0" in target:
            raise _fail(path, f"symlink target must be a non-empty key, not {target!r}")
        ns = data.get("namespace")
        if "namespace" in data and (not isinstance(ns, str) or not ns):
            raise _fail(path, f"symlink namespace must be a non-empty string, not {ns!r}")


def validate(obj: object) -> dict[str, Any]:
    """Check ``obj`` recursively against RFC 11 and return it unchanged.

    Raises
    ------
    InvalidTreeobjError
        Naming the path of the first offending member, e.g.
        ``treeobj.data['a']: missing member 'ver'``.
    """
    _validate(obj, "", 0)
    return obj  # type: ignore[return-value]


def encode(obj: Mapping[str, Any]) -> bytes:
    """Canonical bytes of a tree object: compact JSON, keys sorted, ASCII only."""
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode("ascii")


def decode(blob: bytes | str) -> dict[str, Any]:
    """Parse and validate one encoded tree object.

    Raises
    ------
    InvalidTreeobjError
        If ``blob`` is not JSON or not a valid tree object.
    """
    try:
        obj = json.loads(blob)
    except (ValueError, RecursionError, TypeError) as exc:
        raise InvalidTreeobjError(f"treeobj: not valid JSON ({exc})") from None
    return validate(obj)
