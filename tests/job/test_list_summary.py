"""job-list's per-job summaries of R: the remembered shapes give exactly what a
full parse gives (``fluxlab jobs`` columns NNODES, NCORES, NODELIST, ...)."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from fluxlab.job.list_service import R_summary
from fluxlab.resource.rv1 import ResourceSet


def _full(R: dict) -> dict:
    rs = ResourceSet(R)
    out = {
        "ranks": str(rs.ranks),
        "nodelist": str(rs.nodelist),
        "nnodes": rs.nnodes,
        "ncores": rs.ncores,
    }
    if rs.ngpus:
        out["ngpus"] = rs.ngpus
    if rs.expiration:
        out["expiration"] = rs.expiration
    return out


@st.composite
def allocations(draw):
    ranks = draw(st.lists(st.integers(0, 7), min_size=1, max_size=4, unique=True))
    lite = []
    for r in sorted(ranks):
        cores = draw(st.lists(st.integers(0, 15), min_size=1, max_size=4, unique=True))
        kids = {"core": ",".join(map(str, sorted(cores)))}
        if draw(st.booleans()):
            kids["gpu"] = str(draw(st.integers(0, 3)))
        lite.append({"rank": str(r), "children": kids})
    return {
        "version": 1,
        "execution": {
            "R_lite": lite,
            "nodelist": [",".join(f"n{r}" for r in sorted(ranks))],
            "starttime": draw(st.floats(0, 1e9)),
            "expiration": draw(st.sampled_from([0.0, 0, 1e9 + 5.5, 123.0])),
        },
    }


@settings(max_examples=200, deadline=None)
@given(allocations(), st.sampled_from([0.0, 99.25, 5e9]))
def test_summary_equals_a_full_parse_also_when_remembered(R, other_expiration):
    assert R_summary(R) == _full(R)
    # same shape, another job: only the expiration differs
    again = {**R, "execution": {**R["execution"], "expiration": other_expiration}}
    assert R_summary(again) == _full(again)


def test_bad_R_gives_an_empty_summary():
    assert R_summary(None) == {}
    assert R_summary({"version": 1, "execution": {"R_lite": [{"rank": "x"}]}}) == {}
    odd = {"version": 1, "execution": {"R_lite": [{"rank": "0", "children": {"core": ["0"]}}]}}
    assert R_summary(odd) == {}
