"""``fluxlab overlay status``: the broker tree and each rank's health."""

from __future__ import annotations

from fluxlab.cli.cmd_broker import fsd
from fluxlab.cli.overlay_tree import walk


def add_parser(sub, name, helptext):
    p = sub.add_parser(name, help=helptext)
    s = p.add_subparsers(dest="overlay_cmd", metavar="status", required=True)
    st = s.add_parser("status", help="show the tree with each rank's status")
    st.add_argument(
        "-v", "--verbose", action="store_true", help="show how long each status has held"
    )
    st.add_argument("--summary", action="store_true", help="one line: counts per status")
    st.add_argument("-t", "--timeout", type=float, default=5.0, help="per-rank RPC timeout")
    st.set_defaults(func=run_status)
    return p


def run_status(args, ctx) -> int:
    h = ctx.h
    size = int(h.attr_get("size"))
    nodes = walk(h, size, args.timeout)
    if args.summary:
        counts: dict[str, int] = {}
        for n in nodes:
            counts[n["status"]] = counts.get(n["status"], 0) + 1
        ctx.print(", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
        return 0
    by_parent: dict = {}
    for n in nodes:
        by_parent.setdefault(n["parent"], []).append(n)

    def show(node, prefix: str, last: bool, top: bool) -> None:
        label = f"{node['rank']} {node['hostname'] or '?'}: {node['status']}"
        if args.verbose and node["duration"]:
            label += f" for {fsd(node['duration'])}"
        if top:
            ctx.print(label)
            child_prefix = ""
        else:
            ctx.print(f"{prefix}{'└─ ' if last else '├─ '}{label}")
            child_prefix = prefix + ("   " if last else "│  ")
        kids = by_parent.get(node["rank"], [])
        for i, k in enumerate(kids):
            show(k, child_prefix, i == len(kids) - 1, False)

    show(by_parent[None][0], "", True, True)
    return 0
