"""Property tests: the model against a nested-dict reference, and garbage input.

The reference implements flux-core's commit and lookup semantics in the most
direct way (deep copies for atomicity, plain dicts for directories), so any
difference in values, errors, versions or history is a model bug.
"""

from __future__ import annotations

import copy
import errno
from typing import NamedTuple

from hypothesis import HealthCheck, given, settings, strategies as st

from fluxlab.kvs import flags as F, treeobj
from fluxlab.kvs.errors import (
    InvalidKeyError,
    InvalidOpError,
    InvalidTreeobjError,
    IsDirError,
    KVSError,
)
from fluxlab.kvs.keys import normalize_key, split_key
from fluxlab.kvs.model import KVSModel
from fluxlab.kvs.txn import Txn
from fluxlab.kvs.watch import WatchRegistry
from tests.kvs._helpers import rebuilt_rootref

NAMES = ["a", "b", "c", "d"]
KEYS = [
    ".".join(p)
    for p in [(x,) for x in NAMES]
    + [(x, y) for x in NAMES for y in NAMES]
    + [(x, y, z) for x in NAMES[:2] for y in NAMES for z in NAMES[:3]]
]


class Link(NamedTuple):
    target: str


class RefError(Exception):
    def __init__(self, errnum: int) -> None:
        self.errno = errnum


def _ref_descend(root: dict, comps: tuple, create: bool):
    d, i, hops = root, 0, 0
    while i < len(comps) - 1:
        e = d.get(comps[i])
        if isinstance(e, dict):
            d, i = e, i + 1
            continue
        if isinstance(e, Link):
            hops += 1
            if hops > 10:
                raise RefError(errno.ELOOP)
            comps = split_key(e.target) + comps[i + 1 :]
            if not comps:
                raise RefError(errno.EINVAL)
            d, i = root, 0
            continue
        if not create:
            return None
        d[comps[i]] = {}
        d, i = d[comps[i]], i + 1
    return d, comps[-1]


def _ref_apply(root: dict, op: tuple) -> None:
    kind, key, arg = op
    comps = split_key(key)
    if not comps:
        raise RefError(errno.EINVAL)
    found = _ref_descend(root, comps, kind != "unlink")
    if found is None:
        return
    d, name = found
    if kind == "put":
        d[name] = arg
    elif kind == "mkdir":
        d[name] = {}
    elif kind == "symlink":
        d[name] = Link(normalize_key(arg))
    elif kind == "unlink":
        d.pop(name, None)
    else:  # append
        old = d.get(name)
        if isinstance(old, dict):
            raise RefError(errno.EISDIR)
        if isinstance(old, Link):
            raise RefError(errno.EOPNOTSUPP)
        d[name] = (old or b"") + arg


def _ref_lookup(root: dict, key: str):
    comps = split_key(key)
    node, i, hops = root, 0, 0
    try:
        while i < len(comps):
            if not isinstance(node, dict) or comps[i] not in node:
                raise RefError(errno.ENOENT)
            child = node[comps[i]]
            if isinstance(child, Link):
                hops += 1
                if hops > 10:
                    raise RefError(errno.ELOOP)
                comps = split_key(child.target) + comps[i + 1 :]
                node, i = root, 0
                continue
            node, i = child, i + 1
    except RefError as exc:
        return ("err", exc.errno)
    if isinstance(node, dict):
        return ("dir", sorted(node))
    return ("val", node)


def _model_lookup(m: KVSModel, key: str, **kw):
    try:
        return ("val", m.get(key, **kw))
    except IsDirError:
        return ("dir", sorted(m.list_dir(key, **kw)))
    except KVSError as exc:
        return ("err", exc.errno)


def _txn(ops) -> Txn:
    t = Txn()
    for kind, key, arg in ops:
        if kind == "put":
            t.put(key, arg)
        elif kind == "append":
            t.append(key, arg)
        elif kind == "unlink":
            t.unlink(key)
        elif kind == "mkdir":
            t.mkdir(key)
        else:
            t.symlink(key, arg)
    return t


keys = st.sampled_from(KEYS + ["."])
values = st.binary(max_size=6)
ops = st.one_of(
    st.tuples(st.just("put"), keys, values),
    st.tuples(st.just("append"), keys, values),
    st.tuples(st.just("unlink"), keys, st.none()),
    st.tuples(st.just("mkdir"), keys, st.none()),
    st.tuples(st.just("symlink"), keys, keys),
)
batches = st.lists(st.lists(st.lists(ops, max_size=4), min_size=1, max_size=4), max_size=6)
configs = st.sampled_from([(64, 16, 64), (2, 2, 2), (3, 4, 0), (1, 2, 4)])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches=batches, config=configs)
def test_model_matches_reference(batches, config):
    max_dirent, hdir_size, inline = config
    m = KVSModel(max_dirent=max_dirent, hdir_size=hdir_size, val_inline_max=inline)
    ref: dict = {}
    snapshots = {0: {}}
    for batch in batches:
        expected = []
        for txn_ops in batch:
            trial = copy.deepcopy(ref)
            try:
                for op in txn_ops:
                    _ref_apply(trial, op)
            except RefError as exc:
                expected.append(exc.errno)
            else:
                ref = trial
                expected.append(None)
        version = m.version()
        result = m.commit_batch([_txn(t) for t in batch])
        got = [None if e is None else e.errno for e in result.errors]
        assert got == expected
        assert m.version() == version + (1 if None in expected else 0)
        snapshots[m.version()] = copy.deepcopy(ref)
        for key in KEYS:
            assert _model_lookup(m, key) == _ref_lookup(ref, key), key
    for version, snap in snapshots.items():
        for key in KEYS[::3]:
            assert _model_lookup(m, key, version=version) == _ref_lookup(snap, key)
    # canonical encoding: equal content, equal root blobref
    assert rebuilt_rootref(m) == m.rootref()
    # a model reopened on the same store sees the same tree
    again = KVSModel(m.store, max_dirent=max_dirent, hdir_size=hdir_size, val_inline_max=inline)
    assert again.rootref() == m.rootref()
    for key in KEYS:
        assert _model_lookup(again, key) == _ref_lookup(ref, key)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=12,
)
almost_treeobjs = st.fixed_dictionaries(
    {
        "ver": st.sampled_from([1, 1, 0, "1", True]),
        "type": st.sampled_from(["val", "valref", "dir", "dirref", "hdir", "symlink", "x"]),
        "data": json_values | st.sampled_from(["", "YQ==", ["sha1-" + "0" * 40], {"target": "a"}]),
    }
)


@settings(max_examples=300, deadline=None)
@given(obj=json_values | almost_treeobjs)
def test_garbage_treeobjs_give_clean_errors(obj):
    try:
        treeobj.validate(obj)
    except InvalidTreeobjError as exc:
        assert exc.errno == errno.EINVAL and str(exc).startswith("treeobj")


@settings(max_examples=200, deadline=None)
@given(blob=st.binary(max_size=64))
def test_garbage_blobs_give_clean_errors(blob):
    try:
        treeobj.decode(blob)
    except InvalidTreeobjError:
        pass


@settings(max_examples=300, deadline=None)
@given(key=st.text(max_size=12) | st.integers() | st.none() | st.binary(max_size=4))
def test_garbage_keys_give_clean_errors(key):
    try:
        norm = normalize_key(key)
    except InvalidKeyError as exc:
        assert exc.errno == errno.EINVAL
    else:
        assert ".." not in norm and (norm == "." or not norm.startswith("."))


_model = KVSModel()
_model.commit(Txn().put("a.b", b"1").symlink("l", "a").mkdir("d"))
_registry = WatchRegistry(_model)


@settings(max_examples=300, deadline=None)
@given(
    wire=st.lists(
        st.fixed_dictionaries(
            {"key": st.text(max_size=6) | st.integers(), "dirent": almost_treeobjs | st.none()},
            optional={"flags": st.sampled_from([0, 32, 1, "0"])},
        )
        | json_values,
        max_size=3,
    )
    | json_values
)
def test_garbage_ops_give_clean_errors(wire):
    try:
        txn = Txn.from_wire(wire)
    except InvalidOpError as exc:
        assert str(exc)
        return
    batch = _model.commit_batch([txn])
    for err in batch.errors:
        assert err is None or isinstance(err, KVSError)


@settings(max_examples=300, deadline=None)
@given(
    key=st.text(max_size=6) | st.sampled_from(["a.b", "l.b", "d", ".", "l"]),
    flags=st.integers(min_value=-1, max_value=2048),
    ns=st.sampled_from(["primary", "nope", "bad ns"]),
)
def test_garbage_lookups_and_watches_give_clean_errors(key, flags, ns):
    try:
        _model.lookup(key, ns, flags=flags)
    except KVSError:
        pass
    try:
        wid, events = _registry.add(key, ns, flags=flags)
    except KVSError:
        return
    assert all(isinstance(e.errno, int) for e in events)
    _registry.remove(wid)
    assert len(_registry) == 0
    assert F.WATCH == 4


watch_ops = st.one_of(
    st.tuples(st.just("append"), st.sampled_from(["log", "x.log", "other"]), values),
    st.tuples(st.just("put"), st.sampled_from(["log", "x", "other"]), values),
    st.tuples(st.just("unlink"), st.sampled_from(["log", "x"]), st.none()),
    st.tuples(st.just("symlink"), st.just("log"), st.sampled_from(["x.log", "other"])),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    batches=st.lists(st.lists(st.lists(watch_ops, max_size=3), min_size=1, max_size=3), max_size=8)
)
def test_watchers_track_the_value(batches):
    m = KVSModel(val_inline_max=4)
    reg = WatchRegistry(m)
    app, _ = reg.add("log", flags=F.WATCH | F.WATCH_APPEND | F.WAITCREATE)
    full, _ = reg.add("log", flags=F.WATCH | F.WATCH_FULL | F.WAITCREATE)
    got = {app: [], full: []}
    alive = {app: True, full: True}
    for batch in batches:
        result = m.commit_batch([_txn(t) for t in batch])
        events = reg.on_commit(result)
        versions = [e.version for e in events]
        assert versions == sorted(versions) and all(v == m.version() for v in versions)
        try:
            current = m.get("log")
        except KVSError:
            current = None
        for e in events:
            if e.errno:
                alive[e.watcher_id] = False
                assert e.final and e.errno in (errno.EINVAL, errno.ENOENT, errno.EISDIR)
                if e.errno == errno.ENOENT:
                    assert current is None
            else:
                got[e.watcher_id].append(e.data)
        # an append watcher is re-evaluated when the key is named: then what it
        # sent so far, concatenated, is exactly the value
        if alive[app] and got[app] and "log" in result.keys:
            assert b"".join(got[app]) == current
        # a FULL watcher is re-evaluated after every batch
        if alive[full] and got[full]:
            assert got[full][-1] == current
    assert len(reg) == sum(alive.values())
