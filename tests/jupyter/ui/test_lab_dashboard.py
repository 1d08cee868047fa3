"""The dashboard renders in JupyterLab (headless Chromium), when the tools are here.

Skips unless Debian's ``/usr/bin/chromium`` and ``npm install``-ed
``playwright-core`` (in ``tests/jupyter/ui/node_modules``) are present.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

HERE = pathlib.Path(__file__).resolve().parent

pytestmark = [
    pytest.mark.timeout(240),
    pytest.mark.skipif(
        not os.path.exists("/usr/bin/chromium")
        or not (HERE / "node_modules" / "playwright-core").is_dir()
        or shutil.which("node") is None,
        reason="needs /usr/bin/chromium, node and `npm install` in tests/jupyter/ui",
    ),
]


def test_dashboard_renders_in_jupyterlab(tmp_path):
    out = tmp_path / "dashboard.png"
    proc = subprocess.run(
        [sys.executable, str(HERE / "screenshot.py"), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=230,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    assert info["rows"] >= 10 and info["cells"] == 8 and info["bars"] > 0
    assert out.stat().st_size > 20_000
