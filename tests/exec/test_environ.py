"""Task environments: Flux variables, URIs, GPU binding."""

from fluxlab.exec.environ import gpu_sets, job_environment, task_environment


def base_env(**kw):
    return job_environment(
        {"PATH": "/bin", "FLUX_JOB_ID": "stale"},
        jobid_f58="ƒ2",
        ntasks=4,
        nnodes=2,
        uri="ipc:///tmp/x/local-0",
        tmpdir="/tmp/jobtmp",
        **kw,
    )


def test_job_variables_override_inherited_ones():
    env = base_env()
    assert env["PATH"] == "/bin"
    assert env["FLUX_JOB_ID"] == "ƒ2"
    assert env["FLUX_JOB_SIZE"] == "4" and env["FLUX_JOB_NNODES"] == "2"
    assert env["FLUX_JOB_TMPDIR"] == "/tmp/jobtmp"
    assert env["FLUX_URI"] == env["FLUXLAB_URI"] == "ipc:///tmp/x/local-0"


def test_task_variables():
    env = task_environment(base_env(), task_rank=3, local_id=1, gpus=[], rank_has_gpus=False)
    assert env["FLUX_TASK_RANK"] == "3" and env["FLUX_TASK_LOCAL_ID"] == "1"
    assert env["CUDA_VISIBLE_DEVICES"] == "-1"  # as flux-shell: no GPUs means none
    assert "CUDA_DEVICE_ORDER" not in env


def test_gpus_on_rank():
    sets = gpu_sets([3, 1], 2, "on")
    assert sets == [[1, 3], [1, 3]]
    env = task_environment(base_env(), task_rank=0, local_id=0, gpus=sets[0], rank_has_gpus=True)
    assert env["CUDA_VISIBLE_DEVICES"] == "1,3"
    assert env["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"


def test_gpus_per_task_and_off():
    assert gpu_sets([0, 1, 2, 3], 2, "per-task") == [[0, 1], [2, 3]]
    assert gpu_sets([0], 2, "per-task") == [[], []]
    assert gpu_sets([0, 1], 2, "off") is None
    env = task_environment(
        {"CUDA_VISIBLE_DEVICES": "7"}, task_rank=0, local_id=0, gpus=None, rank_has_gpus=True
    )
    assert env["CUDA_VISIBLE_DEVICES"] == "7"
