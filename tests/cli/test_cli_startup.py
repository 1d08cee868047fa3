"""``fluxlab run`` starts fast: its import set stays small (keep CLI imports lazy)."""

import json
import os
import subprocess
import sys

from fluxlab.instance.local import LocalInstance

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
    "copy",  # jobspec copies import it lazily
    "shutil",  # argparse's formatter would import it per add_argument (cli/main._Formatter)
    "zmq",  # ipc clients speak ZMTP themselves (fluxlab.transport.zmtp)
    "typing",  # annotations only: modules on this path set TYPE_CHECKING = False
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


def test_commands_against_a_live_instance_never_import_zmq():
    """The client process of run/submit/jobs reaches a process broker without pyzmq."""
    code = (
        "import sys, json\n"
        "from fluxlab.cli.main import run_command\n"
        "rcs = [run_command(['run', 'true']), run_command(['submit', 'true']),\n"
        "       run_command(['jobs', '-a'])]\n"
        "print(json.dumps([rcs, [m for m in sys.modules if m.partition('.')[0] == 'zmq']]))\n"
    )
    with LocalInstance(1, conf={"resource": {"cores-per-node": 2}}) as inst:
        env = {k: v for k, v in os.environ.items() if k != "FLUXLAB_CONNECTOR"}
        env["FLUXLAB_URI"] = inst.uri
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
        )
        main = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "fluxlab", "run", "true"],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.splitlines()[-1]) == [[0, 0, 0], []]
    assert main.returncode == 0, main.stderr  # the real entry point, with its fast exit
    imported = [line.rpartition("|")[2].strip() for line in main.stderr.splitlines()]
    assert "fluxlab.core.handle" in imported
    assert not [m for m in imported if m.partition(".")[0] == "zmq"]
