"""RFC 29 hostlists, checked against flux-core's own vectors."""

import json

import pytest
from hypothesis import given, strategies as st

from fluxlab.resource.hostlist import Hostlist, HostlistError


def test_codec_vectors(conformance):
    rows = json.loads((conformance / "hostlist" / "hostlist_vectors.json").read_text())
    for row in rows["decode_encode"]:
        hl = Hostlist(row["input"])
        assert len(hl) == row["count"], row
        assert hl.encode() == row["output"], row


def test_order_and_duplicates_are_kept():
    assert list(Hostlist("foo[1,1,2,1]")) == ["foo1", "foo1", "foo2", "foo1"]
    assert Hostlist("").expand() == []
    assert list(Hostlist("foo[0-2]-eth2")) == ["foo0-eth2", "foo1-eth2", "foo2-eth2"]


def test_operations():
    hl = Hostlist("node[1-3]")
    assert hl.append("node[7-8]") == 2
    assert str(hl) == "node[1-3,7-8]"
    assert hl.delete("node2") == 1
    assert hl.index("node7") == 2
    assert hl[0] == "node1" and str(hl[1:3]) == "node[3,7]"


@pytest.mark.parametrize("bad", ["foo[1-", "foo]", "foo[[1]]", "foo[3-1]", "foo[a]", "f[1]x[2]"])
def test_bad_strings_raise(bad):
    with pytest.raises(HostlistError):
        Hostlist(bad)


@given(st.lists(st.from_regex(r"[a-z]{1,4}[0-9]{0,3}", fullmatch=True), max_size=30))
def test_roundtrip(hosts):
    assert Hostlist(Hostlist(hosts).encode()).expand() == hosts


@given(st.text(max_size=25))
def test_fuzz_only_clean_errors(text):
    try:
        Hostlist(text)
    except HostlistError:
        pass


def test_huge_range_is_refused_not_expanded():
    with pytest.raises(HostlistError, match="too large"):
        Hostlist("n[0-4000000000]")
