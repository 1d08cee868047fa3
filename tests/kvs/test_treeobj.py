"""RFC 11 tree objects: constructors, validation errors, canonical encoding."""

import json

import pytest

from fluxlab.kvs import treeobj
from fluxlab.kvs.errors import InvalidTreeobjError

REF = "sha1-" + "a" * 40
REF2 = "sha256-" + "0" * 64


def test_constructors_validate():
    assert treeobj.create_val(b"42\n") == {"ver": 1, "type": "val", "data": "NDIK"}
    assert treeobj.decode_val(treeobj.create_val(b"\x00\xff")) == b"\x00\xff"
    assert treeobj.create_valref(REF)["data"] == [REF]
    assert treeobj.create_valref([REF, REF2])["data"] == [REF, REF2]
    assert treeobj.create_dirref(REF) == {"ver": 1, "type": "dirref", "data": [REF]}
    assert treeobj.create_dir() == {"ver": 1, "type": "dir", "data": {}}
    link = treeobj.create_symlink("a..b.", "job-1")
    assert link["data"] == {"target": "a.b", "namespace": "job-1"}
    assert "namespace" not in treeobj.create_symlink("x")["data"]
    for obj in (treeobj.create_val(b""), link, treeobj.create_dir({"x": treeobj.create_val(b"1")})):
        assert treeobj.validate(obj) is obj


def test_blobrefs():
    assert treeobj.is_blobref(REF) and treeobj.is_blobref(REF2)
    for bad in (
        "sha1-" + "a" * 39,
        "sha1-" + "A" * 40,
        "md5-" + "a" * 32,
        "sha1" + "a" * 40,
        5,
        None,
    ):
        assert not treeobj.is_blobref(bad)
    with pytest.raises(InvalidTreeobjError, match="not a blobref"):
        treeobj.validate_blobref("sha1-xyz")


HDIR = {
    "ver": 1,
    "type": "hdir",
    "data": {
        "size": 2,
        "func": "crc32",
        "bucket": [None, {"ver": 1, "type": "dirref", "data": [REF]}],
    },
}


@pytest.mark.parametrize(
    ("obj", "fragment"),
    [
        ([], "must be a JSON object"),
        ({"type": "val", "data": ""}, "missing member 'ver'"),
        ({"ver": 2, "type": "val", "data": ""}, "ver must be 1"),
        ({"ver": True, "type": "val", "data": ""}, "ver must be 1"),
        ({"ver": 1, "type": "blob", "data": ""}, "unknown type"),
        ({"ver": 1, "type": "val", "data": "", "extra": 1}, "unexpected member 'extra'"),
        ({"ver": 1, "type": "val", "data": 5}, "base64 string"),
        ({"ver": 1, "type": "val", "data": "abc"}, "not valid base64"),
        ({"ver": 1, "type": "val", "data": "a$=="}, "not valid base64"),
        ({"ver": 1, "type": "val", "data": "", "size": -1}, "size must be"),
        ({"ver": 1, "type": "valref", "data": []}, "at least one blobref"),
        ({"ver": 1, "type": "valref", "data": REF}, "list of blobrefs"),
        ({"ver": 1, "type": "valref", "data": [REF, "nope"]}, "data[1]"),
        ({"ver": 1, "type": "dirref", "data": [REF, REF]}, "exactly one blobref"),
        ({"ver": 1, "type": "dir", "data": []}, "dir data must be an object"),
        (
            {"ver": 1, "type": "dir", "data": {"a.b": {"ver": 1, "type": "val", "data": ""}}},
            "invalid directory entry name",
        ),
        (
            {"ver": 1, "type": "dir", "data": {"": {"ver": 1, "type": "val", "data": ""}}},
            "invalid directory entry name",
        ),
        (
            {"ver": 1, "type": "dir", "data": {"a": {"ver": 1, "type": "val"}}},
            "treeobj.data['a']: missing member 'data'",
        ),
        ({"ver": 1, "type": "symlink", "data": {}}, "symlink target"),
        ({"ver": 1, "type": "symlink", "data": {"target": ""}}, "symlink target"),
        (
            {"ver": 1, "type": "symlink", "data": {"target": "a", "namespace": ""}},
            "symlink namespace",
        ),
        (
            {"ver": 1, "type": "symlink", "data": {"target": "a", "x": 1}},
            "unexpected symlink member",
        ),
        ({"ver": 1, "type": "symlink", "data": "a"}, "symlink data must be an object"),
        ({**HDIR, "data": {**HDIR["data"], "size": 3}}, "power of two"),
        ({**HDIR, "data": {**HDIR["data"], "func": "city32"}}, "hdir func"),
        ({**HDIR, "data": {**HDIR["data"], "bucket": [None]}}, "list of 2 entries"),
        (
            {**HDIR, "data": {**HDIR["data"], "bucket": [None, treeobj.create_val(b"")]}},
            "null or a dirref",
        ),
        ({**HDIR, "data": {**HDIR["data"], "other": 1}}, "unexpected hdir member"),
    ],
)
def test_invalid_objects_give_clear_errors(obj, fragment):
    with pytest.raises(InvalidTreeobjError) as exc:
        treeobj.validate(obj)
    assert fragment in str(exc.value)
    assert exc.value.errno == 22


def test_hdir_validates():
    assert treeobj.validate(HDIR) is HDIR


def test_deep_nesting_is_refused_not_a_recursion_error():
    obj = treeobj.create_val(b"x")
    for _ in range(400):
        obj = {"ver": 1, "type": "dir", "data": {"d": obj}}
    with pytest.raises(InvalidTreeobjError, match="nested deeper"):
        treeobj.validate(obj)
    with pytest.raises(InvalidTreeobjError):
        treeobj.decode("[" * 100000 + "]" * 100000)


def test_encode_is_canonical_compact_sorted():
    obj = {
        "type": "dir",
        "ver": 1,
        "data": {"b": treeobj.create_val(b"1"), "a": treeobj.create_dirref(REF)},
    }
    text = treeobj.encode(obj).decode()
    assert text.startswith('{"data":{"a":{"data":["sha1-')
    assert " " not in text
    assert treeobj.decode(treeobj.encode(obj)) == obj
    assert (
        treeobj.encode({"ver": 1, "type": "val", "data": ""})
        == json.dumps({"data": "", "type": "val", "ver": 1}, separators=(",", ":")).encode()
    )


@pytest.mark.parametrize("blob", [b"", b"{", b"\xff\xfe", b"null", b'{"ver":1}', "[1,2]"])
def test_decode_errors(blob):
    with pytest.raises(InvalidTreeobjError):
        treeobj.decode(blob)
