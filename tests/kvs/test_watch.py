"""Watch registry: notifications per flag, termination, no leaks."""

import errno

import pytest

from fluxlab.kvs import flags as F
from fluxlab.kvs.errors import InvalidFlagsError, InvalidKeyError, InvalidNamespaceError
from fluxlab.kvs.txn import Txn
from fluxlab.kvs.watch import WatchEvent, WatchRegistry


@pytest.fixture
def reg(model):
    return WatchRegistry(model)


def commit(model, reg, *txns, namespace="primary"):
    return reg.on_commit(model.commit_batch(list(txns), namespace))


def data(events):
    return [e.data for e in events]


def assert_empty(reg):
    assert len(reg) == 0
    assert reg._by_id == {} and reg._by_key == {} and reg._full == {} and reg._waiting_ns == {}


def test_watch_streams_each_mention(model, reg):
    model.commit(Txn().put("k", b"0"))
    wid, events = reg.add("k", flags=F.WATCH)
    assert events == [WatchEvent(wid, 1, {"ver": 1, "type": "val", "data": "MA=="})]
    assert data(commit(model, reg, Txn().put("k", b"1"))) == [b"1"]
    assert commit(model, reg, Txn().put("other", b"x")) == []
    assert data(commit(model, reg, Txn().put("k", b"1"))) == [b"1"]  # same value, still sent
    ev = commit(model, reg, Txn().unlink("k"))
    assert ev[0].errno == errno.ENOENT and ev[0].final and ev[0].value is None
    assert_empty(reg)


def test_watch_matches_normalised_keys_verbatim(model, reg):
    model.commit(Txn().put("a.b", b"0"))
    wid, _ = reg.add(".a..b.", flags=F.WATCH)
    assert data(commit(model, reg, Txn().put("a..b", b"1"))) == [b"1"]
    # not mentioned: the parent is replaced, a plain WATCH does not notice
    assert commit(model, reg, Txn().put("a", b"flat")) == []
    assert wid in reg


def test_missing_key_without_waitcreate_fails(model, reg):
    wid, events = reg.add("nope", flags=F.WATCH)
    assert [(e.errno, e.final) for e in events] == [(errno.ENOENT, True)]
    _, events = reg.add("nope", flags=0)  # plain lookup through the registry
    assert events[0].errno == errno.ENOENT
    model.commit(Txn().mkdir("d"))
    _, events = reg.add("d", flags=F.WATCH)
    assert events[0].errno == errno.EISDIR
    assert_empty(reg)


def test_waitcreate_without_watch_is_one_shot(model, reg):
    wid, events = reg.add("later", flags=F.WAITCREATE)
    assert events == [] and wid in reg
    assert commit(model, reg, Txn().put("unrelated", b"1")) == []
    ev = commit(model, reg, Txn().put("later", b"here"))
    assert data(ev) == [b"here"] and ev[0].final
    assert_empty(reg)


def test_waitcreate_with_watch_streams(model, reg):
    wid, _ = reg.add("k", flags=F.WATCH | F.WAITCREATE)
    commit(model, reg, Txn().unlink("k"))  # named, but still missing: keep waiting
    assert wid in reg
    assert data(commit(model, reg, Txn().put("k", b"1"))) == [b"1"]
    assert data(commit(model, reg, Txn().put("k", b"2"))) == [b"2"]
    assert commit(model, reg, Txn().unlink("k"))[0].errno == errno.ENOENT


def test_waitcreate_on_missing_namespace(model, reg):
    wid, events = reg.add("k", "job-5", flags=F.WATCH | F.WAITCREATE)
    assert events == [] and wid in reg
    model.namespace_create("job-5", 1)
    assert reg.on_namespace_created("job-5") == []  # namespace exists, key not yet
    ev = commit(model, reg, Txn().put("k", b"v"), namespace="job-5")
    assert data(ev) == [b"v"]
    ev = reg.on_namespace_removed("job-5")
    assert [(e.watcher_id, e.errno, e.final) for e in ev] == [(wid, errno.ENOTSUP, True)]
    assert_empty(reg)


def test_missing_namespace_without_waitcreate(reg):
    wid, events = reg.add("k", "nope", flags=F.WATCH)
    assert events[0].errno == errno.ENOTSUP and events[0].final
    assert_empty(reg)


def test_uniq(model, reg):
    model.commit(Txn().put("k", b"0"))
    wid, events = reg.add("k", flags=F.WATCH | F.WATCH_UNIQ)
    assert data(events) == [b"0"]
    assert commit(model, reg, Txn().put("k", b"0")) == []
    assert data(commit(model, reg, Txn().put("k", b"1"))) == [b"1"]
    assert commit(model, reg, Txn().put("k", b"1")) == []
    assert data(commit(model, reg, Txn().put("k", b"0"))) == [b"0"]


def test_full_sees_unmentioned_changes(model, reg):
    model.commit(Txn().put("a.b.c", b"0").put("x.c", b"X"))
    wid, events = reg.add("a.b.c", flags=F.WATCH | F.WATCH_FULL)
    assert data(events) == [b"0"]
    assert commit(model, reg, Txn().put("zzz", b"1")) == []  # value unchanged
    ev = commit(model, reg, Txn().symlink("a.b", "x"))  # parent retargeted
    assert data(ev) == [b"X"]
    ev = commit(model, reg, Txn().put("x.c", b"Y"))  # change through the symlink
    assert data(ev) == [b"Y"]
    ev = commit(model, reg, Txn().unlink("a"))  # grandparent removed
    assert ev[0].errno == errno.ENOENT and ev[0].final
    assert_empty(reg)


def test_full_watch_of_a_directory(model, reg):
    model.commit(Txn().put("d.x", b"1"))
    wid, events = reg.add("d", flags=F.WATCH | F.WATCH_FULL | F.READDIR)
    assert sorted(events[0].value["data"]) == ["x"]
    ev = commit(model, reg, Txn().put("d.y", b"2"))
    assert sorted(ev[0].value["data"]) == ["x", "y"]


def test_append_sends_only_new_data(model, reg):
    key = "job.0000.0004.b200.0000.eventlog"
    model.commit(Txn().append(key, b'{"name":"submit"}\n'))
    wid, events = reg.add(key, flags=F.WATCH | F.WATCH_APPEND)
    assert data(events) == [b'{"name":"submit"}\n']  # initial: whole value (a val)
    assert data(commit(model, reg, Txn().append(key, b"e2\n"))) == [b"e2\n"]
    ev = commit(
        model, reg, Txn().append(key, b"e3\n").append(key, b"e4\n"), Txn().append(key, b"e5\n")
    )
    assert data(ev) == [b"e3\ne4\ne5\n"] and ev[0].version == model.version()
    assert commit(model, reg, Txn().put(key + "x", b"not it")) == []


def test_append_initial_valref_and_overwrite(model, reg):
    model.commit(Txn().append("log", b"a\n").append("log", b"b\n"))
    wid, events = reg.add("log", flags=F.WATCH | F.WATCH_APPEND)
    assert data(events) == [b"a\nb\n"]
    ev = commit(model, reg, Txn().put("log", b"a\nb\nc\n"))  # replaced, not appended
    assert ev[0].errno == errno.EINVAL and "overwritten" in ev[0].message and ev[0].final
    assert_empty(reg)


def test_append_replaced_by_other_valref_or_dir(model, reg):
    model.commit(Txn().append("log", b"a").append("log", b"b"))
    reg.add("log", flags=F.WATCH | F.WATCH_APPEND)
    ev = commit(
        model, reg, Txn().unlink("log").append("log", b"x").append("log", b"y").append("log", b"z")
    )
    assert ev[0].errno == errno.EINVAL  # longer, but not an extension of what was sent
    model.commit(Txn().put("v", b"1"))
    reg.add("v", flags=F.WATCH | F.WATCH_APPEND)
    assert commit(model, reg, Txn().mkdir("v"))[0].errno == errno.EINVAL


def test_append_waitcreate_and_sentinel(model, reg):
    flags = F.WATCH | F.WATCH_APPEND | F.WAITCREATE | F.WATCH_INITIAL_SENTINEL
    wid, events = reg.add("out", flags=flags)
    assert events == []
    ev = commit(model, reg, Txn().append("out", b"first"))
    assert [(e.data, e.sentinel) for e in ev] == [(b"first", False), (None, True)]
    ev = commit(model, reg, Txn().append("out", b"second"))
    assert [(e.data, e.sentinel) for e in ev] == [(b"second", False)]


def test_append_of_large_first_value(model, reg):
    big = b"x" * 100  # stored as a one-blob valref
    model.commit(Txn().put("log", big))
    reg.add("log", flags=F.WATCH | F.WATCH_APPEND)
    assert data(commit(model, reg, Txn().append("log", b"more"))) == [b"more"]


def test_cancel_and_remove(model, reg):
    model.commit(Txn().put("k", b"0"))
    w1, _ = reg.add("k", flags=F.WATCH)
    w2, _ = reg.add("k", flags=F.WATCH | F.WATCH_FULL)
    w3, _ = reg.add("k", "later", flags=F.WATCH | F.WAITCREATE)
    ev = reg.cancel(w1)
    assert [(e.watcher_id, e.errno, e.final) for e in ev] == [(w1, errno.ENODATA, True)]
    assert reg.cancel(w1) == []
    assert reg.remove(w2) and not reg.remove(w2)
    assert reg.remove(w3)
    assert commit(model, reg, Txn().put("k", b"1")) == []
    assert_empty(reg)


def test_namespace_removed_ends_all_its_watchers(model, reg):
    model.namespace_create("g", 1)
    model.commit(Txn().put("k", b"1"), "g")
    a, _ = reg.add("k", "g", flags=F.WATCH)
    b, _ = reg.add("k", "g", flags=F.WATCH | F.WATCH_FULL)
    c, _ = reg.add("other", "g", flags=F.WATCH | F.WAITCREATE)
    p, _ = reg.add("k", flags=F.WATCH | F.WAITCREATE)
    model.namespace_remove("g")
    ev = reg.on_namespace_removed("g")
    assert [(e.watcher_id, e.errno) for e in ev] == [
        (a, errno.ENOTSUP),
        (b, errno.ENOTSUP),
        (c, errno.ENOTSUP),
    ]
    assert len(reg) == 1 and p in reg


def test_events_reflect_their_batch_version(model, reg):
    model.commit(Txn().put("k", b"0"))
    reg.add("k", flags=F.WATCH)
    b1 = model.commit_batch([Txn().put("k", b"1")])
    b2 = model.commit_batch([Txn().put("k", b"2")])
    ev = reg.on_commit(b1) + reg.on_commit(b2)
    assert [(e.version, e.data) for e in ev] == [(2, b"1"), (3, b"2")]
    assert reg.on_commit(b1) == []  # stale or repeated batches are ignored


def test_failed_batch_notifies_nobody(model, reg):
    model.commit(Txn().mkdir("d").put("k", b"0"))
    reg.add("k", flags=F.WATCH | F.WATCH_FULL)
    assert reg.on_commit(model.commit_batch([Txn().put("k", b"1").append("d", b"x")])) == []


@pytest.mark.parametrize(
    "flags",
    [
        F.WATCH_UNIQ,
        F.WATCH_FULL,
        F.WATCH_APPEND,
        F.WATCH | F.WATCH_INITIAL_SENTINEL,
        F.WATCH | F.WATCH_APPEND | F.WATCH_UNIQ,
        F.WATCH | F.WATCH_APPEND | F.READDIR,
        F.READDIR | F.READLINK,
        1 << 20,
        "4",
    ],
)
def test_bad_flags(reg, flags):
    with pytest.raises(InvalidFlagsError) as exc:
        reg.add("k", flags=flags)
    assert exc.value.errno == errno.EPROTO
    assert_empty(reg)


def test_bad_key_or_namespace(reg):
    with pytest.raises(InvalidKeyError):
        reg.add("", flags=F.WATCH)
    with pytest.raises(InvalidNamespaceError):
        reg.add("k", "bad ns", flags=F.WATCH)
    assert_empty(reg)


def test_many_watchers_then_all_gone(model, reg):
    ids = [reg.add(f"k{i % 7}", flags=F.WATCH | F.WAITCREATE)[0] for i in range(50)]
    ids += [reg.add("k0", flags=F.WATCH | F.WATCH_FULL | F.WAITCREATE)[0] for _ in range(5)]
    ev = commit(model, reg, Txn().put("k0", b"x"))
    assert len(ev) == 8 + 5
    assert len(reg.describe()) == 55
    for i in ids[::2]:
        reg.cancel(i)
    for i in ids[1::2]:
        reg.remove(i)
    assert_empty(reg)


def test_batch_older_than_history_is_read_at_the_newest_version():
    from fluxlab.kvs.model import KVSModel

    m = KVSModel(history=2)
    reg = WatchRegistry(m)
    m.commit(Txn().put("k", b"0"))
    reg.add("k", flags=F.WATCH)
    late = m.commit_batch([Txn().put("k", b"1")])
    for i in range(3):
        m.commit(Txn().put("other", b"%d" % i))
    ev = reg.on_commit(late)
    assert [(e.version, e.data, e.errno) for e in ev] == [(m.version(), b"1", 0)]


def test_waiters_start_on_first_commit_if_creation_was_not_reported(model, reg):
    wid, _ = reg.add("k", "late-ns", flags=F.WATCH | F.WAITCREATE)
    model.namespace_create("late-ns", 3)
    ev = commit(model, reg, Txn().put("k", b"v"), namespace="late-ns")
    assert [(e.watcher_id, e.data) for e in ev] == [(wid, b"v")]
    assert reg._waiting_ns == {}
