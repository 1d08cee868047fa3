"""Garbage collection reads references out of directory blobs without decoding them."""

import json

from fluxlab.kvs._nodes import decode_dir_blob
from fluxlab.kvs._reader import _mark, blob_links
from fluxlab.kvs.errors import InvalidTreeobjError
from fluxlab.kvs.model import KVSModel
from fluxlab.kvs.txn import Txn

TRICKY = '{"data":["sha1-0000000000000000000000000000000000000000"],"type":"dirref","ver":1}'


def _decoded_links(blob: bytes, ref: str):
    dirs: list[str] = []
    vals: set[str] = set()
    _mark(decode_dir_blob(blob, ref), vals, dirs)
    return sorted(dirs), sorted(vals)


def _stored_dirs(m: KVSModel):
    """(ref, blob, decoded links) of every directory blob in ``m``'s store."""
    for ref in m.store.refs():
        blob = m.store.load(ref)
        try:
            expected = _decoded_links(blob, ref)
        except InvalidTreeobjError:
            continue  # a value blob
        yield ref, blob, expected


def _model() -> KVSModel:
    m = KVSModel(max_dirent=8)  # small dirs: hdir buckets appear quickly
    for i in range(60):
        t = Txn().put(f"a.b{i % 5}.k{i}", json.dumps({"i": i, "s": TRICKY}).encode())
        t.append(f"log.{i % 3}", (TRICKY * 40).encode())  # large: stored as valref
        t.put(f"names.{TRICKY.replace('.', '_')}{i}", b"1")
        t.symlink(f"links.l{i}", f"a.b{i % 5}")
        m.commit(t)
    return m


def test_scanned_links_equal_decoded_links_for_every_stored_dir():
    m = _model()
    checked = 0
    for ref, blob, expected in _stored_dirs(m):
        dirs, vals = blob_links(blob)
        assert (sorted(dirs), sorted(set(vals))) == expected, ref
        checked += 1
    assert checked > 20


def test_non_canonical_blob_is_decoded_instead():
    blob = (
        b'{"data": {"x": {"data": ["sha1-0000000000000000000000000000000000000000"], '
        b'"type": "dirref", "ver": 1}}, "type": "dir", "ver": 1}'
    )
    assert blob_links(blob) is None


def test_collection_keeps_every_reachable_value():
    m = _model()
    before = {k: m.get(f"a.b{k % 5}.k{k}") for k in range(60)}
    logs = [m.get(f"log.{i}") for i in range(3)]
    m.collect_garbage(keep_versions=1)
    assert {k: m.get(f"a.b{k % 5}.k{k}") for k in range(60)} == before
    assert [m.get(f"log.{i}") for i in range(3)] == logs


def test_names_that_look_like_tags_fall_back_to_decoding_and_stay_exact():
    m = KVSModel(max_dirent=8)
    for i in range(20):
        t = Txn().put(f"d.x{i}valref", b"v" * 100)  # a name ending in valref
        t.put(f"d.y{i}dirref.k", b"w" * 100)  # ... and one ending in dirref
        m.commit(t)
    fallbacks = 0
    for _ref, blob, expected in _stored_dirs(m):
        links = blob_links(blob)
        if links is None:
            fallbacks += 1  # the collector decodes this one
        else:
            assert (sorted(links[0]), sorted(set(links[1]))) == expected
    assert fallbacks > 0
    m.collect_garbage(keep_versions=1)
    assert all(m.get(f"d.x{i}valref") == b"v" * 100 for i in range(20))
    assert all(m.get(f"d.y{i}dirref.k") == b"w" * 100 for i in range(20))
