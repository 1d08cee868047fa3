"""``resource-query``: match jobspecs against a resource graph, offline.

Same options and command language as Fluxion's ``resource-query``::

    python -m fluxlab.sched.query -L graph.graphml -P high -t out.txt < cmds

``-L FILE`` graph (``-f grug|jgf|jgf_shorthand|rv1exec|rv1exec_force``),
``-W TYPES`` allowlist, ``-S`` matcher subsystems (``CA``, ``C+PA`` ...),
``-P`` match policy, ``-F`` output format, ``-p``/``--prune-filters``
``HL:LL`` pairs (repeatable), ``-t FILE`` results file, ``-r N`` (accepted
for compatibility), ``-e`` timings, ``-d`` no prompt, ``-g``/``-o`` graph
export (``dot`` or ``graphml``).  Commands: see
:mod:`fluxlab.sched.query.commands` or type ``help``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from fluxlab.sched.context import ENGINES, SUBSYSTEM_SETS, ResourceQuery
from fluxlab.sched.errors import SchedError
from fluxlab.sched.policies import POLICIES, parse_policy_string
from fluxlab.sched.query.commands import Session, find_command
from fluxlab.sched.readers import READERS
from fluxlab.sched.writers import FORMATS

__all__ = ["main", "build_parser"]

_FORMATS = ("simple", "pretty_simple", "jgf", "jgf_shorthand", "rlite", "rv1", "rv1_nosched")


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise _UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="resource-query",
        add_help=False,
        description="Select the best-matching resources for jobspecs (Flux RFC 14) from a "
        "resource graph, offline, with Fluxion's command language.",
    )
    p.add_argument("-h", "--help", action="store_true", help="display this usage information")
    p.add_argument(
        "-L",
        "--load-file",
        default="conf/default",
        help="graph file to load (default: conf/default)",
    )
    p.add_argument(
        "-f",
        "--load-format",
        default="grug",
        help="format of the load file: grug (default), jgf, jgf_shorthand, rv1exec, rv1exec_force",
    )
    p.add_argument(
        "-W",
        "--load-allowlist",
        action="append",
        default=[],
        help="resource types to load (comma list); the cluster is always kept",
    )
    p.add_argument(
        "-S",
        "--match-subsystems",
        default="CA",
        help="matcher subsystems: " + "|".join(SUBSYSTEM_SETS) + " (default CA)",
    )
    p.add_argument(
        "-P",
        "--match-policy",
        default="first",
        help="match policy: " + "|".join(POLICIES) + " or a custom policy string (default first)",
    )
    p.add_argument(
        "-F",
        "--match-format",
        default="simple",
        help="output format: " + "|".join(_FORMATS) + " (default simple)",
    )
    p.add_argument(
        "-g", "--graph-format", default="dot", help="format of the -o graph export: dot|graphml"
    )
    p.add_argument(
        "-o",
        "--graph-output",
        default="",
        help="write the graph to BASENAME.<ext> at the end of the session",
    )
    p.add_argument(
        "-p",
        "--prune-filters",
        action="append",
        default=[],
        help="HL:LL pruning filters, e.g. ALL:core,ALL:node (the default)",
    )
    p.add_argument(
        "-t",
        "--test-output",
        default=None,
        help="write match results to this file instead of stdout",
    )
    p.add_argument(
        "-r",
        "--reserve-vtx-vec",
        default="0",
        help="pre-size vertex storage (accepted for compatibility)",
    )
    p.add_argument("-e", "--elapse-time", action="store_true", help="print timings")
    p.add_argument(
        "--engine",
        default="exact",
        choices=ENGINES,
        help="matcher engine (fluxlab extension): exact (Fluxion's results, the "
        "default), fast (indexed fast path, ties in discovery order) or stable",
    )
    p.add_argument("-d", "--disable-prompt", action="store_true", help="don't print the prompt")
    return p


def _write_graph(rq: ResourceQuery, base: str, fmt: str) -> None:
    import networkx as nx

    g = rq.graph.to_networkx()
    if fmt == "graphml":
        flat = g.copy()
        for _n, d in flat.nodes(data=True):
            d["paths"] = str(d["paths"])
            d["properties"] = str(d["properties"])
        nx.write_graphml(flat, base + ".graphml")
    else:
        with open(base + ".dot", "w") as f:
            f.write("digraph G {\n")
            for n, d in g.nodes(data=True):
                f.write(f'{n}[label="{d["name"]}"];\n')
            for a, b, d in g.edges(data=True):
                f.write(f'{a}->{b} [label="{d["subsystem"]}"];\n')
            f.write("}\n")


def main(argv: list[str] | None = None, stdin=None, stdout=None, stderr=None) -> int:
    """Run a resource-query session; return the exit status."""
    stdin = stdin if stdin is not None else sys.stdin
    stdout = stdout if stdout is not None else sys.stdout
    stderr = stderr if stderr is not None else sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    except _UsageError as exc:
        stderr.write(f"resource-query: {exc}\n")
        stderr.write(parser.format_help())
        return 1
    if args.help:
        stderr.write(parser.format_help())
        return 0
    problem = None
    if not os.path.exists(args.load_file):
        problem = f"[ERROR] file does not exist for --load-file: {args.load_file}\n"
    elif os.path.isdir(args.load_file):
        problem = f"[ERROR] path passed to --load-file is a directory: {args.load_file}\n"
    elif args.load_format not in READERS:
        problem = f"[ERROR] unknown format for --load-format: {args.load_format}\n"
    elif args.match_format not in _FORMATS or args.match_format not in FORMATS:
        problem = f"[ERROR] unknown format for --match-format: {args.match_format}\n"
    elif args.graph_format.lower() not in ("dot", "graphml"):
        problem = f"[ERROR] unknown format for --graph-format: {args.graph_format}\n"
    elif args.match_policy not in POLICIES:
        try:
            parse_policy_string(args.match_policy)
        except SchedError:
            problem = f"[ERROR] unknown match policy: {args.match_policy}\n"
    if problem:
        stderr.write(problem)
        stderr.write(parser.format_help())
        return 1
    prune = ",".join(p for p in args.prune_filters if p.strip()) or "ALL:core,ALL:node"
    allow = ",".join("cluster," + w for w in args.load_allowlist if w.strip())
    t0 = time.perf_counter()
    try:
        with open(args.load_file, encoding="utf-8", errors="surrogateescape") as f:
            text = f.read()
        rq = ResourceQuery(
            text,
            load_format=args.load_format,
            load_allowlist=allow,
            subsystems=args.match_subsystems,
            policy=args.match_policy,
            match_format=args.match_format,
            prune_filters=prune,
            engine=args.engine,
        )
    except (SchedError, OSError) as exc:
        stderr.write(f": Runtime error: resource_query_t: ERROR: {exc}\n")
        return 1
    if args.elapse_time:
        g = rq.graph
        stdout.write(f"INFO: Graph Load Time: {time.perf_counter() - t0}\n")
        stdout.write(f"INFO: Vertex Count: {sum(g.alive)}\n")
        stdout.write(f"INFO: Edge Count: {sum(g.e_alive)}\n")
    out = open(args.test_output, "w") if args.test_output else stdout
    session = Session(rq, out, stderr, stdout, args.elapse_time)
    try:
        for line in stdin:
            if not args.disable_prompt and stdin.isatty():
                stdout.write("resource-query> ")
            tokens = line.split()
            if not tokens:
                continue
            cmd = find_command(tokens[0])
            if cmd is None:
                continue
            if cmd(session, tokens) != 0:
                break
    finally:
        if out is not stdout:
            out.close()
    if args.graph_output:
        _write_graph(rq, args.graph_output, args.graph_format.lower())
    return 0
