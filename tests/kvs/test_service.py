"""The kvs service through real instances, with the flux.kvs-style client."""

import errno
import threading

import pytest

import fluxlab
import fluxlab.kvs as kvs
from fluxlab._proto import FLAG_STREAMING
from fluxlab.core.errors import FluxError
from fluxlab.testing import wait_for


@pytest.fixture(scope="module")
def inst():
    with fluxlab.start(size=3) as inst:
        yield inst


@pytest.fixture
def h(inst):
    h = inst.handle()
    yield h
    h.close()


def test_put_commit_get_and_types(h):
    kvs.put(h, "t1.a", {"x": [1, 2]})
    kvs.put(h, "t1.b", "text")
    kvs.put(h, "t1.raw", b"\xff\x00", raw=True)
    v1 = kvs.commit(h)
    assert kvs.get(h, "t1.a") == {"x": [1, 2]}
    assert kvs.get(h, "t1.b") == "text"
    from fluxlab.kvs.client import get_raw

    assert get_raw(h, "t1.raw") == b"\xff\x00"
    assert kvs.isdir(h, "t1") and not kvs.isdir(h, "t1.a") and not kvs.exists(h, "t1.zz")
    assert isinstance(kvs.get(h, "t1"), kvs.KVSDir)
    assert h.rpc("kvs.getroot").get()["version"] >= v1


def test_lookup_from_any_rank_climbs_to_rank0(inst):
    h2 = inst.handle(2)
    kvs.put(h2, "fromrank2", 42)
    kvs.commit(h2)
    h0 = inst.handle(0)
    assert kvs.get(h0, "fromrank2") == 42
    h2.close()
    h0.close()


def test_transaction_is_atomic(h):
    kvs.put(h, "atom.val", 1)
    kvs.commit(h)
    txn = kvs.KVSTxn(h)
    txn.put("atom.new", 2)
    txn.append("atom", "x")  # appending to a directory: the whole txn fails
    with pytest.raises(FluxError) as e:
        txn.commit()
    assert e.value.errno == errno.EISDIR
    assert not kvs.exists(h, "atom.new")


def test_merged_commits_each_answered(h):
    futs = [
        h.rpc("kvs.commit", {"ops": [{"op": "put", "key": f"merge.k{i}", "data": str(i)}]})
        for i in range(200)
    ]
    bad = h.rpc("kvs.commit", {"ops": [{"op": "append", "key": "merge", "data": "x"}]})
    versions = [f.get(timeout=10)["version"] for f in futs]
    assert versions == sorted(versions)
    with pytest.raises(FluxError) as e:
        bad.get(timeout=10)
    assert e.value.errno == errno.EISDIR
    assert kvs.get(h, "merge.k199") == 199
    assert len(kvs.get_dir(h, "merge")) == 200


def test_lookup_at_version_and_wait_version(h):
    kvs.put(h, "ver.x", "old")
    v_old = kvs.commit(h)
    kvs.put(h, "ver.x", "new")
    v_new = kvs.commit(h)
    assert h.rpc("kvs.lookup", {"key": "ver.x", "version": v_old}).get()["data"] == '"old"'
    assert h.rpc("kvs.lookup", {"key": "ver.x"}).get()["data"] == '"new"'
    assert h.rpc("kvs.wait-version", {"version": v_new}).get(timeout=10)["version"] >= v_new
    fut = h.rpc("kvs.wait-version", {"version": v_new + 1})
    kvs.put(h, "ver.y", 1)
    kvs.commit(h)
    assert fut.get(timeout=10)["version"] >= v_new + 1


def test_symlink_mkdir_unlink(h):
    with kvs.KVSTxn(h) as t:
        t.mkdir("sl.dir")
        t.put("sl.target", 7)
        t.symlink("sl.link", "sl.target")
    assert kvs.get(h, "sl.link") == 7
    assert h.rpc("kvs.lookup", {"key": "sl.link", "readlink": True}).get()["target"] == "sl.target"
    assert len(kvs.get_dir(h, "sl.dir")) == 0
    kvs.put_unlink(h, "sl.target")
    kvs.commit(h)
    with pytest.raises(FluxError) as e:
        kvs.get(h, "sl.link")
    assert e.value.errno == errno.ENOENT


def test_namespaces(h):
    kvs.namespace_create(h, "jobns")
    assert "jobns" in kvs.namespace_list(h)
    t = kvs.KVSTxn(h, namespace="jobns")
    t.put("a", 1)
    t.commit()
    assert kvs.get(h, "a", namespace="jobns") == 1
    assert not kvs.exists(h, "a")
    with pytest.raises(FluxError):
        kvs.namespace_create(h, "jobns")
    kvs.namespace_remove(h, "jobns")
    with pytest.raises(FluxError):
        kvs.get(h, "a", namespace="jobns")


def test_watch_stream_and_cancel(h):
    kvs.put(h, "w.v", 1)
    kvs.commit(h)
    w = kvs.kvs_watch_async(h, "w.v")
    assert w.get(timeout=10) == 1
    for i in (2, 3):
        kvs.put(h, "w.v", i)
        kvs.commit(h)
        assert w.get(timeout=10) == i
    w.cancel()
    with pytest.raises(FluxError) as e:
        w.get(timeout=10)
    assert e.value.errno in (errno.ECANCELED, errno.ENODATA)


def test_watch_waitcreate_and_append(h):
    w = kvs.kvs_watch_async(h, "w.log", waitcreate=True, append=True)
    for chunk in ("line1\n", "line2\n", "line3\n"):
        h.rpc("kvs.commit", {"ops": [{"op": "append", "key": "w.log", "data": chunk}]}).get()
    got = b""
    while got != b"line1\nline2\nline3\n":
        got += w.get(timeout=10)
    w.cancel()


def test_watch_ends_with_enoent_when_removed(h):
    kvs.put(h, "w.gone", 1)
    kvs.commit(h)
    w = kvs.kvs_watch_async(h, "w.gone")
    assert w.get(timeout=10) == 1
    kvs.put_unlink(h, "w.gone")
    kvs.commit(h)
    with pytest.raises(FluxError) as e:
        w.get(timeout=10)
    assert e.value.errno == errno.ENOENT


def test_disconnect_drops_watchers(inst):
    h = inst.handle()
    other = inst.handle()
    base = other.rpc("kvs.stats").get()["watchers"]
    w = kvs.kvs_watch_async(h, "w.disc", waitcreate=True)
    wait_for(lambda: other.rpc("kvs.stats").get()["watchers"] == base + 1, what="watch registered")
    h.close()
    wait_for(
        lambda: other.rpc("kvs.stats").get()["watchers"] == base,
        what="watcher dropped on disconnect",
    )
    assert w is not None
    other.close()


@pytest.mark.parametrize(
    "payload,msg",
    [
        ({"ops": "x"}, "'ops'"),
        ({"ops": [{"op": "frob", "key": "a"}]}, "unknown op"),
        ({"ops": [{"op": "put", "key": 5, "data": "1"}]}, "'key'"),
        ({"ops": [{"op": "put", "key": "a"}]}, "needs 'data'"),
        ({"ops": [{"op": "put", "key": "a", "data_b64": "!!"}]}, "base64"),
        ({"ops": [{"op": "put", "key": "", "data": "1"}]}, ""),
    ],
)
def test_bad_commits_get_clear_errors(h, payload, msg):
    with pytest.raises(FluxError) as e:
        h.rpc("kvs.commit", payload).get(timeout=10)
    assert msg in str(e.value)
    assert h.rpc("kvs.ping").get(timeout=10)["name"] == "kvs"


def test_concurrent_writers(h):
    errors = []

    def writer(n):
        try:
            for i in range(30):
                t = kvs.KVSTxn(h)
                t.put(f"conc.t{n}.k{i}", i)
                t.commit()
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    ts = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert not errors
    assert all(len(kvs.get_dir(h, f"conc.t{n}")) == 30 for n in range(4))


def test_statedir_survives_restart(tmp_path):
    with fluxlab.start(size=1, statedir=str(tmp_path)) as inst:
        h = inst.handle()
        kvs.put(h, "keep.me", {"a": 1})
        v = kvs.commit(h)
        h.close()
    with fluxlab.start(size=1, statedir=str(tmp_path)) as inst:
        h = inst.handle()
        assert kvs.get(h, "keep.me") == {"a": 1}
        assert h.rpc("kvs.getroot").get()["version"] >= v
        h.close()


def test_streaming_watch_requires_flag(h):
    with pytest.raises(FluxError) as e:
        h.rpc("kvs.watch", {"key": "x"}).get(timeout=10)
    assert e.value.errno == errno.EPROTO
    fut = h.rpc("kvs.watch", {"key": "nope.never"}, flags=FLAG_STREAMING)
    with pytest.raises(FluxError) as e:
        fut.get(timeout=10)
    assert e.value.errno == errno.ENOENT


def test_memory_store_frees_versions_beyond_the_kept_history():
    import fluxlab.kvs.service as svc

    with fluxlab.start(size=1) as inst:
        h = inst.handle()
        mod = inst.brokers[0].modules["kvs"].module
        for i in range(3000):
            kvs.put(h, "gc.value", i)
            kvs.commit(h)
        stats = h.rpc("kvs.stats").get()
        # each commit makes a root and a "gc" directory (the value is inline):
        # without freeing 6,000 blobs; with it, the kept versions' and a few
        assert mod.model.store.count() <= 2 * svc.KEEP_VERSIONS + 10
        assert stats["store"]["freed"] >= 2 * (3000 - svc.KEEP_VERSIONS)
        assert kvs.get(h, "gc.value") == 2999
        old = stats["version"] - svc.KEEP_VERSIONS // 2
        assert h.rpc("kvs.lookup", {"key": "gc.value", "version": old}).get()["data"] is not None
        with pytest.raises(FluxError) as e:
            h.rpc("kvs.lookup", {"key": "gc.value", "version": old - svc.KEEP_VERSIONS}).get()
        assert e.value.errno == errno.ENOENT and "no longer in history" in str(e.value)
        h.close()


def test_lookup_sees_every_commit_that_reached_the_kvs_before_it(h):
    # pipelined: the commit is still batched when the lookup arrives; the lookup
    # must not answer from the older root (a reader who learned of a commit by
    # another route, e.g. the job-manager's journal, must find its data)
    for i in range(20):
        commit = h.rpc("kvs.commit", {"ops": [{"op": "put", "key": "seen.k", "data": str(i)}]})
        look = h.rpc("kvs.lookup", {"key": "seen.k"})
        assert look.get(timeout=30)["data"] == str(i)
        commit.get(timeout=30)
