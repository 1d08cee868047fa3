"""Reference-counted in-memory store: counts stay exact, nothing a kept
version reaches is ever freed, and everything else is freed."""

from __future__ import annotations

from collections import Counter

from hypothesis import example, given, settings, strategies as st

from fluxlab.kvs._refcount import CountedMemoryStore, links
from fluxlab.kvs.model import KVSModel
from fluxlab.kvs.txn import Txn
from tests.kvs._helpers import big_value as _value, plan_step

HISTORY = 4

_step = st.one_of(
    st.tuples(st.just("put"), st.integers(0, 4), st.integers(0, 3)),
    st.tuples(st.just("append"), st.integers(0, 4), st.integers(0, 3)),
    st.tuples(st.just("unlink"), st.integers(0, 4), st.just(0)),
    st.tuples(st.just("relink"), st.integers(0, 4), st.integers(1, 6)),
    st.tuples(st.just("ns"), st.integers(0, 2), st.integers(0, 3)),
    st.tuples(st.just("orphan"), st.integers(0, 4), st.just(0)),
    st.tuples(st.just("sweep"), st.just(0), st.just(0)),
    st.tuples(st.just("gc"), st.integers(0, 2), st.just(0)),
    st.tuples(st.just("odd"), st.integers(0, 4), st.integers(0, 3)),
)

#: entries whose dir the flusher leaves to the store to read (a name ending
#: in a ref type tag, a symlink) next to plain ones (an inline value)
_ODD = [
    lambda t, a, b: t.put(f"d{a}.xdirref", _value(a, b)),
    lambda t, a, b: t.put(f"d{a}.yvalref", b"small"),
    lambda t, a, b: t.symlink(f"d{a}.link", f"d{(a + 1) % 5}"),
    lambda t, a, b: t.put(f"d{a}.inline{b}", b"v%d" % b),
]


def _kept_roots(store: CountedMemoryStore) -> list[str]:
    return [ref for hist in store._history.values() for ref in hist.values()]


def _reachable(store: CountedMemoryStore) -> set[str]:
    """Every blob a kept root reaches; fails if one of them is gone."""
    stack, seen = _kept_roots(store), set()
    while stack:
        ref = stack.pop()
        if ref in seen:
            continue
        seen.add(ref)
        assert store.contains(ref), f"blob {ref} is reachable but gone"
        stack.extend(links(store.load(ref)))
    return seen


def _check_counts(store: CountedMemoryStore) -> None:
    want = Counter(_kept_roots(store))
    for ref in list(store.refs()):
        want.update(links(store.load(ref)))
    for ref in store.refs():
        assert store.refcount(ref) == want[ref], f"count of {ref}"


@settings(max_examples=150, deadline=None)
@given(steps=st.lists(_step, min_size=5, max_size=50))
def test_counts_exact_and_nothing_reachable_is_freed(steps):
    store = CountedMemoryStore()
    m = KVSModel(store, max_dirent=4, history=HISTORY)
    roots: dict[int, str] = {}
    versions: dict[int, dict[str, bytes]] = {}
    current: dict[str, bytes] = {}
    for kind, a, b in steps:
        if kind == "sweep":
            store.sweep_unlinked()
        elif kind == "orphan":
            store.store(_value(a, 99))  # written, never linked
        elif kind == "gc":
            if not m.gc_running:
                m.gc_start(keep_versions=HISTORY)
            for _ in range(a + 1):
                m.gc_step(mark_budget=1, sweep_budget=2)
        elif kind == "odd":  # untracked keys: they go when d{a} is unlinked
            t = Txn()
            _ODD[b](t, a, b)
            res = m.commit(t)
            versions[res.version] = dict(current)
            roots[res.version] = res.rootref
        elif kind == "ns":
            name = f"n{a}"
            if not m.has_namespace(name):
                m.namespace_create(name, 0)
                m.commit(Txn().put("x", _value(a, b)), name)
            else:
                m.namespace_remove(name)
        else:
            step = plan_step(m, kind, a, b, current, versions, roots)
            if step is None:
                continue
            t, nxt = step
            res = m.commit(t)
            current = nxt
            versions[res.version] = dict(current)
            roots[res.version] = res.rootref
        _reachable(store)
        _check_counts(store)
    while m.gc_running:
        m.gc_step(mark_budget=None, sweep_budget=None)
    newest = m.version()
    for v in range(max(1, newest - HISTORY + 1), newest + 1):
        for key, val in versions.get(v, {}).items():
            assert m.get(key, version=v) == val
    # two sweeps with no write between: only what a kept root reaches is left
    store.sweep_unlinked()
    store.sweep_unlinked()
    assert set(store.refs()) == _reachable(store)
    _check_counts(store)


def test_old_versions_are_freed_as_they_leave_history():
    store = CountedMemoryStore()
    m = KVSModel(store, history=HISTORY)
    for i in range(50):
        m.commit(Txn().put("a.b.c", _value(i, 0)).put("a.n", _value(0, i)))
    # per version: root, a, a.b and two value blobs; only HISTORY versions stay
    assert store.count() <= 5 * HISTORY
    assert store.freed >= 5 * (50 - HISTORY) - 5
    assert m.get("a.b.c") == _value(49, 0)


def test_a_blob_written_unlinked_gets_one_sweep_interval():
    store = CountedMemoryStore()
    m = KVSModel(store, history=HISTORY)
    ref = store.store(_value(7, 7))
    store.sweep_unlinked()  # written before this sweep: kept until the next
    assert store.contains(ref)
    m.commit(Txn().put_treeobj("v", {"data": [ref], "type": "valref", "ver": 1}))
    store.sweep_unlinked()
    assert store.contains(ref) and m.get("v") == _value(7, 7)  # linked in time
    orphan = store.store(_value(8, 8))
    store.sweep_unlinked()
    store.sweep_unlinked()
    assert not store.contains(orphan)


def test_a_value_blob_that_looks_like_a_directory_is_counted_consistently():
    store = CountedMemoryStore()
    m = KVSModel(store, history=1)
    target = store.store(_value(1, 1))
    fake = '{"data":{"x":{"data":["' + target + '"],"type":"valref","ver":1}},"type":"dir","ver":1}'
    m.commit(Txn().put("fake", fake.encode() + b" " * 80))  # a value, not a dir
    m.commit(Txn().put_treeobj("real", {"data": [target], "type": "valref", "ver": 1}))
    m.commit(Txn().unlink("fake").unlink("real"))
    m.commit(Txn().put("other", b"x"))
    store.sweep_unlinked()
    store.sweep_unlinked()
    assert set(store.refs()) == _reachable(store)
    _check_counts(store)


@settings(max_examples=100, deadline=None)
@given(
    names=st.lists(
        st.sampled_from(["a", "b", "s", "xdirref", "yvalref", "c.d", "e.f.g"]),
        min_size=1,
        max_size=8,
    ),
    kinds=st.lists(st.sampled_from(["big", "small", "dir", "link"]), min_size=8, max_size=8),
)
@example(names=["a", "b", "s"], kinds=["big", "big", "link"] + ["small"] * 5)
def test_the_links_a_commit_hands_the_store_are_what_its_blobs_name(names, kinds):
    """For every dir blob a commit writes, the refs the flusher lists (when it
    lists them) are exactly, repeats included, what a scan of the bytes finds."""
    from fluxlab.kvs.content import MemoryContentStore

    told: dict[str, list[str]] = {}

    class Recording(MemoryContentStore):
        takes_links = True

        def write(self, blobs, checkpoints=(), removed=(), history=0, links=None):
            told.update(links or {})
            super().write(blobs, checkpoints, removed, history)

    store = Recording()
    m = KVSModel(store, max_dirent=4)
    t = Txn()
    for name, kind in zip(names, kinds, strict=False):
        key = f"top.{name}"
        if kind == "big":
            t.put(key, _value(0, 0))  # one blob named by many entries: repeats
        elif kind == "small":
            t.put(key, b"s")
        elif kind == "dir":
            t.mkdir(key)
        else:
            t.symlink(key, "top.xdirref")  # a target that ends like a ref tag
    try:
        m.commit(t)
    except Exception:  # noqa: BLE001 - a key under a value: nothing committed
        return
    assert told, "a commit lists the links of some dir"
    for ref, named in told.items():
        assert Counter(named) == Counter(links(store.load(ref))), ref
