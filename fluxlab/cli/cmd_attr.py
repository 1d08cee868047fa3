"""``fluxlab getattr|setattr|lsattr``: broker attributes."""

from __future__ import annotations

from fluxlab._proto import NODEID_ANY


def _rank(p):
    p.add_argument("-r", "--rank", type=int, default=None, help="ask the broker of this rank")


def add_parser_getattr(sub, name, helptext):
    p = sub.add_parser(name, help=helptext)
    _rank(p)
    p.add_argument("name", help="attribute name")
    p.set_defaults(func=run_getattr)
    return p


def add_parser_setattr(sub, name, helptext):
    p = sub.add_parser(name, help=helptext)
    _rank(p)
    p.add_argument("name", help="attribute name")
    p.add_argument("value", help="new value")
    p.set_defaults(func=run_setattr)
    return p


def add_parser_lsattr(sub, name, helptext):
    p = sub.add_parser(name, help=helptext)
    _rank(p)
    p.add_argument("-v", "--values", action="store_true", help="show values too")
    p.set_defaults(func=run_lsattr)
    return p


def _nodeid(args) -> int:
    return NODEID_ANY if args.rank is None else args.rank


def run_getattr(args, ctx) -> int:
    ctx.print(ctx.h.rpc("attr.get", {"name": args.name}, nodeid=_nodeid(args)).get()["value"])
    return 0


def run_setattr(args, ctx) -> int:
    ctx.h.rpc("attr.set", {"name": args.name, "value": args.value}, nodeid=_nodeid(args)).get()
    return 0


def run_lsattr(args, ctx) -> int:
    resp = ctx.h.rpc("attr.list", nodeid=_nodeid(args)).get()
    if not args.values:
        for n in resp["names"]:
            ctx.print(n)
        return 0
    width = max((len(n) for n in resp["names"]), default=0)
    for n, v, _flags in resp["attrs"]:
        ctx.print(f"{n:<{width}}  {v if v != '' else '-'}")
    return 0
