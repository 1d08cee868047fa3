"""Jobspec version 1 (RFC 25) and the factories behind run/submit/batch/alloc.

Import :class:`JobspecV1` from :mod:`fluxlab.job.jobspec` or
:mod:`fluxlab.job`; it lives here only to keep modules small.  Keyword names
and defaults follow ``flux.job.JobspecV1`` (flux-core 0.88).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence

from fluxlab.job import _jobspec_options as opt
from fluxlab.job._jobspec_rules import JobspecError, validate_v1
from fluxlab.job.dependency import DependencyError, dependency_array_create
from fluxlab.job.jobspec import NEST_COMMAND, Jobspec

TYPE_CHECKING = False  # typing itself costs ~4 ms of every CLI start
if TYPE_CHECKING:  # annotations only (they are never evaluated)
    from typing import Any

__all__ = ["JobspecV1"]


def _posint(value: Any, what: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise JobspecError(what, f"must be an integer >= {minimum}, not {value!r}")
    return value


def _command(command: Any) -> list[str]:
    if isinstance(command, str) or not isinstance(command, Sequence):
        raise JobspecError("command", "must be a list of strings")
    command = list(command)
    if not all(isinstance(arg, str) for arg in command):
        raise JobspecError("command", "must be a list of strings")
    return command


class JobspecV1(Jobspec):
    """A version 1 jobspec: ``[node>]slot>core[,gpu]``, one task, a duration."""

    def __init__(self, resources: Any, tasks: Any, attributes: Any, version: Any = 1):
        super().__init__(resources, tasks, attributes, version)

    def _validate(self) -> None:
        validate_v1(self.jobspec)

    @staticmethod
    def _resource(
        rtype: str, count: int, children: list | None = None, exclusive: bool = False
    ) -> dict:
        res: dict[str, Any] = {"type": rtype, "count": count}
        if exclusive:
            res["exclusive"] = True
        if children:
            res["with"] = children
        return res

    # -- factories ---------------------------------------------------------------
    @classmethod
    def from_command(
        cls,
        command: Sequence[str],
        num_tasks: int = 1,
        cores_per_task: int = 1,
        gpus_per_task: int | None = None,
        num_nodes: int | None = None,
        exclusive: bool = False,
        duration: Any = None,
        environment: Mapping[str, str] | None = None,
        env_expand: Mapping[str, str] | None = None,
        cwd: str | os.PathLike | None = None,
        rlimits: Mapping[str, int] | None = None,
        name: str | None = None,
        input: str | os.PathLike | None = None,
        output: str | os.PathLike | None = None,
        error: str | os.PathLike | None = None,
        label_io: bool = False,
        unbuffered: bool = False,
        queue: str | None = None,
        bank: str | None = None,
    ) -> JobspecV1:
        """The minimal V1 jobspec running ``command`` as ``num_tasks`` tasks.

        Without ``num_nodes``: ``slot[num_tasks]>core[cores_per_task]``.  With
        it: ``node[num_nodes]>slot[ceil(tasks/nodes)]>core``, and a ``total``
        task count when the tasks do not divide evenly.  ``environment``
        defaults to a copy of ``os.environ``.
        """
        command = _command(command)
        _posint(num_tasks, "num_tasks")
        _posint(cores_per_task, "cores_per_task")
        if gpus_per_task is not None:
            _posint(gpus_per_task, "gpus_per_task", 0)
        children = [cls._resource("core", cores_per_task)]
        if gpus_per_task:
            children.append(cls._resource("gpu", gpus_per_task))
        count: dict[str, int] = {"per_slot": 1}
        if num_nodes is not None:
            _posint(num_nodes, "num_nodes")
            if num_nodes > num_tasks:
                raise JobspecError("num_nodes", "node count must not be greater than task count")
            slot = {
                **cls._resource("slot", math.ceil(num_tasks / num_nodes), children),
                "label": "task",
            }
            if num_tasks % num_nodes:
                count = {"total": num_tasks}
            top = cls._resource("node", num_nodes, [slot], exclusive)
        else:
            if exclusive:
                raise JobspecError("exclusive", "exclusive can only be set with a node count")
            top = {**cls._resource("slot", num_tasks, children), "label": "task"}
        tasks = [{"command": command, "slot": "task", "count": count}]
        js = cls([top], tasks, {"system": {"duration": 0}})
        return js._set_extra_options(
            duration=duration,
            environment=environment,
            env_expand=env_expand,
            cwd=cwd,
            rlimits=rlimits,
            name=name,
            input=input,
            output=output,
            error=error,
            label_io=label_io,
            unbuffered=unbuffered,
            queue=queue,
            bank=bank,
        )

    def _set_extra_options(
        self,
        duration: Any = None,
        environment: Mapping[str, str] | None = None,
        env_expand: Mapping[str, str] | None = None,
        cwd: Any = None,
        rlimits: Mapping[str, int] | None = None,
        name: str | None = None,
        input: Any = None,
        output: Any = None,
        error: Any = None,
        label_io: bool = False,
        unbuffered: bool = False,
        queue: str | None = None,
        bank: str | None = None,
    ) -> JobspecV1:
        if duration is not None:
            self.duration = duration
        self.environment = dict(os.environ) if environment is None else environment
        if env_expand is not None:
            if not isinstance(env_expand, Mapping):
                raise JobspecError("env_expand", "must be a mapping")
            self.setattr_shell_option("env-expand", dict(env_expand))
        if cwd is not None:
            self.cwd = cwd
        if rlimits is not None:
            if not isinstance(rlimits, Mapping):
                raise JobspecError("rlimits", "must be a mapping")
            self.setattr_shell_option("rlimit", dict(rlimits))
        if name is not None:
            if not isinstance(name, str):
                raise JobspecError("attributes.system.job.name", "must be a string")
            self.setattr("job.name", name)
        if input is not None:
            self.input = input
        if output is not None and output not in ("none", "kvs"):
            self.output = output
            if label_io:
                self.setattr_shell_option("output.stdout.label", True)
        if error is not None and error not in ("none", "kvs"):
            self.error = error
            if label_io:
                self.setattr_shell_option("output.stderr.label", True)
        if unbuffered:
            self.unbuffered = True
        if queue is not None:
            self.queue = queue
        if bank is not None:
            if not isinstance(bank, str):
                raise JobspecError("attributes.system.bank", "must be a string")
            self.setattr("bank", bank)
        return self

    @classmethod
    def from_nest_command(
        cls,
        command: Sequence[str],
        num_slots: int = 1,
        cores_per_slot: int = 1,
        gpus_per_slot: int | None = None,
        num_nodes: int | None = None,
        broker_opts: Sequence[str] | None = None,
        exclusive: bool = False,
        conf: Mapping | None = None,
        **kwargs: Any,
    ) -> JobspecV1:
        """A nested instance running ``command`` as its initial program.

        The task is ``[*NEST_COMMAND, *broker_opts, *command]`` with one
        broker per node (shell option ``per-resource.type=node``); ``conf`` is
        attached as ``conf.json`` and passed with ``-c{{tmpdir}}/conf.json``.
        """
        opts = list(broker_opts) if broker_opts is not None else []
        if not all(isinstance(o, str) for o in opts):
            raise JobspecError("broker_opts", "must be a list of strings")
        if conf is not None:
            opts.append("-c{{tmpdir}}/conf.json")
        js = cls.from_command(
            [*NEST_COMMAND, *opts, *_command(command)],
            num_tasks=num_slots,
            cores_per_task=cores_per_slot,
            gpus_per_task=gpus_per_slot,
            num_nodes=num_nodes,
            exclusive=exclusive,
            **kwargs,
        )
        js.setattr_shell_option("per-resource.type", "node")
        js.setattr_shell_option("mpi", "none")
        js.setattr_shell_option("exit-timeout", "none")
        js.setattr_shell_option("pmi", "simple")
        if conf is not None:
            if not isinstance(conf, Mapping):
                raise JobspecError("conf", "must be a mapping")
            js.add_file("conf.json", conf)
        return js

    @classmethod
    def from_batch_command(
        cls,
        script: str,
        jobname: str,
        args: Sequence[str] | None = None,
        num_slots: int = 1,
        cores_per_slot: int = 1,
        gpus_per_slot: int | None = None,
        num_nodes: int | None = None,
        broker_opts: Sequence[str] | None = None,
        exclusive: bool = False,
        conf: Mapping | None = None,
        **kwargs: Any,
    ) -> JobspecV1:
        """A nested instance whose initial program is ``script`` (its text,
        which must start with ``#!``), copied into the jobspec as ``script``."""
        if not isinstance(script, str) or not script.startswith("#!"):
            raise JobspecError("script", f"{jobname} does not appear to start with '#!'")
        js = cls.from_nest_command(
            ["{{tmpdir}}/script", *_command(args or ())],
            num_slots=num_slots,
            cores_per_slot=cores_per_slot,
            gpus_per_slot=gpus_per_slot,
            num_nodes=num_nodes,
            broker_opts=broker_opts,
            exclusive=exclusive,
            conf=conf,
            name=jobname,
            **kwargs,
        )
        js.add_file("script", script, perms=0o700, encoding="utf-8")
        return js

    @classmethod
    def from_submit(
        cls,
        command: Sequence[str],
        *,
        ntasks: int = 1,
        nodes: int | None = None,
        cores_per_task: int = 1,
        gpus_per_task: int | None = None,
        exclusive: bool = False,
        name: str | None = None,
        queue: str | None = None,
        bank: str | None = None,
        cwd: Any = None,
        output: Any = None,
        error: Any = None,
        input: Any = None,
        label_io: bool = False,
        unbuffered: bool = False,
        **kwargs: Any,
    ) -> JobspecV1:
        """:meth:`from_command` plus :meth:`apply_options` (``flux submit``).
        ``env`` and ``rlimit`` default to full propagation."""
        js = cls.from_command(
            command,
            num_tasks=ntasks,
            cores_per_task=cores_per_task,
            gpus_per_task=gpus_per_task,
            num_nodes=nodes,
            exclusive=exclusive,
            name=name,
            queue=queue,
            bank=bank,
            cwd=cwd,
            output=output,
            error=error,
            input=input,
            label_io=label_io,
            unbuffered=unbuffered,
        )
        return js.apply_options(
            env=kwargs.pop("env", []), rlimit=kwargs.pop("rlimit", []), **kwargs
        )

    @classmethod
    def from_alloc(
        cls,
        *,
        nslots: int | None = None,
        nodes: int | None = None,
        cores_per_slot: int = 1,
        gpus_per_slot: int | None = None,
        exclusive: bool = False,
        broker_opts: Sequence[str] | None = None,
        conf: Any = None,
        bg: bool = False,
        name: str | None = None,
        queue: str | None = None,
        bank: str | None = None,
        cwd: Any = None,
        output: Any = None,
        error: Any = None,
        input: Any = None,
        label_io: bool = False,
        unbuffered: bool = False,
        **kwargs: Any,
    ) -> JobspecV1:
        """A nested instance for ``flux alloc`` (``nodes`` alone implies
        ``nslots=nodes`` and exclusive nodes)."""
        if nslots is None:
            if nodes is None:
                raise JobspecError("nslots", "from_alloc() requires nslots or nodes")
            nslots, exclusive = nodes, True
        opts = list(broker_opts or [])
        if bg:
            opts.append("-Sbroker.rc2_none=1")
        js = cls.from_nest_command(
            [],
            num_slots=nslots,
            cores_per_slot=cores_per_slot,
            gpus_per_slot=gpus_per_slot,
            num_nodes=nodes,
            broker_opts=opts,
            exclusive=exclusive,
            conf=opt.normalize_conf(conf),
            name=name,
            queue=queue,
            bank=bank,
            cwd=os.getcwd() if cwd is None else cwd,
            output=output,
            error=error,
            input=input,
            label_io=label_io,
            unbuffered=unbuffered,
        )
        if bg:
            js.setattr_shell_option("pty.capture", 1)
        return js.apply_options(
            env=kwargs.pop("env", []), rlimit=kwargs.pop("rlimit", []), **kwargs
        )

    @classmethod
    def from_batch(
        cls,
        script: str | os.PathLike | None = None,
        *,
        content: str | None = None,
        nslots: int | None = None,
        nodes: int | None = None,
        cores_per_slot: int = 1,
        gpus_per_slot: int | None = None,
        exclusive: bool = False,
        broker_opts: Sequence[str] | None = None,
        conf: Any = None,
        wrap: bool = False,
        name: str | None = None,
        queue: str | None = None,
        bank: str | None = None,
        cwd: Any = None,
        output: Any = None,
        error: Any = None,
        input: Any = None,
        label_io: bool = False,
        unbuffered: bool = False,
        **kwargs: Any,
    ) -> JobspecV1:
        """A batch job from a script file (``script``) or text (``content``);
        output defaults to ``flux-{{id}}.out``."""
        if (script is None) == (content is None):
            raise JobspecError("script", "from_batch() needs exactly one of 'script' or 'content'")
        if content is None:
            import pathlib

            path = pathlib.Path(script)
            name = path.name if name is None else name
            try:
                content = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise JobspecError("script", f"cannot read {script}: {exc}") from None
        if wrap and not content.startswith("#!"):
            content = "#!/bin/sh\n" + content
        if nslots is None:
            nslots = nodes if nodes is not None else 1
            exclusive = exclusive or nodes is not None
        js = cls.from_batch_command(
            content,
            "batch" if name is None else name,
            num_slots=nslots,
            cores_per_slot=cores_per_slot,
            gpus_per_slot=gpus_per_slot,
            num_nodes=nodes,
            broker_opts=broker_opts,
            exclusive=exclusive,
            conf=opt.normalize_conf(conf),
            cwd=os.getcwd() if cwd is None else cwd,
            output="flux-{{id}}.out" if output is None else output,
            error=error,
            input=input,
            label_io=label_io,
            unbuffered=unbuffered,
            queue=queue,
            bank=bank,
        )
        return js.apply_options(
            env=kwargs.pop("env", []), rlimit=kwargs.pop("rlimit", []), **kwargs
        )

    # -- options ---------------------------------------------------------------
    def apply_options(
        self,
        args: Any = None,
        *,
        prog: str | None = None,
        env: Sequence[str] | None = None,
        rlimit: Sequence[str] | None = None,
        signal: str | None = None,
        taskmap: str | None = None,
        dependency: Sequence[str] | str | None = None,
        requires: Sequence[str] | str | None = None,
        shell_options: Mapping[str, Any] | None = None,
        time_limit: Any = None,
        attributes: Mapping[str, Any] | None = None,
        add_file: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> JobspecV1:
        """Apply ``flux submit`` options in place; returns self.

        ``env``/``rlimit`` are applied only when given (``[]`` propagates the
        whole environment / default limits).  ``attributes`` keys without a
        ``system.``/``user.``/``attributes.`` prefix go under ``system``; a
        leading ``.`` addresses ``attributes`` itself.  ``args`` may be an
        argparse namespace supplying the same names (keywords win).
        ``prog`` is accepted for compatibility (fluxlab has no CLI plugins).
        """
        if kwargs:
            raise TypeError(
                "apply_options() got unexpected keyword argument(s): "
                + ", ".join(repr(k) for k in sorted(kwargs))
            )
        given = dict(vars(args)) if args is not None else {}
        local = {
            "env": env,
            "rlimit": rlimit,
            "signal": signal,
            "taskmap": taskmap,
            "dependency": dependency,
            "requires": requires,
            "shell_options": shell_options,
            "time_limit": time_limit,
            "attributes": attributes,
            "add_file": add_file,
        }
        o = {k: (v if v is not None else given.get(k)) for k, v in local.items()}
        for key in ("requires", "dependency", "env", "rlimit", "add_file"):
            if isinstance(o[key], str):
                o[key] = [o[key]]
        if o["env"] is not None or args is not None:
            environ, expand = opt.filtered_environment(o["env"])
            self.environment = environ
            if expand:
                self.setattr_shell_option("env-expand", expand)
        if o["rlimit"] is not None or args is not None:
            limits = opt.filtered_rlimits(o["rlimit"])
            if limits:
                self.setattr_shell_option("rlimit", limits)
        if o["signal"]:
            sig = opt.parse_signal_option(o["signal"])
            if sig["timeleft"] == 0:
                self.setattr("system.exec.timelimit_signal", sig["signum"])
            else:
                self.setattr_shell_option("signal", sig)
        if o["taskmap"] is not None:
            self.setattr_shell_option("taskmap", opt.uri_entry(o["taskmap"], "taskmap"))
        if o["dependency"] is not None:
            try:
                self.setattr("system.dependencies", dependency_array_create(o["dependency"]))
            except DependencyError as exc:
                raise JobspecError("attributes.system.dependencies", str(exc)) from None
        if o["requires"] is not None:
            self.setattr("system.constraints", opt.constraint_from_requires(o["requires"]))
        for keyval in given.get("setopt") or []:
            key, val = _keyval(keyval, "--setopt")
            self.setattr_shell_option(key, val)
        for key, val in (o["shell_options"] or {}).items():
            self.setattr_shell_option(key, val)
        if o["time_limit"] is not None:
            self.duration = opt.decode_duration(o["time_limit"])
        pairs = [_keyval(kv, "--setattr") for kv in given.get("setattr") or []]
        pairs += list((o["attributes"] or {}).items())
        for key, val in pairs:
            if not key.startswith((".", "attributes.", "user.", "system.")):
                key = "system." + key
            self.setattr(key, val)
        for arg in o["add_file"] or []:
            name, data, perms, is_content = opt.parse_add_file(arg)
            self.add_file(name, data, perms=perms, encoding="utf-8" if is_content else None)
        self._validate()
        return self


def _keyval(text: str, option: str) -> tuple[str, Any]:
    import json

    key, sep, val = str(text).partition("=")
    if not key:
        raise JobspecError(option, f"{option}: missing key in {text!r}")
    if not sep:
        return key, 1
    try:
        return key, json.loads(val)
    except ValueError:
        return key, val
