"""timeline_data: Gantt bars per node and the utilization step function."""

from fluxlab.jupyter.model.jobs import JobStore
from fluxlab.jupyter.model.timeline import timeline_data


def add(store, jobid, ranks, t_run, t_end, ncores, state=64):
    store.load_records(
        [
            {
                "id": jobid,
                "state": state,
                "name": f"j{jobid}",
                "ranks": ranks,
                "ncores": ncores,
                "t_run": t_run,
                "t_cleanup": t_end,
                "result": 1 if t_end else 0,
            }
        ]
    )


def test_bars_and_utilization():
    s = JobStore()
    add(s, 1, "0-1", 10.0, 20.0, 4)
    add(s, 2, "1", 15.0, 0.0, 2, state=16)
    add(s, 3, "", 0.0, 0.0, 1, state=8)  # never ran: no bar
    d = timeline_data(s.rows.values(), now=30.0, hostnames={0: "a", 1: "b"}, total_cores=8)
    assert [(b["job"], b["node"]) for b in d.bars] == [(1, "a"), (1, "b"), (2, "b")]
    assert d.bars[-1]["running"] and d.bars[-1]["end"] == 30.0
    assert list(zip(d.util_t, d.util_cores, strict=True)) == [
        (10.0, 4),
        (15.0, 6),
        (20.0, 2),
        (30.0, 2),
    ]
    assert d.nodes == ["a", "b"] and d.total_cores == 8


def test_max_bars_keeps_latest():
    s = JobStore()
    for i in range(1, 101):
        add(s, i, "0", float(i), float(i) + 0.5, 1)
    d = timeline_data(s.rows.values(), now=200.0, max_bars=10)
    assert [b["job"] for b in d.bars] == list(range(91, 101))
    assert max(d.util_cores) == 1
