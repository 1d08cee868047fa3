"""``%flux`` magics and live widgets in a real IPython kernel.

One kernel per module (starting one costs about a second); cells run in
order like a notebook.  Widget behaviour is checked on the wire: the
``comm_open`` / ``comm_msg`` state messages a browser would receive.
"""

from __future__ import annotations

import pytest

from tests.jupyter.conftest import has_module
from tests.jupyter.kernel import Kernel

pytestmark = pytest.mark.timeout(180)

needs_exec = pytest.mark.skipif(
    not has_module("job-exec"), reason="job execution (job-exec/exec modules) not available yet"
)


@pytest.fixture(scope="module")
def k():
    kern = Kernel()
    r = kern.run("%load_ext fluxlab")
    assert r.ok, r.error
    yield kern
    kern.close()


def comm_states(kern, since, key):
    """Values of synced trait ``key`` in comm messages after ``since``."""
    out = []
    for m in kern.iopub[since:]:
        if m["msg_type"] == "comm_open":
            state = m["content"]["data"].get("state", {})
        elif m["msg_type"] == "comm_msg" and m["content"]["data"].get("method") == "update":
            state = m["content"]["data"].get("state", {})
        else:
            continue
        if key in state:
            out.append(state[key])
    return out


def test_first_magic_starts_embedded_instance_and_exports_uri(k):
    r = k.run("%flux jobs")
    assert r.ok and "fluxlab: started an embedded fluxlab instance (size 1)" in r.stdout
    assert "JOBID" in r.stdout
    assert "stopped" in k.run("%flux stop").stdout
    r = k.run("%flux start --test-size 2")
    assert r.ok and "started embedded instance of size 2" in r.stdout
    r = k.run("%flux start")
    assert "already in use" in r.stderr and not r.error
    r = k.run("%flux status")
    assert "embedded instance, size 2, state run" in r.stdout
    r = k.run("import os, sys, fluxlab\nprint(os.environ['FLUXLAB_URI'] == fluxlab.Flux().uri)")
    assert r.stdout.strip() == "True"
    r = k.run("!{sys.executable} -m fluxlab getattr size")
    assert r.stdout.strip() == "2"


def test_cli_commands_as_magics(k):
    r = k.run("%flux jobs -a")
    assert r.ok and "JOBID" in r.stdout
    r = k.run("%flux getattr size")
    assert r.stdout.strip() == "2"
    r = k.run("%flux resource list")
    assert "free" in r.stdout
    r = k.run("%flux -o j submit --urgency=hold --job-name=held sleep 60")
    assert r.ok and r.stdout.strip() and not r.data  # stored, not shown
    printed = r.stdout.strip()
    r = k.run(f"print(type(j).__name__, j.f58 == {printed!r})")
    assert r.stdout.strip() == "JobID True"
    r = k.run("j")
    (bundle,) = r.data
    assert bundle["text/plain"].startswith("ƒ") and "<span" in bundle["text/html"]
    r = k.run("%flux jobs -n -o '{id.f58} {name} {status}'")
    assert "held SCHED" in r.stdout


@pytest.mark.parametrize(
    "line, expect",
    [
        ("%flux bogus", "%flux: unknown command 'bogus'; known commands:"),
        ("%flux jobs --bogus", "error: unrecognized arguments: --bogus"),
        ("%flux submit --urgency=99 true", "%flux-submit: --urgency"),
        ("%flux -o 1x jobs", "is not a valid Python variable name"),
        ("%flux submit 'unbalanced", "%flux: No closing quotation"),
        ("%flux cancel nosuchjob", "%flux-cancel"),
    ],
)
def test_bad_input_prints_usage_errors_not_tracebacks(k, line, expect):
    r = k.run(line)
    assert r.ok and not r.error, r.error
    assert expect in r.stderr
    assert "Traceback" not in r.stderr + r.stdout


def test_cell_magics(k):
    r = k.run("%%flux bulksubmit --urgency=hold --job-name=b{} echo {}\nx\ny\nz\n")
    assert r.ok and len(r.stdout.split()) == 3
    progress = [d for d in r.data if "application/vnd.jupyter.widget-view+json" in d]
    assert progress and "0/3 jobs done" in progress[0]["text/html"]
    r = k.run("%%flux submit --urgency=hold\necho one\necho two\n")
    jobid = r.stdout.strip()
    r = k.run(f"%flux job info {jobid} jobspec")
    assert "echo one\\necho two" in r.stdout and "/bin/sh" in r.stdout
    r = k.run("%%flux submit --urgency=hold true\necho x")
    assert "not both" in r.stderr


def test_job_table_widget_state_follows_jobs(k):
    since = len(k.iopub)
    r = k.run("from fluxlab.jupyter import JobTable\nt = JobTable(state='pending'); t")
    assert r.ok, r.error
    (bundle,) = r.data
    assert "application/vnd.jupyter.widget-view+json" in bundle and "SCHED" in bundle["text/html"]
    rows = comm_states(k, since, "rows")
    assert rows and {x["status"] for x in rows[-1]} == {"SCHED"}
    since = len(k.iopub)
    r = k.run("%flux cancel --all")
    assert r.ok, r.error
    k.drain(1.5)  # the table updates from the kernel's loop between cells
    counts = comm_states(k, since, "counts")
    assert counts and counts[-1].get("CANCELED", 0) >= 5 and "SCHED" not in counts[-1]
    assert comm_states(k, since, "rows")[-1] == []  # the pending filter is empty now


def test_resource_graph_and_dashboard_render(k):
    since = len(k.iopub)
    r = k.run("from fluxlab.jupyter import ResourceGraph, dashboard\ng = ResourceGraph(); g")
    assert r.ok, r.error
    k.drain(0.5)
    r = k.run("print(g.summary['nnodes'], [c['state'] for c in g.cells])")
    assert r.stdout.startswith("2 ['free', 'free']")
    assert comm_states(k, since, "cells")
    r = k.run("d = dashboard(); d")
    assert r.ok, r.error
    (bundle,) = r.data
    assert "fluxlab dashboard" in bundle["text/html"]


@needs_exec
def test_run_streams_output_and_interrupt_cancels(k):
    r = k.run("%flux run -n2 --label-io echo hello")
    assert r.ok and "0: hello" in r.stdout and "1: hello" in r.stdout
    msg_id = k.start("%flux run sleep 30")
    k.collect(msg_id, lambda ms: any(m["msg_type"] == "stream" for m in ms) or True, timeout=2)
    import time

    time.sleep(1.0)
    k.km.interrupt_kernel()
    msgs = k.collect(msg_id, k.idle, timeout=30)
    err = "".join(m["content"].get("text", "") for m in msgs if m["msg_type"] == "stream")
    assert "interrupt: canceling job" in err
    r = k.run(
        "%flux jobs -a -n -o '{name} {status}' | head -1"
        if False
        else "%flux jobs -a -n -o '{name} {status}'"
    )
    assert "sleep CANCELED" in r.stdout


@needs_exec
def test_graph_colours_after_allocation(k):
    r = k.run("%flux -o long submit -N1 -x sleep 30")
    assert r.ok
    k.drain(3.0)
    r = k.run("print([c['state'] for c in g.cells], g.summary['allocated'] > 0)")
    assert "allocated" in r.stdout and r.stdout.strip().endswith("True")
    k.run("%flux cancel {long}")


def test_stop_then_magic_says_so(k):
    r = k.run("%flux stop")
    assert "stopped" in r.stdout
    r = k.run("%flux jobs")
    assert r.ok and "was stopped with `%flux stop`; run `%flux start`" in r.stderr
    r = k.run("%flux status")
    assert "no instance in use" in r.stdout
    r = k.run("%flux start")
    assert r.ok and "started" in r.stdout
