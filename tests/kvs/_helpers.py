"""Helpers shared by the KVS model tests."""

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
