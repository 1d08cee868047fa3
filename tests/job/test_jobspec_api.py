"""Jobspec / JobspecV1 Python API (flux.job compatible names and behaviour)."""

import datetime
import io
import json

import pytest

from fluxlab.job.count import Count, CountError
from fluxlab.job.jobspec import NEST_COMMAND, Jobspec, JobspecError, JobspecV1, validate_jobspec

YAML = """
version: 1
resources:
  - type: slot
    count: 2
    label: task
    with:
      - type: core
        count: 3
      - type: gpu
        count: 1
tasks:
  - command: [app]
    slot: task
    count: {per_slot: 1}
attributes:
  system: {duration: 0}
"""


def test_from_yaml_stream_and_counts():
    js = JobspecV1.from_yaml_stream(YAML)
    assert js.resource_counts() == {"slot": 2, "core": 6, "gpu": 2}
    assert [r["type"] for r in js] == ["slot", "core", "gpu"]
    assert JobspecV1.from_yaml_stream(io.StringIO(YAML)).version == 1
    assert json.loads(js.dumps()) == js.jobspec
    assert Jobspec.from_json(js.dumps()).jobspec == js.jobspec


def test_yaml_errors_are_clean():
    for text, message in [
        ("a: [", "invalid YAML"),
        ("- 1", "jobspec must be a mapping"),
        ("version: 1", "resources: missing"),
        (YAML + "extra: 1\n", "unknown top-level key"),
        (YAML.replace("duration: 0", "duration: 2001-01-01"), "date values are not allowed"),
        (YAML.replace("duration: 0", "duration: .nan"), "finite number"),
    ]:
        with pytest.raises(JobspecError, match=message):
            JobspecV1.from_yaml_stream(text)


def test_properties():
    js = JobspecV1.from_command(["true"], environment={"A": "1"})
    assert js.duration == 0
    js.duration = "1.5m"
    assert js.duration == 90.0
    js.duration = datetime.timedelta(hours=1)
    assert js.duration == 3600.0
    js.duration = 5
    assert js.getattr("system.duration") == 5.0
    for bad in (-1, "forever", float("inf"), None):
        with pytest.raises(JobspecError, match="attributes.system.duration"):
            js.duration = bad
    js.cwd = "/tmp"
    js.queue = "debug"
    assert (js.cwd, js.queue, js.environment) == ("/tmp", "debug", {"A": "1"})
    js.output = "out.txt"
    js.error = "err.txt"
    js.input = "in.txt"
    assert (js.output, js.error, js.input) == ("out.txt", "err.txt", "in.txt")
    assert js.stdout == "out.txt"
    js.unbuffered = True
    assert js.unbuffered
    js.unbuffered = False
    assert not js.unbuffered
    with pytest.raises(JobspecError):
        js.queue = 5


def test_setattr_and_shell_options():
    js = JobspecV1.from_command(["true"], environment={})
    js.setattr("foo.bar", 1)
    js.setattr("user.mine", "x")
    js.setattr("attributes.system.baz", 2)
    js.setattr_shell_option("verbose", 2)
    assert js.attributes["system"]["foo"] == {"bar": 1}
    assert js.attributes["user"] == {"mine": "x"}
    assert js.getattr("shell.options.verbose") == 2
    with pytest.raises(JobspecError, match="attributes.system.foo.bar"):
        js.setattr("foo.bar.baz", 3)
    with pytest.raises(KeyError):
        js.getattr("nope")


def test_add_file(tmp_path):
    js = JobspecV1.from_command(["true"], environment={})
    js.add_file("conf.json", {"a": 1})
    js.add_file("script", "#!/bin/sh\ntrue\n", perms=0o700)
    local = tmp_path / "data.bin"
    local.write_bytes(b"\xff\x00")
    js.add_file("data", str(local))
    files = js.attributes["system"]["files"]
    assert files["conf.json"] == {"mode": 0o100600, "data": {"a": 1}}
    assert files["script"]["encoding"] == "utf-8" and files["script"]["mode"] == 0o100700
    assert files["data"]["encoding"] == "base64" and files["data"]["size"] == 2
    with pytest.raises(JobspecError, match="cannot read"):
        js.add_file("x", str(tmp_path / "missing"))
    with pytest.raises(JobspecError, match="encoding"):
        js.add_file("x", "abc", encoding="rot13")


def test_from_command_shapes():
    js = JobspecV1.from_command(["a"], num_tasks=5, num_nodes=2, exclusive=True, environment={})
    node = js.resources[0]
    assert node["type"] == "node" and node["count"] == 2 and node["exclusive"]
    assert node["with"][0]["count"] == 3 and js.tasks[0]["count"] == {"total": 5}
    js = JobspecV1.from_command(["a"], num_tasks=2, gpus_per_task=1, name="n", environment={})
    assert [c["type"] for c in js.resources[0]["with"]] == ["core", "gpu"]
    assert js.attributes["system"]["job"]["name"] == "n"
    for kwargs, field in [
        ({"num_tasks": 0}, "num_tasks"),
        ({"cores_per_task": "2"}, "cores_per_task"),
        ({"num_nodes": 3, "num_tasks": 2}, "num_nodes"),
        ({"exclusive": True}, "exclusive"),
        ({"gpus_per_task": -1}, "gpus_per_task"),
    ]:
        with pytest.raises(JobspecError, match=field):
            JobspecV1.from_command(["a"], environment={}, **kwargs)
    with pytest.raises(JobspecError, match="command"):
        JobspecV1.from_command("hostname")


def test_nest_and_batch_commands():
    assert NEST_COMMAND == ("flux", "broker")
    js = JobspecV1.from_nest_command(
        ["app"], num_slots=2, broker_opts=["-v"], conf={"x": 1}, environment={}
    )
    assert js.tasks[0]["command"] == ["flux", "broker", "-v", "-c{{tmpdir}}/conf.json", "app"]
    opts = js.attributes["system"]["shell"]["options"]
    assert opts["per-resource"] == {"type": "node"} and opts["mpi"] == "none"
    assert js.attributes["system"]["files"]["conf.json"]["data"] == {"x": 1}
    js = JobspecV1.from_batch_command("#!/bin/sh\necho\n", "myjob", args=["1"], environment={})
    assert js.tasks[0]["command"] == ["flux", "broker", "{{tmpdir}}/script", "1"]
    assert js.attributes["system"]["job"]["name"] == "myjob"
    with pytest.raises(JobspecError, match="#!"):
        JobspecV1.from_batch_command("echo", "bad")
    js = JobspecV1.from_alloc(nodes=2, bg=True, env=["-*"], rlimit=["-*"])
    assert js.resources[0]["exclusive"] and "-Sbroker.rc2_none=1" in js.tasks[0]["command"]
    with pytest.raises(JobspecError):
        JobspecV1.from_alloc()
    with pytest.raises(JobspecError):
        JobspecV1.from_batch()


def test_from_submit_apply_options(monkeypatch):
    monkeypatch.setenv("FLUXLAB_TEST_VAR", "v")
    js = JobspecV1.from_submit(
        ["app"],
        ntasks=4,
        nodes=2,
        time_limit="2h",
        env=["-*", "FLUXLAB_TEST_*", "X=$FLUXLAB_TEST_VAR/y", "T={{rank}}"],
        rlimit=["-*", "nofile=1024"],
        dependency=["afterok:f2", "begin-time:100.5"],
        requires=["gpu", "host:n[1-4]"],
        signal="USR1@30s",
        taskmap="cyclic",
        shell_options={"verbose": 1},
        attributes={"user.comment": "hi", "system.x": 1, "y": 2, ".user.z": 3},
        add_file=["note=hello\\nworld"],
    )
    system = js.attributes["system"]
    assert js.duration == 7200.0
    assert system["environment"] == {"FLUXLAB_TEST_VAR": "v", "X": "v/y"}
    opts = system["shell"]["options"]
    assert opts["env-expand"] == {"T": "{{rank}}"} and opts["rlimit"] == {"nofile": 1024}
    assert opts["signal"] == {"signum": 10, "timeleft": 30.0}
    assert opts["taskmap"] == {"scheme": "cyclic", "value": ""}
    assert system["dependencies"][1] == {"scheme": "begin-time", "value": "100.5"}
    assert system["constraints"] == {"and": [{"properties": ["gpu"]}, {"hostlist": ["n[1-4]"]}]}
    assert js.attributes["user"] == {"comment": "hi", "z": 3}
    assert system["x"] == 1 and system["y"] == 2
    assert system["files"]["note"]["data"] == "hello\nworld"
    js = JobspecV1.from_submit(["app"], signal="TERM@0", env=["-*"], rlimit=["-*"])
    assert js.attributes["system"]["exec"]["timelimit_signal"] == 15


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"dependency": ["nope:1"]}, "dependencies"),
        ({"requires": ["host:foo["]}, "requires"),
        ({"signal": "NOTASIG@1"}, "signal"),
        ({"time_limit": "soon"}, "time_limit"),
        ({"env": ["X=$NOT_SET_ANYWHERE_123"]}, "env"),
        ({"rlimit": ["bogus=1"]}, "rlimit"),
        ({"add_file": ["x:99=a\\nb"]}, "add_file"),
    ],
)
def test_apply_options_errors(kwargs, field):
    with pytest.raises(JobspecError, match=field):
        JobspecV1.from_submit(["app"], **kwargs)
    with pytest.raises(TypeError, match="unexpected keyword"):
        JobspecV1.from_submit(["app"], bogus_option=1)


def test_validate_jobspec():
    ok, js = validate_jobspec(YAML)
    assert ok and isinstance(js, JobspecV1)
    canonical = YAML.replace("version: 1", "version: 9")
    assert type(validate_jobspec(canonical)[1]) is Jobspec
    with pytest.raises(JobspecError, match="version: must be 1"):
        validate_jobspec(canonical, require_version=1)
    with pytest.raises(JobspecError):
        validate_jobspec(42)


@pytest.mark.parametrize(
    "value, text",
    [
        (4, "4"),
        ("2+", "2+"),
        ("2-32:2:*", "2-32:2:*"),
        ({"min": 1}, "1+"),
        ("1,3,5", "1,3,5"),
        ({"min": 2, "max": 2}, "2"),
    ],
)
def test_count_forms(value, text):
    assert Count.from_json(value).encode() == text


@pytest.mark.parametrize(
    "value", [0, "0", "3-1", "2-4:1:^", {"min": 2, "operator": "*"}, 1.5, "x", "1:2:3:4", True]
)
def test_count_errors(value):
    with pytest.raises(CountError):
        Count.from_json(value)
