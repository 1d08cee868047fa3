"""``fluxlab jobs``: list jobs like ``flux jobs``."""

from __future__ import annotations

import json

from fluxlab.cli.main import CommandError


def add_parser(sub, name, helptext):
    p = sub.add_parser(
        name,
        help=helptext,
        description=(
            "List jobs. By default: your active jobs. FORMAT may be a named format "
            "(default, long, deps, endreason, cute) or a format string such as "
            "'{id.f58:>12} {state} {runtime!F}'."
        ),
    )
    p.add_argument("-a", action="store_true", dest="all_states", help="include inactive jobs")
    p.add_argument("-A", action="store_true", dest="all_users", help="jobs of every user")
    p.add_argument(
        "-f",
        "--filter",
        action="append",
        default=[],
        metavar="STATES|RESULTS",
        help="e.g. pending,running or completed,failed",
    )
    p.add_argument("-o", "--format", default="default", metavar="FORMAT")
    p.add_argument("-n", "--no-header", action="store_true", help="omit the heading row")
    p.add_argument("-c", "--count", type=int, default=None, metavar="N", help="show at most N jobs")
    p.add_argument(
        "-u", "--user", default=None, metavar="USER", help="jobs of USER ('all' for all)"
    )
    p.add_argument("--name", default=None, help="only jobs with this name")
    p.add_argument("-q", "--queue", default=None, help="only jobs in this queue")
    p.add_argument(
        "--since",
        default=None,
        metavar="WHEN",
        help="inactive jobs since a time (-1h, timestamp ...); implies -a",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--stats", action="store_true", help="print job counts per state first")
    p.add_argument("--stats-only", action="store_true", help="print only job counts")
    p.add_argument("jobids", nargs="*", metavar="JOBID")
    p.set_defaults(func=run)
    return p


def _since(text: str) -> float:
    import time

    from fluxlab.job.duration import DurationError, parse_fsd

    t = text.strip()
    if t.startswith("-"):
        try:
            return time.time() - parse_fsd(t[1:])
        except DurationError as e:
            raise CommandError(f"--since: {e}") from None
    try:
        return float(t)
    except ValueError:
        raise CommandError(
            f"--since: cannot parse {text!r} (use -DURATION or a timestamp)"
        ) from None


def _stats(infos) -> str:
    from fluxlab.job.states import JobState

    counts = {"pending": 0, "running": 0, "complete": 0, "failed": 0, "inactive": 0}
    for j in infos:
        st = int(j.state_id) if hasattr(j, "state_id") else 0
        if st & int(JobState.PENDING | JobState.NEW):
            counts["pending"] += 1
        elif st & int(JobState.RUNNING):
            counts["running"] += 1
        else:
            counts["inactive"] += 1
            if j.success:
                counts["complete"] += 1
            else:
                counts["failed"] += 1
    return (
        f"{counts['running']} running, {counts['complete']} completed, {counts['failed']} failed, "
        f"{counts['pending']} pending, {counts['inactive']} inactive"
    )


def run(args, ctx) -> int:
    from fluxlab.job.info_format import JobInfoFormat, get_job_format
    from fluxlab.job.jobid import JobIDError, id_parse
    from fluxlab.job.list import JobList
    from fluxlab.util.outputformat import FormatError

    try:
        fmt = JobInfoFormat(get_job_format(args.format))
    except (FormatError, ValueError, KeyError) as e:
        raise CommandError(f"--format: {e}") from None
    ids = []
    for raw in args.jobids:
        try:
            ids.append(id_parse(raw))
        except JobIDError as e:
            raise CommandError(str(e)) from None
    filters = list(args.filter)
    if not filters and not ids:
        filters = (
            ["pending", "running"]
            if not (args.all_states or args.since)
            else ["pending", "running", "inactive"]
        )
    user = "all" if args.all_users else args.user
    try:
        jl = JobList(
            ctx.h,
            filters=filters,
            ids=ids,
            user=user,
            max_entries=args.count if args.count is not None else 1000,
            since=_since(args.since) if args.since else 0.0,
            name=args.name,
            queue=args.queue,
        )
    except ValueError as e:
        raise CommandError(str(e)) from None
    infos = jl.jobs()
    for err in jl.errors:
        ctx.stderr.write(f"fluxlab-jobs: {err}\n")
    if args.stats or args.stats_only:
        ctx.print(_stats(infos))
        if args.stats_only:
            return 0
        ctx.print()
    if args.json:
        out = [j.to_dict(filtered=True) if hasattr(j, "to_dict") else {} for j in infos]
        ctx.print(json.dumps(out if len(out) != 1 or not ids else out[0], default=str))
        return 1 if jl.errors else 0
    try:
        for line in fmt.render(infos, no_header=args.no_header):
            ctx.print(line)
    except FormatError as e:
        raise CommandError(f"--format: {e}") from None
    return 1 if jl.errors else 0
