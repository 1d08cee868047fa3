"""ResourceModel: hierarchy, states, aggregation, paths, JGF sockets, layout."""

import pytest

from fluxlab.jupyter.model.resources import (
    COLORS,
    PathError,
    ResourceModel,
    graph_payload,
    job_color,
    tree_layout,
)
from fluxlab.resource.rv1 import ResourceSet


def R(nnodes, cores=4, gpus=0):
    return ResourceSet.from_nodes([(r, f"node{r}", cores, gpus) for r in range(nnodes)])


def test_small_cluster_shows_nodes_with_states():
    m = ResourceModel(R(4, cores=4, gpus=1))
    m.set_allocations({101: {1: ({0, 1}, {0})}, 102: {2: ({0, 1, 2, 3}, set())}})
    m.set_status(down={3}, drained={0: "maintenance"})
    cells = {c["key"]: c for c in m.cells([])}
    assert list(cells) == ["n0", "n1", "n2", "n3"]
    assert cells["n0"]["state"] == "drained" and "maintenance" in cells["n0"]["tip"]
    assert cells["n3"]["state"] == "down" and cells["n3"]["color"] == COLORS["down"]
    assert cells["n1"]["state"] == "mixed"
    assert cells["n2"]["state"] == "mixed"  # gpu0 of node2 is free
    segs = {label: frac for _, frac, label in cells["n1"]["segments"]}
    assert segs["free"] == pytest.approx(2 / 5)
    assert m.summary() == {
        "nnodes": 4,
        "cores": 16,
        "gpus": 4,
        "free": 3,
        "allocated": 7,
        "down": 5,
        "drained": 5,
        "jobs": 2,
        "group_size": 1,
    }


def test_node_level_leaves_coloured_by_job():
    m = ResourceModel(R(2, cores=3, gpus=1))
    m.set_allocations({7: {0: ({1}, {0})}})
    leaves = {c["key"]: c for c in m.cells(["n0"])}
    assert set(leaves) == {"c0", "c1", "c2", "g0"}
    assert leaves["c1"]["color"] == job_color(7) and leaves["c1"]["state"] == "allocated"
    assert leaves["g0"]["jobs"] and leaves["c0"]["color"] == COLORS["free"]
    assert not any(c["drill"] for c in leaves.values())


def test_1024_nodes_aggregate_to_at_most_64_cells():
    m = ResourceModel(R(1024, cores=32))
    m.set_allocations({j: {j: (set(range(32)), set())} for j in range(0, 1024, 3)})
    top = m.cells([])
    assert len(top) == 64 and m.group_size() == 16
    assert top[0]["kind"] == "group" and top[0]["label"] == "node[0-15]"
    nodes = m.cells(["g1"])
    assert [c["key"] for c in nodes][:2] == ["n16", "n17"] and len(nodes) == 16
    assert m.cells(["g1", "n18"])[0]["color"] == job_color(18)
    assert [b["label"] for b in m.breadcrumb(["g1", "n18"])] == ["cluster", "node[16-31]", "node18"]


@pytest.mark.parametrize(
    "path, msg",
    [
        (["x1"], "cannot follow a cluster"),
        (["n9"], "no rank 9"),
        (["n0", "s0"], "has no socket 0"),
        (["n0", "n1"], "cannot follow a node"),
        (["zz"], "is not like"),
    ],
)
def test_bad_paths_raise_path_error(path, msg):
    m = ResourceModel(R(2))
    with pytest.raises(PathError, match=msg):
        m.cells(path)


def test_group_paths_checked():
    m = ResourceModel(R(200))
    with pytest.raises(PathError, match="no node group 99"):
        m.cells(["g99"])
    with pytest.raises(PathError, match="is not in group 0"):
        m.cells(["g0", "n150"])


def jgf_R():
    rs = R(1, cores=4, gpus=2).to_dict()
    nodes = []
    for sock in (0, 1):
        for c in (2 * sock, 2 * sock + 1):
            nodes.append(
                {
                    "id": str(len(nodes)),
                    "metadata": {
                        "type": "core",
                        "id": c,
                        "rank": 0,
                        "paths": {"containment": f"/cluster0/node0/socket{sock}/core{c}"},
                    },
                }
            )
        nodes.append(
            {
                "id": str(len(nodes)),
                "metadata": {
                    "type": "gpu",
                    "id": sock,
                    "rank": 0,
                    "paths": {"containment": f"/cluster0/node0/socket{sock}/gpu{sock}"},
                },
            }
        )
    rs["scheduling"] = {"graph": {"nodes": nodes, "edges": []}}
    return rs


def test_jgf_gives_socket_level():
    m = ResourceModel(jgf_R())
    m.set_allocations({5: {0: ({2, 3}, {1})}})
    socks = m.cells(["n0"])
    assert [s["key"] for s in socks] == ["s0", "s1"]
    assert socks[1]["state"] == "allocated" and socks[0]["state"] == "free"
    assert [c["key"] for c in socks[1]["children"]] == ["c2", "c3", "g1"]
    assert [c["key"] for c in m.cells(["n0", "s1"])] == ["c2", "c3", "g1"]


def test_graph_is_a_tree_with_layout():
    m = ResourceModel(jgf_R())
    g = m.graph(["n0"])
    assert g.number_of_nodes() == 1 + 2 + 6 and g.number_of_edges() == 8
    pos = tree_layout(g, "n0")
    assert pos["n0"][1] == 0.0 and all(0.0 <= x <= 1.0 for x, _ in pos.values())
    payload = graph_payload(g, "n0")
    assert len(payload["nodes"]) == 9 and len(payload["edges"]) == 8
    big = ResourceModel(R(1024, cores=32)).graph([], max_vertices=300)
    assert big.number_of_nodes() <= 300


def test_job_colors_are_stable():
    assert job_color(12345) == job_color(12345)
    assert len({job_color(i) for i in range(100)}) > 8
