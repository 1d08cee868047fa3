"""``fluxlab module list|load|remove``: broker modules at run time."""

from __future__ import annotations

from fluxlab.cli.main import CommandError


def _ranks(spec: str | None, h) -> list[int]:
    if spec is None:
        return [0]
    if spec == "all":
        return list(range(int(h.attr_get("size"))))
    from fluxlab.resource.idset import IDset, IdsetError

    try:
        return list(IDset(spec))
    except IdsetError as e:
        raise CommandError(f"--rank: {e}") from None


def add_parser(sub, name, helptext):
    p = sub.add_parser(name, help=helptext)
    s = p.add_subparsers(dest="module_cmd", metavar="list|load|remove", required=True)
    ls = s.add_parser("list", help="list loaded modules")
    ls.add_argument("-r", "--rank", default=None, help="ranks (idset or 'all'; default 0)")
    ls.set_defaults(func=run_list)
    ld = s.add_parser("load", help="load a module by name or .py path")
    ld.add_argument("-r", "--rank", default=None, help="ranks (idset or 'all'; default 0)")
    ld.add_argument(
        "--process",
        action="store_true",
        help="run the module in a process of its own (its own core) instead of the broker's thread",
    )
    ld.add_argument("name")
    ld.add_argument("args", nargs="*", help="module arguments (key=value ...)")
    ld.set_defaults(func=run_load)
    rm = s.add_parser("remove", help="remove a loaded module")
    rm.add_argument("-r", "--rank", default=None, help="ranks (idset or 'all'; default 0)")
    rm.add_argument("-f", "--force", action="store_true", help="no error if it is not loaded")
    rm.add_argument("name")
    rm.set_defaults(func=run_remove)
    return p


def run_list(args, ctx) -> int:
    h = ctx.h
    ranks = _ranks(args.rank, h)
    rows = []
    for r in ranks:
        for m in h.rpc("module.list", nodeid=r).get()["modules"]:
            rows.append(m)
    show_rank = len(ranks) > 1
    head = (
        "Rank  " if show_rank else ""
    ) + f"{'Module':<20} {'Uptime':>8} {'Requests':>9}  Service"
    ctx.print(head)
    for m in rows:
        prefix = f"{m['rank']:<4}  " if show_rank else ""
        services = ",".join(s for s in m["services"] if s != m["name"]) or m["name"]
        if "pid" in m:  # a module process
            services += f" (process {m['pid']})"
        ctx.print(f"{prefix}{m['name']:<20} {_dur(m['uptime']):>8} {m['requests']:>9}  {services}")
    return 0


def _dur(s: float) -> str:
    from fluxlab.cli.cmd_broker import fsd

    return fsd(s)


def run_load(args, ctx) -> int:
    h = ctx.h
    path = args.name
    import os

    if path.endswith(".py") or os.sep in path:
        path = os.path.abspath(path)
    proc = {"process": True} if args.process else {}
    futs = [
        (r, h.rpc("module.load", {"name": path, "args": args.args, **proc}, nodeid=r))
        for r in _ranks(args.rank, h)
    ]
    for r, f in futs:
        try:
            f.get()
        except OSError as e:
            raise CommandError(f"rank {r}: {e.strerror}") from None
    return 0


def run_remove(args, ctx) -> int:
    h = ctx.h
    futs = [
        (r, h.rpc("module.remove", {"name": args.name}, nodeid=r)) for r in _ranks(args.rank, h)
    ]
    for r, f in futs:
        try:
            f.get()
        except OSError as e:
            if not args.force:
                raise CommandError(f"rank {r}: {e.strerror}") from None
    return 0
