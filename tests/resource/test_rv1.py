"""R version 1 (RFC 20): parsing, counts, set operations and encoding."""

import json

import pytest

from fluxlab.resource.rv1 import ResourceSet, RvError


def test_rfc20_example(conformance):
    rs = ResourceSet((conformance / "R" / "rfc20" / "example1.json").read_text())
    assert (rs.nnodes, rs.ncores, rs.ngpus) == (4, 192, 32)
    assert str(rs.ranks) == "19-22" and str(rs.nodelist) == "node[186-189]"
    assert rs.hostname(19) == "node186" and rs.hostname(22) == "node189"
    assert rs.nslots == 32 and rs.starttime == 1676560542.0 and rs.expiration == 1676562342.0
    out = rs.to_dict()
    assert out["execution"]["R_lite"] == [
        {"rank": "19-22", "children": {"core": "0-47", "gpu": "0-7"}}
    ]
    assert ResourceSet(rs.encode()) == rs


def test_every_listing_input_parses(conformance):
    for path in sorted((conformance / "R" / "flux-resource").rglob("*.json")):
        doc = json.loads(path.read_text())
        for key in ("all", "down", "allocated", "R"):
            if key in doc:
                ResourceSet(doc[key])  # None gives an empty set


def test_counts_per_rank_and_properties():
    rs = ResourceSet.from_nodes(
        [(0, "n0", 4, 0), (1, "n1", 4, 2), (2, "n2", "0-1", [0])],
        properties={"gpu": [1, 2], "big": "0"},
    )
    assert rs.per_rank() == {0: {"core": 4}, 1: {"core": 4, "gpu": 2}, 2: {"core": 2, "gpu": 1}}
    assert (rs.nnodes, rs.ncores, rs.ngpus) == (3, 10, 3)
    assert rs.properties == "big,gpu"
    assert json.loads(rs.get_properties()) == {"big": "0", "gpu": "1-2"}
    assert rs.rlist == "rank0/core[0-3] rank1/core[0-3],gpu[0-1] rank2/core[0-1],gpu0"
    assert rs.host_ranks("n[2,0]") == [2, 0]
    with pytest.raises(RvError, match="not in this resource set"):
        rs.host_ranks("zz")


def test_set_operations():
    a = ResourceSet.from_nodes([(0, "n0", 4, 0), (1, "n1", 4, 0)], properties={"p": [1]})
    alloc = ResourceSet(
        {"version": 1, "execution": {"R_lite": [{"rank": "0", "children": {"core": "2-3"}}]}}
    )
    free = a - alloc
    assert free.per_rank() == {0: {"core": 2}, 1: {"core": 4}}
    assert str(free.nodelist) == "n[0-1]"
    assert (a & alloc).per_rank() == {0: {"core": 2}}
    assert (a & alloc).properties == ""
    assert (free | alloc) == a
    whole0 = a.copy_ranks(0)
    assert (a - whole0).ranks == a.ranks - [0]
    assert a.copy_ranks("1").properties == "p"
    b = a.copy()
    b.add(ResourceSet.from_nodes([(5, "n5", 1, 0)]))
    assert str(b.ranks) == "0-1,5" and str(b.nodelist) == "n[0-1,5]"
    b.remove_ranks([0, 5])
    assert str(b.ranks) == "1"


def test_copy_constraint():
    rs = ResourceSet.from_nodes(
        [(0, "a0", 1, 0), (1, "a1", 1, 0), (2, "a2", 1, 0)], properties={"x": [0, 1], "y": [1]}
    )
    assert str(rs.copy_constraint({"properties": ["x"]}).ranks) == "0-1"
    assert str(rs.copy_constraint({"properties": ["x", "^y"]}).ranks) == "0"
    assert str(rs.copy_constraint({"hostlist": ["a[1-2]"]}).ranks) == "1-2"
    assert str(rs.copy_constraint({"or": [{"ranks": ["0"]}, {"properties": ["y"]}]}).ranks) == "0-1"
    assert str(rs.copy_constraint({"not": [{"properties": ["x"]}]}).ranks) == "2"
    with pytest.raises(RvError, match="unknown constraint operator"):
        rs.copy_constraint({"bogus": []})


def test_encode_merges_identical_ranks_and_drops_node_keys():
    doc = {
        "version": 1,
        "execution": {
            "R_lite": [
                {"rank": str(r), "node": "h", "children": {"core": "0-3"}} for r in range(4)
            ],
            "starttime": 0,
            "expiration": 0,
        },
    }
    assert ResourceSet(doc).encode() == (
        '{"version": 1, "execution": {"R_lite": [{"rank": "0-3", "children": {"core": "0-3"}}], '
        '"starttime": 0.0, "expiration": 0.0}}'
    )


@pytest.mark.parametrize(
    "doc, field",
    [
        ("{", "invalid JSON"),
        ({"version": 2, "execution": {"R_lite": []}}, "version"),
        ({"version": 1}, "execution"),
        ({"version": 1, "execution": {"R_lite": {}}}, "execution.R_lite"),
        (
            {"version": 1, "execution": {"R_lite": [{"rank": "x", "children": {}}]}},
            r"R_lite\[0\].rank",
        ),
        (
            {"version": 1, "execution": {"R_lite": [{"rank": "0", "children": {"core": "3-1"}}]}},
            "children.core",
        ),
        (
            {
                "version": 1,
                "execution": {
                    "R_lite": [
                        {"rank": "0-1", "children": {"core": "0"}},
                        {"rank": "1", "children": {"core": "0"}},
                    ]
                },
            },
            "more than one entry",
        ),
        (
            {
                "version": 1,
                "execution": {
                    "R_lite": [{"rank": "0-1", "children": {"core": "0"}}],
                    "nodelist": ["a"],
                },
            },
            "1 hosts for 2 ranks",
        ),
        (
            {
                "version": 1,
                "execution": {
                    "R_lite": [{"rank": "0", "children": {"core": "0"}}],
                    "properties": {"a|b": "0"},
                },
            },
            "invalid character",
        ),
        (
            {
                "version": 1,
                "execution": {
                    "R_lite": [{"rank": "0", "children": {"core": "0"}}],
                    "properties": {"p": "3"},
                },
            },
            "not in R_lite",
        ),
        (
            {
                "version": 1,
                "execution": {
                    "R_lite": [{"rank": "0", "children": {"core": "0"}}],
                    "expiration": -1,
                },
            },
            "expiration",
        ),
        (
            {"version": 1, "execution": {"R_lite": [{"rank": "0-4000000", "children": {}}]}},
            "more than",
        ),
        ({"version": 1, "execution": {"R_lite": []}, "extra": 1}, "unknown key"),
    ],
)
def test_errors_name_the_field(doc, field):
    with pytest.raises(RvError, match=field):
        ResourceSet(json.dumps(doc) if isinstance(doc, dict) else doc)


def test_builder_errors():
    with pytest.raises(RvError, match="hostname for every node"):
        ResourceSet.from_nodes([(0, "a", 1, 0), (1, None, 1, 0)])
    with pytest.raises(RvError, match="given twice"):
        ResourceSet.from_nodes([(0, "a", 1, 0), (0, "b", 1, 0)])
    with pytest.raises(RvError, match="expected"):
        ResourceSet.from_nodes([(0, "a")])
    with pytest.raises(RvError):
        ResourceSet(5)
