"""Options shared by ``run``, ``submit`` and ``bulksubmit`` (Flux's names).

:func:`add_job_options` adds them to a parser; :func:`build_jobspec` turns the
parsed arguments into a :class:`~fluxlab.job.JobspecV1` (via
``JobspecV1.from_command`` + ``apply_options``), raising
:class:`~fluxlab.cli.main.CommandError` with the offending option on bad input.
"""

from __future__ import annotations

import argparse
import os

from fluxlab.cli.main import CommandError

__all__ = ["add_job_options", "build_jobspec", "parse_urgency_arg"]


def add_job_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("job resources")
    g.add_argument(
        "-n", "--ntasks", type=int, default=None, metavar="N", help="number of tasks (default 1)"
    )
    g.add_argument(
        "-c", "--cores-per-task", type=int, default=1, metavar="N", help="cores per task"
    )
    g.add_argument(
        "-g", "--gpus-per-task", type=int, default=None, metavar="N", help="GPUs per task"
    )
    g.add_argument("-N", "--nodes", type=int, default=None, metavar="N", help="number of nodes")
    g.add_argument("-x", "--exclusive", action="store_true", help="allocate whole nodes")
    g.add_argument(
        "--tasks-per-node", type=int, default=None, metavar="N", help="tasks per node (needs -N)"
    )
    o = p.add_argument_group("job options")
    o.add_argument(
        "-t",
        "--time-limit",
        default=None,
        metavar="MIN|FSD",
        help="time limit: minutes, or a duration like 30s, 2h",
    )
    o.add_argument("--urgency", default="16", metavar="N", help="0-31, or hold/default/expedite")
    o.add_argument(
        "--dependency",
        action="append",
        default=[],
        metavar="DEP",
        help="e.g. afterok:JOBID, afterany:JOBID, singleton, begin-time:TS",
    )
    o.add_argument(
        "--begin-time", default=None, metavar="TIME", help="do not start before this time"
    )
    o.add_argument(
        "-S",
        "--setattr",
        action="append",
        default=[],
        metavar="KEY=VAL",
        help="set a jobspec attribute (value parsed as JSON if possible)",
    )
    o.add_argument(
        "-o",
        "--setopt",
        action="append",
        default=[],
        metavar="OPT[=VAL]",
        help="set a shell option",
    )
    o.add_argument(
        "--env",
        action="append",
        default=None,
        metavar="RULE",
        help="environment rule (NAME=VAL, -PATTERN, ^FILE); default: copy all",
    )
    o.add_argument("--env-remove", action="append", default=[], metavar="PATTERN")
    o.add_argument(
        "--cwd", default=None, metavar="DIR", help="working directory (default: current)"
    )
    o.add_argument(
        "--output", default=None, metavar="FILE", help="stdout to FILE ({{id}} templates)"
    )
    o.add_argument("--error", default=None, metavar="FILE", help="stderr to FILE")
    o.add_argument("--input", default=None, metavar="FILE", help="stdin from FILE")
    o.add_argument(
        "-l", "--label-io", action="store_true", help="prefix output lines with the task rank"
    )
    o.add_argument("-u", "--unbuffered", action="store_true", help="do not buffer output")
    o.add_argument("--job-name", default=None, metavar="NAME", help="name shown by `jobs`")
    o.add_argument("-q", "--queue", default=None, metavar="NAME")
    o.add_argument("--flags", default=None, metavar="FLAGS", help="waitable,debug,novalidate")
    o.add_argument("--requires", action="append", default=[], metavar="CONSTRAINT")
    o.add_argument("--dry-run", action="store_true", help="print the jobspec instead of submitting")


def parse_urgency_arg(text: str) -> int:
    from fluxlab.job.urgency import UrgencyError, parse_urgency

    try:
        return parse_urgency(text)
    except UrgencyError as e:
        raise CommandError(f"--urgency: {e}") from None


def parse_flags(text: str | None) -> dict:
    out = {"waitable": False, "debug": False, "novalidate": False}
    if not text:
        return out
    for f in text.split(","):
        f = f.strip()
        if f not in out:
            raise CommandError(f"--flags: unknown flag {f!r} (waitable, debug, novalidate)")
        out[f] = True
    return out


def _value(text: str):
    import json

    try:
        return json.loads(text)
    except ValueError:
        return text


def build_jobspec(args, command: list[str]):
    """The jobspec for ``command`` with every option applied."""
    from fluxlab.job.duration import DurationError, parse_time_limit
    from fluxlab.job.jobspec import JobspecError, JobspecV1

    if not command:
        raise CommandError("a command is required")
    for name in ("ntasks", "cores_per_task", "gpus_per_task", "nodes", "tasks_per_node"):
        v = getattr(args, name)
        if v is not None and v < (0 if name == "gpus_per_task" else 1):
            raise CommandError(f"--{name.replace('_', '-')} must be a positive integer, not {v}")
    ntasks = args.ntasks
    if args.tasks_per_node is not None:
        if args.nodes is None:
            raise CommandError("--tasks-per-node requires -N/--nodes")
        ntasks = args.tasks_per_node * args.nodes
    if ntasks is None:
        ntasks = args.nodes or 1
    try:
        js = JobspecV1.from_command(
            command,
            num_tasks=ntasks,
            cores_per_task=args.cores_per_task,
            gpus_per_task=args.gpus_per_task,
            num_nodes=args.nodes,
            exclusive=args.exclusive,
            name=args.job_name,
            cwd=args.cwd or os.getcwd(),
            input=args.input,
            output=args.output,
            error=args.error,
            label_io=args.label_io,
            unbuffered=args.unbuffered,
            queue=args.queue,
        )
        env = list(args.env) if args.env is not None else []
        env += [f"-{pat}" for pat in args.env_remove]
        deps = list(args.dependency)
        if args.begin_time:
            deps.append(f"begin-time:{_begin_time(args.begin_time)}")
        shell_opts = {}
        for opt in args.setopt:
            k, sep, v = opt.partition("=")
            shell_opts[k] = _value(v) if sep else 1
        attrs = {}
        for kv in args.setattr:
            k, sep, v = kv.partition("=")
            if not sep or not k:
                raise CommandError(f"-S/--setattr expects KEY=VALUE, not {kv!r}")
            attrs[k] = _value(v)
        js.apply_options(
            env=env,
            dependency=deps or None,
            requires=args.requires or None,
            shell_options=shell_opts or None,
            attributes=attrs or None,
        )
        if args.time_limit is not None:
            try:
                js.duration = parse_time_limit(args.time_limit)
            except DurationError as e:
                raise CommandError(f"-t/--time-limit: {e}") from None
    except (JobspecError, ValueError) as e:
        raise CommandError(str(e)) from None
    return js


def _begin_time(text: str) -> float:
    import time

    from fluxlab.job.duration import DurationError, parse_fsd

    t = text.strip()
    if t.startswith("+"):
        try:
            return time.time() + parse_fsd(t[1:])
        except DurationError as e:
            raise CommandError(f"--begin-time: {e}") from None
    try:
        return float(t)
    except ValueError:
        pass
    import datetime

    try:
        return datetime.datetime.fromisoformat(t).timestamp()
    except ValueError:
        raise CommandError(
            f"--begin-time: cannot parse {text!r} (use +DURATION, a timestamp, or ISO date-time)"
        ) from None
