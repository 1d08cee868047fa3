"""Transactions: builder, validation, Flux wire form."""

import pytest

from fluxlab.kvs import treeobj
from fluxlab.kvs.errors import InvalidKeyError, InvalidOpError
from fluxlab.kvs.txn import KVS_APPEND, Op, Txn

REF = "sha1-" + "b" * 40


def test_builder_chains_and_normalises():
    txn = Txn().put("a..b.", b"1").append(".log", bytearray(b"x")).unlink("c").mkdir("d")
    txn.symlink("e", "a..b", namespace="job-1").put_treeobj("f", treeobj.create_dirref(REF))
    assert [(op.kind, op.key) for op in txn] == [
        ("put", "a.b"),
        ("append", "log"),
        ("unlink", "c"),
        ("mkdir", "d"),
        ("symlink", "e"),
        ("treeobj", "f"),
    ]
    assert txn.ops[1].data == b"x" and isinstance(txn.ops[1].data, bytes)
    assert txn.ops[4].target == "a.b" and txn.ops[4].namespace == "job-1"
    assert len(txn) == 6
    assert txn.keys() == ["a.b", "log", "c", "d", "e", "f"]
    assert "append 'log'" in repr(txn)


def test_wire_round_trip():
    txn = Txn().put("a", b"\x00bin").append("l", b"e\n").unlink("u").mkdir("m").symlink("s", "a")
    wire = txn.to_wire()
    assert wire[0] == {"key": "a", "flags": 0, "dirent": treeobj.create_val(b"\x00bin")}
    assert wire[1]["flags"] == KVS_APPEND
    assert wire[2] == {"key": "u", "flags": 0, "dirent": None}
    assert wire[3]["dirent"] == {"ver": 1, "type": "dir", "data": {}}
    assert wire[4]["dirent"] == {"ver": 1, "type": "symlink", "data": {"target": "a"}}
    assert Txn.from_wire(wire) == txn


def test_non_empty_dir_dirent_becomes_treeobj_op():
    d = treeobj.create_dir({"x": treeobj.create_val(b"1")})
    op = Txn.from_wire([{"key": "k", "flags": 0, "dirent": d}]).ops[0]
    assert op.kind == "treeobj" and op.dirent() == d


def test_values_must_be_bytes():
    with pytest.raises(InvalidOpError, match="must be bytes, not dict"):
        Txn().put("a", {"x": 1})
    with pytest.raises(InvalidOpError, match="must be bytes, not str"):
        Txn().append("a", "text")


def test_bad_keys_fail_where_written():
    with pytest.raises(InvalidKeyError):
        Txn().put("", b"1")
    with pytest.raises(InvalidKeyError):
        Txn().symlink("a", "")


@pytest.mark.parametrize(
    ("ops", "fragment"),
    [
        ("nope", "ops must be a list"),
        ({"key": "a"}, "ops must be a list"),
        ([5], "op 0: must be an object"),
        ([{"key": "a"}], "'key' and 'dirent' are required"),
        ([{"key": "a", "dirent": None, "x": 1}], "unexpected member 'x'"),
        ([{"key": "a", "dirent": None, "flags": 3}], "flags must be 0 or 32"),
        ([{"key": "a", "dirent": None, "flags": 32}], "append needs a val dirent"),
        (
            [{"key": "a", "flags": 32, "dirent": {"ver": 1, "type": "dir", "data": {}}}],
            "append needs a val",
        ),
        ([{"key": "", "flags": 0, "dirent": None}], "op 0"),
        ([{"key": 7, "flags": 0, "dirent": None}], "must be a string"),
        (
            [
                {"key": "a", "flags": 0, "dirent": None},
                {"key": "b", "flags": 0, "dirent": {"ver": 1}},
            ],
            "op 1",
        ),
        (
            [
                {
                    "key": "a",
                    "flags": 0,
                    "dirent": {"ver": 1, "type": "symlink", "data": {"target": "."}},
                }
            ],
            None,
        ),
    ],
)
def test_from_wire_errors(ops, fragment):
    if fragment is None:
        assert Txn.from_wire(ops).ops[0].target == "."
        return
    with pytest.raises(InvalidOpError) as exc:
        Txn.from_wire(ops)
    assert fragment in str(exc.value)


def test_op_equality_and_repr():
    assert Op("put", "a.b", data=b"1") == Op("put", "a..b", data=b"1")
    assert Op("put", "a", data=b"1") != Op("put", "a", data=b"2")
    assert "3 bytes" in repr(Op("put", "a", data=b"abc"))
