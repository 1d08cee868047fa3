"""Widgets against a real embedded instance, pumped without a kernel."""

import pytest

from fluxlab.job import JobspecV1
from fluxlab.job.kill import cancel
from fluxlab.job.submit import submit, submit_bulk_async
from fluxlab.jupyter.board import JobProgress
from fluxlab.jupyter.jobtable import JobTable
from fluxlab.jupyter.resourcegraph import ResourceGraph


def js(*cmd, **kw):
    return JobspecV1.from_command(list(cmd), **kw)


def test_jobtable_rows_follow_jobs(instance, live):
    h = instance.handle()
    held = [submit(h, js("sleep", "60"), urgency=0) for _ in range(3)]
    table = JobTable(live=live, page_size=2)
    assert live.wait_for(lambda: table.total == 3)
    assert [r["status"] for r in table.rows] == ["SCHED", "SCHED"]
    assert table.matched == 3 and table.counts == {"SCHED": 3}
    assert table.rows[0]["id"] == max(held)  # newest first
    cancel(h, held[0])
    assert live.wait_for(lambda: table.counts.get("CANCELED") == 1)
    table.state_filter = "canceled"
    assert [r["id"] for r in table.rows] == [held[0]] and table.rows[0]["rc"] == -128
    table.state_filter = "pending"
    table.sort_desc = False
    assert [r["id"] for r in table.rows] == held[1:]
    table.page = 5  # past the end: clamped to the last page
    assert table.page == 0
    h.close()


def test_jobtable_detail_and_cancel_message(instance, live):
    h = instance.handle()
    jobid = submit(h, js("sleep", "60", num_tasks=1), urgency=0)
    table = JobTable(live=live)
    assert live.wait_for(lambda: table.total == 1)
    table.selected = jobid
    assert live.wait_for(lambda: not table.detail.get("loading", True))
    names = [e[1] for e in table.detail["eventlog"]]
    assert names[:2] == ["submit", "validate"] and table.detail["active"]
    table._on_front_msg(table, {"action": "cancel", "id": jobid}, [])
    assert live.wait_for(lambda: table.counts.get("CANCELED") == 1)
    assert live.wait_for(lambda: "clean" in [e[1] for e in table.detail.get("eventlog", [])])
    table._on_front_msg(table, {"action": "cancel", "id": "x"}, [])
    assert "bad job id" in table.error
    table.cancel(jobid)
    assert live.wait_for(lambda: "cancel" in table.error)
    h.close()


def test_jobtable_bad_arguments():
    with pytest.raises(ValueError, match="unknown filter 'x'"):
        JobTable(state="x")
    with pytest.raises(ValueError, match="page_size"):
        JobTable(page_size=0)


def test_bad_name_sort_shows_error(instance, live):
    table = JobTable(live=live)
    table.sort_by = "color"
    assert "unknown sort key 'color'" in table.error


def test_resource_graph_shows_inventory_and_drain(instance, live):
    g = ResourceGraph(live=live)
    assert live.wait_for(lambda: g.summary.get("nnodes") == 4)
    assert [c["label"] for c in g.cells] == ["node0", "node1", "node2", "node3"]
    assert {c["state"] for c in g.cells} == {"free"}
    h = instance.handle()
    h.rpc("resource.drain", {"targets": "2", "reason": "bad fan"}, nodeid=0).get()
    live.resources.period = 0.0
    assert live.wait_for(lambda: g.cells[2]["state"] == "drained")
    assert "bad fan" in g.cells[2]["tip"] and g.summary["drained"] == 5
    g.drill("n2")
    assert [c["key"] for c in g.cells] == ["c0", "c1", "c2", "c3", "g0"]
    assert {c["state"] for c in g.cells} == {"drained"} and len(g.graph["nodes"]) == 6
    g.path = ["n9"]
    assert "no rank 9" in g.error and g.path == []
    h.close()


def test_progress_counts_finished_jobs(instance, live):
    h = instance.handle()
    ids = submit_bulk_async(h, [js("sleep", "60")] * 4, urgency=0).get()["ids"]
    bar = JobProgress(ids, live=live)
    for i in ids[:3]:
        cancel(h, i)
    assert live.wait_for(lambda: bar.done == 3)
    assert bar.bar.value == 3 and bar.failed == 3 and "3/4" in bar.label.value
    cancel(h, ids[3])
    assert live.wait_for(lambda: bar.done == 4)
    assert bar.bar.bar_style == "danger" and bar not in live.views
    h.close()


def test_views_survive_a_lost_instance(instance, live):
    table = JobTable(live=live)
    instance.stop()
    live.pump(0.05)
    assert "instance lost" in table.error
