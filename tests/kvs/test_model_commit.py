"""Commits: every op, its errors, atomicity, merging, versions."""

import errno

import pytest

from fluxlab.kvs import treeobj
from fluxlab.kvs.errors import (
    BlobNotFoundError,
    BlobTooLargeError,
    InvalidArgumentError,
    InvalidOpError,
    IsDirError,
    KeyNotFoundError,
    NamespaceNotFoundError,
    NotSupportedError,
    SymlinkLoopError,
)
from fluxlab.kvs.txn import Txn


def test_fresh_primary(model):
    info = model.namespace_info()
    assert (info.name, info.owner, info.version) == ("primary", 1000, 0)
    assert model.list_dir(".") == {}
    assert treeobj.decode(model.load_blob(info.rootref)) == treeobj.create_dir()


def test_put_and_get(model):
    r = model.commit(Txn().put("a.b.c", b'{"x": 1}'))
    assert r.version == 1 and r.rootref == model.rootref()
    assert model.get("a.b.c") == b'{"x": 1}'
    assert model.get_json("a.b.c") == {"x": 1}
    assert model.isdir("a.b") and not model.isdir("a.b.c")


def test_put_replaces_any_final_entry(model):
    model.commit(Txn().put("a.b", b"1"))
    model.commit(Txn().put("a", b"flat"))  # a directory replaced by a value
    assert model.get("a") == b"flat"
    model.commit(Txn().mkdir("a"))
    assert model.list_dir("a") == {}


def test_put_below_a_value_replaces_it_with_a_directory(model):
    # flux-core kvstxn.c: an intermediate val/valref is silently replaced by a dir
    model.commit(Txn().put("a", b"v"))
    model.commit(Txn().put("a.b.c", b"deep"))
    assert model.get("a.b.c") == b"deep"
    assert model.isdir("a")


def test_unlink(model):
    model.commit(Txn().put("a.b", b"1").put("a.c", b"2"))
    r = model.commit(Txn().unlink("a.b"))
    assert r.version == 2
    assert not model.exists("a.b") and model.get("a.c") == b"2"
    model.commit(Txn().unlink("a"))  # whole directory
    assert not model.exists("a")


def test_unlink_missing_is_not_an_error(model):
    model.commit(Txn().put("v", b"1"))
    before = model.rootref()
    r = model.commit(Txn().unlink("nope").unlink("x.y.z").unlink("v.below"))
    assert r.version == 2  # the commit happened...
    assert model.rootref() == before  # ...and changed nothing
    assert model.get("v") == b"1"


def test_mkdir(model):
    model.commit(Txn().mkdir("d.e"))
    assert model.list_dir("d") == {"e": model.get_treeobj("d.e")}
    assert model.list_dir("d.e") == {}


def test_symlink_op(model):
    model.commit(Txn().put("t.v", b"1").symlink("l", "t"))
    assert model.readlink("l") == (None, "t")
    assert model.get("l.v") == b"1"


def test_append(model):
    model.commit(Txn().append("log", b"a\n"))  # creates it
    assert model.get_treeobj("log")["type"] == "val"
    model.commit(Txn().append("log", b"b\n"))  # val -> valref of [old, new]
    obj = model.get_treeobj("log")
    assert obj["type"] == "valref" and len(obj["data"]) == 2
    model.commit(Txn().append("log", b"c\n").append("log", b"d\n"))
    assert len(model.get_treeobj("log")["data"]) == 4
    assert model.get("log") == b"a\nb\nc\nd\n"


def test_append_errors(model):
    model.commit(Txn().mkdir("d").symlink("l", "d"))
    with pytest.raises(IsDirError, match="append 'd'.*directory"):
        model.commit(Txn().append("d", b"x"))
    with pytest.raises(NotSupportedError) as exc:
        model.commit(Txn().append("l", b"x"))
    assert exc.value.errno == errno.EOPNOTSUPP


def test_large_values_become_valrefs(model):
    small, big = b"s" * 64, b"B" * 65
    model.commit(Txn().put("small", small).put("big", big))
    assert model.get_treeobj("small")["type"] == "val"
    obj = model.get_treeobj("big")
    assert obj["type"] == "valref"
    assert model.load_blob(obj["data"][0]) == big
    assert model.get("big") == big


def test_blob_size_limit(model):
    with pytest.raises(BlobTooLargeError, match="value of 'k' is 4097 bytes") as exc:
        model.commit(Txn().put("k", b"x" * 4097))
    assert exc.value.errno == errno.EFBIG
    model.commit(Txn().put("k", b"x" * 4096))
    with pytest.raises(BlobTooLargeError):
        model.commit(Txn().append("k", b"y" * 5000))


def test_root_cannot_be_an_op_target(model):
    for txn in (Txn().put(".", b"1"), Txn().unlink("."), Txn().mkdir("..")):
        with pytest.raises(InvalidOpError, match="root directory") as exc:
            model.commit(txn)
        assert exc.value.errno == errno.EINVAL


def test_write_through_symlink(model):
    model.commit(Txn().mkdir("real").symlink("alias", "real"))
    model.commit(Txn().put("alias.x", b"1"))  # intermediate symlink is followed
    assert model.get("real.x") == b"1"
    assert model.readlink("alias") == (None, "real")


def test_write_through_symlink_loop_and_namespace(model):
    model.namespace_create("other", 5)
    model.commit(Txn().symlink("l1", "l2").symlink("l2", "l1").symlink("far", "x", "other"))
    with pytest.raises(SymlinkLoopError) as exc:
        model.commit(Txn().put("l1.x", b"1"))
    assert exc.value.errno == errno.ELOOP
    with pytest.raises(InvalidOpError, match="namespace 'other'"):
        model.commit(Txn().put("far.y", b"1"))
    model.commit(Txn().symlink("same", "d", "primary").put("same.z", b"ok"))
    assert model.get("d.z") == b"ok"


def test_put_treeobj(model):
    model.commit(Txn().put("src.a", b"1").put("src.b.c", b"2"))
    snap = model.get_treeobj("src")
    assert snap["type"] == "dirref"
    model.commit(Txn().put_treeobj("copy", snap).unlink("src"))
    assert model.get("copy.b.c") == b"2"
    inline = treeobj.create_dir({"x": treeobj.create_val(b"9"), "y": treeobj.create_dir()})
    model.commit(Txn().put_treeobj("inl", inline))
    assert model.get("inl.x") == b"9"
    assert model.get_treeobj("inl")["type"] == "dirref"  # unrolled into blobs
    ref = model.store.store(b"raw")
    model.commit(Txn().put_treeobj("vr", treeobj.create_valref([ref, ref])))
    assert model.get("vr") == b"rawraw"


def test_put_treeobj_errors(model):
    missing = "sha1-" + "1" * 40
    with pytest.raises(BlobNotFoundError):
        model.commit(Txn().put_treeobj("k", treeobj.create_valref(missing)))
    with pytest.raises(BlobNotFoundError):
        model.commit(Txn().put_treeobj("k", treeobj.create_dirref(missing)))
    notdir = model.store.store(b"just bytes")
    with pytest.raises(InvalidOpError, match="not a tree object"):
        model.commit(Txn().put_treeobj("k", treeobj.create_dirref(notdir)))
    hdir = {"ver": 1, "type": "hdir", "data": {"size": 2, "func": "crc32", "bucket": [None, None]}}
    with pytest.raises(InvalidOpError, match="hdir cannot be put inline"):
        model.commit(Txn().put_treeobj("k", hdir))
    assert model.version() == 0


def test_failed_transaction_leaves_no_trace(model):
    model.commit(Txn().put("a.b", b"1").mkdir("d"))
    before, version = model.rootref(), model.version()
    bad = Txn().put("a.b", b"2").put("new.deep.key", b"3").unlink("a").append("d", b"boom")
    with pytest.raises(IsDirError, match="op 3"):
        model.commit(bad)
    assert model.rootref() == before and model.version() == version
    assert model.get("a.b") == b"1"
    assert not model.exists("new")
    # and the working copy is still consistent: a new commit re-encodes correctly
    model.commit(Txn().put("z", b"1"))
    fresh = type(model)()
    fresh.commit(Txn().put("a.b", b"1").mkdir("d").put("z", b"1"))
    assert fresh.rootref() == model.rootref()


def test_merged_batch_with_one_failing_txn(model):
    model.commit(Txn().mkdir("dir"))
    batch = model.commit_batch(
        [
            Txn().put("a", b"1"),
            Txn().put("b", b"2").append("dir", b"x"),  # fails alone
            Txn().put("c", b"3").put("a", b"overwritten"),  # sees the first txn's effect
            Txn(),
        ]
    )
    assert batch.committed
    assert batch.version == 2 and batch.rootref == model.rootref()
    assert batch.errors[0] is None and batch.errors[2] is None and batch.errors[3] is None
    assert isinstance(batch.errors[1], IsDirError) and "op 1" in str(batch.errors[1])
    assert batch.keys == ("a", "c")  # sorted, failing txn's keys excluded
    assert model.get("a") == b"overwritten" and model.get("c") == b"3"
    assert not model.exists("b")
    assert batch.result(0).version == 2
    with pytest.raises(IsDirError):
        batch.result(1)


def test_batch_where_everything_fails_makes_no_version(model):
    model.commit(Txn().mkdir("d"))
    batch = model.commit_batch([Txn().append("d", b"x"), Txn().put(".", b"x")])
    assert not batch.committed and batch.version == 1 and batch.keys == ()
    assert model.version() == 1


def test_empty_batch_and_empty_txn(model):
    assert not model.commit_batch([]).committed
    r = model.commit(Txn())
    assert r.version == 1  # an empty transaction still makes a version (as in Flux)


def test_batch_argument_errors(model):
    with pytest.raises(InvalidArgumentError):
        model.commit_batch(Txn())
    with pytest.raises(InvalidArgumentError, match="batch element 1"):
        model.commit_batch([Txn(), "put a 1"])
    with pytest.raises(NamespaceNotFoundError) as exc:
        model.commit(Txn().put("a", b"1"), "nope")
    assert exc.value.errno == errno.ENOTSUP


def test_same_content_same_rootref(model):
    other = type(model)()
    model.commit(Txn().put("x.y", b"1"))
    model.commit(Txn().put("p", b"2"))
    other.commit(Txn().put("p", b"2").put("x.y", b"1"))
    assert model.rootref() == other.rootref()


def test_lookup_after_unlink_raises_enoent(model):
    model.commit(Txn().put("k", b"1"))
    model.commit(Txn().unlink("k"))
    with pytest.raises(KeyNotFoundError):
        model.get("k")


def test_foreign_inline_directories_are_unrolled(model):
    # a dir blob written by someone else may hold an inline dir; reading works,
    # and writing below it stores the inline part as its own blob
    inner = treeobj.create_dir({"x": treeobj.create_val(b"1")})
    outer = treeobj.create_dir({"in": inner, "v": treeobj.create_val(b"2")})
    ref = model.store.store(treeobj.encode(outer))
    model.commit(Txn().put_treeobj("f", treeobj.create_dirref(ref)))
    assert model.get("f.in.x") == b"1"
    assert model.lookup("f.in", flags=16)["type"] == "dir"  # as stored
    with pytest.raises(IsDirError):
        model.commit(Txn().put("f.in.y", b"3").append("f", b"boom"))  # fails: rolled back
    assert model.get_treeobj("f") == treeobj.create_dirref(ref)
    model.commit(Txn().put("f.in.y", b"3"))
    assert model.get_treeobj("f.in")["type"] == "dirref"
    assert model.get("f.in.x") == b"1" and model.get("f.in.y") == b"3"


def test_treeobj_op_is_copied():
    d = treeobj.create_dir({"x": treeobj.create_val(b"1")})
    txn = Txn().put_treeobj("k", d)
    d["data"]["x"] = "garbage"
    from fluxlab.kvs.model import KVSModel

    m = KVSModel()
    m.commit(txn)
    assert m.get("k.x") == b"1"


def test_deep_paths_are_refused_cleanly(model):
    deep = ".".join(["d"] * 256)
    model.commit(Txn().put(deep, b"bottom"))
    assert model.get(deep) == b"bottom"
    half = ".".join(["d"] * 200)
    model.commit(Txn().symlink("s", half))
    with pytest.raises(InvalidOpError, match="deeper than 256"):
        model.commit(Txn().put("s." + ".".join(["e"] * 100), b"x"))
    assert model.get(deep) == b"bottom"
