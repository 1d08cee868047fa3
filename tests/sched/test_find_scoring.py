"""find expressions, the libstdc++ sort emulation, and the public surface."""

from __future__ import annotations

import random

import pytest

import fluxlab.sched as sched
from fluxlab.sched import ResourceQuery, fake_nodes
from fluxlab.sched.errors import MatchError
from fluxlab.sched.find import extract, validate
from fluxlab.sched.scoring import EGroup, cxx_sort


def names(doc):
    return sorted(n["metadata"]["paths"]["containment"] for n in doc["graph"]["nodes"])


def test_find_predicates():
    q = ResourceQuery(fake_nodes(2, 1), policy="low", match_format="jgf")
    q.set_property("/cluster0/node1", "gpu")
    q.set_status("/cluster0/node0", "down")
    assert names(q.find("status=down")) == ["/cluster0", "/cluster0/node0", "/cluster0/node0/core0"]
    assert "/cluster0/node1" in names(q.find("property=gpu"))
    assert names(q.find("names=node1")) == ["/cluster0", "/cluster0/node1"]
    both = names(q.find("status=down or property=gpu"))
    assert "/cluster0/node0" in both and "/cluster0/node1" in both
    # left to right, no precedence: (down or gpu) and free
    assert names(q.find("(status=down or property=gpu) and sched-now=free")) == names(
        q.find("status=down or property=gpu sched-now=free")
    )


@pytest.mark.parametrize(
    "bad",
    [
        "status=sideways",
        "nokey",
        "jobid-alloc=x",
        "(status=up",
        "agfilter=maybe",
        "status=up xor status=down",
    ],
)
def test_find_rejects(bad):
    with pytest.raises(MatchError):
        validate(bad)


def test_extract():
    assert extract("status=UP and (jobid-tag=5 or agfilter=t)") == [
        ("status", "up"),
        ("jobid-tag", "5"),
        ("agfilter", "t"),
    ]


def _eg(score, tag):
    g = EGroup(score, 1, 0, 0, False, [])
    g.label = tag
    return g


@pytest.mark.parametrize("descending", [True, False])
def test_cxx_sort_orders_scores(descending):
    rnd = random.Random(7)
    for n in (0, 1, 5, 16, 17, 40, 200):
        items = [_eg(rnd.randint(0, 6), str(i)) for i in range(n)]
        cxx_sort(items, descending)
        scores = [g.score for g in items]
        assert scores == sorted(scores, reverse=descending)


def test_cxx_sort_small_is_stable_and_large_ties_follow_introsort():
    small = [_eg(1, str(i)) for i in range(16)]
    cxx_sort(small, True)
    assert [g.label for g in small] == [str(i) for i in range(16)]
    big = [_eg(1, str(i)) for i in range(20)]
    cxx_sort(big, True)
    # introsort's median-of-three partition permutes equal keys
    assert [g.label for g in big] != [str(i) for i in range(20)]
    assert sorted(int(g.label) for g in big) == list(range(20))


def test_public_surface():
    for name in sched.__all__:
        assert hasattr(sched, name), name
    assert {"ResourceQuery", "QueueManager", "ResourceGraph", "load_graph"} <= set(sched.__all__)
