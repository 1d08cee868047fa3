"""Pure broker pieces: topology, attributes, log ring, life-cycle table."""

import pytest

from fluxlab.broker.attrs import ATTR_READONLY, Attributes
from fluxlab.broker.logbuf import LogBuffer, parse_level
from fluxlab.broker.state import BrokerState, StateError, StateMachine
from fluxlab.broker.topology import Topology
from fluxlab.core.errors import ServiceError


def test_binary_tree_shape():
    t = Topology(7, 2)
    assert t.children(0) == [1, 2] and t.children(1) == [3, 4] and t.children(2) == [5, 6]
    assert [t.parent(r) for r in range(7)] == [None, 0, 0, 1, 1, 2, 2]
    assert t.level(6) == 2 and t.maxlevel() == 2 and t.descendants(0) == 6
    assert t.subtree(1) == [1, 3, 4]


def test_next_hop_routes_down_and_up():
    t = Topology(15, 2)
    assert t.next_hop(0, 13) == 2  # 13 -> 6 -> 2
    assert t.next_hop(2, 13) == 6
    assert t.next_hop(6, 13) == 13
    assert t.next_hop(3, 13) == 1  # not below 3: go up
    assert t.next_hop(0, 0) is None


def test_flat_and_ternary():
    assert Topology(5, 0).children(0) == [1, 2, 3, 4]
    assert Topology(13, 3).children(1) == [4, 5, 6]


@pytest.mark.parametrize("size,k", [(0, 2), (-1, 2), (4, -1)])
def test_bad_topology(size, k):
    with pytest.raises(ValueError):
        Topology(size, k)


def test_attributes_readonly_and_hooks():
    a = Attributes()
    a.add("rank", 3, ATTR_READONLY)
    a.add("level", "1", 0, on_set=lambda v: str(int(v)))
    assert a.get("rank") == "3"
    with pytest.raises(ServiceError) as e:
        a.set("rank", "4")
    assert "read-only" in str(e.value)
    a.set("level", "07")
    assert a.get("level") == "7"
    a.set("user.x", "y")
    assert "user.x" in a.names()
    with pytest.raises(ServiceError, match="unknown attribute"):
        a.get("nope")


def test_log_ring_bounded_with_seq():
    b = LogBuffer(3)
    for i in range(5):
        b.append(0, 6, "test", f"m{i}")
    assert [e.message for e in b.entries()] == ["m2", "m3", "m4"]
    assert [e.seq for e in b.entries(4)] == [5]
    assert parse_level("err") == 3 and parse_level("7") == 7
    with pytest.raises(ValueError):
        parse_level("loud")


def test_state_table_happy_path_and_refusal():
    sm = StateMachine(0)
    for ev in ["joined", "rc1-done", "quorum", "shutdown", "cleanup-done", "children-gone"]:
        sm.post(ev)
    assert sm.state == BrokerState.EXIT
    assert [h[2] for h in sm.history][:2] == ["joined", "rc1-done"]
    sm2 = StateMachine(1)
    with pytest.raises(StateError, match="rank 1: no transition from join on 'quorum'"):
        sm2.post("quorum")
