"""The environment of a task, built the way flux-shell builds it.

The base is the jobspec's ``attributes.system.environment`` when present
(Flux's submit commands copy the submitter's whole environment there), else
the broker's own environment.  On top of it:

===================== =====================================================
``FLUX_JOB_ID``       the job id in F58 form (as flux-shell sets it)
``FLUX_JOB_SIZE``     total number of tasks
``FLUX_JOB_NNODES``   number of broker ranks in R
``FLUX_JOB_TMPDIR``   a per-job, per-rank directory, removed after the job
``FLUX_TASK_RANK``    the task's global rank (0..size-1)
``FLUX_TASK_LOCAL_ID`` the task's index among the tasks of its rank
``FLUX_URI``          the enclosing instance's URI (this broker's local URI)
``FLUXLAB_URI``       the same URI, the name fluxlab's own tools look for
``CUDA_VISIBLE_DEVICES`` GPU ids allocated on this rank (``-1`` when none)
``CUDA_DEVICE_ORDER`` ``PCI_BUS_ID`` when GPUs were allocated (if unset)
===================== =====================================================

GPU binding follows flux-shell's ``gpu-affinity`` option: ``on`` (default)
gives every task of the rank all of the rank's GPUs, ``per-task`` splits
them evenly (``ngpus // ntasks`` each, in order), ``off`` leaves
``CUDA_VISIBLE_DEVICES`` alone.  Like flux-shell, a rank with no GPUs sets
``CUDA_VISIBLE_DEVICES=-1`` so that tasks do not use GPUs they were not
given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = ["gpu_sets", "job_environment", "task_environment"]


def job_environment(
    base: Mapping[str, str],
    *,
    jobid_f58: str,
    ntasks: int,
    nnodes: int,
    uri: str,
    tmpdir: str | None,
) -> dict[str, str]:
    """The variables shared by every task of a job on one rank."""
    env = dict(base)
    env["FLUX_JOB_ID"] = jobid_f58
    env["FLUX_JOB_SIZE"] = str(ntasks)
    env["FLUX_JOB_NNODES"] = str(nnodes)
    if tmpdir:
        env["FLUX_JOB_TMPDIR"] = tmpdir
    if uri:
        env["FLUX_URI"] = uri
        env["FLUXLAB_URI"] = uri
    return env


def gpu_sets(gpus: Sequence[int], ntasks: int, affinity: str) -> list[list[int]] | None:
    """GPU ids for each local task, or None when affinity is ``off``.

    ``on``: every task gets all ``gpus``; ``per-task``: task ``i`` gets the
    ``i``-th run of ``len(gpus) // ntasks`` ids (possibly none).
    """
    if affinity == "off":
        return None
    ids = sorted(gpus)
    if affinity == "per-task" and ntasks > 0:
        each = len(ids) // ntasks
        return [ids[i * each : (i + 1) * each] for i in range(ntasks)]
    return [list(ids) for _ in range(ntasks)]


def task_environment(
    job_env: Mapping[str, str],
    *,
    task_rank: int,
    local_id: int,
    gpus: Sequence[int] | None,
    rank_has_gpus: bool,
) -> dict[str, str]:
    """One task's environment: ``job_env`` plus the per-task variables.

    ``gpus`` is the task's GPU set from :func:`gpu_sets` (None: affinity
    off); ``rank_has_gpus`` says whether the rank was allocated any.
    """
    env = dict(job_env)
    env["FLUX_TASK_RANK"] = str(task_rank)
    env["FLUX_TASK_LOCAL_ID"] = str(local_id)
    if gpus is not None:
        if gpus:
            env["CUDA_VISIBLE_DEVICES"] = ",".join(str(g) for g in gpus)
        elif rank_has_gpus:
            env["CUDA_VISIBLE_DEVICES"] = ""
        else:
            env["CUDA_VISIBLE_DEVICES"] = "-1"
        if rank_has_gpus:
            env.setdefault("CUDA_DEVICE_ORDER", "PCI_BUS_ID")
    return env
