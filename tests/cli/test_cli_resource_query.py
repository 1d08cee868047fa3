"""``fluxlab resource-query``: the offline matcher behind the same command line."""

import subprocess
import sys


def test_resource_query_matches_like_fluxion(conformance):
    src = conformance / "fluxion"
    cmds = "match allocate data/resource/jobspecs/basics/test001.yaml\nquit\n"
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "fluxlab",
            "resource-query",
            "-L",
            "data/resource/grugs/tiny.graphml",
            "-F",
            "simple",
        ],
        input=cmds,
        capture_output=True,
        text=True,
        cwd=src,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    assert "core" in p.stdout and "INFO: RESOURCES=ALLOCATED" in p.stdout


def test_resource_query_bad_file_is_a_clear_error(tmp_path):
    p = subprocess.run(
        [sys.executable, "-m", "fluxlab", "resource-query", "-L", str(tmp_path / "none")],
        input="quit\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode != 0 and "does not exist" in p.stderr and "Traceback" not in p.stderr
