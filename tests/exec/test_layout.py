"""Task layout over R: counts per rank, task ranks in rank order, task map."""

import pytest

from fluxlab.exec.layout import compute_layout, taskmap
from fluxlab.exec.spec import ExecSpecError
from fluxlab.job.jobspec import JobspecV1
from fluxlab.resource.rv1 import ResourceSet


def R(*cores, gpus=0):
    return ResourceSet.from_nodes([(r, None, c, gpus) for r, c in enumerate(cores)]).to_dict()


def js(**kw):
    return JobspecV1.from_command(["true"], environment={}, **kw).jobspec


def test_one_task_per_core_over_ranks():
    lay = compute_layout(js(num_tasks=4), R(2, 2))
    assert lay.ntasks == 4 and lay.nnodes == 2
    assert lay.ranks == {0: [0, 1], 1: [2, 3]}


def test_nodes_and_per_slot():
    j = js(num_tasks=4, num_nodes=2)
    lay = compute_layout(j, R(2, 2))
    assert lay.ranks == {0: [0, 1], 1: [2, 3]}
    j["tasks"][0]["count"] = {"per_slot": 2}
    lay = compute_layout(j, R(2, 2))
    assert lay.ntasks == 8 and lay.ranks == {0: [0, 1, 2, 3], 1: [4, 5, 6, 7]}


def test_total_spreads_unevenly_like_rcalc():
    lay = compute_layout(js(num_tasks=3, num_nodes=2), R(2, 2))
    assert lay.ranks == {0: [0, 1], 1: [2]}
    lay = compute_layout(js(num_tasks=5, num_nodes=3), R(2, 2, 2))
    assert lay.ranks == {0: [0, 1], 1: [2, 3], 2: [4]}


def test_larger_rank_first_and_exclusive_extra_cores():
    # exclusive nodes: R holds more cores than the job asked for
    lay = compute_layout(js(num_tasks=2, num_nodes=2, exclusive=True), R(8, 8))
    assert lay.ranks == {0: [0], 1: [1]}
    # uneven ranks: capacity decides who is served first
    lay = compute_layout(js(num_tasks=3), R(1, 2))
    assert lay.ranks == {0: [0], 1: [1, 2]}


def test_multi_core_slots():
    lay = compute_layout(js(num_tasks=4, cores_per_task=2), R(4, 4))
    assert lay.ranks == {0: [0, 1], 1: [2, 3]}


def test_rank_without_tasks_and_sparse_ranks():
    rs = ResourceSet.from_nodes([(1, None, 2, 0), (5, None, 2, 0)]).to_dict()
    lay = compute_layout(js(num_tasks=1), rs)
    assert lay.ranks == {1: [0], 5: []}
    assert lay.active_ranks() == [1] and lay.node_index(5) == 1


def test_oversubscribed_r_still_places_every_task():
    lay = compute_layout(js(num_tasks=5), R(1, 1))
    assert sorted(t for ts in lay.ranks.values() for t in ts) == [0, 1, 2, 3, 4]


def test_taskmap_blocks():
    lay = compute_layout(js(num_tasks=8, num_nodes=4), R(2, 2, 2, 2))
    assert taskmap(lay) == {"version": 1, "map": [[0, 4, 2, 1]]}
    lay = compute_layout(js(num_tasks=3, num_nodes=2), R(2, 2))
    assert taskmap(lay) == {"version": 1, "map": [[0, 1, 2, 1], [1, 1, 1, 1]]}


def test_errors():
    j = js(num_tasks=1)
    j["resources"] = [{"type": "node", "count": 1}]
    with pytest.raises(ExecSpecError, match="resources"):
        compute_layout(j, R(1))
    with pytest.raises(ValueError, match="R_lite"):
        compute_layout(js(), {"version": 1, "execution": {}})
