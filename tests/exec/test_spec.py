"""ExecSpec: what the execution system reads from a jobspec, and its errors."""

import pytest

from fluxlab.exec.spec import ExecSpec, ExecSpecError, simulated_exec
from fluxlab.job.jobspec import JobspecV1


def js(**kw):
    kw.setdefault("environment", {"PATH": "/usr/bin"})
    return JobspecV1.from_command(["echo", "hi"], **kw).jobspec


def test_minimal_jobspec():
    spec = ExecSpec.from_jobspec(js(num_tasks=3))
    assert spec.command == ["echo", "hi"]
    assert spec.count == ("per_slot", 1)
    assert spec.environment == {"PATH": "/usr/bin"}
    assert spec.name == "echo"
    assert spec.stdout.path is None and spec.stderr.path is None
    assert spec.stdout.buffer == "line" and spec.stderr.buffer == "none"
    assert spec.input_path is None and spec.gpu_affinity == "on" and spec.test is None


def test_total_count_cwd_name_and_duration():
    spec = ExecSpec.from_jobspec(js(num_tasks=3, num_nodes=2, cwd="/tmp", name="x", duration="1m"))
    assert spec.count == ("total", 3)
    assert spec.cwd == "/tmp" and spec.name == "x" and spec.duration == 60.0


def test_stderr_follows_stdout_file_and_label():
    spec = ExecSpec.from_jobspec(js(output="out.{{id}}", label_io=True))
    assert spec.stdout.path == "out.{{id}}" and spec.stdout.label
    assert spec.stderr.path == "out.{{id}}" and spec.stderr.label
    assert spec.stderr.buffer == "none"


def test_separate_error_file_and_input():
    spec = ExecSpec.from_jobspec(js(output="o", error="e", input="in.txt"))
    assert (spec.stdout.path, spec.stderr.path, spec.input_path) == ("o", "e", "in.txt")


def test_stderr_back_to_kvs():
    j = js(output="o")
    j["attributes"]["system"]["shell"]["options"]["output"]["stderr"] = {"type": "kvs"}
    spec = ExecSpec.from_jobspec(j)
    assert spec.stdout.path == "o" and spec.stderr.path is None


def test_simulated_exec_settings():
    j = js(duration=30)
    j["attributes"]["system"]["exec"] = {"test": {"run_duration": "0.01s"}}
    assert simulated_exec(j).run_duration == 0.01
    j["attributes"]["system"]["exec"] = {"test": {}}
    assert simulated_exec(j).run_duration == 30.0  # falls back to the jobspec duration
    j["attributes"]["system"]["exec"] = {"test": {"run_duration": 2, "wait_status": 256}}
    assert simulated_exec(j).wait_status == 256
    assert simulated_exec(js()) is None


@pytest.mark.parametrize(
    "mutate, field",
    [
        (lambda j: j["tasks"][0].update(command=[]), "tasks[0].command"),
        (lambda j: j["tasks"][0].update(command=["a", 1]), "tasks[0].command"),
        (lambda j: j["tasks"][0].update(count={"per_slot": 0}), "tasks[0].count.per_slot"),
        (lambda j: j["tasks"][0].update(count={"bogus": 1}), "tasks[0].count"),
        (lambda j: j.update(tasks=[]), "tasks"),
        (lambda j: j["attributes"]["system"].update(cwd=5), "attributes.system.cwd"),
        (lambda j: j["attributes"]["system"].update(environment={"A": 1}), "environment"),
        (
            lambda j: j["attributes"]["system"].update(
                shell={"options": {"output": {"mode": "x"}}}
            ),
            "output.mode",
        ),
        (
            lambda j: j["attributes"]["system"].update(
                shell={"options": {"output": {"stdout": {"label": "yes"}}}}
            ),
            "output.stdout.label",
        ),
        (
            lambda j: j["attributes"]["system"].update(
                shell={"options": {"gpu-affinity": "sometimes"}}
            ),
            "gpu-affinity",
        ),
        (
            lambda j: j["attributes"]["system"].update(
                shell={"options": {"input": {"stdin": {"type": "service"}}}}
            ),
            "input.stdin.type",
        ),
        (
            lambda j: j["attributes"]["system"].update(exec={"test": {"run_duration": "soon"}}),
            "exec.test.run_duration",
        ),
        (
            lambda j: j["attributes"]["system"].update(exec={"test": {"mock_exception": "x"}}),
            "exec.test.mock_exception",
        ),
    ],
)
def test_bad_jobspecs_name_the_field(mutate, field):
    j = js()
    mutate(j)
    with pytest.raises(ExecSpecError, match=field.replace(".", r"\.").replace("[", r"\[")):
        ExecSpec.from_jobspec(j)


def test_not_an_object():
    with pytest.raises(ExecSpecError, match="jobspec: must be an object"):
        ExecSpec.from_jobspec([1])
