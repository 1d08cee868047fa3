"""The resource-query tool: options, command language, errors, find."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

from fluxlab.sched import fake_nodes, to_jgf
from fluxlab.sched.query.tool import main

JOB = """version: 1
resources:
  - type: slot
    count: 1
    label: t
    with:
      - type: core
        count: 1
tasks:
  - command: [x]
    slot: t
    count:
      per_slot: 1
attributes:
  system:
    duration: 60
"""


@pytest.fixture
def files(tmp_path):
    graph = tmp_path / "g.json"
    graph.write_text(json.dumps(to_jgf(fake_nodes(2, 2))))
    js = tmp_path / "job.yaml"
    js.write_text(JOB)
    return graph, js


def run(argv, text):
    out, err = io.StringIO(), io.StringIO()
    rc = main(argv, io.StringIO(text), out, err)
    return rc, out.getvalue(), err.getvalue()


def test_match_simple_and_formats(files):
    graph, js = files
    rc, out, err = run(
        ["-L", str(graph), "-f", "jgf", "-P", "low"],
        f"match allocate {js}\nmatch allocate {js}\nquit\n",
    )
    assert rc == 0 and err == ""
    assert "---------core0[1:x]" in out and "INFO: JOBID=2" in out
    rc, out, _ = run(
        ["-L", str(graph), "-f", "jgf", "-P", "low", "-F", "rv1_nosched"],
        f"match allocate {js}\nquit\n",
    )
    doc = json.loads(out.splitlines()[0])
    assert doc["execution"]["R_lite"] == [{"rank": "0", "children": {"core": "0"}}]


def test_results_file_and_pretty(files, tmp_path):
    graph, js = files
    res = tmp_path / "res.txt"
    run(
        ["-L", str(graph), "-f", "jgf", "-F", "pretty_simple", "-t", str(res), "-d"],
        f"m allocate {js}\nq\n",
    )
    lines = res.read_text().splitlines()
    assert lines[0].startswith("      ---cluster0[1:shared]")


def test_errors_go_to_stderr(files):
    graph, js = files
    rc, out, err = run(
        ["-L", str(graph), "-f", "jgf"],
        "match allocate\nmatch nope x\nmatch allocate /no/such\n"
        "set-status /cluster0 sideways\nfind bogus=1\ncancel 7\nquit\n",
    )
    assert err.splitlines() == [
        "ERROR: malformed command",
        "ERROR: unknown subcmd nope",
        "ERROR: can't open /no/such",
        "ERROR: unrecognized status",
        "ERROR: find: invalid criteria: bogus=1.",
        "ERROR: nonexistent job 7",
    ]


def test_find_and_status(files):
    graph, js = files
    rc, out, err = run(
        ["-L", str(graph), "-f", "jgf"],
        f"match allocate {js}\nfind sched-now=allocated\n"
        "set-status /cluster0/node0 down\nget-status /cluster0/node0\n"
        "get-property /cluster0/node1\nset-property /cluster0/node1 a=b\n"
        "get-property /cluster0/node1\nquit\n",
    )
    assert 'INFO: EXPRESSION="sched-now=allocated"' in out
    assert "/cluster0/node0 is down" in out
    assert "No properties were found for /cluster0/node1 (vtx's uniq_id=" in out
    assert "a=b" in out


def test_usage_errors(files, tmp_path):
    graph, _ = files
    assert run(["-L", str(tmp_path / "missing")], "")[0] == 1
    assert run(["-L", str(graph), "-F", "xml"], "")[0] == 1
    assert run(["-L", str(graph), "-P", "bogus"], "")[0] == 1
    assert run(["extra"], "")[0] == 1
    rc, _out, err = run(["-L", str(graph), "-f", "grug"], "")
    assert rc == 1 and "Runtime error" in err
    rc, _out, err = run(["-h"], "")
    assert rc == 0 and "--prune-filters" in err


def test_python_dash_m(files):
    graph, js = files
    proc = subprocess.run(
        [sys.executable, "-m", "fluxlab.sched.query", "-L", str(graph), "-f", "jgf", "-d"],
        input=f"match allocate {js}\nquit\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0
    assert "INFO: RESOURCES=ALLOCATED" in proc.stdout
