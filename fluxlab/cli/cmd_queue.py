"""``fluxlab queue list|status|enable|disable|start|stop``."""

from __future__ import annotations


def add_parser(sub, name, helptext):
    p = sub.add_parser(name, help=helptext)
    s = p.add_subparsers(dest="queue_cmd", metavar="SUBCOMMAND", required=True)
    for cmd, h in (
        ("list", "list queues"),
        ("status", "show whether submission and scheduling are on"),
        ("enable", "accept submissions"),
        ("disable", "refuse submissions"),
        ("start", "start scheduling"),
        ("stop", "stop scheduling (jobs wait)"),
    ):
        x = s.add_parser(cmd, help=h)
        if cmd in ("disable", "stop"):
            x.add_argument("reason", nargs="*", help="reason shown to users")
        x.set_defaults(func=run)
    return p


def run(args, ctx) -> int:
    h = ctx.h
    cmd = args.queue_cmd
    if cmd in ("status", "list"):
        st = h.rpc("job-manager.queue-status").get()
    else:
        payload = {}
        if getattr(args, "reason", None):
            payload["reason"] = " ".join(args.reason)
        st = h.rpc(f"job-manager.queue-{cmd}", payload).get()
    if cmd == "list":
        ctx.print(f"{'QUEUE':<10} {'EN':<3} {'ST':<3} {'TDEFAULT':>8} {'NODES':>6}")
        ctx.print(
            f"{'default':<10} {'✔' if st['enable'] else '✗':<3} {'✔' if st['start'] else '✗':<3} "
            f"{'inf':>8} {'0-inf':>6}"
        )
    elif cmd == "status":
        en = (
            "enabled"
            if st["enable"]
            else f"disabled: {st.get('disable_reason') or ''}".rstrip(": ")
        )
        ctx.print(f"Job submission is {en}")
        ctx.print(f"Scheduling is {'started' if st['start'] else 'stopped'}")
    return 0
