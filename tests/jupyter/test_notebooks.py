"""The notebooks run top to bottom under nbval (what `python -m pytest` executes).

nbval runs in a subprocess so that its kernel gets this checkout on
``PYTHONPATH`` and the outer test session keeps its own options; cells marked
``# NBVAL_CHECK_OUTPUT`` are compared with ids, URIs and times masked by
``notebooks/nbval-sanitize.cfg``.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.jupyter.conftest import has_module
from tests.jupyter.kernel import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.timeout(170)
@pytest.mark.skipif(
    not has_module("job-exec"), reason="the notebooks run jobs: needs the exec modules"
)
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_under_nbval(notebook, tmp_path):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("FLUXLAB_URI", None)
    env["FLUXLAB_STATE_HOME"] = str(tmp_path)  # no persistent instance from elsewhere
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "--nbval-lax",
        "--nbval-current-env",
        "--nbval-cell-timeout=60",
        f"--nbval-sanitize-with={ROOT / 'notebooks' / 'nbval-sanitize.cfg'}",
        "--rootdir",
        str(ROOT),
        str(notebook),
    ]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=160)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and " failed" not in proc.stdout
