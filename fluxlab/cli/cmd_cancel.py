"""``fluxlab cancel``: cancel jobs (a ``cancel`` exception)."""

from __future__ import annotations

from fluxlab.cli.main import CommandError


def add_parser(sub, name, helptext):
    p = sub.add_parser(name, help=helptext)
    p.add_argument("--all", action="store_true", help="cancel all your active jobs")
    p.add_argument("-m", "--message", default="", help="note recorded with the exception")
    p.add_argument(
        "-S", "--states", default="active", help="with --all: pending, running or active"
    )
    p.add_argument("-n", "--dry-run", action="store_true", help="with --all: only count")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("jobids", nargs="*", metavar="JOBID")
    p.set_defaults(func=run)
    return p


def run(args, ctx) -> int:
    from fluxlab.core.errors import FluxError
    from fluxlab.job.jobid import JobID, JobIDError, id_parse
    from fluxlab.job.kill import cancel_async
    from fluxlab.job.list import JobList

    if args.all and args.jobids:
        raise CommandError("give job ids or --all, not both")
    if not args.all and not args.jobids:
        raise CommandError("give one or more job ids, or --all")
    if args.all:
        states = {"active": ["pending", "running"], "pending": ["pending"], "running": ["running"]}
        if args.states not in states:
            raise CommandError("--states must be pending, running or active")
        ids = [j.id for j in JobList(ctx.h, filters=states[args.states]).jobs()]
        if args.dry_run:
            ctx.print(f"fluxlab-cancel: would cancel {len(ids)} jobs")
            return 0
    else:
        ids = []
        for raw in args.jobids:
            try:
                ids.append(id_parse(raw))
            except JobIDError as e:
                raise CommandError(str(e)) from None
    futs = [(jid, cancel_async(ctx.h, jid, args.message)) for jid in ids]
    rc = 0
    for jid, f in futs:
        try:
            f.get()
        except FluxError as e:
            ctx.stderr.write(f"fluxlab-cancel: {JobID(jid).f58}: {e}\n")
            rc = 1
    if args.all and not args.quiet:
        ctx.stderr.write(
            f"fluxlab-cancel: Canceled {len(ids)} jobs ({rc and 'some failed' or '0 errors'})\n"
        )
    return rc
