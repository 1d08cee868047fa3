"""``fluxlab job info|eventlog|attach|wait|kill|urgency|last|status|id|raise|purge|memo|wait-event``."""

from __future__ import annotations

import json
import time

from fluxlab.cli.main import CommandError


def _id(raw: str) -> int:
    from fluxlab.job.jobid import JobIDError, id_parse

    try:
        return id_parse(raw)
    except JobIDError as e:
        raise CommandError(str(e)) from None


#: ``-p`` shorthands, as flux-core's ``flux job eventlog/wait-event`` take them
_EVENTLOG_PATHS = {"exec": "guest.exec.eventlog", "output": "guest.output", "input": "guest.input"}
_PATH_HELP = "eventlog (default), exec (guest.exec.eventlog), output (guest.output), or a key"


def _eventlog_path(text: str) -> str:
    return _EVENTLOG_PATHS.get(text, text)


def add_parser(sub, name, helptext):
    p = sub.add_parser(name, help=helptext)
    s = p.add_subparsers(dest="job_cmd", metavar="SUBCOMMAND", required=True)

    x = s.add_parser("info", help="print job data: jobspec, R, eventlog, guest.exec.eventlog ...")
    x.add_argument("jobid")
    x.add_argument("keys", nargs="+", metavar="KEY")
    x.set_defaults(func=run_info)

    x = s.add_parser("eventlog", help="print a job eventlog")
    x.add_argument("-f", "--format", choices=["text", "json"], default="text")
    x.add_argument("-T", "--time-format", choices=["raw", "iso", "offset"], default="raw")
    x.add_argument("-p", "--path", type=_eventlog_path, default="eventlog", help=_PATH_HELP)
    x.add_argument(
        "-F", "--follow", action="store_true", help="keep printing until the eventlog ends"
    )
    x.add_argument("jobid")
    x.set_defaults(func=run_eventlog)

    x = s.add_parser("attach", help="stream a job's output until it finishes; exit with its code")
    x.add_argument("-l", "--label-io", action="store_true")
    x.add_argument("jobid")
    x.set_defaults(func=run_attach)

    x = s.add_parser("status", help="wait for jobs to finish; exit with the largest exit code")
    x.add_argument("jobids", nargs="+", metavar="JOBID")
    x.set_defaults(func=run_status)

    x = s.add_parser("wait", help="wait for a waitable job (or any, or --all)")
    x.add_argument("-a", "--all", action="store_true")
    x.add_argument("-v", "--verbose", action="store_true")
    x.add_argument("jobid", nargs="?")
    x.set_defaults(func=run_wait)

    x = s.add_parser("kill", help="send a signal to running jobs")
    x.add_argument("-s", "--signal", default="SIGTERM", help="name or number (default SIGTERM)")
    x.add_argument("jobids", nargs="+", metavar="JOBID")
    x.set_defaults(func=run_kill)

    x = s.add_parser("urgency", help="set a pending job's urgency (0-31, hold, default, expedite)")
    x.add_argument("-v", "--verbose", action="store_true", help="print the old urgency")
    x.add_argument("jobid")
    x.add_argument("urgency")
    x.set_defaults(func=run_urgency)

    x = s.add_parser("last", help="print your most recently submitted job ids")
    x.add_argument("count", nargs="?", default="1", help="how many, or a Python slice like [:3]")
    x.set_defaults(func=run_last)

    x = s.add_parser("id", help="convert job ids between encodings")
    x.add_argument(
        "-t",
        "--to",
        default="dec",
        choices=["dec", "f58", "f58plain", "hex", "dothex", "kvs", "words", "emoji"],
    )
    x.add_argument("jobids", nargs="*", metavar="JOBID")
    x.set_defaults(func=run_id)

    x = s.add_parser("raise", help="raise an exception on a job")
    x.add_argument("-s", "--severity", type=int, default=0, help="0 (fatal) .. 7")
    x.add_argument("-t", "--type", default="cancel", help="exception type (default cancel)")
    x.add_argument("jobid")
    x.add_argument("note", nargs="*")
    x.set_defaults(func=run_raise)

    x = s.add_parser("purge", help="remove inactive jobs (dry run unless --force)")
    x.add_argument("--force", action="store_true")
    x.add_argument("--num-limit", type=int, default=-1, help="keep at most N inactive jobs")
    x.add_argument("--age-limit", default=None, help="purge jobs inactive longer than FSD")
    x.set_defaults(func=run_purge)

    x = s.add_parser("memo", help="attach KEY=VALUE memos to a job")
    x.add_argument("jobid")
    x.add_argument("pairs", nargs="+", metavar="KEY=VALUE")
    x.set_defaults(func=run_memo)

    x = s.add_parser("wait-event", help="wait for an event in a job eventlog")
    x.add_argument("-t", "--timeout", type=float, default=None)
    x.add_argument("-p", "--path", type=_eventlog_path, default="eventlog", help=_PATH_HELP)
    x.add_argument("-q", "--quiet", action="store_true")
    x.add_argument("jobid")
    x.add_argument("event")
    x.set_defaults(func=run_wait_event)
    return p


def run_info(args, ctx) -> int:
    from fluxlab.core.errors import FluxError
    from fluxlab.job.ingest import job_key

    jobid = _id(args.jobid)
    for key in args.keys:
        try:
            resp = ctx.h.rpc("kvs.lookup", {"key": job_key(jobid, key)}).get()
        except FluxError as e:
            raise CommandError(
                f"{args.jobid}: {key}: {'no such key (job unknown or not started)' if e.errno == 2 else e}"
            ) from None
        ctx.print(resp.get("data", "").rstrip("\n"))
    return 0


def format_event(ev, time_format: str = "raw", t0: float | None = None) -> str:
    ts = ev.timestamp
    if time_format == "iso":
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1e6):06d}Z"
    elif time_format == "offset":
        stamp = f"{ts - (t0 if t0 is not None else ts):.6f}"
    else:
        stamp = f"{ts:.6f}"
    parts = [stamp, ev.name]
    for k, v in ev.context.items():
        parts.append(f"{k}={v if isinstance(v, str) else json.dumps(v, separators=(',', ':'))}")
    return " ".join(parts)


def run_eventlog(args, ctx) -> int:
    from fluxlab.core.errors import FluxError
    from fluxlab.job.event import event_watch_async
    from fluxlab.job.eventlog import parse_eventlog
    from fluxlab.job.ingest import job_key

    jobid = _id(args.jobid)
    if args.follow:
        events = event_watch_async(ctx.h, jobid, args.path)
    else:
        try:
            text = ctx.h.rpc("kvs.lookup", {"key": job_key(jobid, args.path)}).get().get("data", "")
        except FluxError as e:
            raise CommandError(
                f"{args.jobid}: {'job or eventlog not found' if e.errno == 2 else e}"
            ) from None
        events = parse_eventlog(text)
    t0 = None
    for ev in events:
        t0 = ev.timestamp if t0 is None else t0
        if args.format == "json":
            ctx.print(json.dumps(dict(ev), separators=(",", ":")), flush=True)
        else:
            ctx.print(format_event(ev, args.time_format, t0), flush=True)
    return 0


def run_attach(args, ctx) -> int:
    from fluxlab.cli.watch import JobFollower

    return JobFollower(
        ctx.h,
        [_id(args.jobid)],
        label_io=args.label_io,
        stdout=ctx.stdout,
        stderr=ctx.stderr,
        prog="fluxlab-job",
    ).run()


def run_status(args, ctx) -> int:
    from fluxlab.cli.watch import JobFollower

    return JobFollower(
        ctx.h,
        [_id(j) for j in args.jobids],
        output=False,
        stdout=ctx.stdout,
        stderr=ctx.stderr,
        prog="fluxlab-job",
    ).run()


def run_wait(args, ctx) -> int:
    from fluxlab.core.errors import FluxError
    from fluxlab.job.wait import JOBID_ANY, wait

    if args.all:
        if args.jobid:
            raise CommandError("give a job id or --all, not both")
        rc = 0
        while True:
            try:
                r = wait(ctx.h, JOBID_ANY)
            except FluxError as e:
                if e.errno == 10:  # ECHILD: no more waitable jobs
                    return rc
                raise
            if not r.success:
                ctx.stderr.write(f"fluxlab-job: {r.jobid.f58}: {r.errstr}\n")
                rc = 1
            elif args.verbose:
                ctx.stderr.write(f"fluxlab-job: {r.jobid.f58}: Success\n")
    r = wait(ctx.h, _id(args.jobid) if args.jobid else JOBID_ANY)
    if not args.jobid:
        ctx.print(r.jobid.f58)
    if not r.success:
        ctx.stderr.write(f"fluxlab-job: {r.errstr}\n")
        return 1
    return 0


def _signum(text: str) -> int:
    import signal

    t = text.strip().upper()
    if t.isdigit():
        return int(t)
    name = t if t.startswith("SIG") else f"SIG{t}"
    try:
        return int(getattr(signal.Signals, name))
    except AttributeError:
        raise CommandError(f"--signal: unknown signal {text!r}") from None


def run_kill(args, ctx) -> int:
    from fluxlab.core.errors import FluxError
    from fluxlab.job.kill import kill_async

    sig = _signum(args.signal)
    rc = 0
    for raw, f in [(j, kill_async(ctx.h, _id(j), sig)) for j in args.jobids]:
        try:
            f.get()
        except FluxError as e:
            ctx.stderr.write(f"fluxlab-job: {raw}: {e}\n")
            rc = 1
    return rc


def run_urgency(args, ctx) -> int:
    from fluxlab.cli.job_opts import parse_urgency_arg

    resp = ctx.h.rpc(
        "job-manager.urgency", {"id": _id(args.jobid), "urgency": parse_urgency_arg(args.urgency)}
    ).get()
    if args.verbose:
        ctx.print(resp.get("old_urgency"))
    return 0


def run_last(args, ctx) -> int:
    from fluxlab.job.jobid import JobID
    from fluxlab.job.list import JobList

    spec = args.count.strip()
    jobs = sorted(
        JobList(ctx.h, filters=["pending", "running", "inactive"]).jobs(),
        key=lambda j: -float(j.t_submit or 0),
    )
    ids = [JobID(int(j.id)) for j in jobs]
    if spec.startswith("[") and spec.endswith("]"):
        try:
            parts = [int(p) if p.strip() else None for p in spec[1:-1].split(":")]
            chosen = ids[slice(*parts)]
        except (ValueError, TypeError):
            raise CommandError(f"invalid slice {spec!r}") from None
    else:
        try:
            chosen = ids[: int(spec)]
        except ValueError:
            raise CommandError(f"count must be a number or a slice, not {spec!r}") from None
    if not chosen:
        raise CommandError("no jobs found")
    for jid in chosen:
        ctx.print(jid.f58)
    return 0


def run_id(args, ctx) -> int:
    import sys

    from fluxlab.job.jobid import id_encode

    values = args.jobids or [line.strip() for line in sys.stdin if line.strip()]
    for raw in values:
        ctx.print(id_encode(_id(raw), args.to))
    return 0


def run_raise(args, ctx) -> int:
    from fluxlab.job.kill import job_raise

    job_raise(ctx.h, _id(args.jobid), args.type, args.severity, " ".join(args.note))
    return 0


def run_purge(args, ctx) -> int:
    from fluxlab.job.duration import DurationError, parse_fsd

    age = -1.0
    if args.age_limit is not None:
        try:
            age = parse_fsd(args.age_limit)
        except DurationError as e:
            raise CommandError(f"--age-limit: {e}") from None
    if args.num_limit < 0 and age < 0:
        raise CommandError("give --num-limit and/or --age-limit")
    r = ctx.h.rpc(
        "job-manager.purge", {"num": args.num_limit, "age": age, "force": args.force}
    ).get()
    if args.force:
        ctx.print(f"purged {r['count']} inactive jobs")
    else:
        ctx.print(f"use --force to purge {r['count']} inactive jobs")
    return 0


def run_memo(args, ctx) -> int:
    memo = {}
    for pair in args.pairs:
        k, sep, v = pair.partition("=")
        if not sep or not k:
            raise CommandError(f"expected KEY=VALUE, not {pair!r}")
        try:
            memo[k] = json.loads(v)
        except ValueError:
            memo[k] = v
    ctx.h.rpc("job-manager.memo", {"id": _id(args.jobid), "memo": memo}).get()
    return 0


def run_wait_event(args, ctx) -> int:
    from fluxlab.job.event import event_watch_async

    w = event_watch_async(ctx.h, _id(args.jobid), args.path)
    deadline = None if args.timeout is None else time.monotonic() + args.timeout
    try:
        while True:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                ev = w.get_event(timeout=remaining)
            except TimeoutError:
                raise CommandError(f"timed out waiting for {args.event}") from None
            if ev is None:
                raise CommandError(f"eventlog ended without {args.event}")
            if ev.name == args.event:
                if not args.quiet:
                    ctx.print(format_event(ev))
                return 0
    finally:
        w.cancel()
