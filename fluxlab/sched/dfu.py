"""Match operations on top of the DFU traverser (Fluxion's ``dfu_traverser_t``).

:class:`Traverser.run` implements the match ops:

``allocate``
    match now or fail with "busy";
``allocate_with_satisfiability``
    as ``allocate``, and when busy also check whether the request could
    ever be met by this graph ("unsatisfiable" when not);
``allocate_orelse_reserve``
    match now, else at the earliest future scheduled point where the
    root's pruning filter admits the request and the full match succeeds;
``satisfiability``
    only check the request against an empty graph (status ignored);
``without_allocating`` / ``without_allocating_future``
    find the match now / at the earliest time and write it, recording
    nothing.

Failures set :attr:`Traverser.errno`: ``EBUSY`` (not now), ``ENODEV``
(unsatisfiable), ``EINVAL`` (bad request).
"""

from __future__ import annotations

from fluxlab.sched.jobspec import Jobspec
from fluxlab.sched.traverser import (
    AT_ALLOC,
    AT_NO_ALLOC,
    AT_RESERVE,
    AT_SATISFIABILITY,
    JobMeta,
)
from fluxlab.sched.update import DFUUpdater

__all__ = ["Traverser", "MATCH_OPS", "INT64_MAX"]

INT64_MAX = 2**63 - 1

MATCH_OPS = (
    "allocate",
    "allocate_with_satisfiability",
    "allocate_orelse_reserve",
    "satisfiability",
    "without_allocating",
    "without_allocating_future",
)


class Traverser(DFUUpdater):
    """The traverser: select, update and the match operations.

    ``fast`` may hold a :class:`~fluxlab.sched.fast.FastIndex`, which then
    answers the "match now" step of the operations it supports.
    """

    fast = None

    def build_meta(self, js: Jobspec, jobid: int, at: int) -> JobMeta | None:
        g = self.g
        g_duration = g.graph_end - g.graph_start
        if js.duration > g_duration or js.duration > INT64_MAX or js.duration < 0:
            self.errno = "EINVAL"
            return None
        duration = g_duration if js.duration == 0 else int(js.duration)
        if duration == 0:
            duration = g_duration
        return JobMeta(jobid, at, duration, AT_ALLOC, js.constraint, js.queue)

    def _root_far_future(self, root: int, duration: int) -> int:
        sp = self.g.subplans[root]
        p = sp.get(self.policy.dom) if sp else None
        base, horizon = (p.base, p.horizon) if p is not None else (0, INT64_MAX)
        return base + horizon - duration - 1

    def _request_feasible(self, meta: JobMeta, op: str, dfv: dict[str, int]) -> bool:
        g = self.g
        target = dfv.get("node", 0)
        sat = op in ("allocate_with_satisfiability", "satisfiability")
        nodes_up = g.nodes_up()
        if meta.constraint is None and target <= nodes_up:
            return True
        if target > nodes_up:
            if op in ("allocate", "allocate_orelse_reserve"):
                self.errno = "EBUSY"
                return False
            if sat:
                self.errno = "ENODEV"
                return False
        t = meta.at if op == "allocate" else g.graph_end - 1
        found = 0
        for v in g.by_type.get("node", ()):
            if not g.alive[v]:
                continue
            if meta.constraint is not None and not meta.constraint.match(
                g.name[v], g.rank[v], g.props[v]
            ):
                continue
            if not sat and (g.status[v] != 0 or v in g.drained):
                continue
            if g.avail(v, t, meta.duration) == 1:
                found += 1
                if found >= target:
                    break
        if found < target:
            if op in ("allocate", "allocate_orelse_reserve"):
                self.errno = "EBUSY"
                return False
            if sat:
                self.errno = "ENODEV"
                return False
        return True

    def _select_now(self, js, meta, x, root) -> int:
        fast = self.fast
        if fast is not None:
            r = fast.select(js, meta)
            if r is not None:
                return 0 if r else -1
        return self.select(js.resources, root, meta, x)

    def _satisfiable(self, js, meta, x, root) -> int:
        meta.alloc_type = AT_SATISFIABILITY
        meta.at = self._root_far_future(root, meta.duration)
        rc = self.select(js.resources, root, meta, x)
        if rc < 0:
            if self.errno in ("EBUSY", "ERANGE", None):
                self.errno = "ENODEV"
            self.reset_color()
        return rc

    def _schedule(self, js, meta, x, op, root, dfv) -> int:
        if op != "satisfiability" and (
            meta.constraint is not None or dfv.get("node", 0) > self.g.nodes_up()
        ):
            if not self._request_feasible(meta, op, dfv):
                return -1
        if self._select_now(js, meta, x, root) == 0:
            return 0
        if op == "allocate_with_satisfiability":
            self.errno = "EBUSY"
            self._satisfiable(js, meta, x, root)
            if self.errno != "ENODEV":
                self.errno = "EBUSY"
            return -1
        if op in ("allocate_orelse_reserve", "without_allocating_future"):
            if op == "allocate_orelse_reserve":
                meta.alloc_type = AT_RESERVE
            sp = self.g.subplans[root]
            p = sp.get(self.policy.dom) if sp else None
            rc = -1
            if p is not None:
                counts = p.counts_for(dfv)
                for t in p.avail_times(meta.at + 1, meta.duration, counts):
                    meta.at = t
                    rc = self.select(js.resources, root, meta, x)
                    if rc == 0:
                        break
            if rc < 0:
                saved = meta.alloc_type
                self.errno = "EBUSY"
                self._satisfiable(js, meta, x, root)
                meta.alloc_type = saved
                if self.errno != "ENODEV":
                    self.errno = "EBUSY"
            return rc
        self.errno = "EBUSY"
        return -1

    def run(self, js: Jobspec, writers, op: str, jobid: int, at: int = 0) -> tuple[int, int]:
        """Run match ``op`` for ``js``; return ``(rc, scheduled_at)``."""
        g = self.g
        self.err = ""
        self.errno = None
        dom = self.policy.dom
        root = g.roots.get(dom)
        if root is None or not js.resources:
            self.errno = "EINVAL"
            return -1, at
        if op not in MATCH_OPS:
            self.errno = "EINVAL"
            return -1, at
        x = self.exclusivity(g, js.resources, root)
        pol = self.policy
        saved_types = pol.exclusive_types
        try:
            primed = js.primed
            if primed is not None and primed[0] is pol and primed[1] == pol.pruning_version:
                dfv = dict(primed[2])
                if primed[3]:
                    pol.exclusive_types = saved_types | primed[3]
            else:
                pol.exclusive_types = set(saved_types)
                dfv = {}
                self.prime_jobspec(js.resources, dfv)
                js.primed = (
                    pol,
                    pol.pruning_version,
                    dict(dfv),
                    frozenset(pol.exclusive_types - saved_types),
                )
            meta = self.build_meta(js, jobid, at)
            if meta is None:
                return -1, at
            if op == "satisfiability":
                rc = self._satisfiable(js, meta, x, root)
                if rc == 0:
                    self.reset_color()
                return rc, at
            if op.startswith("without_allocating"):
                meta.alloc_type = AT_NO_ALLOC
            if self._schedule(js, meta, x, op, root, dfv) != 0:
                return -1, at
            if meta.alloc_type == AT_NO_ALLOC or op.startswith("without_allocating"):
                meta.alloc_type = AT_NO_ALLOC
            if meta.at == g.graph_end:
                self.errno = "EBUSY"
                return -1, at
            if meta.at < 0 or meta.at > g.graph_end:
                self.errno = "EINVAL"
                return -1, at
            if meta.at + meta.duration > g.graph_end:
                meta.duration = g.graph_end - meta.at
            rc = self.update(root, writers, meta)
            return rc, meta.at
        finally:
            pol.exclusive_types = saved_types

    def update_from_reader(self, writers, meta: JobMeta, apply) -> int:
        """Commit an allocation a reader already placed in the planners.

        ``apply(token)`` marks the job's edges with ``token`` and adds the
        vertex-planner spans; this then updates tags, filters and writes.
        """
        self.tick()
        self.marked_seq = -1  # the reader marks edges itself: walk them all
        if self.observer is not None:
            self.observer.invalidate()
        rc = apply(self.seq)
        if rc != 0:
            return rc
        dom = self.policy.dom
        vrt = self.g.v_rt.get(dom)
        if vrt is None or vrt[2] != self.seq:
            return 0
        return self._update_walk(self.g.roots[dom], writers, meta, vrt[0], vrt[1] != 0, False)


_ = (AT_ALLOC,)
