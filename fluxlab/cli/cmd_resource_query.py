"""``fluxlab resource-query``: Fluxion's offline matcher (the graph scheduler library).

All arguments are handed to :func:`fluxlab.sched.query.tool.main`, which speaks
the same options and command language as Fluxion's ``resource-query``.
"""

from __future__ import annotations

import argparse
import sys


def add_parser(sub, name, helptext):
    p = sub.add_parser(name, help=helptext, add_help=False, description=__doc__)
    p.add_argument("args", nargs=argparse.REMAINDER, help="resource-query options (try --help)")
    p.set_defaults(func=run)
    return p


def run_argv(argv: list[str], ctx) -> int:
    from fluxlab.sched.query.tool import main

    stdin = getattr(ctx, "stdin", None) or sys.stdin
    return main(argv, stdin=stdin, stdout=ctx.stdout, stderr=ctx.stderr)


def run(args, ctx) -> int:
    return run_argv(args.args, ctx)
