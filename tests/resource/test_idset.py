"""RFC 22 idsets, checked against flux-core's own vectors."""

import json

import pytest
from hypothesis import given, strategies as st

from fluxlab.resource.idset import (
    IDSET_FLAG_BRACKETS,
    IDSET_FLAG_RANGE,
    IDSET_INVALID_ID,
    IDset,
    IdsetError,
)

FLAGS = {
    0: 0,
    "IDSET_FLAG_RANGE": IDSET_FLAG_RANGE,
    "IDSET_FLAG_RANGE|IDSET_FLAG_BRACKETS": IDSET_FLAG_RANGE | IDSET_FLAG_BRACKETS,
}


@pytest.fixture(scope="module")
def vectors(conformance):
    return json.loads((conformance / "idset" / "idset_vectors.json").read_text())


def test_decode_encode_vectors(vectors):
    for row in vectors["decode_encode"]:
        assert IDset(row["input"]).encode(FLAGS[row["encode_flags"]]) == row["output"], row


def test_must_fail_vectors(vectors):
    for text in vectors["decode_must_fail_EINVAL"]:
        with pytest.raises(IdsetError):
            IDset(text)


def test_set_operation_vectors(vectors):
    ops = {
        "OP_UNION": "__or__",
        "OP_DIFF": "__sub__",
        "OP_INTER": "__and__",
        "OP_ADD": "add",
        "OP_SUB": "subtract",
    }
    for row in vectors["set_ops_optab"]:
        a = None if row["a"] is None else IDset(row["a"])
        b = None if row["b"] is None else IDset(row["b"])
        if row["errnum"] == "EINVAL":
            # a missing left operand (or right operand of intersection) is an error
            assert a is None or (b is None and row["op"] == "OP_INTER")
            continue
        if b is None:  # union/difference with nothing: a copy of a
            assert IDset(a) == IDset(row["result"])
            continue
        result = getattr(a, ops[row["op"]])(b)
        assert result == IDset(row["result"]), row


def test_info_vectors(vectors):
    for row in vectors["decode_info_infovec"]:
        if row["errnum"] == "EINVAL":
            with pytest.raises(IdsetError):
                IDset(row["input"]) if row["input"] is not None else IDset(None)  # type: ignore[arg-type]
            continue
        s = IDset(row["input"])
        assert s.count() == row["count"]
        expect = IDSET_INVALID_ID if row["maxid"] == "IDSET_INVALID_ID" else row["maxid"]
        assert s.last() == expect


@given(st.sets(st.integers(min_value=0, max_value=5000)))
def test_roundtrip_any_set(ids):
    for flags in (0, IDSET_FLAG_RANGE, IDSET_FLAG_RANGE | IDSET_FLAG_BRACKETS):
        assert set(IDset(IDset(ids).encode(flags))) == ids


@given(st.text(max_size=20))
def test_fuzz_only_clean_errors(text):
    try:
        IDset(text)
    except IdsetError:
        pass


def test_huge_range_is_refused_not_expanded():
    with pytest.raises(IdsetError, match="more than"):
        IDset("0-4000000000")
