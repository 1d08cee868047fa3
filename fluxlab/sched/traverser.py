"""Depth-first-and-up (DFU) matching: Fluxion's ``dfu_impl`` select phase.

:meth:`DFUMatcher.select` walks the dominant subsystem depth first from the
root, carrying the part of the jobspec still to be matched:

* ``test`` decides whether the visited vertex matches the next jobspec
  level (a *resource* match), holds the children of a ``slot`` (a *slot*
  match), or is a container to walk through (only while nothing matched
  yet: "pristine").
* ``prune`` skips a vertex that is down, violates the job's constraint,
  has no free units, is held by another job when exclusivity is needed, or
  whose pruning filter (aggregate free counts below it) cannot cover the
  request.
* Children report *edge groups* to their parent (see
  :mod:`fluxlab.sched.scoring`); the policy picks the best ``k`` groups per
  type; ``enforce`` marks the chosen edges with this traversal's sequence
  number, which the update phase (:mod:`fluxlab.sched.update`) follows.

Faithfulness notes: the order children are explored, the pruning-filter
types and the tie-breaking of equal scores all follow Fluxion, because the
conformance outputs depend on them.  Under ``stop_on_1_matches`` children
are explored in "by_outedges" order (largest free aggregate first, then
highest ``uniq_id``) and exploration stops once enough was found.
"""

from __future__ import annotations

from fluxlab.sched.graph import DOWN, ResourceGraph, bulk_build
from fluxlab.sched.planner import INT64_MAX, PlannerMulti
from fluxlab.sched.policies import MatchPolicy, calc_count, calc_effective_max
from fluxlab.sched.scoring import MATCH_MET, MATCH_UNMET, EGroup, Scoring

__all__ = ["JobMeta", "DFUMatcher", "AT_ALLOC", "AT_RESERVE", "AT_SATISFIABILITY", "AT_NO_ALLOC"]

AT_ALLOC = 0
AT_RESERVE = 1
AT_SATISFIABILITY = 2
AT_NO_ALLOC = 3

RESOURCE_MATCH, SLOT_MATCH, NONE_MATCH, PRISTINE_NONE_MATCH = range(4)


class JobMeta:
    """Per-match metadata: job id, time window, allocation kind, constraint."""

    __slots__ = ("alloc_type", "jobid", "at", "now", "duration", "constraint", "queue")

    def __init__(
        self, jobid=-1, at=0, duration=43200, alloc_type=AT_ALLOC, constraint=None, queue=""
    ):
        self.alloc_type = alloc_type
        self.jobid = jobid
        self.at = at
        self.now = at
        self.duration = duration
        self.constraint = constraint
        self.queue = queue


class _ShareTally:
    __slots__ = ("per_share", "acc", "shares", "prev_total")

    def __init__(self, per_share: int):
        self.per_share = per_share
        self.acc = 0
        self.shares = 0
        self.prev_total = 0

    def add(self, delta: int) -> None:
        if self.per_share == 0:
            return
        self.acc += delta
        if self.acc >= self.per_share:
            self.shares += 1
            self.acc = 0

    def satisfies(self, multiplier: int) -> bool:
        return self.shares >= multiplier


class DFUMatcher:
    """Select phase of the traverser over one :class:`ResourceGraph`."""

    def __init__(self, graph: ResourceGraph, policy: MatchPolicy):
        self.g = graph
        self.policy = policy
        self.seq = 0
        self.epoch = 1
        self._vis: dict[str, list[int]] = {}
        self.err = ""
        self.errno: str | None = None
        self.preorder = 0
        self.postorder = 0
        # edges marked by the current selection, by source vertex, so the
        # update walk need not scan every out-edge of a wide vertex
        self.marked: dict[int, list[int]] = {}
        self.marked_seq = -1
        # optional listener told about state changes (the indexed fast path);
        # ``on_touch(v)``, when set, hears of every vertex a job took or freed
        self.observer = None
        self.on_touch = None
        # time window of every job holding resources: jobid -> (at, end, reserved)
        self._job_windows: dict[int, tuple[int, int, bool]] = {}
        self._ends: list[tuple[int, int]] = []
        self._starts: list[tuple[int, int]] = []
        self._n_reserved = 0

    # -- colours ---------------------------------------------------------------
    def _visited(self, s: str) -> list[int]:
        vis = self._vis.get(s)
        n = len(self.g.vtype)
        if vis is None:
            vis = self._vis[s] = [0] * n
        elif len(vis) < n:
            vis.extend([0] * (n - len(vis)))
        return vis

    def reset_color(self) -> None:
        self.epoch += 1

    def tick(self) -> None:
        self.seq += 1
        self.epoch += 1
        self.marked = {}
        self.marked_seq = self.seq

    # -- pruning filters -----------------------------------------------------------
    def _accum(self, s: str, t: str, n: int, acc: dict[str, int]) -> None:
        if self.policy.is_pruning_type(s, t):
            acc[t] = acc.get(t, 0) + n

    def initialize(self) -> None:
        """(Re)build the pruning filters of every subsystem root downward."""
        if self.observer is not None:
            self.observer.invalidate()
        self.reset_color()
        with bulk_build():
            for s in self.policy.subsystems:
                root = self.g.roots.get(s)
                if root is None:
                    raise ValueError(f"graph has no root for subsystem {s!r}")
                self._prime(s, root, {}, self._visited(s))

    def _prime(self, s: str, u: int, to_parent: dict[str, int], vis: list[int]) -> None:
        g = self.g
        pol = self.policy
        epoch = self.epoch
        vis[u] = epoch
        t = g.vtype[u]
        size = g.size[u]
        self._accum(s, t, size, to_parent)
        if not g.out[u]:
            if not pol.is_pruning_type(s, t):
                pol.set_pruning_type(s, "cluster", t)
                self._accum(s, t, size, to_parent)
            return
        dfv: dict[str, int] = {}
        esub, etgt, out, vtype, sizes = g.esub, g.etgt, g.out, g.vtype, g.size
        for e in out[u]:
            if esub[e] != s:
                continue
            c = etgt[e]
            if vis[c] == epoch:
                continue
            if out[c]:
                self._prime(s, c, dfv, vis)
                continue
            # a leaf, inline: every leaf type becomes a pruning type
            vis[c] = epoch
            tc = vtype[c]
            tot = pol.pruning_total.get(s)
            if tot is None or tc not in tot:
                pol.set_pruning_type(s, "cluster", tc)
            dfv[tc] = dfv.get(tc, 0) + sizes[c]
        for k in g.types.sort(dfv):
            self._accum(s, k, dfv[k], to_parent)
        types = pol.my_pruning_types(s, t)
        if not types:
            return
        avail = [dfv.get(k, 0) for k in types]
        sp = g.subplans[u]
        if sp is None:
            sp = g.subplans[u] = {}
        p = sp.get(s)
        if p is None:
            sp[s] = PlannerMulti(avail, types, 0, INT64_MAX)
        else:
            p.update(avail, types)

    def prime_jobspec(self, resources, to_parent: dict[str, int]) -> None:
        """Aggregate pruning-type counts of each jobspec level into ``user_data``."""
        s = self.policy.dom
        for res in resources:
            if res.exclusive is True:
                self.policy.exclusive_types.add(res.type)
            self._accum(s, res.type, res.min, to_parent)
            res.user_data = {}
            self.prime_jobspec(res.with_, res.user_data)
            for k, n in res.user_data.items():
                self._accum(s, k, res.min * n, to_parent)

    # -- pruning -------------------------------------------------------------------
    @staticmethod
    def exclusivity(g: ResourceGraph, resources, u: int) -> bool:
        t = g.vtype[u]
        for res in resources:
            if res.type == t and res.exclusive is True:
                return True
        return False

    def _by_excl(self, meta, u, exclusive_in, res) -> bool:
        g = self.g
        if exclusive_in and res.exclusive is False:
            self.err += (
                f"by_excl: exclusivity conflicts at jobspec={res.label} : vertex={g.name[u]}"
            )
            self.errno = "EINVAL"
            return False
        if exclusive_in or res.exclusive is True:
            if meta.alloc_type == AT_ALLOC and g.allocs[u]:
                return False
            if g.x_busy(u, meta.at, meta.duration):
                return False
        return True

    def _by_subplan(self, meta, s, u, res) -> bool:
        sp = self.g.subplans[u]
        if sp is None:
            return True
        p = sp.get(s)
        if p is None or not res.user_data:
            return True
        return p.avail_during(meta.at, meta.duration, p.counts_for(res.user_data))

    def prune(self, meta, exclusive, s, u, resources) -> bool:
        """True when ``u`` must be skipped."""
        g = self.g
        if meta.alloc_type != AT_SATISFIABILITY and (
            g.status[u] == DOWN or (g.drained and u in g.drained)
        ):
            return True
        t = g.vtype[u]
        if (
            meta.constraint is not None
            and (t == "node" or t == "storage_node")
            and not meta.constraint.match(g.name[u], g.rank[u], g.props[u])
        ):
            return True
        if g.avail(u, meta.at, meta.duration) == 0:
            return True
        for res in resources:
            if res.type != t and res.type != "slot":
                continue
            if res.type != "slot" and not self._by_excl(meta, u, exclusive, res):
                return True
            if not self._by_subplan(meta, s, u, res):
                return True
        return False

    # -- test ------------------------------------------------------------------------
    def _test(self, u, resources, pristine):
        """Return ``(next_resources, kind, nslots, label, pristine)``."""
        g = self.g
        t = g.vtype[u]
        slot_res = None
        match_res = None
        nslots = 0
        matched = False
        for res in resources:
            if res.type == t:
                if matched:
                    self.err += f"test: siblings in jobspec request same resource type : {t}.\n"
                    return resources, NONE_MATCH, 0, "", pristine
                match_res = res
                for c in res.with_:
                    if c.type == "slot":
                        slot_res = c
                        nslots = calc_effective_max(c)
                matched = True
            elif res.type == "slot":
                if matched:
                    self.err += f"test: siblings in jobspec request same resource type : {t}.\n"
                    return resources, NONE_MATCH, 0, "", pristine
                slot_res = res
                nslots = calc_effective_max(res)
                matched = True
        if slot_res is not None and self._slot_match(u, slot_res):
            return slot_res.with_, SLOT_MATCH, nslots, slot_res.label, False
        if match_res is not None:
            return match_res.with_, RESOURCE_MATCH, nslots, "", False
        return resources, (PRISTINE_NONE_MATCH if pristine else NONE_MATCH), nslots, "", pristine

    def _slot_match(self, u, slot_res) -> bool:
        g = self.g
        kids = {g.vtype[g.etgt[e]] for e in g.out[u]}
        return all(c.type in kids for c in slot_res.with_)

    # -- exploration -------------------------------------------------------------------
    def _explore(self, meta, u, s, resources, pristine, excl, upward, dfu, multiplier=1):
        if self.policy.stop_on_k:
            return self._explore_dyn(meta, u, s, resources, pristine, excl, upward, dfu, multiplier)
        g = self.g
        vis = self._visited(s)
        epoch = self.epoch
        esub, etgt, vtype = g.esub, g.etgt, g.vtype
        rc2 = -1
        for e in list(g.out[u]):
            if esub[e] != s:
                continue
            tgt = etgt[e]
            if vis[tgt] == epoch:
                continue
            if upward:
                rc, x = self._aux_upv(meta, tgt, s, resources, pristine, excl, dfu)
            else:
                rc, x = self.dom_dfv(meta, tgt, resources, pristine, excl, dfu)
            if rc == 0:
                count = dfu.avail
                dfu.add(
                    s,
                    vtype[tgt],
                    EGroup(dfu.overall_score, count, 0, x, False, [(count, count, x, e)]),
                )
                rc2 = 0
        return rc2

    def _outedges_sorted(self, u, s):
        g = self.g
        w, uq, etgt = g.e_weight, g.uniq_id, g.etgt
        es = [e for e in g.out[u] if g.esub[e] == s]
        es.sort(key=lambda e: (w[e], uq[etgt[e]]), reverse=True)
        return es

    def _explore_dyn(self, meta, u, s, resources, pristine, excl, upward, dfu, multiplier):
        g = self.g
        vis = self._visited(s)
        epoch = self.epoch
        etgt, vtype = g.etgt, g.vtype
        rc2 = -1
        sat: set[str] = set()
        tallies: dict[str, _ShareTally] = {}
        for res in resources:
            tallies[res.type] = _ShareTally(calc_effective_max(res))
        for e in self._outedges_sorted(u, s):
            tgt = etgt[e]
            if vis[tgt] == epoch:
                continue
            if vtype[tgt] in sat:
                continue
            if upward:
                rc, x = self._aux_upv(meta, tgt, s, resources, pristine, excl, dfu)
            else:
                rc, x = self.dom_dfv(meta, tgt, resources, pristine, excl, dfu)
            if rc == 0:
                count = dfu.avail
                dfu.add(
                    s,
                    vtype[tgt],
                    EGroup(dfu.overall_score, count, 0, x, False, [(count, count, x, e)]),
                )
                for t, tally in tallies.items():
                    total = dfu.total_count(s, t)
                    if total > tally.prev_total:
                        delta = total - tally.prev_total
                        tally.prev_total = total
                        tally.add(delta)
                for res in resources:
                    if tallies[res.type].satisfies(multiplier):
                        sat.add(res.type)
                rc2 = 0
                if all(tallies[r.type].satisfies(multiplier) for r in resources):
                    break
        return rc2

    def _aux_upv(self, meta, u, aux, resources, pristine, excl, to_parent):
        g = self.g
        root = g.roots.get(aux)
        if root is None:
            return -1, excl
        if self.prune(meta, excl, aux, u, resources):
            return -1, excl
        upv = Scoring()
        if u != root:
            self._explore(meta, u, aux, resources, pristine, excl, True, upv)
        if g.avail(u, meta.at, meta.duration) == 0:
            return -1, excl
        return self.resolve(upv, to_parent), excl

    def _dom_exp(self, meta, u, resources, pristine, excl, dfu):
        dom = self.policy.dom
        rc = -1
        for s in self.policy.subsystems:
            rc = self._explore(meta, u, s, resources, pristine, excl, s != dom, dfu)
        return rc

    def _cnt_slot(self, slot_shape, dfu_slot) -> int:
        dom = self.policy.dom
        qual = None
        for elem in slot_shape:
            qc = dfu_slot.qualified_count(dom, elem.type)
            count = calc_count(elem, qc)
            ev = dfu_slot.evals(dom, elem.type)
            if count == 0:
                fit = 0
            else:
                tally = _ShareTally(count)
                for grp in ev.groups:
                    tally.add(grp.edges[0][0])
                fit = tally.shares
            qual = fit if qual is None or fit < qual else qual
            ev.iter_reset()
        return qual if qual is not None else 0

    def _dom_slot(self, meta, u, slot_shape, nslots, pristine, label, dfu) -> int:
        dom = self.policy.dom
        dfu_slot = Scoring()
        if self._explore(meta, u, dom, slot_shape, pristine, True, False, dfu_slot, nslots) != 0:
            return -1
        self.policy.dom_finish_slot(dfu_slot, dom)
        qual = self._cnt_slot(slot_shape, dfu_slot)
        groups = []
        for _ in range(qual):
            edges = []
            score = MATCH_MET
            for elem in slot_shape:
                ev = dfu_slot.evals(dom, elem.type)
                count = calc_count(elem, ev.qual)
                j = 0
                while j < count:
                    grp = ev.iter_next()
                    if grp is None:
                        self.err += "dom_slot: not enough slots.\n"
                        return -1
                    c = grp.edges[0][0]
                    edges.append((c, c, 1, grp.edges[0][3]))
                    score += grp.score
                    j += c
            groups.append(EGroup(score, 1, 0, 1, False, edges, label))
        for grp in groups:
            dfu.add(dom, "slot", grp)
        return 0 if qual else -1

    def dom_dfv(self, meta, u, resources, pristine, excl, to_parent):
        """Visit ``u``; return ``(rc, exclusive)`` and report to ``to_parent``."""
        g = self.g
        pol = self.policy
        dom = pol.dom
        x_in = excl or self.exclusivity(g, resources, u)
        nxt, kind, nslots, label, check_pres = self._test(u, resources, pristine)
        self.preorder += 1
        if kind == NONE_MATCH:
            self.errno = "EBUSY"
            return -1, excl
        if self.prune(meta, x_in, dom, u, resources) or not pol.dom_discover_vtx(g, u):
            return -1, excl
        self._visited(dom)[u] = self.epoch
        dfu = Scoring()
        if kind == SLOT_MATCH:
            self._dom_slot(meta, u, nxt, nslots, check_pres, label, dfu)
        else:
            self._dom_exp(meta, u, nxt, check_pres, x_in, dfu)
        avail = g.avail(u, meta.at, meta.duration)
        if avail == 0:
            self.errno = "EBUSY"
            return -1, x_in
        if not pol.dom_finish_vtx(g, u, resources, dfu, dom):
            return -1, x_in
        if self.resolve(dfu, to_parent) != 0:
            return -1, x_in
        to_parent.avail = avail
        to_parent.overall_score = dfu.overall_score
        t = g.vtype[u]
        for res in resources:
            if res.type == t and res.label:
                eph = g.ephemeral[u]
                if eph is None or eph[0] < self.seq:
                    eph = g.ephemeral[u] = (self.seq, {})
                elif eph[0] != self.seq:
                    eph = g.ephemeral[u] = (self.seq, eph[1])
                if "label" in eph[1]:
                    self.err += "dom_dfv: inserting label into ephemeral failed.\n"
                    return -1, x_in
                eph[1]["label"] = res.label
        self.postorder += 1
        return 0, x_in

    # -- resolution ------------------------------------------------------------------------
    def resolve(self, dfu: Scoring, to_parent: Scoring) -> int:
        rc = 0
        if dfu.overall_score > MATCH_UNMET:
            if dfu.hier_constrain_now:
                for s in self.policy.subsystems:
                    rc += self.enforce(s, dfu)
            else:
                to_parent.merge(dfu)
        return rc

    def enforce(self, s: str, dfu: Scoring, unconstrained: bool = False) -> int:
        g = self.g
        seq = self.seq
        dom = self.policy.dom
        needs_l, excl_l, seq_l = g.e_needs, g.e_excl, g.e_seq
        marked = self.marked
        esrc = g.esrc
        for t in dfu.types(s):
            ev = dfu.m[s][t]
            if not ev.best_k:
                continue
            for i in range(ev.best_i):
                grp = ev.groups[i]
                if grp.root:
                    continue
                for _count, needs, x, e in grp.edges:
                    needs_l[e] = needs
                    excl_l[e] = x
                    seq_l[e] = seq
                    src = esrc[e]
                    lst = marked.get(src)
                    if lst is None:
                        marked[src] = [e]
                    else:
                        lst.append(e)
                    if unconstrained and s == dom:
                        pv = g.esrc[e]
                        while True:
                            pe = g.parent_edge(pv, s)
                            if pe < 0 or seq_l[pe] == seq:
                                break
                            pv = g.esrc[pe]
                            tgt = g.etgt[pe]
                            tt = g.vtype[tgt]
                            if dfu.is_contained(s, tt) and not dfu.m[s][tt].best_k:
                                needs_l[pe] = g.size[tgt]
                                excl_l[pe] = 0
                                seq_l[pe] = seq
                                marked.setdefault(pv, []).append(pe)
        return 0

    def select(self, resources, root: int, meta: JobMeta, excl: bool) -> int:
        """Match ``resources`` below ``root``; 0 on success, -1 (see ``errno``)."""
        g = self.g
        dom = self.policy.dom
        self.tick()
        self.preorder = 0
        self.postorder = 0
        dfu = Scoring()
        rc, x_in = self.dom_dfv(meta, root, resources, True, excl, dfu)
        if rc == 0:
            avail = dfu.avail
            dfu.add(
                dom,
                g.vtype[root],
                EGroup(dfu.overall_score, avail, 0, excl, True, [(avail, avail, excl, -1)]),
            )
            rc, needs = self._resolve_graph(root, resources, dfu)
            if rc < 0:
                self.errno = "ENODEV"
            g.v_rt[dom] = [needs, 1 if x_in else 0, self.seq]
        return rc

    def _resolve_graph(self, root, resources, dfu):
        g = self.g
        dom = self.policy.dom
        if not self.policy.dom_finish_graph(resources, dfu, dom):
            return -1, 0
        needs = 1
        for res in resources:
            if res.type == g.vtype[root]:
                count = calc_count(res, dfu.avail)
                if count == 0:
                    return -1, 0
                needs = count
        for s in self.policy.subsystems:
            for t in dfu.types(s):
                if dfu.qualified_count(s, t) == 0:
                    return -1, needs
        for s in self.policy.subsystems:
            self.enforce(s, dfu, True)
        return 0, needs
