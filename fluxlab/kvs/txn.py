"""KVS transactions: ordered lists of operations committed atomically.

A :class:`Txn` is built with :meth:`~Txn.put`, :meth:`~Txn.append`,
:meth:`~Txn.unlink`, :meth:`~Txn.mkdir`, :meth:`~Txn.symlink` and
:meth:`~Txn.put_treeobj`, then handed to
:meth:`fluxlab.kvs.model.KVSModel.commit_batch`.  Keys are normalised and values
type-checked as ops are added, so a malformed op fails where it is written.

Wire form (Flux's ``kvs.commit`` ``ops`` array, one object per op)::

    {"key": "a.b", "flags": 0, "dirent": <treeobj>}   put / mkdir / symlink
    {"key": "a.b", "flags": 32, "dirent": <val>}      append (FLUX_KVS_APPEND)
    {"key": "a.b", "flags": 0, "dirent": null}        unlink

:meth:`Txn.to_wire` and :meth:`Txn.from_wire` convert; ``from_wire`` validates
every member and raises :class:`~fluxlab.kvs.errors.InvalidOpError` naming the op
index and the problem.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from fluxlab.kvs import treeobj as _treeobj
from fluxlab.kvs.errors import InvalidKeyError, InvalidOpError, InvalidTreeobjError
from fluxlab.kvs.keys import split_key

__all__ = [
    "KVS_APPEND",
    "OP_APPEND",
    "OP_MKDIR",
    "OP_PUT",
    "OP_SYMLINK",
    "OP_TREEOBJ",
    "OP_UNLINK",
    "Op",
    "Txn",
]

#: Op flag marking an append (same value as Flux's FLUX_KVS_APPEND).
KVS_APPEND = 32

OP_PUT = "put"
OP_APPEND = "append"
OP_UNLINK = "unlink"
OP_MKDIR = "mkdir"
OP_SYMLINK = "symlink"
OP_TREEOBJ = "treeobj"


def _as_bytes(value: object, key: str) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise InvalidOpError(
        f"value for {key!r} must be bytes, not {type(value).__name__} "
        "(JSON-encode Python values before putting them)"
    )


class Op:
    """One operation of a transaction (immutable once built).

    Attributes
    ----------
    kind : str
        One of ``put``, ``append``, ``unlink``, ``mkdir``, ``symlink``, ``treeobj``.
    key : str
        Normalised key.
    comps : tuple of str
        Path components of ``key`` (``()`` for the root).
    data : bytes or None
        Raw value for ``put``/``append``.
    target, namespace : str or None
        Symlink target key (normalised) and optional namespace.
    obj : dict or None
        Validated tree object for ``treeobj``.
    """

    __slots__ = ("comps", "data", "key", "kind", "namespace", "obj", "target")

    def __init__(
        self,
        kind: str,
        key: str,
        data: bytes | None = None,
        target: str | None = None,
        namespace: str | None = None,
        obj: Mapping[str, Any] | None = None,
    ) -> None:
        self.kind = kind
        self.comps = split_key(key)
        self.key = ".".join(self.comps) or "."
        self.data = data
        self.target = target
        self.namespace = namespace
        self.obj = obj

    def __repr__(self) -> str:
        extra = ""
        if self.data is not None:
            extra = f", {len(self.data)} bytes"
        elif self.target is not None:
            extra = f" -> {self.namespace + ':' if self.namespace else ''}{self.target}"
        return f"Op({self.kind} {self.key!r}{extra})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Op):
            return NotImplemented
        return self.to_wire() == other.to_wire()

    __hash__ = None  # type: ignore[assignment]

    def dirent(self) -> dict[str, Any] | None:
        """The RFC 11 tree object this op writes (``None`` for unlink)."""
        if self.kind in (OP_PUT, OP_APPEND):
            return _treeobj.create_val(self.data or b"")
        if self.kind == OP_MKDIR:
            return {"ver": 1, "type": "dir", "data": {}}
        if self.kind == OP_SYMLINK:
            return _treeobj.create_symlink(self.target or ".", self.namespace)
        if self.kind == OP_TREEOBJ:
            return dict(self.obj or {})
        return None

    def to_wire(self) -> dict[str, Any]:
        """Flux wire form ``{"key", "flags", "dirent"}``."""
        flags = KVS_APPEND if self.kind == OP_APPEND else 0
        return {"key": self.key, "flags": flags, "dirent": self.dirent()}

    @classmethod
    def from_wire(cls, op: object, index: int = 0) -> Op:
        """Parse one wire op; raise :class:`InvalidOpError` naming ``index`` on error."""
        where = f"op {index}"
        if not isinstance(op, Mapping):
            raise InvalidOpError(f"{where}: must be an object, not {type(op).__name__}")
        extra = set(op) - {"key", "flags", "dirent"}
        if extra:
            raise InvalidOpError(f"{where}: unexpected member {sorted(map(str, extra))[0]!r}")
        if "key" not in op or "dirent" not in op:
            raise InvalidOpError(f"{where}: 'key' and 'dirent' are required")
        key = op["key"]
        flags = op.get("flags", 0)
        if type(flags) is not int or flags not in (0, KVS_APPEND):
            raise InvalidOpError(
                f"{where}: flags must be 0 or {KVS_APPEND} (append), not {flags!r}"
            )
        dirent = op["dirent"]
        try:
            if dirent is None:
                if flags:
                    raise InvalidOpError(f"{where}: append needs a val dirent, not null")
                return cls(OP_UNLINK, key)
            _treeobj.validate(dirent)
            typ = dirent["type"]
            if flags:
                if typ != "val":
                    raise InvalidOpError(f"{where}: append needs a val dirent, not {typ}")
                return cls(OP_APPEND, key, data=base64.b64decode(dirent["data"]))
            if typ == "val":
                return cls(OP_PUT, key, data=base64.b64decode(dirent["data"]))
            if typ == "dir" and not dirent["data"]:
                return cls(OP_MKDIR, key)
            if typ == "symlink":
                data = dirent["data"]
                tgt = ".".join(split_key(data["target"], "symlink target")) or "."
                return cls(OP_SYMLINK, key, target=tgt, namespace=data.get("namespace"))
            return cls(OP_TREEOBJ, key, obj=copy.deepcopy(dirent))
        except (InvalidKeyError, InvalidTreeobjError) as exc:
            raise InvalidOpError(f"{where} ({key!r}): {exc}") from None


class Txn:
    """An ordered list of :class:`Op`, committed all-or-nothing.

    Builder methods return ``self`` so calls chain::

        Txn().put("a.b", b'{"x":1}').append("log", b"line\\n").unlink("old")
    """

    __slots__ = ("ops",)

    def __init__(self, ops: Iterable[Op] = ()) -> None:
        self.ops: list[Op] = list(ops)

    def __len__(self) -> int:
        return len(self.ops)

    def __iter__(self) -> Iterator[Op]:
        return iter(self.ops)

    def __repr__(self) -> str:
        return f"Txn({self.ops!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Txn) and self.ops == other.ops

    __hash__ = None  # type: ignore[assignment]

    def put(self, key: str, value: bytes) -> Txn:
        """Set ``key`` to the raw bytes ``value`` (replacing whatever is there)."""
        self.ops.append(Op(OP_PUT, key, data=_as_bytes(value, key)))
        return self

    def append(self, key: str, value: bytes) -> Txn:
        """Append raw bytes to the value at ``key``, creating it if missing."""
        self.ops.append(Op(OP_APPEND, key, data=_as_bytes(value, key)))
        return self

    def unlink(self, key: str) -> Txn:
        """Remove ``key`` (value, symlink or whole directory); missing is not an error."""
        self.ops.append(Op(OP_UNLINK, key))
        return self

    def mkdir(self, key: str) -> Txn:
        """Set ``key`` to an empty directory (replacing whatever is there)."""
        self.ops.append(Op(OP_MKDIR, key))
        return self

    def symlink(self, key: str, target: str, namespace: str | None = None) -> Txn:
        """Make ``key`` a symlink to ``target``, optionally in another namespace."""
        obj = _treeobj.create_symlink(target, namespace)
        self.ops.append(Op(OP_SYMLINK, key, target=obj["data"]["target"], namespace=namespace))
        return self

    def put_treeobj(self, key: str, obj: Mapping[str, Any]) -> Txn:
        """Set ``key`` to an RFC 11 tree object (e.g. a ``dirref`` snapshot).

        Blobs named by ``valref``/``dirref`` objects must already be stored.
        """
        self.ops.append(Op.from_wire({"key": key, "flags": 0, "dirent": obj}, len(self.ops)))
        return self

    def keys(self) -> list[str]:
        """Normalised keys of the ops, in op order, without duplicates."""
        return list(dict.fromkeys(op.key for op in self.ops))

    def to_wire(self) -> list[dict[str, Any]]:
        """The Flux ``ops`` array."""
        return [op.to_wire() for op in self.ops]

    @classmethod
    def from_wire(cls, ops: object) -> Txn:
        """Build a transaction from a Flux ``ops`` array, validating every op."""
        if isinstance(ops, (str, bytes)) or not isinstance(ops, Sequence):
            raise InvalidOpError(f"ops must be a list, not {type(ops).__name__}")
        return cls(Op.from_wire(op, i) for i, op in enumerate(ops))
