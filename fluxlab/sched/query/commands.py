"""The ``resource-query`` command language.

One command per line, whitespace-separated tokens; a line whose first word
is not a command is ignored (so ``#`` comments are harmless).  Results go to
``out`` (the ``-t`` file or stdout), errors to ``err``, timings (``-e``) and
``info``/``list``/``stat`` to ``tty`` (stdout).  Messages match Fluxion's
``resource-query`` so outputs can be compared byte for byte.
"""

from __future__ import annotations

import time

from fluxlab.sched.context import ResourceQuery
from fluxlab.sched.errors import SchedError
from fluxlab.sched.writers import dumps

__all__ = ["COMMANDS", "Session", "find_command"]

_BAR = "INFO: =============================\n"


def _strtoll(text: str) -> int:
    """C ``strtoll(text, NULL, 10)``: leading sign and digits, else 0."""
    s = text.lstrip()
    i = 1 if s[:1] in "+-" else 0
    j = i
    while j < len(s) and s[j].isdigit():
        j += 1
    return int(s[:j]) if j > i else 0


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            return f.read()
    except OSError:
        return None


class Session:
    """State of one interactive session: the query context and the streams."""

    def __init__(self, rq: ResourceQuery, out, err, tty, elapse: bool = False):
        self.rq = rq
        self.out = out
        self.err = err
        self.tty = tty
        self.elapse = elapse

    # -- output helpers -----------------------------------------------------------
    def schedule_info(self, jobid, matched, at, sat, ov) -> None:
        o = self.out
        rq = self.rq
        if matched:
            o.write(_BAR)
            o.write(f"INFO: JOBID={jobid}\n")
            o.write(f"INFO: RESOURCES={'ALLOCATED' if at == 0 else 'RESERVED'}\n")
            o.write(f"INFO: SCHEDULED AT={'Now' if at == 0 else at}\n")
            if self.elapse:
                self.tty.write(f"INFO: ELAPSE={ov:.6f}\n")
                self.tty.write(f"INFO: PREORDER VISIT COUNT={rq.traverser.preorder}\n")
                self.tty.write(f"INFO: POSTORDER VISIT COUNT={rq.traverser.postorder}\n")
            o.write(_BAR)
        else:
            o.write(_BAR)
            o.write("INFO: No matching resources found\n")
            if not sat:
                o.write("INFO: Unsatisfiable request\n")
            o.write(f"INFO: JOBID={jobid}\n")
            if self.elapse:
                o.write(f"INFO: ELAPSE={ov:.6f}\n")
                self.tty.write(f"INFO: PREORDER VISIT COUNT={rq.traverser.preorder}\n")
                self.tty.write(f"INFO: POSTORDER VISIT COUNT={rq.traverser.postorder}\n")
            o.write(_BAR)

    def matched_info(self, jobid, ov) -> None:
        o = self.out
        o.write(_BAR)
        o.write(f"INFO: JOBID={jobid}\n")
        o.write("INFO: RESOURCES=MATCHED\n")
        o.write("INFO: SCHEDULED AT=Now\n")
        o.write(_BAR)

    def sat_info(self, sat, ov) -> None:
        o = self.out
        o.write(_BAR)
        o.write(f"INFO: {'Satisfiable' if sat else 'Unsatisfiable'} request\n")
        o.write(_BAR)
        if self.elapse:
            self.tty.write(f"INFO: ELAPSE={ov:.6f}\n")

    def run_match(self, op: str, fn: str) -> int:
        text = _read(fn)
        if text is None:
            self.err.write(f"ERROR: can't open {fn}\n")
            return 0
        res = self.rq.match(op, text, fn)
        if res.error:
            self.err.write(res.error)
        self.out.write(res.text)
        if op == "satisfiability":
            self.sat_info(res.satisfiable and not res.error, res.overhead)
        elif res.matched and op.startswith("without_allocating"):
            self.matched_info(res.jobid, res.overhead)
        else:
            self.schedule_info(res.jobid, res.matched, res.at, res.satisfiable, res.overhead)
        return 0 if res.matched else -1


_SUBCMDS = (
    "allocate",
    "allocate_orelse_reserve",
    "allocate_with_satisfiability",
    "satisfiability",
    "without_allocating",
    "without_allocating_future",
)


def cmd_match(ss: Session, args) -> int:
    if len(args) != 3:
        ss.err.write("ERROR: malformed command\n")
        return 0
    if args[1] not in _SUBCMDS:
        ss.err.write(f"ERROR: unknown subcmd {args[1]}\n")
        return 0
    ss.run_match(args[1], args[2])
    return 0


def cmd_match_multi(ss: Session, args) -> int:
    if len(args) <= 3:
        ss.err.write("ERROR: malformed command\n")
        return 0
    if args[1] not in _SUBCMDS:
        ss.err.write(f"ERROR: unknown subcmd {args[1]}\n")
        return 0
    for fn in args[2:]:
        if ss.run_match(args[1], fn) != 0:
            break
    return 0


def cmd_update(ss: Session, args) -> int:
    if len(args) != 7:
        ss.err.write("ERROR: malformed command\n")
        return 0
    sub, reader, fn = args[1], args[2], args[3]
    if sub not in ("allocate", "reserve"):
        ss.err.write(f"ERROR: unknown subcmd {sub}\n")
        return 0
    if reader not in ("jgf", "rv1exec"):
        ss.err.write(f"ERROR: unsupported reader {reader}\n")
        return 0
    text = _read(fn)
    if text is None:
        ss.err.write(f"ERROR: can't open {fn}\n")
        return 0
    rq = ss.rq
    jobid = _strtoll(args[4])
    if jobid in rq.allocations or jobid in rq.reservations:
        ss.err.write("ERROR: existing Jobid \n")
        return 0
    at = _strtoll(args[5])
    d = _strtoll(args[6])
    if at < 0 or d == 0:
        ss.err.write(f"ERROR: invalid time ({at}, {d})\n")
        return 0
    res = rq.update(sub, reader, text, jobid, at, d)
    if res.error:
        ss.err.write(res.error)
    ss.out.write(res.text)
    ss.schedule_info(jobid, res.matched, at, True, res.overhead)
    return 0


def cmd_attach(ss: Session, args) -> int:
    if len(args) != 2:
        ss.err.write("ERROR: malformed command\n")
        return 0
    text = _read(args[1])
    if text is None:
        ss.err.write(f"ERROR: can't open {args[1]}\n")
        return 0
    try:
        ss.rq.attach(text)
    except SchedError as exc:
        ss.err.write("ERROR: can't attach JGF subgraph \n")
        ss.err.write(
            "ERROR: add_subgraph: ERROR: add subgraph error: Invalid argument\n"
            f"add_subgraph: ERROR: reader returned error: {exc}\n\n\n"
        )
    return 0


def cmd_remove(ss: Session, args) -> int:
    if len(args) != 3:
        ss.err.write("ERROR: malformed command\n")
        return 0
    if args[2] not in ("true", "false"):
        ss.err.write("ERROR: invalid path boolean input \n")
        return 0
    try:
        ss.rq.remove(args[1], args[2] == "true")
    except SchedError as exc:
        ss.err.write("ERROR: can't remove subgraph \n")
        ss.err.write(f"ERROR: {exc}\n")
    return 0


def cmd_find(ss: Session, args) -> int:
    if len(args) < 2:
        ss.err.write("ERROR: malformed command: \n")
        return 0
    criteria = " ".join(args[1:])
    try:
        o = ss.rq.find(criteria)
    except SchedError as exc:
        ss.err.write(f"ERROR: {exc}")
        return 0
    if getattr(ss.rq.writers, "error", False):
        ss.err.write("ERROR: writer emit: No such file or directory\n")
        return 0
    if o is not None:
        ss.out.write(o if isinstance(o, str) else dumps(o) + "\n")
    ss.out.write(_BAR)
    ss.out.write(f'INFO: EXPRESSION="{criteria}"\n')
    ss.out.write(_BAR)
    return 0


def cmd_cancel(ss: Session, args) -> int:
    if len(args) < 2 or len(args) > 3:
        ss.err.write("ERROR: malformed command\n")
        return 0
    jobid = _strtoll(args[1])
    try:
        ss.rq.cancel(jobid)
    except SchedError:
        ss.err.write(f"ERROR: nonexistent job {jobid}\n")
        return 0
    if len(args) == 3 and args[2] == "stats":
        t = ss.rq.traverser
        ss.out.write(_BAR)
        ss.out.write(f'INFO: CANCEL PREORDER COUNT="{t.preorder}"\n')
        ss.out.write(f'INFO: CANCEL POSTORDER COUNT="{t.postorder}"\n')
        ss.out.write(_BAR)
    return 0


def cmd_partial_cancel(ss: Session, args) -> int:
    if len(args) < 4 or len(args) > 5:
        ss.err.write("ERROR: malformed command\n")
        return 0
    jobid = _strtoll(args[1])
    reader = args[2]
    if reader not in ("jgf", "rv1exec"):
        ss.err.write(f"ERROR: unsupported reader {reader}\n")
        return 0
    text = _read(args[3])
    if text is None:
        ss.err.write(f"ERROR: can't open {args[3]}\n")
        return 0
    rq = ss.rq
    if jobid in rq.reservations:
        ss.err.write("ERROR: reservations not currently supported by partial cancel\n")
        return 0
    if jobid not in rq.allocations:
        ss.err.write(f"ERROR: nonexistent job {jobid}\n")
        return 0
    try:
        rq.partial_cancel(jobid, reader, text)
    except SchedError:
        ss.err.write(f"ERROR: error encountered while removing job {jobid}\n")
    if len(args) == 5 and args[4] == "stats":
        t = rq.traverser
        ss.out.write(_BAR)
        ss.out.write(f'INFO: PARTIAL CANCEL PREORDER COUNT="{t.preorder}"\n')
        ss.out.write(f'INFO: PARTIAL CANCEL POSTORDER COUNT="{t.postorder}"\n')
        ss.out.write(_BAR)
    return 0


def cmd_set_property(ss: Session, args) -> int:
    if len(args) != 3:
        ss.err.write("ERROR: malformed command\n")
        return 0
    path, kv = args[1], args[2]
    pos = kv.find("=")
    if pos <= 0 or pos == len(kv) - 1:
        ss.out.write(
            "Incorrect input format. \nPlease use `set-property <resource> PROPERTY=VALUE`.\n"
        )
        return 0
    g = ss.rq.graph
    vs = g.by_path.get(path)
    if vs is None:
        ss.out.write(f"Couldn't find path {path} in resource graph.\n")
        return 0
    for v in vs:
        if g.props[v] is None:
            g.props[v] = {}
        g.props[v][kv[:pos]] = kv[pos + 1 :]
    return 0


def cmd_get_property(ss: Session, args) -> int:
    if len(args) != 2:
        ss.err.write("ERROR: malformed command\n")
        return 0
    path = args[1]
    g = ss.rq.graph
    vs = g.by_path.get(path)
    if vs is None:
        ss.out.write(f"Could not find path {path} in resource graph.\n")
        return 0
    for v in vs:
        props = g.props[v]
        if not props:
            ss.out.write(f"No properties were found for {path} (vtx's uniq_id={g.uniq_id[v]}).\n")
        else:
            for k in sorted(props):
                ss.out.write(f"{k}={props[k]}\n")
    return 0


def cmd_set_status(ss: Session, args) -> int:
    if len(args) != 3:
        ss.err.write("ERROR: malformed command\n")
        return 0
    path, status = args[1], args[2]
    if path not in ss.rq.graph.by_path:
        ss.out.write(f"Could not find path {path} in resource graph.\n")
        return 0
    if status not in ("up", "down"):
        ss.err.write("ERROR: unrecognized status\n")
        return 0
    ss.rq.set_status(path, status)
    return 0


def cmd_get_status(ss: Session, args) -> int:
    if len(args) != 2:
        ss.err.write("ERROR: malformed command\n")
        return 0
    path = args[1]
    g = ss.rq.graph
    vs = g.by_path.get(path)
    if vs is None:
        ss.out.write(f"Could not find path {path} in resource graph.\n")
        return 0
    for v in vs:
        ss.out.write(f"{path} is {'down' if g.status[v] else 'up'}\n")
    return 0


def _job_line(info) -> str:
    return (
        f"INFO: {info.jobid}, {info.state}, {info.scheduled_at}, {info.jobspec_fn}, {info.overhead}"
    )


def cmd_list(ss: Session, args) -> int:
    for jobid in sorted(ss.rq.jobs):
        ss.tty.write(_job_line(ss.rq.jobs[jobid]) + "\n")
    return 0


def cmd_info(ss: Session, args) -> int:
    if len(args) != 2:
        ss.err.write("ERROR: malformed command\n")
        return 0
    info = ss.rq.jobs.get(_strtoll(args[1]))
    if info is None:
        ss.tty.write(f"ERROR: jobid doesn't exist: {args[1]}\n")
        return 0
    ss.tty.write(_job_line(info) + "\n")
    return 0


def cmd_stat(ss: Session, args) -> int:
    if len(args) != 1:
        ss.err.write("ERROR: malformed command\n")
        return 0
    rq = ss.rq
    n = len(rq.jobs)
    avg = rq.perf_accum / n if n else 0.0
    mn = rq.perf_min if n else 0.0
    ss.tty.write(f"INFO: Num. of Jobs Matched: {n}\n")
    ss.tty.write(f"INFO: Min. Match Time: {mn}\n")
    ss.tty.write(f"INFO: Max. Match Time: {rq.perf_max}\n")
    ss.tty.write(f"INFO: Avg. Match Time: {avg}\n")
    return 0


def cmd_cat(ss: Session, args) -> int:
    if len(args) < 2:
        ss.err.write("ERROR: malformed command\n")
        return 0
    text = _read(args[1]) or ""
    for line in text.splitlines():
        ss.tty.write(line + "\n")
    ss.tty.write(f"INFO: Jobspec in {args[1]}\n")
    return 0


def cmd_help(ss: Session, args) -> int:
    want = args[1] if len(args) == 2 else None
    found = False
    for name, abbr, _fn, note in COMMANDS:
        if want is None or want in (name, abbr):
            ss.tty.write(f"INFO: {name} ({abbr}) -- {note}\n")
            found = True
    if want is not None and not found:
        ss.tty.write(f"ERROR: unknown command: {want}\n")
    return 0


def cmd_quit(ss: Session, args) -> int:
    return -1


COMMANDS = [
    (
        "match",
        "m",
        cmd_match,
        "Allocate or reserve matching resources (subcmd: allocate | "
        "allocate_with_satisfiability | allocate_orelse_reserve | satisfiability | "
        "without_allocating | without_allocating_future): resource-query> match allocate jobspec",
    ),
    (
        "multi-match",
        "M",
        cmd_match_multi,
        "Allocate or reserve for multiple jobspecs: "
        "resource-query> multi-match allocate jobspec1 jobspec2 ...",
    ),
    (
        "update",
        "u",
        cmd_update,
        "Update resources with a JGF subgraph or R (subcmd: allocate | "
        "reserve), (reader: jgf | rv1exec): resource-query> update allocate jgf file jobid "
        "starttime duration",
    ),
    (
        "attach",
        "j",
        cmd_attach,
        "Attach a JGF subgraph to the resource graph: resource-query> attach jgf_file",
    ),
    (
        "remove",
        "j",
        cmd_remove,
        "Remove a subgraph, by path (true) or rank idset (false): "
        "resource-query> remove (/path/to/node | idset) (true|false)",
    ),
    (
        "find",
        "f",
        cmd_find,
        "Find resources matched with criteria (predicates: "
        "status={up|down} sched-now={allocated|free} sched-future={reserved|free} "
        "agfilter={true|false} names=hostlist jobid-alloc=jobid jobid-span=jobid "
        "jobid-tag=jobid jobid-reserved=jobid property=name): resource-query> find "
        "status=down and sched-now=allocated",
    ),
    (
        "cancel",
        "c",
        cmd_cancel,
        "Cancel an allocation or reservation: resource-query> "
        "cancel jobid (optional subcmd: stats)",
    ),
    (
        "partial-cancel",
        "pc",
        cmd_partial_cancel,
        "Partially release an allocation: "
        "resource-query> partial-cancel jobid (jgf | rv1exec) R_to_cancel.file (optional: stats)",
    ),
    (
        "set-property",
        "p",
        cmd_set_property,
        "Add a property to a resource: resource-query> set-property resource PROPERTY=VALUE",
    ),
    (
        "get-property",
        "g",
        cmd_get_property,
        "Get all properties of a resource: resource-query> get-property resource",
    ),
    (
        "set-status",
        "t",
        cmd_set_status,
        "Set resource status on vertex: resource-query> set-status PATH_TO_VERTEX {up|down}",
    ),
    (
        "get-status",
        "e",
        cmd_get_status,
        "Get the graph resource vertex status: resource-query> get-status PATH_TO_VERTEX",
    ),
    ("list", "l", cmd_list, "List all jobs: resource-query> list"),
    ("info", "i", cmd_info, "Print info on a jobid: resource-query> info jobid"),
    ("stat", "s", cmd_stat, "Print overall stats: resource-query> stat jobid"),
    ("cat", "a", cmd_cat, "Print jobspec file: resource-query> cat jobspec"),
    ("help", "h", cmd_help, "Print help message: resource-query> help"),
    ("quit", "q", cmd_quit, "Quit the session: resource-query> quit"),
]


def find_command(word: str):
    for name, abbr, fn, _note in COMMANDS:
        if word == name or word == abbr:
            return fn
    return None


_ = time
