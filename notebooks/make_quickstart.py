"""Regenerate notebooks/01-quickstart.ipynb (cells kept here, in review-friendly text).

Run ``python notebooks/make_quickstart.py [--execute]``: without ``--execute`` the
notebook is written without outputs; with it, it is run once (nbclient, this checkout
on ``PYTHONPATH``) and saved with its outputs (the static HTML of the widgets included,
widget state left out: plotly's bundle alone would add megabytes).
"""

import os
import pathlib
import sys

import nbformat as nbf

md, code = nbf.v4.new_markdown_cell, nbf.v4.new_code_cell

CELLS = [
    md(
        "# fluxlab quickstart\n\n"
        "fluxlab is a Flux-style workload manager that lives in your notebook: an instance of "
        "brokers runs inside this kernel, `%flux` speaks every `fluxlab` command, and the widgets "
        "below follow the instance live. Run the cells top to bottom."
    ),
    code("%load_ext fluxlab"),
    md(
        "## Start an instance\n\n"
        "Four brokers (ranks) in this kernel, each pretending to be a node with 4 cores and "
        "1 GPU. Without `%flux start` the first magic starts a small instance by itself. The "
        "instance is exported as `FLUXLAB_URI`, so `!fluxlab ...` shell cells and "
        "`fluxlab.Flux()` reach it too."
    ),
    code("%flux start --test-size 4 --cores-per-node 4 --gpus-per-node 1 --hostnames node[0-3]"),
    code("import fluxlab\n\nh = fluxlab.Flux()\nh"),
    code("# NBVAL_CHECK_OUTPUT\n%flux getattr size"),
    md("## Resources\n\nThe same tables `flux resource` prints, and R as an object:"),
    code("# NBVAL_CHECK_OUTPUT\n%flux resource list"),
    code("R = fluxlab.resource.resource_list(h).get().all\nR"),
    md(
        "The resource graph explorer: cells are nodes (grouped automatically on big "
        "instances); click one to drill down to its cores and GPUs, hover for details. "
        "Colours: free, allocated (one colour per job), down, drained."
    ),
    code(
        "from fluxlab.jupyter import JobTable, ResourceGraph, Timeline\n\ngraph = ResourceGraph()\ngraph"
    ),
    md(
        "## Run and submit jobs\n\n"
        "`%flux run` streams the output as it arrives; the stop button cancels the job."
    ),
    code("%flux run -N 2 -n 4 --label-io echo hello"),
    code("%flux -o job submit --job-name=nap sleep 2\njob"),
    md("`-o NAME` (before the command) stores the result: here the job id, shown richly."),
    code("%flux jobs -a"),
    md(
        "## Watch jobs live\n\nSelect a row to see its eventlog, output and R; *Cancel job* cancels it."
    ),
    code("table = JobTable()\ntable"),
    code("%flux -o long submit --job-name=long sleep 300\n%flux cancel {long}"),
    code(
        "%flux job wait-event -t 30 {long} clean\n%flux jobs -a -n -o '{name} {status}' --filter=canceled"
    ),
    md(
        "## Bulk submission with carbon copies\n\n"
        "`--cc` submits copies; `{cc}` in the command is the copy number. A progress bar "
        "follows the copies."
    ),
    code('%%flux submit --cc 1-8 --wait --quiet\necho "hello from copy $FLUX_JOB_CC"'),
    code("%%flux bulksubmit --wait --quiet --job-name=word echo {}\nalpha\nbeta\ngamma"),
    md("## From Python: `FluxExecutor`\n\nFutures of jobs, as `concurrent.futures` knows them."),
    code(
        "from fluxlab.job import FluxExecutor, JobspecV1\n\n"
        "executor = FluxExecutor()\n"
        "futures = [\n"
        "    executor.submit(JobspecV1.from_command(['sh', '-c', f'exit {i % 2}']))\n"
        "    for i in range(6)\n"
        "]\n"
        "print('exit codes:', [f.result(timeout=60) for f in futures])\n"
        "print('job ids:', [str(f.jobid()) for f in futures][:3], '...')\n"
        "executor.shutdown(wait=False)"
    ),
    md("## Timeline\n\nJobs as bars per node over time, and cores in use below."),
    code("Timeline()"),
    md(
        "## Everything at once\n\n`fluxlab.jupyter.dashboard()` puts the explorer, the timeline and the table together."
    ),
    code("from fluxlab.jupyter import dashboard\n\ndashboard()"),
    md("When you are done, stop the instance (it also stops with the kernel)."),
    code("%flux stop"),
]

nb = nbf.v4.new_notebook(cells=CELLS)
nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
path = pathlib.Path(__file__).with_name("01-quickstart.ipynb")
if "--execute" in sys.argv:
    from nbclient import NotebookClient

    root = path.parent.parent
    os.environ["PYTHONPATH"] = str(root) + os.pathsep + os.environ.get("PYTHONPATH", "")
    os.environ.pop("FLUXLAB_URI", None)
    NotebookClient(nb, timeout=120, resources={"metadata": {"path": str(root)}}).execute()
    nb.metadata.pop("widgets", None)
nbf.write(nb, path)
print(f"wrote {path}")
