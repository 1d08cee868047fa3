"""Widget benchmark: JobTable with 10,000 jobs, ResourceGraph with 1,024 nodes.

Prints JSON.  Targets (issue 5): a refresh under 50 ms, first render data
under 1 s.

* ``jobtable``: a real embedded instance holding N held jobs (submitted in
  bulk, so they stay pending).  *first_render_s* is the time from creating the
  widget to its first page of N jobs: the job-list snapshot RPC, the store and
  the page.  *refresh_ms* is one tick after a batch of jobs changed (``batch``
  jobs canceled: journal events applied, page, counts), measured as the view's
  own render time and as the whole tick.  *filter_ms* re-queries with a new
  filter/sort.
* ``resourcegraph``: a synthetic R of 1,024 nodes x 32 cores x 4 GPUs with
  one job on every other node (pure model, as the widget uses it).
  *first_render_s* builds the model and renders the top level (64 groups) and
  its node-link graph; *refresh_ms* re-renders after the allocations changed;
  *drill_ms* renders a node's cores.

Usage: ``python bench/widgets.py [--jobs N] [--nodes N] [--repeat K] [--quick]``
"""

from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))


def bench_jobtable(njobs: int, batch: int, repeat: int) -> dict:
    import fluxlab
    from fluxlab.job import JobspecV1
    from fluxlab.job.kill import cancel_async
    from fluxlab.job.submit import submit_bulk_async
    from fluxlab.jupyter.jobtable import JobTable
    from fluxlab.jupyter.live import Live

    out: dict = {"jobs": njobs}
    with fluxlab.start(size=1) as inst:
        h = inst.handle()
        js = JobspecV1.from_command(["true"])
        t0 = time.perf_counter()
        ids: list[int] = []
        for i in range(0, njobs, 1000):
            resp = submit_bulk_async(h, [js] * min(1000, njobs - i), urgency=0).get()
            ids += resp["ids"]
        out["submit_s"] = round(time.perf_counter() - t0, 2)
        live = Live(inst.uri)
        t0 = time.perf_counter()
        table = JobTable(live=live, page_size=25)
        live.wait_for(lambda: table.total >= njobs, 60)
        out["first_render_s"] = round(time.perf_counter() - t0, 3)
        out["rows_on_page"] = len(table.rows)
        renders, ticks = [], []
        for k in range(repeat):
            victims = ids[k * batch : (k + 1) * batch]
            futs = [cancel_async(h, j) for j in victims]
            for f in futs:
                f.get()
            target = (k + 1) * batch
            # let the journal events arrive, then time one tick (what the loop runs)
            live.wait_for(lambda t=target: live.store.counts().get("CANCELED", 0) >= t, 30)
            live.store.touch(victims[0])
            t1 = time.perf_counter()
            live.tick()
            ticks.append(time.perf_counter() - t1)
            renders.append(table.render_seconds)
        out["batch"] = batch
        out["refresh_ms"] = round(statistics.median(renders) * 1000, 2)
        out["tick_ms"] = round(statistics.median(ticks) * 1000, 2)
        out["refresh_max_ms"] = round(max(renders) * 1000, 2)
        filt = []
        for state, sort in [("pending", "id"), ("canceled", "runtime"), ("all", "name")] * 2:
            t1 = time.perf_counter()
            table.state_filter, table.sort_by = state, sort
            filt.append(time.perf_counter() - t1)
        out["filter_ms"] = round(statistics.median(filt) * 1000, 2)
        live.close()
        h.close()
    return out


def bench_resourcegraph(nnodes: int, repeat: int) -> dict:
    from fluxlab.jupyter.model.resources import graph_payload
    from fluxlab.jupyter.resourcegraph import ResourceGraph
    from fluxlab.resource.rv1 import ResourceSet

    R = ResourceSet.from_nodes([(r, f"node{r}", 32, 4) for r in range(nnodes)]).to_dict()
    allocs = {1000 + r: {r: (range(0, 16), range(0, 2))} for r in range(0, nnodes, 2)}
    t0 = time.perf_counter()
    g = ResourceGraph(R=R, allocations=allocs)
    first = time.perf_counter() - t0
    out = {
        "nodes": nnodes,
        "cores": 32 * nnodes,
        "jobs": len(allocs),
        "first_render_s": round(first, 3),
        "top_cells": len(g.cells),
        "graph_vertices": len(g.graph.get("nodes", [])),
    }
    refresh, drill = [], []
    for k in range(repeat):
        shifted = {
            j + k: {(r + k) % nnodes: v} for j, (rv) in allocs.items() for r, v in rv.items()
        }
        t1 = time.perf_counter()
        g.model.set_allocations(shifted)
        g.render()
        refresh.append(time.perf_counter() - t1)
        t1 = time.perf_counter()
        g.path = ["g3", f"n{3 * g.model.group_size() + 1}"]
        drill.append(time.perf_counter() - t1)
        g.path = []
    out["refresh_ms"] = round(statistics.median(refresh) * 1000, 2)
    out["refresh_max_ms"] = round(max(refresh) * 1000, 2)
    out["drill_ms"] = round(statistics.median(drill) * 1000, 2)
    t1 = time.perf_counter()
    graph_payload(g.model.graph([]), "cluster")
    out["graph_ms"] = round((time.perf_counter() - t1) * 1000, 2)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--jobs", type=int, default=10_000)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--nodes", type=int, default=1024)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--quick", action="store_true", help="1,000 jobs, 128 nodes, 2 repeats")
    args = p.parse_args()
    if args.quick:
        args.jobs, args.nodes, args.repeat = 1000, 128, 2
    result = {
        "jobtable": bench_jobtable(args.jobs, args.batch, args.repeat),
        "resourcegraph": bench_resourcegraph(args.nodes, args.repeat),
        "targets": {"refresh_ms": 50, "first_render_s": 1.0},
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
