"""What the execution system needs from a jobspec, read once and checked.

:class:`ExecSpec` pulls the command, working directory, environment,
standard I/O options, GPU affinity and the simulated-execution settings out
of a (V1-shaped) jobspec.  It is pure: no processes, no files.  Every
problem raises :class:`ExecSpecError` naming the jobspec path at fault, so
the exec service can turn it into a job exception with a useful note.

Shell options follow ``flux-shell(1)``::

    attributes.system.shell.options.output.{stdout,stderr}.{type,path,label}
    attributes.system.shell.options.output.mode          truncate | append
    attributes.system.shell.options.output.{stdout,stderr}.buffer.type  line | none
    attributes.system.shell.options.input.stdin.{type,path}
    attributes.system.shell.options.gpu-affinity         on | off | per-task

As in flux-shell, ``stderr`` inherits every ``stdout`` output setting except
buffering (stdout is line buffered, stderr unbuffered), so ``--output=FILE``
alone sends both streams to ``FILE``.

Simulated execution (flux-core's *testexec*) is selected by the presence of
``attributes.system.exec.test``; its ``run_duration`` (an FSD string or a
number of seconds) overrides ``attributes.system.duration``; ``wait_status``
is the status reported at finish and ``mock_exception`` (``init`` or
``run``) raises a fake exception at that phase.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fluxlab.job.duration import DurationError, duration_seconds

__all__ = ["ExecSpec", "ExecSpecError", "StreamOptions", "SimulatedExec", "simulated_exec"]

_GPU_AFFINITY = ("on", "off", "per-task")


class ExecSpecError(ValueError):
    """A jobspec the execution system cannot run; the message names the field."""


@dataclass(frozen=True)
class StreamOptions:
    """Where one output stream goes.

    ``path`` is a mustache template (``{{id}}``, ``{{name}}``, ``{{task.id}}``
    ...) when the stream goes to a file, ``None`` when it goes to the job's
    output eventlog in the KVS.
    """

    path: str | None = None
    label: bool = False
    buffer: str = "line"


@dataclass(frozen=True)
class SimulatedExec:
    """Simulated execution settings (``attributes.system.exec.test``)."""

    run_duration: float = 0.0
    wait_status: int = 0
    mock_exception: str | None = None


@dataclass(frozen=True)
class ExecSpec:
    """The parts of a jobspec that the execution system uses.

    Attributes
    ----------
    command : list of str
        ``tasks[0].command`` (non-empty).
    count : tuple
        ``("per_slot", n)`` or ``("total", n)`` from ``tasks[0].count``.
    cwd : str or None
        ``attributes.system.cwd``.
    environment : dict or None
        ``attributes.system.environment``: when present it is the task's
        complete environment (Flux copies the submitter's environment).
    name : str
        ``attributes.system.job.name``, else the basename of ``command[0]``.
    stdout, stderr : StreamOptions
    output_mode : str
        ``truncate`` or ``append`` for output files.
    input_path : str or None
        File to feed every task's stdin (``--input``); None: ``/dev/null``.
    gpu_affinity : str
        ``on`` (all of the rank's GPUs), ``per-task`` or ``off``.
    duration : float
        ``attributes.system.duration`` (0 = unlimited).
    test : SimulatedExec or None
        Set when execution is simulated.
    """

    command: list[str]
    count: tuple[str, int] = ("per_slot", 1)
    cwd: str | None = None
    environment: dict[str, str] | None = None
    name: str = ""
    stdout: StreamOptions = field(default_factory=StreamOptions)
    stderr: StreamOptions = field(default_factory=lambda: StreamOptions(buffer="none"))
    output_mode: str = "truncate"
    input_path: str | None = None
    gpu_affinity: str = "on"
    duration: float = 0.0
    test: SimulatedExec | None = None

    @classmethod
    def from_jobspec(cls, jobspec: Any) -> ExecSpec:
        """Read and check ``jobspec`` (a mapping).

        Raises
        ------
        ExecSpecError
            Naming the field and the reason.
        """
        if not isinstance(jobspec, Mapping):
            raise ExecSpecError("jobspec: must be an object")
        tasks = jobspec.get("tasks")
        if not isinstance(tasks, list) or not tasks:
            raise ExecSpecError("tasks: must be a non-empty array")
        task = tasks[0]
        if not isinstance(task, Mapping):
            raise ExecSpecError("tasks[0]: must be an object")
        command = task.get("command")
        if (
            not isinstance(command, list)
            or not command
            or not all(isinstance(a, str) for a in command)
        ):
            raise ExecSpecError("tasks[0].command: must be a non-empty array of strings")
        if not command[0]:
            raise ExecSpecError("tasks[0].command[0]: the program name must not be empty")
        count = _task_count(task.get("count"))
        system = _system(jobspec)
        cwd = system.get("cwd")
        if cwd is not None and not isinstance(cwd, str):
            raise ExecSpecError("attributes.system.cwd: must be a string")
        env = system.get("environment")
        if env is not None:
            if not isinstance(env, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in env.items()
            ):
                raise ExecSpecError(
                    "attributes.system.environment: must map variable names to strings"
                )
            env = dict(env)
        name = _job_name(system, command)
        opts = system.get("shell", {})
        if not isinstance(opts, Mapping):
            raise ExecSpecError("attributes.system.shell: must be an object")
        opts = opts.get("options", {})
        if not isinstance(opts, Mapping):
            raise ExecSpecError("attributes.system.shell.options: must be an object")
        stdout, stderr, mode = _output_options(opts.get("output", {}))
        affinity = opts.get("gpu-affinity", "on")
        if affinity not in _GPU_AFFINITY:
            raise ExecSpecError(
                "attributes.system.shell.options.gpu-affinity: must be one of "
                f"{', '.join(_GPU_AFFINITY)}, not {affinity!r}"
            )
        duration = system.get("duration", 0)
        if isinstance(duration, bool) or not isinstance(duration, (int, float)) or duration < 0:
            raise ExecSpecError("attributes.system.duration: must be a number >= 0")
        return cls(
            command=list(command),
            count=count,
            cwd=cwd,
            environment=env,
            name=name,
            stdout=stdout,
            stderr=stderr,
            output_mode=mode,
            input_path=_input_path(opts.get("input", {})),
            gpu_affinity=affinity,
            duration=float(duration),
            test=simulated_exec(jobspec),
        )


def _system(jobspec: Mapping) -> Mapping:
    attrs = jobspec.get("attributes", {})
    if not isinstance(attrs, Mapping):
        raise ExecSpecError("attributes: must be an object")
    system = attrs.get("system", {})
    if not isinstance(system, Mapping):
        raise ExecSpecError("attributes.system: must be an object")
    return system


def _task_count(count: Any) -> tuple[str, int]:
    if not isinstance(count, Mapping) or len(count) != 1:
        raise ExecSpecError("tasks[0].count: must be an object with one key, per_slot or total")
    ((kind, n),) = count.items()
    if kind not in ("per_slot", "total"):
        raise ExecSpecError(f"tasks[0].count: unknown key {kind!r} (per_slot or total)")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ExecSpecError(f"tasks[0].count.{kind}: must be an integer >= 1")
    return kind, n


def _job_name(system: Mapping, command: list[str]) -> str:
    job = system.get("job", {})
    name = job.get("name") if isinstance(job, Mapping) else None
    if isinstance(name, str) and name:
        return name
    return os.path.basename(command[0]) or "unknown"


def _output_options(output: Any) -> tuple[StreamOptions, StreamOptions, str]:
    where = "attributes.system.shell.options.output"
    if not isinstance(output, Mapping):
        raise ExecSpecError(f"{where}: must be an object")
    mode = output.get("mode", "truncate")
    if mode not in ("truncate", "append"):
        raise ExecSpecError(f"{where}.mode: must be 'truncate' or 'append', not {mode!r}")
    out = _stream(output.get("stdout"), f"{where}.stdout", StreamOptions())
    # stderr inherits stdout's destination and label, never its buffering
    err = _stream(
        output.get("stderr"), f"{where}.stderr", StreamOptions(out.path, out.label, "none")
    )
    return out, err, mode


def _stream(obj: Any, where: str, default: StreamOptions) -> StreamOptions:
    if obj is None:
        return default
    if not isinstance(obj, Mapping):
        raise ExecSpecError(f"{where}: must be an object")
    path, label, buffer = default.path, default.label, default.buffer
    kind = obj.get("type")
    if kind is not None and kind not in ("file", "kvs"):
        raise ExecSpecError(f"{where}.type: must be 'file' or 'kvs', not {kind!r}")
    if "path" in obj:
        if not isinstance(obj["path"], str) or not obj["path"]:
            raise ExecSpecError(f"{where}.path: must be a non-empty string")
        path = obj["path"]
    if kind == "kvs":
        path = None
    if "label" in obj:
        if not isinstance(obj["label"], bool):
            raise ExecSpecError(f"{where}.label: must be true or false")
        label = obj["label"]
    buf = obj.get("buffer")
    if buf is not None:
        btype = buf.get("type") if isinstance(buf, Mapping) else None
        if not isinstance(btype, str) or btype.lower() not in ("line", "none"):
            raise ExecSpecError(f"{where}.buffer.type: must be 'line' or 'none'")
        buffer = btype.lower()
    return StreamOptions(path, label, buffer)


def _input_path(inp: Any) -> str | None:
    where = "attributes.system.shell.options.input"
    if not isinstance(inp, Mapping):
        raise ExecSpecError(f"{where}: must be an object")
    stdin = inp.get("stdin")
    if stdin is None:
        return None
    if not isinstance(stdin, Mapping):
        raise ExecSpecError(f"{where}.stdin: must be an object")
    kind = stdin.get("type", "file")
    if kind != "file":
        raise ExecSpecError(f"{where}.stdin.type: only 'file' is supported, not {kind!r}")
    path = stdin.get("path")
    if not isinstance(path, str) or not path:
        raise ExecSpecError(f"{where}.stdin.path: must be a non-empty string")
    return path


@functools.lru_cache(maxsize=256)
def _fsd_seconds(text: str) -> float:
    """``duration_seconds`` for strings, cached: benchmarks repeat one value."""
    return duration_seconds(text)


def simulated_exec(jobspec: Mapping) -> SimulatedExec | None:
    """The simulated-execution settings, or None for real execution.

    Cheap on purpose (a few dict lookups): it runs once per job on the
    throughput path, before anything else is parsed.
    """
    try:
        system = jobspec["attributes"]["system"]
        test = system["exec"]["test"]
    except (KeyError, TypeError):
        return None
    where = "attributes.system.exec.test"
    if not isinstance(test, Mapping):
        raise ExecSpecError(f"{where}: must be an object")
    raw = test.get("run_duration", system.get("duration", 0))
    try:
        run = _fsd_seconds(raw) if isinstance(raw, str) else duration_seconds(raw)
    except DurationError as e:
        raise ExecSpecError(f"{where}.run_duration: {e}") from None
    status = test.get("wait_status", 0)
    if isinstance(status, bool) or not isinstance(status, int) or not 0 <= status < 2**31:
        raise ExecSpecError(f"{where}.wait_status: must be a non-negative integer")
    mock = test.get("mock_exception")
    if mock is not None and mock not in ("init", "run"):
        raise ExecSpecError(f"{where}.mock_exception: must be 'init' or 'run', not {mock!r}")
    return SimulatedExec(run, status, mock)
