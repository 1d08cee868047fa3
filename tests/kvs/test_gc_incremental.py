"""Incremental collection: commits may run between any two slices, and nothing
a kept version (or a root made meanwhile) can reach is ever deleted."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from fluxlab.kvs._nodes import decode_dir_blob
from fluxlab.kvs._reader import _mark
from fluxlab.kvs.errors import KVSError
from fluxlab.kvs.model import KVSModel
from fluxlab.kvs.txn import Txn
from tests.kvs._helpers import big_value as _value, plan_step

KEEP = 3

_step = st.one_of(
    st.tuples(st.just("put"), st.integers(0, 5), st.integers(0, 3)),
    st.tuples(st.just("relink"), st.integers(0, 5), st.integers(1, 6)),
    st.tuples(st.just("unlink"), st.integers(0, 5), st.just(0)),
    st.tuples(st.just("gc"), st.integers(0, 2), st.just(0)),
)


def _reachable_all_present(m: KVSModel) -> None:
    """Every blob a kept version reaches is stored (a plain decoding walk)."""
    stored = set(m.store.refs())
    stack = [ref for ns in m._ns.values() for ref in ns.history.values()]
    seen: set[str] = set()
    while stack:
        ref = stack.pop()
        if ref in seen:
            continue
        seen.add(ref)
        assert ref in stored, f"directory {ref} is gone"
        vals: set[str] = set()
        _mark(decode_dir_blob(m.store.load(ref), ref), vals, stack)
        assert vals <= stored, f"values {vals - stored} are gone"


@settings(max_examples=200, deadline=None)
@given(steps=st.lists(_step, min_size=5, max_size=60))
def test_commits_between_slices_lose_nothing(steps):
    m = KVSModel(max_dirent=4, history=64)
    versions: dict[int, dict[str, bytes]] = {}  # version -> expected contents
    roots: dict[int, str] = {}  # version -> its root blobref
    current: dict[str, bytes] = {}
    for kind, a, b in steps:
        if kind == "gc":
            if not m.gc_running:
                m.gc_start(keep_versions=KEEP)
            for _ in range(a + 1):  # tiny slices: one dir, two refs
                m.gc_step(mark_budget=1, sweep_budget=2)
            continue
        # a relinked directory may also be out of history, its blobs still stored
        step = plan_step(m, kind, a, b, current, versions, roots)
        if step is None:
            continue
        t, nxt = step
        try:
            res = m.commit(t)
        except KVSError:  # a relinked blob was swept between lookup and commit
            continue
        current = nxt
        versions[res.version] = dict(current)
        roots[res.version] = res.rootref
        _reachable_all_present(m)
    while m.gc_running:
        m.gc_step(mark_budget=1, sweep_budget=2)
    _reachable_all_present(m)
    newest = m.version()
    for v in range(max(1, newest - KEEP + 1), newest + 1):
        for key, val in versions.get(v, {}).items():
            assert m.get(key, version=v) == val


def test_incremental_collection_frees_what_a_full_one_frees():
    def build() -> KVSModel:
        m = KVSModel(max_dirent=4)
        for i in range(200):
            m.commit(Txn().put(f"a.k{i % 17}", _value(i, 0)).put("b.n", _value(0, i)))
        return m

    full, inc = build(), build()
    removed_full = full.collect_garbage(keep_versions=5)
    assert inc.gc_start(keep_versions=5)
    assert not inc.gc_start(keep_versions=5)  # one at a time
    slices = 0
    removed = None
    while removed is None:
        removed = inc.gc_step(mark_budget=3, sweep_budget=50)
        slices += 1
    assert removed == removed_full > 0
    assert slices > 10  # it really ran in slices
    assert set(inc.store.refs()) == set(full.store.refs())
    assert not inc.gc_running


def test_a_directory_linked_again_during_the_sweep_survives_it():
    m = KVSModel(max_dirent=4, history=64)
    first = m.commit(Txn().put("d.k", _value(1, 1)))  # d's first directory blob
    for i in range(5):  # d changes: that blob is no longer in the newest versions
        m.commit(Txn().put("d.k", _value(2, i)))
    assert m.gc_start(keep_versions=3)
    assert m.gc_step(mark_budget=None, sweep_budget=1) is None  # marked; sweeping now
    # the old directory is garbage, not yet swept; a commit links it again
    obj = m.get_treeobj("d", root=first.rootref)
    m.commit(Txn().put_treeobj("again", obj))
    while m.gc_step(mark_budget=None, sweep_budget=1) is None:
        pass
    assert m.get("again.k") == _value(1, 1)
    _reachable_all_present(m)


def test_slice_budgets_must_make_progress():
    m = KVSModel()
    m.gc_start()
    with pytest.raises(ValueError, match="mark_budget"):
        m.gc_step(mark_budget=0)
    with pytest.raises(ValueError, match="sweep_budget"):
        m.gc_step(sweep_budget=0)
