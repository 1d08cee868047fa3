"""Matching through ResourceQuery: policies, ops, constraints, graph changes."""

from __future__ import annotations

import pytest

from fluxlab.sched import ResourceQuery, fake_nodes
from fluxlab.sched.errors import GraphError, MatchError


def job(shape, duration=100, constraint=None):
    attrs = {"system": {"duration": duration}}
    if constraint is not None:
        attrs["system"]["constraints"] = constraint
    return {
        "version": 1,
        "resources": shape,
        "tasks": [{"command": ["x"], "slot": "t", "count": {"per_slot": 1}}],
        "attributes": attrs,
    }


def cores(n=1, slots=1):
    return [{"type": "slot", "count": slots, "label": "t", "with": [{"type": "core", "count": n}]}]


def nodes(n=1, c=1, exclusive=None):
    node = {
        "type": "node",
        "count": n,
        "with": [
            {"type": "slot", "count": 1, "label": "t", "with": [{"type": "core", "count": c}]}
        ],
    }
    if exclusive is not None:
        node["exclusive"] = exclusive
    return [node]


def rlite(res):
    return {e["rank"]: e["children"] for e in res.R["execution"]["R_lite"]}


def rq(n=4, c=4, policy="first", **kw):
    return ResourceQuery(fake_nodes(n, c, **kw), policy=policy)


@pytest.mark.parametrize(
    "policy,first,second",
    [
        # without node_centric, equal core ids tie across nodes: spread
        ("low", {"0": {"core": "0"}}, {"1": {"core": "0"}}),
        ("high", {"0": {"core": "3"}}, {"1": {"core": "3"}}),
        ("lonode", {"0": {"core": "0"}}, {"0": {"core": "1"}}),
        ("hinode", {"3": {"core": "3"}}, {"3": {"core": "2"}}),
        ("first", {"3": {"core": "3"}}, {"2": {"core": "3"}}),
    ],
)
def test_policy_order(policy, first, second):
    q = rq(policy=policy)
    assert rlite(q.match("allocate", job(cores()), fmt="rv1_nosched")) == first
    assert rlite(q.match("allocate", job(cores()), fmt="rv1_nosched")) == second


def test_node_exclusive_policy_takes_whole_node():
    q = rq(policy="lonodex")
    res = q.match("allocate", job(cores()), fmt="rv1_nosched")
    assert rlite(res) == {"0": {"core": "0-3"}}
    res = q.match("allocate", job(cores()), fmt="rv1_nosched")
    assert rlite(res) == {"1": {"core": "0-3"}}


def test_exclusive_node_request_and_shared_node():
    q = rq(2, 4, policy="low")
    assert rlite(q.match("allocate", job(cores()), fmt="rv1_nosched")) == {"0": {"core": "0"}}
    # node 0 is in use, so an exclusive node request gets node 1
    res = q.match("allocate", job(nodes(1, 1, exclusive=True)), fmt="rv1_nosched")
    assert rlite(res) == {"1": {"core": "0-3"}}
    res = q.match("allocate", job(nodes(1, 1, exclusive=True)), fmt="rv1_nosched")
    assert not res.matched and res.satisfiable


def test_reserve_then_cancel_frees():
    q = rq(2, 2, policy="low")
    a = q.match("allocate", job(nodes(2, 2), duration=100), fmt="rv1_nosched")
    assert a.matched and a.at == 0
    b = q.match("allocate_orelse_reserve", job(nodes(1, 2), duration=50), fmt="rv1_nosched")
    assert b.matched and b.reserved and b.at == 100
    c = q.match("allocate_with_satisfiability", job(cores(1)))
    assert not c.matched and c.satisfiable
    d = q.match("allocate_with_satisfiability", job(cores(3)))
    assert not d.matched and not d.satisfiable
    q.cancel(a.jobid)
    q.cancel(b.jobid)
    e = q.match("allocate", job(nodes(2, 2)))
    assert e.matched and e.at == 0
    with pytest.raises(MatchError):
        q.cancel(999)


def test_satisfiability_and_without_allocating():
    q = rq(2, 2)
    assert q.match("satisfiability", job(nodes(2, 2))).satisfiable
    assert not q.match("satisfiability", job(nodes(3, 1))).satisfiable
    res = q.match("without_allocating", job(nodes(2, 2)), fmt="rv1_nosched")
    assert res.matched and res.jobid not in q.allocations
    assert q.match("allocate", job(nodes(2, 2))).matched


def test_min_max_counts_and_units():
    q = ResourceQuery(fake_nodes(2, 4, memory=16), policy="low")
    shape = [
        {
            "type": "node",
            "count": {"min": 1, "max": 4, "operator": "+", "operand": 1},
            "with": [
                {
                    "type": "slot",
                    "count": 1,
                    "label": "t",
                    "with": [
                        {"type": "core", "count": 1},
                        {"type": "memory", "count": 8, "unit": "GB"},
                    ],
                }
            ],
        }
    ]
    res = q.match("allocate", job(shape), fmt="jgf")
    names = sorted(n["metadata"]["paths"]["containment"] for n in res.R["graph"]["nodes"])
    assert "/cluster0/node0" in names and "/cluster0/node1" in names
    mem = [n for n in res.R["graph"]["nodes"] if n["metadata"]["type"] == "memory"]
    assert [m["metadata"]["size"] for m in mem] == [16, 16]


@pytest.mark.parametrize(
    "constraint,rank",
    [
        ({"properties": ["fast"]}, "2"),
        ({"properties": ["^fast"]}, "0"),
        ({"hostlist": ["node[1-2]"]}, "1"),
        ({"ranks": ["3"]}, "3"),
        ({"or": [{"ranks": ["3"]}, {"properties": ["fast"]}]}, "2"),
        ({"not": [{"ranks": ["0-2"]}]}, "3"),
    ],
)
def test_constraints(constraint, rank):
    q = rq(policy="low")
    q.set_property("/cluster0/node2", "fast")
    res = q.match("allocate", job(nodes(1), constraint=constraint), fmt="rv1_nosched")
    assert list(rlite(res)) == [rank]


def test_drain_status_and_properties():
    q = rq(2, 1, policy="low")
    q.drain("0", "bad dimm")
    assert q.drained() == {"/cluster0/node0": "bad dimm"}
    assert list(rlite(q.match("allocate", job(nodes(1)), fmt="rv1_nosched"))) == ["1"]
    assert not q.match("allocate", job(nodes(1))).matched
    q.undrain("0")
    assert q.match("allocate", job(nodes(1))).matched
    q.set_status("/cluster0/node1", "down")
    assert q.get_status("/cluster0/node1") == "down"
    with pytest.raises(GraphError):
        q.get_status("/nope")
    with pytest.raises(MatchError):
        q.set_status("/cluster0/node1", "sideways")
    q.set_property("/cluster0/node1", "perf_class", "2")
    assert q.get_properties("/cluster0/node1") == {"perf_class": "2"}


def test_grow_and_shrink():
    from fluxlab.sched import to_jgf

    base = fake_nodes(1, 2)
    q = ResourceQuery(base, policy="low")
    bigger = fake_nodes(2, 2)
    text = __import__("json").dumps(to_jgf(bigger))
    q.attach(text)
    assert len(q.graph.by_type["node"]) == 2
    assert q.match("allocate", job(nodes(2))).matched
    q.remove("1", False)
    assert [q.graph.name[v] for v in q.graph.by_type["node"] if q.graph.alive[v]] == ["node0"]
    q.remove("/cluster0/node0", True)
    assert not q.match("allocate", job(nodes(1))).matched


def test_bad_requests_do_not_break_the_session():
    q = rq(2, 2)
    res = q.match("allocate", job([{"type": "quantum", "count": 1}]))
    assert not res.matched and "known to fluxion" in res.error
    res = q.match("allocate", "not: [valid")
    assert not res.matched and "Jobspec error" in res.error
    res = q.match("allocate_with_satisfiability", job(cores(100)))
    assert not res.matched and not res.satisfiable
    assert q.match("allocate", job(cores())).matched
