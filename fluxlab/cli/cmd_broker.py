"""Broker-level commands: shutdown, dmesg, ping, uptime, event, keygen."""

from __future__ import annotations

import getpass
import json
import os
import time

from fluxlab._proto import FLAG_STREAMING, NODEID_ANY
from fluxlab.cli.main import CommandError


# -- shutdown ------------------------------------------------------------------
def add_parser_shutdown(sub, name, helptext):
    p = sub.add_parser(name, help=helptext)
    p.add_argument("--reason", default="fluxlab shutdown", help="reason recorded in the log")
    p.set_defaults(func=run_shutdown)
    return p


def run_shutdown(args, ctx) -> int:
    ctx.h.rpc("broker.shutdown", {"reason": args.reason}, nodeid=0).get()
    return 0


# -- dmesg ---------------------------------------------------------------------
def add_parser_dmesg(sub, name, helptext):
    p = sub.add_parser(name, help=helptext)
    p.add_argument("-C", "--clear", action="store_true", help="clear the ring buffer")
    p.add_argument("-c", "--read-clear", action="store_true", help="print, then clear")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new entries")
    p.add_argument("-n", "--new", action="store_true", help="with --follow, only new entries")
    p.add_argument("-H", "--human", action="store_true", help="human-readable timestamps")
    p.add_argument("-r", "--rank", type=int, default=0, help="broker rank (default 0)")
    p.set_defaults(func=run_dmesg)
    return p


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1e6):06d}Z"


def run_dmesg(args, ctx) -> int:
    from fluxlab.broker.logbuf import level_name

    h = ctx.h
    if not args.clear:
        fut = h.rpc(
            "log.dmesg",
            {"follow": args.follow, "nobacklog": args.new},
            nodeid=args.rank,
            flags=FLAG_STREAMING,
        )
        try:
            for e in fut.stream():
                ts = (
                    time.strftime("%b %d %H:%M:%S", time.localtime(e["timestamp"]))
                    if args.human
                    else _iso(e["timestamp"])
                )
                ctx.print(
                    f"{ts} {e['component']}.{level_name(e['level'])}[{e['rank']}]: {e['message']}",
                    flush=args.follow,
                )
        except KeyboardInterrupt:
            fut.cancel()
            return 0
    if args.clear or args.read_clear:
        h.rpc("log.clear", nodeid=args.rank).get()
    return 0


# -- ping ----------------------------------------------------------------------
def add_parser_ping(sub, name, helptext):
    p = sub.add_parser(
        name,
        help=helptext,
        description=(
            "TARGET is a rank (ping its broker), a service (nearest rank), or RANK!SERVICE."
        ),
    )
    p.add_argument("-c", "--count", type=int, default=1, help="number of pings (default 1)")
    p.add_argument("-i", "--interval", type=float, default=1.0, help="seconds between pings")
    p.add_argument("-p", "--pad", type=int, default=0, help="pad the payload with N bytes")
    p.add_argument("target", help="RANK, SERVICE or RANK!SERVICE")
    p.set_defaults(func=run_ping)
    return p


def _parse_target(target: str) -> tuple[int, str]:
    if "!" in target:
        r, _, svc = target.partition("!")
        rank = NODEID_ANY if r in ("any", "") else _int(r, "rank")
        return rank, svc or "broker"
    if target.isdigit():
        return int(target), "broker"
    if target in ("any", "upstream"):
        return NODEID_ANY, "broker"
    return NODEID_ANY, target


def _int(s: str, what: str) -> int:
    try:
        return int(s)
    except ValueError:
        raise CommandError(f"invalid {what} {s!r}") from None


def run_ping(args, ctx) -> int:
    if args.count < 1:
        raise CommandError("--count must be at least 1")
    rank, svc = _parse_target(args.target)
    h = ctx.h
    pad = "x" * args.pad
    for seq in range(args.count):
        t0 = time.perf_counter()
        resp = h.rpc(f"{svc}.ping", {"seq": seq, "pad": pad}, nodeid=rank).get()
        ms = (time.perf_counter() - t0) * 1000
        where = "any" if rank == NODEID_ANY else str(rank)
        ctx.print(
            f"{where}!{svc}.ping pad={args.pad} seq={seq} time={ms:.3f} ms "
            f"(rank {resp.get('rank')})",
            flush=True,
        )
        if seq + 1 < args.count:
            time.sleep(args.interval)
    return 0


# -- uptime --------------------------------------------------------------------
def add_parser_uptime(sub, name, helptext):
    p = sub.add_parser(name, help=helptext)
    p.set_defaults(func=run_uptime)
    return p


def fsd(seconds: float) -> str:
    """Flux Standard Duration with one decimal, like ``flux uptime``."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{seconds / 60:.1f}m"
    if seconds < 86400:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def run_uptime(args, ctx) -> int:
    h = ctx.h
    info = h.rpc("broker.uptime", nodeid=0).get()
    try:
        owner = getpass.getuser()
    except (KeyError, OSError):
        owner = str(info["userid"])
    lost = _count_lost(h, info["size"])
    now = time.strftime("%H:%M:%S")
    line = (
        f" {now} {info['state']} {fsd(info['uptime'])},  owner {owner},  depth {info['level']},  "
        f"size {info['size']}"
    )
    if lost:
        line += f",  {lost} lost"
    ctx.print(line)
    return 0


def _count_lost(h, size: int) -> int:
    from fluxlab.cli.overlay_tree import walk

    return sum(1 for n in walk(h, size) if n["status"] in ("lost", "unreachable"))


# -- event -----------------------------------------------------------------------
def add_parser_event(sub, name, helptext):
    p = sub.add_parser(name, help=helptext)
    s = p.add_subparsers(dest="event_cmd", metavar="pub|sub", required=True)
    pub = s.add_parser("pub", help="publish an event")
    pub.add_argument("topic")
    pub.add_argument("payload", nargs="?", help="JSON payload")
    pub.set_defaults(func=run_event_pub)
    sb = s.add_parser("sub", help="print events matching topic prefixes")
    sb.add_argument("-c", "--count", type=int, default=0, help="exit after N events")
    sb.add_argument("topics", nargs="*", default=[""], help="topic prefixes (default: all)")
    sb.set_defaults(func=run_event_sub)
    return p


def run_event_pub(args, ctx) -> int:
    payload = None
    if args.payload is not None:
        try:
            payload = json.loads(args.payload)
        except ValueError as e:
            raise CommandError(f"payload is not valid JSON: {e}") from None
    seq = ctx.h.event_send(args.topic, payload)
    ctx.print(seq)
    return 0


def run_event_sub(args, ctx) -> int:
    h = ctx.h
    for t in args.topics or [""]:
        h.event_subscribe(t)
    n = 0
    try:
        while not args.count or n < args.count:
            msg = h.event_recv(timeout=None)
            ctx.print(f"{msg.topic}\t{json.dumps(msg.payload)}", flush=True)
            n += 1
    except KeyboardInterrupt:
        pass
    return 0


# -- keygen ------------------------------------------------------------------------
def add_parser_keygen(sub, name, helptext):
    p = sub.add_parser(name, help=helptext)
    p.add_argument(
        "path",
        nargs="?",
        default=os.path.expanduser("~/.fluxlab/curve.cert"),
        help="where to write the certificate (default ~/.fluxlab/curve.cert)",
    )
    p.add_argument("-f", "--force", action="store_true", help="overwrite an existing file")
    p.set_defaults(func=run_keygen)
    return p


def run_keygen(args, ctx) -> int:
    from fluxlab.transport import keygen

    try:
        keygen(args.path, force=args.force)
    except FileExistsError as e:
        raise CommandError(str(e)) from None
    ctx.print(f"wrote {args.path}")
    return 0


add_parser = add_parser_shutdown
