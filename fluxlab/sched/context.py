"""A resource-query session: one graph, one matcher, jobs matched so far.

:class:`ResourceQuery` is what both the offline ``resource-query`` tool and
library users drive: it loads a graph with a reader, selects the matcher's
subsystems and policy, installs pruning filters, and keeps the per-job
bookkeeping (allocations, reservations, the job-id counter) that Fluxion's
``resource_query_t`` keeps.  It performs no I/O beyond reading the graph
text it is given; the tool formats results.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from fluxlab.resource.idset import IDset, IdsetError
from fluxlab.sched.dfu import Traverser
from fluxlab.sched.errors import GraphError, JobspecError, MatchError, SchedError
from fluxlab.sched.fast import FastIndex
from fluxlab.sched.find import find as _find
from fluxlab.sched.graph import CONTAINMENT, STATUS_NAMES, ResourceGraph
from fluxlab.sched.jobspec import Jobspec, parse_jobspec
from fluxlab.sched.policies import create_policy
from fluxlab.sched.readers import load_graph
from fluxlab.sched.traverser import AT_ALLOC, AT_RESERVE, JobMeta
from fluxlab.sched.writers import create_writer

__all__ = ["ResourceQuery", "MatchResult", "JobInfo", "SUBSYSTEM_SETS", "ENGINES"]

ENGINES = ("fast", "exact", "stable")

SUBSYSTEM_SETS = {
    "CA": ["containment"],
    "IBA": ["ibnet"],
    "IBBA": ["ibnetbw"],
    "PA": ["power"],
    "PFS1BA": ["pfs1bw"],
    "C+IBA": ["containment", "ibnet"],
    "C+IBBA": ["containment", "ibnetbw"],
    "C+PA": ["containment", "power"],
    "C+PFS1BA": ["containment", "pfs1bw"],
    "IB+IBBA": ["ibnet", "ibnetbw"],
    "C+P+IBA": ["containment", "power", "ibnet"],
    "V+PFS1BA": ["virtual1", "pfs1bw"],
    "VA": ["virtual1"],
    "ALL": ["containment", "ibnet", "ibnetbw", "pfs1bw", "power"],
}


@dataclass(slots=True)
class JobInfo:
    """A job the session matched: state ``ALLOCATED``/``RESERVED``/``CANCELED``."""

    jobid: int
    state: str
    scheduled_at: int
    jobspec_fn: str = ""
    overhead: float = 0.0


@dataclass(slots=True)
class MatchResult:
    """Outcome of one match: written resources and the INFO fields."""

    jobid: int
    matched: bool
    satisfiable: bool
    at: int
    text: str
    error: str = ""
    overhead: float = 0.0
    reserved: bool = False
    extra: dict = field(default_factory=dict)
    R: object = None


class ResourceQuery:
    """A matcher session over one resource graph.

    Parameters
    ----------
    graph_text : str
        Contents of the graph file.
    load_format : str
        ``grug``, ``jgf``, ``rv1exec`` (or ``rv1exec_force``).
    subsystems : str
        Matcher subsystem set name (``CA``, ``C+PA``, ...).
    policy : str
        Match policy name or custom policy string.
    match_format : str
        Writer format for match results.
    prune_filters : str
        ``HL:LL`` pairs; the default is Fluxion's ``ALL:core,ALL:node``.
    engine : str
        ``fast`` (default): the indexed fast path (:mod:`fluxlab.sched.fast`)
        serves the common "match now" requests and equal scores are ranked
        by discovery order; ``exact``: the DFU traverser alone, with ties
        ordered as Fluxion's ``std::sort`` orders them (what the
        ``resource-query`` tool uses); ``stable``: the traverser alone with
        ``fast``'s tie order (the reference the fast path is tested against).
    """

    def __init__(
        self,
        graph_text: str | ResourceGraph,
        *,
        load_format: str = "grug",
        load_allowlist: str = "",
        subsystems: str = "CA",
        policy: str = "first",
        match_format: str = "simple",
        prune_filters: str = "ALL:core,ALL:node",
        engine: str = "fast",
    ):
        if engine not in ENGINES:
            raise MatchError(f"unknown engine {engine!r} (expected one of {', '.join(ENGINES)})")
        if isinstance(graph_text, ResourceGraph):
            self.graph = graph_text
        else:
            self.graph = load_graph(graph_text, load_format, load_allowlist)
        self.load_format = load_format
        self.policy = create_policy(policy)
        self.policy.type_order = self.graph.types
        subs = SUBSYSTEM_SETS.get(subsystems) or SUBSYSTEM_SETS.get(subsystems.upper())
        if subs is None:
            raise MatchError(f"unknown matcher subsystem set {subsystems!r}")
        for s in subs:
            self.policy.add_subsystem(s)
        if prune_filters:
            self.policy.set_pruning_types_w_spec(self.policy.dom, prune_filters)
        self.engine = engine
        self.policy.stable = engine != "exact"
        self.traverser = Traverser(self.graph, self.policy)
        if engine == "fast":
            self.traverser.fast = FastIndex(self.traverser)
        for s in self.policy.subsystems:
            if s not in self.graph.roots:
                raise GraphError(f"graph has no root for matcher subsystem {s!r}")
        self.traverser.initialize()
        if self.traverser.fast is not None:
            self.traverser.fast.build()
        self.match_format = match_format
        self.writers = create_writer(match_format)
        self.jobs: dict[int, JobInfo] = {}
        self.allocations: set[int] = set()
        self.reservations: set[int] = set()
        self.jobid_counter = 1
        self.perf_min = float("inf")
        self.perf_max = 0.0
        self.perf_accum = 0.0
        self.known_types = self.graph.types.names()
        # bumped by attach/remove: what can *ever* be satisfied may change
        self.graph_version = 0

    # -- matching -------------------------------------------------------------
    def parse(self, jobspec) -> Jobspec:
        if isinstance(jobspec, Jobspec):
            return jobspec
        return parse_jobspec(jobspec, self.known_types)

    def match(
        self,
        op: str,
        jobspec,
        jobspec_fn: str = "",
        *,
        jobid: int | None = None,
        at: int = 0,
        fmt: str | None = None,
    ) -> MatchResult:
        """Match a jobspec with op ``op`` (see :data:`fluxlab.sched.dfu.MATCH_OPS`).

        Parameters
        ----------
        jobspec : str | dict | Jobspec
            The request; text and dicts are parsed with Fluxion's rules.
        jobid : int, optional
            Job id to record; by default the session's next job id is used
            (and the counter advances as in resource-query).
        at : int
            "Now": the earliest start time considered.
        fmt : str, optional
            Write the result in this format (``rv1``, ``jgf``...) into
            :attr:`MatchResult.R` as a JSON value instead of the session's
            text writer.

        Returns
        -------
        MatchResult
            ``matched`` with ``at`` (``at > now`` means reserved), or not
            matched with ``satisfiable`` telling "busy now" from "never".
        """
        counter = jobid is None
        if counter:
            jobid = self.jobid_counter
        t0 = time.perf_counter()
        try:
            js = self.parse(jobspec)
        except JobspecError as exc:
            return MatchResult(
                jobid,
                False,
                True,
                at,
                "",
                f"match_allocate: ERROR: Jobspec error for {jobid}: {exc}\n",
            )
        trav = self.traverser
        writers = create_writer(fmt) if fmt else self.writers
        rc, start = trav.run(js, writers, op, jobid, at)
        if trav.err:
            err = f"match_allocate: ERROR: {trav.err}\n"
            trav.err = ""
            writers.emit()
            sat = trav.errno not in ("ENODEV", "ENOENT")
            return MatchResult(jobid, False, sat, at, "", err, time.perf_counter() - t0)
        if fmt:
            text = ""
            R = writers.emit_json()
        else:
            text = writers.emit()
            R = None
        ov = time.perf_counter() - t0
        matched = rc == 0 and op != "satisfiability"
        sat = trav.errno not in ("ENODEV", "ENOENT") if rc != 0 else True
        reserved = False
        if matched and not op.startswith("without_allocating"):
            reserved = start != at
            state = "RESERVED" if reserved else "ALLOCATED"
            (self.reservations if reserved else self.allocations).add(jobid)
            self.jobs[jobid] = JobInfo(jobid, state, start, jobspec_fn, ov)
        if counter and op != "satisfiability":
            self.jobid_counter += 1
        self._perf(ov)
        res = MatchResult(jobid, matched, sat, start if matched else at, text, "", ov, reserved)
        res.R = R
        return res

    def _perf(self, ov: float) -> None:
        self.perf_min = min(self.perf_min, ov)
        self.perf_max = max(self.perf_max, ov)
        self.perf_accum += ov

    def cancel(self, jobid: int) -> None:
        """Release a job's allocation or reservation.

        Raises
        ------
        MatchError
            When the job is unknown to the session.
        """
        if jobid in self.allocations:
            self.traverser.remove_job(jobid)
            self.allocations.discard(jobid)
        elif jobid in self.reservations:
            self.traverser.remove_job(jobid)
            self.reservations.discard(jobid)
        else:
            raise MatchError(f"nonexistent job {jobid}")
        if jobid in self.jobs:
            self.jobs[jobid].state = "CANCELED"

    # -- updates from R ------------------------------------------------------------
    def update(
        self, subcmd: str, reader: str, text: str, jobid: int, at: int, duration: int
    ) -> MatchResult:
        """Mark resources described by ``text`` as allocated/reserved for ``jobid``."""
        from fluxlab.sched.readers.apply import apply_update

        t0 = time.perf_counter()
        meta = JobMeta(jobid, at, duration, AT_RESERVE if subcmd == "reserve" else AT_ALLOC)
        trav = self.traverser
        trav.err = ""
        try:
            rc = trav.update_from_reader(
                self.writers, meta, lambda token: apply_update(trav, reader, text, meta, token)
            )
        except SchedError as exc:
            trav.err += f"{exc}\n"
            rc = -1
        text_out = self.writers.emit()
        err = ""
        if rc != 0:
            err = "ERROR: traverser run () returned error \n"
            if trav.err:
                err += "ERROR: " + trav.err
        trav.err = ""
        ov = time.perf_counter() - t0
        self._perf(ov)
        self.jobid_counter = jobid
        matched = rc == 0
        if matched:
            st = "ALLOCATED" if at == 0 else "RESERVED"
            (self.allocations if at == 0 else self.reservations).add(jobid)
            self.jobs[jobid] = JobInfo(jobid, st, at, "", ov)
        res = MatchResult(jobid, matched, True, at, text_out, err, ov, at != 0)
        self.jobid_counter += 1
        return res

    def partial_cancel(self, jobid: int, reader: str, text: str) -> bool:
        """Release part of an allocation; return True when the job is gone."""
        from fluxlab.sched.readers.apply import partial_cancel

        if jobid not in self.allocations:
            raise MatchError(f"nonexistent job {jobid}")
        full = partial_cancel(self.traverser, reader, text, jobid)
        if full:
            self.traverser.forget_job(jobid)
            self.allocations.discard(jobid)
            if jobid in self.jobs:
                self.jobs[jobid].state = "CANCELED"
        return full

    # -- graph changes -------------------------------------------------------------------
    def attach(self, text: str) -> None:
        """Grow the graph by a JGF subgraph and re-prime the pruning filters."""
        from fluxlab.sched.readers.jgf import load_jgf

        added = load_jgf(self.graph, text)
        g = self.graph
        g.adjust_nodes_up(sum(g.size[v] for v in added if g.vtype[v] == "node" and not g.status[v]))
        self.known_types = self.graph.types.names()
        self.traverser.initialize()
        self.graph_version += 1

    def remove(self, target: str, is_path: bool) -> None:
        """Shrink: remove the subgraph at a path, or the vertices of ranks."""
        trav = self.traverser
        if is_path:
            if trav.remove_subgraph_path(target) != 0:
                raise GraphError(trav.err or f"can't remove subgraph {target}")
        else:
            try:
                ranks = list(IDset(target))
            except IdsetError as exc:
                raise GraphError(f"failed to decode ranks: {exc}") from None
            if trav.remove_ranks(ranks) != 0:
                raise GraphError(trav.err or "can't partial cancel subgraph")
            if trav.remove_subgraph_ranks(ranks) != 0:
                raise GraphError(trav.err or "can't remove subgraph")
        trav.err = ""
        trav.initialize()
        self.graph_version += 1

    def find(self, criteria: str):
        """Run ``find``; return the writer's JSON value (or text), or raise."""
        trav = self.traverser
        trav.err = ""
        if _find(trav, self.writers, criteria) < 0:
            msg = trav.err
            trav.err = ""
            raise MatchError(msg or f"find: invalid criteria: {criteria}.")
        trav.err = ""
        return self.writers.emit_json()

    def set_status(self, path: str, status: str) -> None:
        """Mark the vertex at ``path`` ``up`` or ``down`` (its subtree follows)."""
        if status not in STATUS_NAMES:
            raise MatchError(f"unrecognized status {status!r}")
        if self.traverser.mark(path, STATUS_NAMES[status]) != 0:
            raise GraphError(f"could not find path {path} in resource graph")

    def get_status(self, path: str) -> str:
        vs = self.graph.find_path(path)
        if not vs:
            raise GraphError(f"could not find path {path} in resource graph")
        return "down" if self.graph.status[vs[0]] else "up"

    def _targets(self, target) -> list[int]:
        g = self.graph
        if isinstance(target, str) and target.startswith("/"):
            vs = g.find_path(target)
            if not vs:
                raise GraphError(f"could not find path {target} in resource graph")
            return vs
        try:
            ranks = list(IDset(target)) if isinstance(target, str) else list(target)
        except IdsetError as exc:
            raise GraphError(f"bad rank idset {target!r}: {exc}") from None
        out = []
        for r in ranks:
            vs = [v for v in g.by_rank.get(r, ()) if g.alive[v]]
            if not vs:
                raise GraphError(f"rank {r} is not in the resource graph")
            out.append(self.traverser._subgraph_root(vs))
        return out

    def drain(self, target, reason: str = "") -> None:
        """Exclude a path or rank idset from scheduling, keeping ``reason``."""
        g = self.graph
        for v in self._targets(target):
            if v not in g.drained:
                n = sum(g.size[u] for u in g.subtree(v) if g.vtype[u] == "node")
                if not g.status[v]:
                    g.adjust_nodes_up(-n)
            g.drained[v] = reason
            self._changed(v)

    def undrain(self, target) -> None:
        """Return drained resources to service."""
        g = self.graph
        for v in self._targets(target):
            if g.drained.pop(v, None) is not None and not g.status[v]:
                g.adjust_nodes_up(sum(g.size[u] for u in g.subtree(v) if g.vtype[u] == "node"))
            self._changed(v)

    def _changed(self, v: int) -> None:
        obs = self.traverser.observer
        if obs is not None:
            obs.status_changed(self.graph.subtree(v))

    def drained(self) -> dict[str, str]:
        """Drained vertex paths and their reasons."""
        g = self.graph
        return {g.paths[v].get(CONTAINMENT, g.name[v]): r for v, r in g.drained.items()}

    def set_property(self, path: str, key: str, value: str = "") -> None:
        vs = self.graph.find_path(path)
        if not vs:
            raise GraphError(f"could not find path {path} in resource graph")
        if not key or any(c in key for c in "!&'\"^`|()"):
            raise MatchError(f"invalid property name {key!r}")
        for v in vs:
            if self.graph.props[v] is None:
                self.graph.props[v] = {}
            self.graph.props[v][key] = value
            self._changed(v)

    def get_properties(self, path: str) -> dict[str, str]:
        vs = self.graph.find_path(path)
        if not vs:
            raise GraphError(f"could not find path {path} in resource graph")
        return dict(self.graph.props[vs[0]] or {})

    def vertices_at(self, path: str) -> list[int]:
        return self.graph.by_path.get(path, [])

    @property
    def root(self) -> int:
        return self.graph.roots[CONTAINMENT]


_ = (AT_ALLOC,)
