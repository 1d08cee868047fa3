"""Job throughput: submit N jobs as fast as possible, wait for all to finish.

Prints JSON with, for N in (1,000, 10,000) by default:

Throughput runs use a local-process instance of one broker (the shape of
``flux start --test-size=1``), whose KVS runs in a module process of its own
(docs/spec/broker.md, "Module processes"); ``cpu_ms_per_job`` gives the CPU
each of the instance's processes used per job.  The ``*_kvs_in_broker``
figures repeat the first size with conf ``broker.module-processes = []`` (one
process, one core at work) for the ratio, measured in the same run.  The
``*_embedded`` figures repeat the first size with the broker in this process,
where it shares the GIL with the submitting client.  Memory is the resident
size of a fresh process holding an embedded instance.

* ``simulated``: jobs with ``attributes.system.exec.test.run_duration`` (no
  processes; measures the control plane): submit rate and end-to-end jobs/s;
* ``real_true``: jobs running ``/bin/true`` (real processes), same figures;
* ``latency``: one tiny job submitted and waited for, in sequence, from a
  connected handle (median) and via the ``fluxlab run true`` CLI (median);
* ``memory``: the instance's resident memory after 1,000 and 100,000
  inactive jobs (``--big`` to include 100,000; it takes minutes).

End-to-end time runs from the first submit to the last job becoming
inactive (its ``clean`` event seen by job-list).  Jobs are submitted in bulk
requests of 1,000 through one handle, like ``flux bulksubmit``.

Usage: ``python bench/throughput.py [--quick] [--sizes 1000,10000] [--big]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _util import children, cpu_s, rss_mb  # noqa: F401 - rss_mb: the memory subprocess

import fluxlab
from fluxlab.job import JobspecV1
from fluxlab.job.submit import submit_bulk_async

CORES = 64


def _start(size: int = 1, embedded: bool = False, kvs_process: bool = True):
    """An instance to measure: broker processes (like ``flux start``), or embedded."""
    conf: dict = {"resource": {"cores-per-node": CORES}}
    if embedded:
        return fluxlab.start(size=size, conf=conf)
    from fluxlab.instance.local import LocalInstance

    if not kvs_process:
        conf["broker"] = {"module-processes": []}
    return LocalInstance(size, conf=conf)


def _instance_pids(inst) -> dict[str, int]:
    """The broker process of rank 0 and its module processes, by role."""
    pids = getattr(inst, "pids", None)
    if not pids:
        return {}
    broker = pids[0]
    out = {"broker": broker}
    for i, pid in enumerate(children(broker)):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if b"fluxlab.broker.modproc" in cmd:
            out[f"module_process_{i}"] = pid
    return out


def _jobspec(simulated: bool) -> str:
    js = JobspecV1.from_command(
        ["true"], environment={"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    )
    if simulated:
        js.setattr("system.exec.test.run_duration", "0.001s")
    return js.dumps()


def _inactive_count(h) -> int:
    """Jobs the job-manager has finished (cheap: no per-job listing)."""
    return h.rpc("job-manager.stats").get()["inactive"]


def run_batch(h, n: int, simulated: bool, pids: dict[str, int] | None = None) -> dict:
    spec = _jobspec(simulated)
    base = _inactive_count(h)
    pids = pids or {}
    cpu0 = {k: cpu_s(p) for k, p in pids.items()}
    t0 = time.perf_counter()
    futs = []
    for i in range(0, n, 1000):
        futs.append(submit_bulk_async(h, [spec] * min(1000, n - i)))
    ids = []
    for f in futs:
        ids.extend(f.get()["ids"])
    t_submit = time.perf_counter() - t0
    bad = [i for i in ids if isinstance(i, dict)]
    if bad:
        raise RuntimeError(f"{len(bad)} submissions failed: {bad[0]}")
    while _inactive_count(h) < base + n:
        time.sleep(0.01)  # a coarser poll would add up to its period to a short run
    t_all = time.perf_counter() - t0
    out = {
        "n": n,
        "submit_per_s": round(n / t_submit),
        "jobs_per_s": round(n / t_all),
        "seconds": round(t_all, 2),
    }
    if pids:
        out["cpu_ms_per_job"] = {
            k: round((cpu_s(p) - cpu0[k]) / n * 1000, 3) for k, p in pids.items()
        }
    return out


def latency(h, count: int) -> dict:
    spec = JobspecV1.from_command(["true"])
    samples = []
    for _ in range(count):
        t = time.perf_counter()
        jid = fluxlab.job.submit(h, spec)
        fluxlab.job.result(h, jid)
        samples.append(time.perf_counter() - t)
    return {"handle_submit_wait_ms": round(statistics.median(samples) * 1000, 1)}


def cli_latency(uri: str, count: int) -> dict:
    """Median wall time of ``fluxlab run true``, next to its floor on this machine.

    Bytecode is compiled first and may be cached (an installed wheel has it; a
    checkout run with ``PYTHONDONTWRITEBYTECODE`` would recompile every module on
    every run).  The floor figures are a bare ``python -c pass`` and ``python -c
    "import zmq"`` (the client library every command needs), measured in the
    same loop, since absolute times on a shared machine drift.
    """
    import compileall

    compileall.compile_dir(os.path.dirname(fluxlab.__file__), quiet=1)
    env = dict(os.environ, FLUXLAB_URI=uri)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    exe = os.path.join(os.path.dirname(sys.executable), "fluxlab")
    cmd = [exe] if os.path.exists(exe) else [sys.executable, "-m", "fluxlab"]
    runs = {
        "cli_run_true_ms": [*cmd, "run", "true"],
        "python_startup_ms": [sys.executable, "-c", "pass"],
        "python_import_zmq_ms": [sys.executable, "-c", "import zmq"],
    }
    samples: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(count):
        for key, argv in runs.items():
            t = time.perf_counter()
            subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
            samples[key].append(time.perf_counter() - t)
    return {k: round(statistics.median(v) * 1000, 1) for k, v in samples.items()}


def memory_after(n: int) -> float:
    """Resident MiB of a fresh process holding an instance after ``n`` simulated jobs."""
    here = os.path.dirname(os.path.abspath(__file__))
    code = (
        f"import sys; sys.path.insert(0, {here!r}); import throughput as t\n"
        "with t._start(embedded=True) as inst:\n"
        "    h = inst.handle()\n"
        f"    for i in range(0, {n}, 10000):\n"
        f"        t.run_batch(h, min(10000, {n} - i), True)\n"
        "    print(t.rss_mb())\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(p.stdout.split()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (CI smoke run)")
    ap.add_argument("--sizes", default=None, help="comma-separated job counts")
    ap.add_argument("--big", action="store_true", help="also measure memory after 100,000 jobs")
    args = ap.parse_args()
    sizes = [int(s) for s in (args.sizes or ("200" if args.quick else "1000,10000")).split(",")]
    out: dict = {"benchmark": "throughput", "cores": CORES}
    for simulated, key in ((True, "simulated"), (False, "real_true")):
        out[key] = []
        for n in sizes:
            with _start() as inst:
                h = fluxlab.Flux(inst.uri)
                out[key].append(run_batch(h, n, simulated, _instance_pids(inst)))
                h.close()
        with _start(kvs_process=False) as inst:  # the same, on one core
            h = fluxlab.Flux(inst.uri)
            out[f"{key}_kvs_in_broker_{sizes[-1]}"] = run_batch(
                h, sizes[-1], simulated, _instance_pids(inst)
            )
            h.close()
        with _start(embedded=True) as inst:  # brokers share this process (and its GIL)
            h = inst.handle()
            out[f"{key}_embedded_{sizes[0]}"] = run_batch(h, sizes[0], simulated)
            h.close()
    with _start() as inst:
        h = fluxlab.Flux(inst.uri)
        out["latency"] = latency(h, 20 if args.quick else 100)
        out["latency"].update(cli_latency(inst.uri, 5 if args.quick else 20))
        h.close()
    out["memory"] = {"rss_mb_after_1000": memory_after(1000)}
    if args.big:
        out["memory"]["rss_mb_after_100000"] = memory_after(100_000)
    out["targets"] = {
        "simulated_jobs_per_s_at_10000": 1500,
        "real_true_jobs_per_s": 200,
        "handle_submit_wait_ms": 10,
        "cli_run_true_ms": 80,
        "rss_mb_after_1000": 100,
        "rss_mb_after_100000": 1000,
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
