"""``fluxlab run``, ``submit`` and ``bulksubmit``."""

from __future__ import annotations

import argparse
import itertools
import re
import sys

from fluxlab.cli.job_opts import add_job_options, build_jobspec, parse_flags, parse_urgency_arg
from fluxlab.cli.main import CommandError


def _common(p) -> None:
    add_job_options(p)


def add_parser_run(sub, name, helptext):
    p = sub.add_parser(
        name,
        help=helptext,
        description=(
            "Run COMMAND as a job, streaming its output, and exit with its exit code. "
            "Ctrl-C cancels the job."
        ),
    )
    _common(p)
    p.add_argument("command", nargs=argparse.REMAINDER, metavar="COMMAND ...")
    p.set_defaults(func=run_run)
    return p


def add_parser_submit(sub, name, helptext):
    p = sub.add_parser(name, help=helptext, description="Submit COMMAND as a job and print its id.")
    _common(p)
    p.add_argument(
        "--cc",
        default=None,
        metavar="IDSET",
        help="submit copies; {cc} in the command is the copy id",
    )
    p.add_argument(
        "--wait",
        action="store_true",
        help="wait for the job(s) to finish; exit with the largest code",
    )
    p.add_argument("--watch", action="store_true", help="stream output until the job(s) finish")
    p.add_argument("--quiet", action="store_true", help="do not print job ids")
    p.add_argument("command", nargs=argparse.REMAINDER, metavar="COMMAND ...")
    p.set_defaults(func=run_submit)
    return p


def add_parser_bulksubmit(sub, name, helptext):
    p = sub.add_parser(
        name,
        help=helptext,
        description=(
            "Submit one job per input, GNU parallel style: `bulksubmit echo {} ::: a b c` or inputs "
            "one per line on stdin. {} / {0} {1} ... are replaced by the inputs (cartesian product "
            "of the ::: groups)."
        ),
    )
    _common(p)
    p.add_argument(
        "--wait", action="store_true", help="wait for all jobs; exit with the largest code"
    )
    p.add_argument("--watch", action="store_true", help="stream output until all jobs finish")
    p.add_argument("--quiet", action="store_true", help="do not print job ids")
    p.add_argument("--cc", default=None, metavar="IDSET", help="copies of each job")
    p.add_argument("--sep", default=None, metavar="STR", help="split each input line on STR")
    p.add_argument(
        "--define",
        action="append",
        default=[],
        metavar="NAME=CODE",
        help="define a replacement {NAME} as a Python expression of x",
    )
    p.add_argument("command", nargs=argparse.REMAINDER, metavar="COMMAND ... [::: INPUTS ...]")
    p.set_defaults(func=run_bulksubmit)
    return p


add_parser = add_parser_run


def _submit_many(ctx, args, jobspecs: list) -> list:
    from fluxlab.job.submit import submit_bulk_async

    flags = parse_flags(args.flags)
    if flags["debug"] or flags["novalidate"]:
        raise CommandError("--flags: only 'waitable' is supported by bulk submission")
    urgency = parse_urgency_arg(args.urgency)
    ids = []
    chunk = 1024
    for i in range(0, len(jobspecs), chunk):
        resp = submit_bulk_async(
            ctx.h, jobspecs[i : i + chunk], urgency=urgency, waitable=flags["waitable"]
        ).get()
        for r in resp["ids"]:
            if isinstance(r, dict):
                raise CommandError(r.get("errstr", "submission failed"))
            ids.append(r)
    return ids


def _submit_one(ctx, args, js) -> int:
    from fluxlab.job.submit import submit_async

    flags = parse_flags(args.flags)
    return submit_async(ctx.h, js, urgency=parse_urgency_arg(args.urgency), **flags).get_id()


def _ccs(spec: str | None) -> list[int | None]:
    if spec is None:
        return [None]
    from fluxlab.resource.idset import IDset, IdsetError

    try:
        return list(IDset(spec))
    except IdsetError as e:
        raise CommandError(f"--cc: {e}") from None


def _subst_cc(command: list[str], cc: int | None) -> list[str]:
    if cc is None:
        return command
    return [a.replace("{cc}", str(cc)) for a in command]


def run_run(args, ctx) -> int:
    from fluxlab.cli.watch import JobFollower
    from fluxlab.job.jobid import JobID

    js = build_jobspec(args, args.command)
    if args.dry_run:
        ctx.print(js.dumps())
        return 0
    jobid = JobID(_submit_one(ctx, args, js))
    ctx.result = jobid
    return JobFollower(
        ctx.h,
        [jobid],
        label_io=args.label_io,
        stdout=ctx.stdout,
        stderr=ctx.stderr,
        prog="fluxlab-run",
    ).run()


def run_submit(args, ctx) -> int:
    from fluxlab.job.jobid import JobID

    jobspecs = []
    for cc in _ccs(args.cc):
        jobspecs.append(build_jobspec(args, _subst_cc(args.command, cc)))
        if cc is not None:
            jobspecs[-1].environment = {**(jobspecs[-1].environment or {}), "FLUX_JOB_CC": str(cc)}
    if args.dry_run:
        for js in jobspecs:
            ctx.print(js.dumps())
        return 0
    if len(jobspecs) == 1:
        ids = [JobID(_submit_one(ctx, args, jobspecs[0]))]
    else:
        ids = [JobID(i) for i in _submit_many(ctx, args, jobspecs)]
    if not args.quiet:
        for jid in ids:
            ctx.print(jid.f58)
    ctx.result = ids[0] if len(ids) == 1 else ids
    return _maybe_follow(args, ctx, ids)


def _maybe_follow(args, ctx, ids) -> int:
    if not (args.wait or args.watch):
        return 0
    from fluxlab.cli.watch import JobFollower

    return JobFollower(
        ctx.h,
        ids,
        output=args.watch,
        label_io=args.label_io,
        stdout=ctx.stdout,
        stderr=ctx.stderr,
        prog="fluxlab-submit",
        show_ids=len(ids) > 1,
    ).run()


def _bulk_inputs(
    command: list[str], sep: str | None, stdin
) -> tuple[list[str], list[tuple[str, ...]]]:
    if ":::" in command:
        i = command.index(":::")
        template, rest = command[:i], command[i:]
        groups, cur = [], None
        for a in rest:
            if a == ":::":
                cur = []
                groups.append(cur)
            else:
                cur.append(a)
        if any(not g for g in groups):
            raise CommandError("every ::: needs at least one input")
        return template, list(itertools.product(*groups))
    lines = [line.rstrip("\n") for line in stdin if line.strip()]
    return command, [tuple(line.split(sep)) if sep else (line,) for line in lines]


_FIELD = re.compile(r"\{(\w*)\}")


class _Fmt(dict):
    def __missing__(self, key):
        raise CommandError(f"unknown replacement field {{{key}}} in the command")


def run_bulksubmit(args, ctx) -> int:
    from fluxlab.job.jobid import JobID

    template, inputs = _bulk_inputs(args.command, args.sep, sys.stdin)
    if not template:
        raise CommandError("a command template is required")
    if not inputs:
        raise CommandError("no inputs (give ::: INPUTS or lines on stdin)")
    defines = {}
    for d in args.define:
        k, sep, code = d.partition("=")
        if not sep:
            raise CommandError(f"--define expects NAME=CODE, not {d!r}")
        defines[k] = code
    jobspecs = []
    for values in inputs:
        fields = _Fmt({str(i): v for i, v in enumerate(values)})
        fields["seq"] = str(len(jobspecs))
        for k, code in defines.items():
            try:
                fields[k] = str(eval(code, {"__builtins__": {}}, {"x": values[0]}))
            except Exception as e:  # noqa: BLE001 - user expression
                raise CommandError(f"--define {k}: {e}") from None
        cmd = [
            _FIELD.sub(lambda m, f=fields, v=values: f[m.group(1)] if m.group(1) else v[0], a)
            for a in template
        ]
        for cc in _ccs(args.cc):
            jobspecs.append(build_jobspec(args, _subst_cc(cmd, cc)))
    if args.dry_run:
        for js in jobspecs:
            ctx.print(" ".join(js.tasks[0]["command"]))
        return 0
    ids = [JobID(i) for i in _submit_many(ctx, args, jobspecs)]
    if not args.quiet:
        for jid in ids:
            ctx.print(jid.f58)
    ctx.result = ids
    return _maybe_follow(args, ctx, ids)
