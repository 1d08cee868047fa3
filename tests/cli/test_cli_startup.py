"""``fluxlab run`` starts fast: its import set stays small (keep CLI imports lazy)."""

import json
import subprocess
import sys

#: Modules the run/submit path must not import: each costs milliseconds of
#: start-up on every ``fluxlab run`` and is needed only by other commands.
HEAVY = [
    "dataclasses",
    "pathlib",
    "urllib.parse",
    "datetime",
    "yaml",
    "networkx",
    "ipywidgets",
    "fluxlab.sched",
    "fluxlab.job.record",
    "fluxlab.job.states",
    "fluxlab.broker",
    "fluxlab.kvs",
]


def test_run_and_submit_paths_import_no_heavy_modules():
    code = (
        "import sys, json\n"
        "from fluxlab.cli.main import run_command\n"
        "from fluxlab.cli import cmd_submit, watch\n"
        "from fluxlab.core import handle\n"
        "from fluxlab.job import submit, jobspec_v1\n"
        "assert run_command(['run', '--dry-run', '-n1', '-t', '1m', 'true']) == 0\n"
        "assert run_command(['submit', '--dry-run', '--dependency=afterok:1', 'true']) == 0\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.splitlines()[-1]) == []
