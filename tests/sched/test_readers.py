"""Graph readers and whole-graph writers."""

from __future__ import annotations

import json

import pytest

from fluxlab.sched import fake_nodes, load_graph, local_machine, to_jgf, to_rv1, to_tree
from fluxlab.sched.errors import GraphError
from fluxlab.sched.readers import apply_allowlist
from fluxlab.sched.readers.local import detect_local
from fluxlab.sched.readers.rv1exec import host_split

GRUG = """<?xml version="1.0"?>
<graphml xmlns="http://graphml.graphdrawing.org/xmlns">
 <key id="root" for="node" attr.name="root" attr.type="int"><default>0</default></key>
 <key id="type" for="node" attr.name="type" attr.type="string"/>
 <key id="basename" for="node" attr.name="basename" attr.type="string"/>
 <key id="size" for="node" attr.name="size" attr.type="long"><default>1</default></key>
 <key id="unit" for="node" attr.name="unit" attr.type="string"/>
 <key id="id_scope" for="edge" attr.name="id_scope" attr.type="int"><default>0</default></key>
 <key id="multi_scale" for="edge" attr.name="multi_scale" attr.type="int"><default>1</default></key>
 <key id="gen_method" for="edge" attr.name="gen_method" attr.type="string">
   <default>MULTIPLY</default></key>
 <graph id="g" edgedefault="directed">
  <node id="cluster"><data key="root">1</data><data key="type">cluster</data>
   <data key="basename">tiny</data></node>
  <node id="rack"><data key="type">rack</data><data key="basename">rack</data></node>
  <node id="node"><data key="type">node</data><data key="basename">node</data></node>
  <node id="socket"><data key="type">socket</data><data key="basename">socket</data></node>
  <node id="core"><data key="type">core</data><data key="basename">core</data></node>
  <node id="gpu"><data key="type">gpu</data><data key="basename">gpu</data></node>
  <node id="memory"><data key="type">memory</data><data key="basename">memory</data>
   <data key="size">8</data><data key="unit">GB</data></node>
  <edge source="cluster" target="rack"/>
  <edge source="rack" target="node"><data key="id_scope">1</data>
   <data key="multi_scale">2</data></edge>
  <edge source="node" target="socket"><data key="multi_scale">2</data></edge>
  <edge source="socket" target="core"><data key="id_scope">1</data>
   <data key="multi_scale">3</data></edge>
  <edge source="socket" target="gpu"><data key="id_scope">1</data></edge>
  <edge source="socket" target="memory"><data key="id_scope">1</data></edge>
 </graph>
</graphml>
"""


def _signature(g):
    return [
        (g.vtype[v], g.name[v], g.vid[v], g.size[v], g.paths[v]["containment"])
        for v in g.vertices()
    ]


def test_grug_ids_and_order():
    g = load_graph(GRUG)
    names = [g.paths[v]["containment"] for v in g.vertices()]
    assert names[:4] == ["/tiny0", "/tiny0/rack0", "/tiny0/rack0/node0", "/tiny0/rack0/node1"]
    # core ids are local to the node (id_scope=1), socket ids to their node
    assert "/tiny0/rack0/node1/socket1/core5" in names
    assert "/tiny0/rack0/node1/socket1/memory1" in names
    mem = g.by_path["/tiny0/rack0/node0/socket0/memory0"][0]
    assert (g.size[mem], g.unit[mem]) == (8, "GB")


def test_fake_nodes_equal_grug_shape():
    f = fake_nodes(2, 3, sockets=2, gpus=1, memory=8, racks=1, cluster="tiny", ranks=False)
    assert _signature(f) == _signature(load_graph(GRUG))


def test_jgf_round_trip():
    g = load_graph(GRUG)
    text = json.dumps(to_jgf(g))
    g2 = load_graph(text, "jgf")
    assert _signature(g2)[0][:3] == ("cluster", "tiny0", 0)
    assert sorted(_signature(g2)) == sorted((t, n, i, s, p) for t, n, i, s, p in _signature(g))


def test_rv1_round_trip():
    f = fake_nodes(3, 4, gpus=2)
    r = to_rv1(f, scheduling=False)
    assert r["execution"]["R_lite"] == [{"rank": "0-2", "children": {"core": "0-3", "gpu": "0-1"}}]
    assert r["execution"]["nodelist"] == ["node[0-2]"]
    g = load_graph(json.dumps(r), "rv1exec")
    assert sorted(g.name[v] for v in g.by_type["node"]) == ["node0", "node1", "node2"]
    assert len(g.by_type["core"]) == 12 and len(g.by_type["gpu"]) == 6
    assert host_split("node186") == ("node", 186) and host_split("login") == ("login", -1)


def test_tree_marks():
    f = fake_nodes(1, 2)
    text = to_tree(f)
    assert text.splitlines()[0] == "cluster0"
    assert "node0 [rank=0]" in text


def test_allowlist_keeps_root_and_listed_types():
    g = apply_allowlist(load_graph(GRUG), {"node", "core"})
    assert set(g.by_type) == {"cluster", "node", "core"}
    core = g.by_path["/tiny0/node0/core0"][0]
    assert g.vtype[g.parent(core)] == "node"


def test_local_machine_from_facts():
    g = local_machine({"hostname": "pi42", "cpus": [0, 2], "memory_gb": 4, "gpus": 1})
    assert g.name[g.by_type["node"][0]] == "pi42"
    assert [g.vid[v] for v in g.by_type["core"]] == [0, 2]
    assert g.size[g.by_type["memory"][0]] == 4
    facts = detect_local()
    assert facts["cpus"] and facts["hostname"]
    local_machine(facts).validate()


@pytest.mark.parametrize(
    "fmt,text,needle",
    [
        ("grug", "<graphml", "malformed GraphML"),
        ("grug", GRUG.replace("MULTIPLY", "SPLIT"), "unknown gen_method"),
        (
            "grug",
            GRUG.replace('source="cluster" target="rack"', 'source="cluster" target="x"'),
            "unknown vertex",
        ),
        ("jgf", "{", "json_loads"),
        ("jgf", '{"graph": {"nodes": []}}', "edges"),
        (
            "jgf",
            '{"graph": {"nodes": [{"id": "0", "metadata": {"type": "node"}}], "edges": []}}',
            "paths",
        ),
        (
            "jgf",
            json.dumps(
                {
                    "graph": {
                        "nodes": [
                            {
                                "id": "0",
                                "metadata": {"type": "cluster", "paths": {"containment": "/c0"}},
                            },
                            {
                                "id": "1",
                                "metadata": {"type": "node", "paths": {"containment": "/c0/n1"}},
                            },
                        ],
                        "edges": [{"source": "0", "target": "7"}],
                    }
                }
            ),
            "not found",
        ),
        (
            "jgf",
            json.dumps(
                {
                    "graph": {
                        "nodes": [
                            {
                                "id": "0",
                                "metadata": {"type": "cluster", "paths": {"containment": "/c0"}},
                            },
                            {
                                "id": "1",
                                "metadata": {"type": "rack", "paths": {"containment": "/c0/r"}},
                            },
                            {
                                "id": "2",
                                "metadata": {"type": "node", "paths": {"containment": "/c0/r/n"}},
                            },
                        ],
                        "edges": [
                            {"source": "0", "target": "1"},
                            {"source": "1", "target": "2"},
                            {"source": "2", "target": "1"},
                        ],
                    }
                }
            ),
            "reached twice",
        ),
        ("rv1exec", '{"version": 2}', "version 1"),
        (
            "rv1exec",
            json.dumps(
                {
                    "version": 1,
                    "execution": {
                        "R_lite": [{"rank": "0-3", "children": {"core": "0"}}],
                        "nodelist": ["n0"],
                    },
                }
            ),
            "1 hosts for 4 ranks",
        ),
        ("hwloc", "", "not supported"),
        ("xml", "", "unknown graph format"),
    ],
)
def test_bad_graph_input(fmt, text, needle):
    with pytest.raises(GraphError, match=needle):
        load_graph(text, fmt)


def test_networkx_export():
    g = fake_nodes(2, 2, racks=1)
    nxg = g.to_networkx()
    assert nxg.number_of_nodes() == len(g) == 1 + 1 + 2 + 4
    assert nxg.number_of_edges() == len(g) - 1
    root = g.roots["containment"]
    d = nxg.nodes[g.uniq_id[root]]
    assert d["type"] == "cluster" and d["paths"] == {"containment": "/cluster0"}
    import networkx as nx

    assert nx.is_arborescence(nx.DiGraph(nxg))
