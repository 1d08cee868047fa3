"""Lookups: flags, errors, symlinks (across namespaces), history and snapshots."""

import errno

import pytest

from fluxlab.kvs import flags as F, treeobj
from fluxlab.kvs.errors import (
    BlobNotFoundError,
    InvalidArgumentError,
    InvalidFlagsError,
    InvalidKeyError,
    InvalidTreeobjError,
    IsDirError,
    KeyNotFoundError,
    NamespaceNotFoundError,
    NotDirError,
    NotSymlinkError,
    SymlinkLoopError,
    ValueDecodeError,
    VersionNotAvailableError,
)
from fluxlab.kvs.model import KVSModel
from fluxlab.kvs.txn import Txn


@pytest.fixture
def tree(model):
    model.commit(
        Txn()
        .put("d.v", b"value")
        .put("d.sub.x", b"1")
        .append("d.log", b"e1\n")
        .append("d.log", b"e2\n")
        .symlink("ln", "d")
        .symlink("lv", "d.v")
        .symlink("dangling", "nowhere")
    )
    return model


def test_value_lookup_returns_val(tree):
    assert tree.lookup("d.v") == treeobj.create_val(b"value")
    assert tree.lookup("d.log") == treeobj.create_val(b"e1\ne2\n")  # valref joined


def test_dir_as_value_is_eisdir_and_value_as_dir_is_enotdir(tree):
    for call in (lambda: tree.lookup("d"), lambda: tree.get("d"), lambda: tree.lookup(".")):
        with pytest.raises(IsDirError) as exc:
            call()
        assert exc.value.errno == errno.EISDIR
    for call in (lambda: tree.lookup("d.v", flags=F.READDIR), lambda: tree.list_dir("d.v")):
        with pytest.raises(NotDirError) as exc:
            call()
        assert exc.value.errno == errno.ENOTDIR


def test_readdir(tree):
    obj = tree.lookup("d", flags=F.READDIR)
    assert obj["type"] == "dir"
    assert sorted(obj["data"]) == ["log", "sub", "v"]
    assert obj["data"]["sub"]["type"] == "dirref"
    assert obj["data"]["log"]["type"] == "valref"
    assert sorted(tree.lookup(".", flags=F.READDIR)["data"]) == ["d", "dangling", "ln", "lv"]
    assert tree.list_dir("ln") == tree.list_dir("d")  # followed


def test_missing_keys_are_enoent(tree):
    for key in ("nope", "d.nope", "d.v.below", "d.sub.x.y", "dangling", "ln.nope"):
        with pytest.raises(KeyNotFoundError) as exc:
            tree.get(key)
        assert exc.value.errno == errno.ENOENT, key
        assert repr(key.split(".")[0]) in str(exc.value) or key in str(exc.value)
    assert not tree.exists("d.v.below") and not tree.isdir("nope")


def test_treeobj_flag(tree):
    assert tree.lookup("d", flags=F.TREEOBJ)["type"] == "dirref"
    assert tree.lookup("d.log", flags=F.TREEOBJ)["type"] == "valref"
    assert tree.lookup("ln", flags=F.TREEOBJ) == treeobj.create_symlink("d")  # not followed
    assert tree.lookup(".", flags=F.TREEOBJ) == treeobj.create_dirref(tree.rootref())


def test_readlink(tree):
    assert tree.lookup("ln", flags=F.READLINK) == treeobj.create_symlink("d")
    assert tree.readlink("dangling") == (None, "nowhere")
    with pytest.raises(NotSymlinkError) as exc:
        tree.lookup("d.v", flags=F.READLINK)
    assert exc.value.errno == errno.EINVAL
    with pytest.raises(NotSymlinkError):
        tree.lookup("d", flags=F.READLINK)
    with pytest.raises(NotSymlinkError):
        tree.readlink("d")
    with pytest.raises(NotDirError):
        tree.lookup("ln", flags=F.READLINK | F.READDIR)


def test_symlinks_followed(tree):
    assert tree.get("lv") == b"value"
    assert tree.get("ln.sub.x") == b"1"
    tree.commit(Txn().symlink("chain", "ln.sub").symlink("abs", "."))
    assert tree.get("chain.x") == b"1"
    assert tree.get("abs.d.v") == b"value"


def test_symlink_loop_is_eloop(tree):
    tree.commit(Txn().symlink("a", "b").symlink("b", "a").symlink("self", "self.x"))
    for key in ("a", "b.c", "self"):
        with pytest.raises(SymlinkLoopError) as exc:
            tree.get(key)
        assert exc.value.errno == errno.ELOOP
    # a chain of exactly 10 links resolves, 11 does not
    t = Txn().put("end", b"ok")
    for i in range(11):
        t.symlink(f"c{i}", f"c{i + 1}" if i < 10 else "end")
    tree.commit(t)
    assert tree.get("c1") == b"ok"
    with pytest.raises(SymlinkLoopError):
        tree.get("c0")


def test_symlink_across_namespaces(tree):
    tree.namespace_create("job-1", 42)
    tree.commit(Txn().put("out.data", b"guest"), "job-1")
    tree.commit(Txn().symlink("guest", "out", namespace="job-1"))
    assert tree.get("guest.data") == b"guest"
    tree.commit(Txn().symlink("back", "d.v", namespace="primary"), "job-1")
    assert tree.get("back", "job-1") == b"value"
    tree.commit(Txn().symlink("relative", "d.v"), "job-1")  # no namespace: job-1's own root
    with pytest.raises(KeyNotFoundError):
        tree.get("relative", "job-1")
    tree.namespace_remove("job-1")
    with pytest.raises(NamespaceNotFoundError):
        tree.get("guest.data")


def test_get_json_errors(tree):
    with pytest.raises(ValueDecodeError, match="not JSON"):
        tree.get_json("d.v")


def test_bad_arguments(tree):
    with pytest.raises(InvalidFlagsError) as exc:
        tree.lookup("d", flags=F.WATCH)
    assert exc.value.errno == errno.EPROTO
    with pytest.raises(InvalidKeyError):
        tree.get("")
    with pytest.raises(NamespaceNotFoundError):
        tree.get("d.v", "nope")
    with pytest.raises(InvalidArgumentError, match="version"):
        tree.get("d.v", version=-1)
    with pytest.raises(InvalidArgumentError, match="not both"):
        tree.get("d.v", version=1, root=tree.rootref())
    with pytest.raises(InvalidTreeobjError):
        tree.get("d.v", root="garbage")
    with pytest.raises(InvalidArgumentError, match="must be a dirref"):
        tree.get("d.v", root=treeobj.create_val(b""))


def test_history_lookups(model):
    for i in range(5):
        model.commit(Txn().put("k", b"%d" % i).put(f"only{i}", b"x"))
    assert model.version() == 5
    for v in range(1, 6):
        assert model.get("k", version=v) == b"%d" % (v - 1)
    assert not model.exists("k", version=0)
    assert model.exists("only0", version=5) and not model.exists("only4", version=4)
    assert sorted(model.list_dir(".", version=2)) == ["k", "only0", "only1"]
    assert model.lookup("k", version=3, flags=F.TREEOBJ) == treeobj.create_val(b"2")
    assert model.history_range() == (0, 5)
    with pytest.raises(VersionNotAvailableError) as exc:
        model.get("k", version=6)
    assert exc.value.errno == errno.EAGAIN


def test_history_is_bounded():
    m = KVSModel(history=3)
    for i in range(6):
        m.commit(Txn().put("k", b"%d" % i))
    assert m.history_range() == (4, 6)
    assert m.get("k", version=4) == b"3"
    with pytest.raises(VersionNotAvailableError, match="no longer in history") as exc:
        m.get("k", version=3)
    assert exc.value.errno == errno.ENOENT
    # the old root is still in the content store: lookups by root blobref work
    m2 = KVSModel(history=3)
    m2.commit(Txn().put("k", b"first"))
    ref = m2.rootref()
    for i in range(5):
        m2.commit(Txn().put("k", b"%d" % i))
    assert m2.get("k", root=ref) == b"first"


def test_lookup_by_root_blobref_or_dirref(model):
    model.commit(Txn().put("a.b", b"old").symlink("l", "a.b"))
    snap = model.get_treeobj(".")
    ref = model.rootref()
    model.commit(Txn().put("a.b", b"new").unlink("l"))
    assert model.get("a.b", root=ref) == b"old"
    assert model.get("a.b", root=snap) == b"old"
    assert model.get("l", root=ref) == b"old"  # symlink resolved inside the snapshot
    sub = model.get_treeobj("a", root=ref)
    assert model.get("b", root=sub) == b"old"  # any directory can serve as a root
    with pytest.raises(BlobNotFoundError):
        model.get("a", root="sha1-" + "0" * 40)
    with pytest.raises(InvalidTreeobjError, match="not a tree object"):
        model.get("a", root=model.store.store(b"raw"))
    # snapshots outlive their namespace
    model.namespace_create("gone", 1)
    model.commit(Txn().put("x", b"kept"), "gone")
    groot = model.rootref("gone")
    model.namespace_remove("gone")
    assert model.get("x", "gone", root=groot) == b"kept"
