"""Content stores: one suite for every backend (memory, sqlite)."""

import pytest

from fluxlab.kvs.content import Checkpoint, MemoryContentStore, blobref_hasher
from fluxlab.kvs.errors import BlobNotFoundError, BlobTooLargeError, KVSError, StoreError
from fluxlab.kvs.sqlite_store import SqliteContentStore


@pytest.fixture(params=["memory", "sqlite"])
def store(request, tmp_path):
    if request.param == "memory":
        s = MemoryContentStore(max_blob_size=1024)
    else:
        s = SqliteContentStore.open_statedir(tmp_path, max_blob_size=1024, cache_size=2)
    yield s
    s.close()


def test_blobref_is_sha1_of_content(store):
    ref = store.store(b"hello")
    assert ref == "sha1-aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d"
    assert store.load(ref) == b"hello"
    assert store.contains(ref)
    assert store.store(b"hello") == ref  # idempotent
    assert store.stats()["count"] == 1


def test_missing_blob(store):
    with pytest.raises(BlobNotFoundError) as exc:
        store.load("sha1-" + "0" * 40)
    assert exc.value.errno == 2
    assert not store.contains("sha1-" + "0" * 40)
    assert not store.contains(None)
    with pytest.raises(BlobNotFoundError):
        store.load(None)


def test_size_limit(store):
    store.store(b"x" * 1024)
    with pytest.raises(
        BlobTooLargeError, match="1025 bytes, over the content store limit of 1024"
    ) as exc:
        store.store(b"x" * 1025)
    assert exc.value.errno == 27  # EFBIG


def test_write_checkpoints_and_history(store):
    blobs = {store.blobref(b"r%d" % i): b"r%d" % i for i in range(6)}
    refs = list(blobs)
    store.write(blobs)
    for v in range(6):
        store.write({}, [Checkpoint("ns", 7, v, refs[v])], history=3)
    assert store.checkpoints() == {"ns": Checkpoint("ns", 7, 5, refs[5])}
    assert store.history("ns", 10) == [(3, refs[3]), (4, refs[4]), (5, refs[5])]
    assert store.history("ns", 2) == [(4, refs[4]), (5, refs[5])]
    assert store.history("other", 10) == []
    store.write({}, removed=["ns"])
    assert store.checkpoints() == {}
    assert store.history("ns", 10) == []


def test_delete(store):
    keep = store.store(b"keep")
    gone = store.store(b"gone")
    assert sorted(store.refs()) == sorted([keep, gone])
    assert store.delete([gone, "sha1-" + "0" * 40]) == 1  # an absent ref is skipped
    assert list(store.refs()) == [keep]
    assert store.stats()["bytes"] == 4
    with pytest.raises(BlobNotFoundError):
        store.load(gone)


def test_unknown_hash():
    with pytest.raises(KVSError, match="unsupported content hash 'md5'"):
        blobref_hasher("md5")
    with pytest.raises(KVSError, match="max_blob_size"):
        MemoryContentStore(max_blob_size=0)


def test_sqlite_reopen_keeps_everything(tmp_path):
    s = SqliteContentStore.open_statedir(tmp_path)
    ref = s.store(b"data")
    s.write({}, [Checkpoint("primary", 0, 3, ref)], history=10)
    s.close()
    assert (tmp_path / "content.sqlite").exists()
    s = SqliteContentStore.open_statedir(tmp_path)
    assert s.load(ref) == b"data"
    assert s.checkpoints()["primary"].version == 3
    assert s.history("primary", 5) == [(3, ref)]
    s.close()


def test_sqlite_is_wal_and_refuses_other_hash(tmp_path):
    s = SqliteContentStore(tmp_path / "x" / "c.sqlite")
    assert s._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    s.close()
    with pytest.raises(StoreError, match="uses hash 'sha1', not 'sha256'"):
        SqliteContentStore(tmp_path / "x" / "c.sqlite", hash_name="sha256")
    with pytest.raises(KVSError, match="synchronous"):
        SqliteContentStore(tmp_path / "y.sqlite", synchronous="SOMETIMES")


def test_sqlite_unopenable_path(tmp_path):
    (tmp_path / "file").write_text("not a dir")
    with pytest.raises(StoreError, match="cannot open content store"):
        SqliteContentStore(tmp_path / "file" / "content.sqlite")


def test_sqlite_write_is_atomic(tmp_path):
    s = SqliteContentStore.open_statedir(tmp_path)
    good = s.blobref(b"ok")

    class Boom(dict):
        def items(self):
            yield good, b"ok"
            raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        s.write(Boom(), [Checkpoint("primary", 0, 1, good)])
    assert not s.contains(good)
    assert s.checkpoints() == {}
    s.close()


def test_sqlite_use_after_close_is_a_clear_error(tmp_path):
    s = SqliteContentStore.open_statedir(tmp_path)
    ref = s.store(b"x")
    s.close()
    s.close()  # idempotent
    with pytest.raises(StoreError, match="is closed"):
        s.contains(ref)


def test_sqlite_not_a_database(tmp_path):
    (tmp_path / "content.sqlite").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="cannot open content store"):
        SqliteContentStore.open_statedir(tmp_path)
