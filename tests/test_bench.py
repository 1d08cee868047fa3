"""Every benchmark the README lists runs with ``--quick`` and prints JSON.

Figures are not checked here (speed targets live in the benchmarks); what
users rely on is that each documented command works.  Regression:
``bench/exec.py`` waited for an ``ENODATA`` that ``job-exec.start`` no longer
sends after the final ``release`` (RFC 32), and timed out.
"""

import json
import pathlib
import subprocess
import sys

import pytest

BENCH = pathlib.Path(__file__).resolve().parent.parent / "bench"
SCRIPTS = sorted(p.name for p in BENCH.glob("*.py") if not p.name.startswith("_"))


def test_the_readme_lists_every_benchmark():
    readme = (BENCH.parent / "README.md").read_text()
    assert [s for s in SCRIPTS if s not in readme] == []


@pytest.mark.parametrize("script", SCRIPTS)
def test_benchmark_runs_quick_and_prints_json(script):
    proc = subprocess.run(
        [sys.executable, str(BENCH / script), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout)
    assert isinstance(out, dict) and out, proc.stdout
