"""Render the fluxlab dashboard in JupyterLab with headless Chromium and save a PNG.

A tool, not part of the test run::

    cd tests/jupyter/ui && npm install          # playwright-core only, no browser download
    python tests/jupyter/ui/screenshot.py [--out docs/images/dashboard.png]

Starts ``jupyter lab`` on a free port in a temporary directory holding
``dashboard.ipynb`` (an instance with busy, pending, finished, failed and
canceled jobs, then ``dashboard()``), runs all cells in Debian's
``/usr/bin/chromium`` through ``screenshot.mjs`` and writes the PNG.  Exit
status 0 when the dashboard's table, explorer and chart were all seen.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import nbformat as nbf

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[2]
CHROMIUM = "/usr/bin/chromium"

CELLS = [
    "%load_ext fluxlab",
    "%flux start --test-size 8 --cores-per-node 4 --gpus-per-node 1 --hostnames node[0-7]",
    "%flux run -n 4 echo hello\n%flux run -N 2 false",
    "%flux -o c submit --job-name=oops sleep 100\n%flux cancel {c}",
    "%flux submit --cc 1-5 -n 3 --job-name=sim sleep 300\n"
    "%flux submit -N 2 -x -g 1 --job-name=train sleep 300\n"
    "%flux submit --cc 1-3 -N 4 -x --job-name=big sleep 60",
    "from fluxlab.jupyter import dashboard\nd = dashboard()\nd",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(ROOT / "docs" / "images" / "dashboard.png"))
    p.add_argument("--timeout", type=float, default=120.0)
    args = p.parse_args()
    if not os.path.exists(CHROMIUM):
        print(f"no {CHROMIUM}: apt-get install chromium", file=sys.stderr)
        return 2
    if not (HERE / "node_modules" / "playwright-core").is_dir():
        print(f"run `npm install` in {HERE} first", file=sys.stderr)
        return 2
    work = pathlib.Path(tempfile.mkdtemp(prefix="fluxlab-shot-"))
    nb = nbf.v4.new_notebook(cells=[nbf.v4.new_code_cell(c) for c in CELLS])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbf.write(nb, work / "dashboard.ipynb")
    port, token = free_port(), secrets.token_hex(16)
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("FLUXLAB_URI", None)
    env["JUPYTER_CONFIG_DIR"] = str(work / "config")  # no user settings, no news pop-ups
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            f"--port={port}",
            "--ServerApp.ip=127.0.0.1",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={work}",
            "--LabApp.news_url=",
            "--ServerApp.disable_check_xsrf=True",
            "--allow-root",
        ],
        env=env,
        cwd=work,
        stdout=subprocess.DEVNULL,
        stderr=open(work / "server.log", "w"),
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    print((work / "server.log").read_text()[-3000:], file=sys.stderr)
                    return 1
                time.sleep(0.5)
        url = f"{base}/lab/tree/dashboard.ipynb?token={token}"
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        rc = subprocess.call(
            [
                "node",
                str(HERE / "screenshot.mjs"),
                url,
                os.path.abspath(args.out),
                str(work / "chrome-profile"),
                str(int(args.timeout * 1000)),
            ],
            cwd=HERE,
        )
        return rc
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
