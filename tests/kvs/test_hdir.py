"""Large directories as RFC 11 hdir buckets: canonical, incremental, readable."""

import json

import pytest

from fluxlab.kvs import treeobj
from fluxlab.kvs.model import KVSModel
from fluxlab.kvs.txn import Txn
from tests.kvs._helpers import rebuilt_rootref


def _types_below(model, ref, seen=None):
    """Tree object types of every directory blob reachable from ``ref``."""
    seen = {} if seen is None else seen
    obj = treeobj.decode(model.load_blob(ref))
    seen[obj["type"]] = seen.get(obj["type"], 0) + 1
    if obj["type"] == "hdir":
        for b in obj["data"]["bucket"]:
            if b is not None:
                _types_below(model, b["data"][0], seen)
    else:
        for e in obj["data"].values():
            if e["type"] == "dirref":
                _types_below(model, e["data"][0], seen)
    return seen


def test_big_directory_is_stored_as_hdir(small_model):
    m = small_model
    m.commit(Txn().put("d.a", b"1").put("d.b", b"2").put("d.c", b"3"))
    assert _types_below(m, m.rootref()) == {"dir": 2}
    m.commit(Txn().put("d.e", b"4"))
    seen = _types_below(m, m.rootref())
    assert seen.get("hdir", 0) >= 1
    obj = treeobj.decode(m.load_blob(m.get_treeobj("d")["data"][0]))
    assert obj["type"] == "hdir" and obj["data"]["size"] == 2 and obj["data"]["func"] == "crc32"
    assert sorted(m.list_dir("d")) == ["a", "b", "c", "e"]
    assert m.get("d.e") == b"4"


@pytest.mark.parametrize(("max_dirent", "hdir_size"), [(3, 2), (4, 4), (2, 16)])
def test_incremental_layout_equals_scratch_layout(max_dirent, hdir_size):
    m = KVSModel(max_dirent=max_dirent, hdir_size=hdir_size)
    names = [f"n{i}" for i in range(60)]
    for i, n in enumerate(names):
        m.commit(Txn().put(f"big.{n}", b"%d" % i))
        if i % 7 == 0:
            assert rebuilt_rootref(m) == m.rootref()
    for i, n in enumerate(names):  # shrink back down through every threshold
        m.commit(Txn().unlink(f"big.{n}"))
        if i % 5 == 0 or i > 50:
            assert rebuilt_rootref(m) == m.rootref()
    assert m.list_dir("big") == {}


def test_hdir_reads_at_old_versions_and_after_reload(small_model):
    m = small_model
    for i in range(40):
        m.commit(Txn().put(f"job.{i:04x}.eventlog", b"submit\n"))
    v = m.version()
    m.commit(Txn().append("job.0007.eventlog", b"start\n").unlink("job.0003"))
    assert m.get("job.0007.eventlog", version=v) == b"submit\n"
    assert m.get("job.0007.eventlog") == b"submit\nstart\n"
    assert m.exists("job.0003.eventlog", version=v) and not m.exists("job.0003")
    assert len(m.list_dir("job", version=v)) == 40
    # a new model on the same store reads the hdir from blobs, then writes into it
    m2 = KVSModel(m.store, max_dirent=3, hdir_size=2, val_inline_max=8)
    assert len(m2.list_dir("job")) == 39
    m2.commit(Txn().put("job.0010.R", b"{}"))
    assert rebuilt_rootref(m2) == m2.rootref()


def test_bucket_names_follow_crc32(small_model):
    import zlib

    m = small_model
    m.commit(Txn().put("d.alpha", b"").put("d.beta", b"").put("d.gamma", b"").put("d.delta", b""))
    top = treeobj.decode(m.load_blob(m.get_treeobj("d")["data"][0]))
    for idx, bucket in enumerate(top["data"]["bucket"]):
        if bucket is None:
            continue
        sub = json.loads(m.load_blob(bucket["data"][0]))
        names = sub["data"] if sub["type"] == "dir" else {}
        for name in names:
            assert zlib.crc32(name.encode()) & 1 == idx
