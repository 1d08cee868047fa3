"""Restart from sqlite, store failures, garbage collection."""

import errno

import pytest

from fluxlab.kvs.content import MemoryContentStore
from fluxlab.kvs.errors import BlobNotFoundError, StoreError, VersionNotAvailableError
from fluxlab.kvs.model import KVSModel
from fluxlab.kvs.sqlite_store import SqliteContentStore
from fluxlab.kvs.txn import Txn


def _populate(m):
    m.namespace_create("job-1", 42)
    m.commit(Txn().put("a.b", b"1").symlink("l", "a").mkdir("empty"))
    for i in range(30):
        m.commit(Txn().append("job.0000.eventlog", b"event %d\n" % i).put(f"many.k{i}", b"%d" % i))
    m.commit(Txn().put("x", b"guest").symlink("up", "a.b", "primary"), "job-1")
    m.commit(Txn().symlink("guest", "x", "job-1"))


def test_sqlite_restart_keeps_namespaces_values_versions(tmp_path):
    m = KVSModel.open(tmp_path, max_dirent=4, hdir_size=4, history=20)
    _populate(m)
    before = {
        "ns": m.namespace_list(),
        "log": m.get("job.0000.eventlog"),
        "dir": m.list_dir("many"),
        "old": m.get("job.0000.eventlog", version=20),
    }
    m.close()
    assert (tmp_path / "content.sqlite").exists()

    m = KVSModel.open(tmp_path, max_dirent=4, hdir_size=4, history=20)
    assert m.namespace_list() == before["ns"]
    assert m.version() == 32 and m.version("job-1") == 1
    assert m.namespace_info("job-1").owner == 42
    assert m.get("job.0000.eventlog") == before["log"]
    assert m.list_dir("many") == before["dir"]
    assert m.get("l.b") == b"1" and m.get("guest") == b"guest" and m.get("up", "job-1") == b"1"
    assert m.get("job.0000.eventlog", version=20) == before["old"]  # history survived too
    assert m.history_range() == (13, 32)
    with pytest.raises(VersionNotAvailableError):
        m.get("a.b", version=12)
    # and it keeps going from where it was
    r = m.commit(Txn().append("job.0000.eventlog", b"after restart\n"))
    assert r.version == 33
    m.close()
    m = KVSModel.open(tmp_path)
    assert m.get("job.0000.eventlog").endswith(b"event 29\nafter restart\n")
    m.close()


def test_model_resumes_from_a_memory_store():
    store = MemoryContentStore()
    m = KVSModel(store)
    _populate(m)
    again = KVSModel(store)
    assert again.rootref() == m.rootref() and again.version() == m.version()
    assert again.get("guest") == b"guest"


def test_primary_owner_is_persisted(tmp_path):
    with KVSModel.open(tmp_path, owner=1234) as m:
        pass
    with KVSModel.open(tmp_path, owner=1) as m:
        assert m.namespace_info().owner == 1234


class FlakyStore(MemoryContentStore):
    fail = False

    def write(self, blobs, checkpoints=(), removed=(), history=0):
        if self.fail:
            raise StoreError("disk full")
        super().write(blobs, checkpoints, removed, history)


def test_store_failure_leaves_model_unchanged():
    store = FlakyStore()
    m = KVSModel(store, max_dirent=2, hdir_size=2)
    m.commit(Txn().put("a.b", b"1").put("a.c", b"2").put("a.d", b"3"))
    before, version = m.rootref(), m.version()
    store.fail = True
    batch = m.commit_batch([Txn().put("a.e", b"4"), Txn().unlink("a.b")])
    assert not batch.committed and batch.version == version
    assert all(isinstance(e, StoreError) and e.errno == errno.EIO for e in batch.errors)
    assert m.rootref() == before and m.get("a.b") == b"1" and not m.exists("a.e")
    store.fail = False
    m.commit(Txn().put("a.e", b"4"))
    fresh = KVSModel(max_dirent=2, hdir_size=2)
    fresh.commit(Txn().put("a.b", b"1").put("a.c", b"2").put("a.d", b"3").put("a.e", b"4"))
    assert fresh.rootref() == m.rootref()


def test_garbage_collection_keeps_reachable_history():
    m = KVSModel(history=1000)
    for i in range(50):
        m.commit(Txn().put("k", b"v%d" % i).append("log", b"%d," % i))
    assert m.collect_garbage() == 0  # everything is still within history
    old_root = m.root_at("primary", 10)
    removed = m.collect_garbage(keep_versions=5)
    assert removed > 0
    assert m.history_range() == (46, 50)
    assert m.get("k", version=46) == b"v45"
    assert m.get("log") == b"".join(b"%d," % i for i in range(50))  # appended blobs all live
    with pytest.raises(BlobNotFoundError):
        m.get("k", root=old_root)
    m.commit(Txn().put("after", b"gc"))
    assert m.get("after") == b"gc"


def test_garbage_collection_on_sqlite(tmp_path):
    m = KVSModel(SqliteContentStore.open_statedir(tmp_path))
    for i in range(20):
        m.commit(Txn().put("k", b"v%d" % i))
    n = m.store.stats()["count"]
    assert m.collect_garbage(keep_versions=2) > 0
    assert m.store.stats()["count"] < n
    m.close()
    m = KVSModel.open(tmp_path)
    assert m.history_range() == (19, 20)
    assert m.get("k") == b"v19"
    m.close()
