"""The indexed fast path gives the same results as the DFU traverser.

Random workloads (allocations of supported and unsupported shapes,
reservations, cancels, status/drain/property changes, time moving on) are
replayed on two sessions, ``engine="fast"`` and ``engine="stable"`` (the
traverser alone with the same tie order); every match must write the same
resources and the same outcome.
"""

from __future__ import annotations

import json
import random

import pytest

from fluxlab.sched.context import ResourceQuery
from fluxlab.sched.errors import MatchError, SchedError
from fluxlab.sched.readers.local import fake_nodes

POLICIES = [
    "first",
    "high",
    "low",
    "hinode",
    "lonode",
    "hinodex",
    "lonodex",
    "firstnodex",
    "policy=low node_centric=true stop_on_1_matches=true",
]

_EXTRA = [
    [
        {
            "type": "slot",
            "count": 1,
            "label": "t",
            "with": [{"type": "socket", "count": 1, "with": [{"type": "core", "count": 1}]}],
        }
    ],
    [
        {
            "type": "node",
            "count": 1,
            "with": [
                {
                    "type": "socket",
                    "count": 1,
                    "with": [
                        {
                            "type": "slot",
                            "count": 1,
                            "label": "t",
                            "with": [{"type": "core", "count": 2}],
                        }
                    ],
                }
            ],
        }
    ],
    [{"type": "slot", "count": 1, "label": "t", "with": [{"type": "node", "count": 1}]}],
    [
        {
            "type": "node",
            "count": 1,
            "exclusive": True,
            "with": [
                {
                    "type": "slot",
                    "count": 1,
                    "label": "t",
                    "with": [
                        {
                            "type": "core",
                            "count": {"min": 1, "max": 4, "operator": "+", "operand": 1},
                        }
                    ],
                }
            ],
        }
    ],
    [
        {
            "type": "slot",
            "count": {"min": 1, "max": 3, "operator": "+", "operand": 1},
            "label": "t",
            "with": [{"type": "core", "count": 2}],
        }
    ],
]


def _jobspec(rng: random.Random, types: list[str]) -> str:
    if rng.random() < 0.2:
        res = rng.choice(_EXTRA)
    else:
        leaves = [
            {"type": t, "count": rng.choice([1, 1, 2, 3])}
            for t in types
            if t == types[0] or rng.random() < 0.7
        ]
        slot = {"type": "slot", "count": rng.choice([1, 1, 2, 3, 5]), "label": "t", "with": leaves}
        if rng.random() < 0.5:
            res = [slot]
        else:
            node = {"type": "node", "count": rng.choice([1, 1, 2, 3]), "with": [slot]}
            if rng.random() < 0.5:
                node["exclusive"] = True
            res = [node]
    system: dict = {"duration": rng.choice([10, 100, 1000])}
    if rng.random() < 0.1:
        system["constraints"] = {"properties": ["foo"]}
    return json.dumps(
        {
            "version": 1,
            "resources": res,
            "attributes": {"system": system},
            "tasks": [{"command": ["x"], "slot": "t", "count": {"per_slot": 1}}],
        }
    )


def _replay(seed: int, nops: int) -> int:
    rng = random.Random(seed)
    nn = rng.choice([2, 3, 4, 6, 8, 16])
    racks = rng.choice([0, 2]) if nn % 2 == 0 else 0
    sockets = rng.choice([0, 0, 2])
    gpus = rng.choice([0, 1, 2])
    cores = rng.choice([2, 4, 6])
    policy = rng.choice(POLICIES)
    fmt = rng.choice(["simple", "rv1_nosched", "jgf", "pretty_simple"])

    def session(engine: str) -> ResourceQuery:
        g = fake_nodes(nn, cores, sockets=sockets, gpus=gpus, racks=racks)
        return ResourceQuery(g, policy=policy, match_format=fmt, engine=engine)

    fast, ref = session("fast"), session("stable")
    types = ["core"] + (["gpu"] if gpus else [])
    paths = [ref.graph.paths[v]["containment"] for v in ref.graph.by_type["node"]]
    live: list[int] = []
    now = 0
    for i in range(nops):
        r = rng.random()
        if r < 0.55 or not live:
            js = _jobspec(rng, types)
            op = rng.choice(
                [
                    "allocate",
                    "allocate",
                    "allocate_with_satisfiability",
                    "allocate_orelse_reserve",
                    "without_allocating",
                ]
            )
            a = fast.match(op, js, at=now)
            b = ref.match(op, js, at=now)
            got = (a.matched, a.satisfiable, a.at, a.text, a.error, a.reserved)
            want = (b.matched, b.satisfiable, b.at, b.text, b.error, b.reserved)
            assert got == want, f"seed {seed} op #{i} {op} policy {policy}: {js}"
            if a.matched and op != "without_allocating":
                live.append(a.jobid)
        elif r < 0.85:
            j = live.pop(rng.randrange(len(live)))
            fast.cancel(j)
            ref.cancel(j)
        elif r < 0.9:
            path, st = rng.choice(paths), rng.choice(["up", "down"])
            fast.set_status(path, st)
            ref.set_status(path, st)
        elif r < 0.95:
            path = rng.choice(paths)
            k = rng.random()
            for s in (fast, ref):
                if k < 0.4:
                    s.set_property(path, "foo", "1")
                elif k < 0.7:
                    s.drain(path, "testing")
                else:
                    s.undrain(path)
        else:
            now += rng.choice([0, 5, 50])
    return fast.traverser.fast.hits


@pytest.mark.parametrize("seed", range(40))
def test_fast_path_matches_traverser(seed):
    _replay(seed, 90)


@pytest.mark.parametrize("grug", ["tiny", "medium"])
@pytest.mark.parametrize("policy", ["first", "low", "hinode"])
def test_fast_path_on_grug_graphs(conformance, grug, policy):
    text = (conformance / "fluxion/data/resource/grugs" / f"{grug}.graphml").read_text()
    fast = ResourceQuery(text, policy=policy, engine="fast")
    ref = ResourceQuery(text, policy=policy, engine="stable")
    rng = random.Random(hash((grug, policy)) & 0xFFFF)
    live = []
    for _ in range(60):
        if live and rng.random() < 0.3:
            j = live.pop(rng.randrange(len(live)))
            fast.cancel(j)
            ref.cancel(j)
            continue
        js = _jobspec(rng, ["core", "gpu"])
        a, b = fast.match("allocate", js), ref.match("allocate", js)
        assert (a.matched, a.text) == (b.matched, b.text), js
        if a.matched:
            live.append(a.jobid)
    assert fast.traverser.fast.hits > 0


def test_fast_path_is_used_for_common_shapes():
    rq = ResourceQuery(fake_nodes(8, 4), policy="first")
    js = {
        "version": 1,
        "resources": [
            {"type": "slot", "count": 1, "label": "t", "with": [{"type": "core", "count": 1}]}
        ],
        "tasks": [{"command": ["x"], "slot": "t", "count": {"per_slot": 1}}],
        "attributes": {"system": {"duration": 60}},
    }
    for _ in range(32):
        assert rq.match("allocate", js).matched
    assert not rq.match("allocate", js).matched
    assert rq.traverser.fast.hits == 33
    # a reservation makes the graph time-dependent: the traverser takes over
    res = rq.match("allocate_orelse_reserve", js)
    assert res.matched and res.reserved and res.at == 60
    before = rq.traverser.fast.misses
    rq.match("allocate", js)
    assert rq.traverser.fast.misses == before + 1


def test_engine_names():
    with pytest.raises(MatchError):
        ResourceQuery(fake_nodes(1, 1), engine="warp")
    assert issubclass(MatchError, SchedError)


def test_fast_path_declines_unsupported_layouts():
    from fluxlab.sched.fastplan import Layout

    g = fake_nodes(2, 2)
    g.size[g.by_type["node"][0]] = 2
    lay = Layout(g)
    assert not lay.ok and "size 2" in lay.why
    rq = ResourceQuery(g, policy="first")
    js = {
        "version": 1,
        "resources": [
            {"type": "slot", "count": 1, "label": "t", "with": [{"type": "core", "count": 1}]}
        ],
        "tasks": [{"command": ["x"], "slot": "t", "count": {"per_slot": 1}}],
        "attributes": {"system": {"duration": 60}},
    }
    assert rq.match("allocate", js).matched
    assert rq.traverser.fast.hits == 0 and rq.traverser.fast.misses == 1
