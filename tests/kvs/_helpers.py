"""Helpers shared by the KVS model tests."""

from fluxlab.kvs.errors import KVSError
from fluxlab.kvs.model import KVSModel
from fluxlab.kvs.txn import Txn


def rebuilt_rootref(m: KVSModel) -> str:
    """Root blobref of a namespace rebuilt in one commit from ``m``'s primary tree.

    Leaves are copied as tree objects (so ``val``/``valref`` forms match) and
    empty directories recreated; the copy is built in a scratch namespace of
    the same store and removed again.  Canonical encoding means the result
    equals ``m.rootref()`` whatever history produced ``m``'s tree.
    """
    txn = Txn()

    def walk(prefix: str) -> None:
        entries = m.list_dir(prefix or ".")
        if not entries and prefix:
            txn.mkdir(prefix)
        for name, obj in entries.items():
            key = f"{prefix}.{name}" if prefix else name
            if obj["type"] == "dirref":
                walk(key)
            else:
                txn.put_treeobj(key, obj)

    walk("")
    name = f"copy{len(m.namespace_list())}"
    m.namespace_create(name, 0)
    m.commit(txn, name)
    ref = m.rootref(name)
    m.namespace_remove(name)
    return ref


def big_value(i: int, v: int) -> bytes:
    """A value large enough to be stored as a ``valref`` blob."""
    return (f"{i}:{v}:" * 40).encode()


def plan_step(m: KVSModel, kind: str, a: int, b: int, current: dict, versions: dict, roots: dict):
    """One random-history step for the collection tests: ``(txn, expected)``,
    or None when there is nothing to do.

    ``put``/``append``/``unlink`` change ``d{a}``/``log{a}``; ``relink`` links
    ``d{a}`` of the version ``b`` back again as ``r{a}``, found by that
    version's root (``versions``/``roots``: contents and root per version),
    or returns None if that directory no longer exists.
    """
    t = Txn()
    nxt = dict(current)
    if kind == "put":
        t.put(f"d{a}.k{b}", big_value(a, b))
        nxt[f"d{a}.k{b}"] = big_value(a, b)
    elif kind == "append":
        t.append(f"log{a}", big_value(a, b))
        nxt[f"log{a}"] = nxt.get(f"log{a}", b"") + big_value(a, b)
    elif kind == "unlink":
        t.unlink(f"d{a}")
        nxt = {k: v for k, v in nxt.items() if not k.startswith(f"d{a}.")}
    else:
        old = m.version() - b
        sub = {
            k[len(f"d{a}.") :]: v
            for k, v in versions.get(old, {}).items()
            if k.startswith(f"d{a}.")
        }
        if not sub:
            return None
        try:
            obj = m.get_treeobj(f"d{a}", root=roots[old])
        except KVSError:  # no longer stored (swept, or freed out of history)
            return None
        t.put_treeobj(f"r{a}", obj)
        nxt = {k: v for k, v in nxt.items() if not k.startswith(f"r{a}.")}
        nxt.update({f"r{a}.{k}": v for k, v in sub.items()})
    return t, nxt
