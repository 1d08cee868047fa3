"""Update phase of the traverser: commit a selection, cancel, shrink, mark.

After :meth:`~fluxlab.sched.traverser.DFUMatcher.select` marked the chosen
edges, :meth:`DFUUpdater.update` walks those edges from the root (children
first, in graph order), and for every vertex with an exclusive allocation
below it:

* adds a span to the vertex planner (exclusive vertices only),
* tags the vertex with the job id and the job's time window,
* adds a span to its pruning filter holding the units used below it,
* writes the vertex (and the edge into it) to the match writer.

Node-exclusive policies and ``exclusive: true`` requests make the walk
descend into every child of such a vertex ("shadow" resources), so the
whole node is recorded and written.  Cancel undoes a job vertex by vertex
through the ``by_jobid`` index; a rank shrink clears whole ranks and lowers
the pruning filters of their ancestors.
"""

from __future__ import annotations

import heapq

from fluxlab.sched.planner import PlannerError
from fluxlab.sched.traverser import AT_ALLOC, AT_NO_ALLOC, AT_RESERVE, DFUMatcher

__all__ = ["DFUUpdater"]

# writer indentation by depth, as resource-query prints it
_PREFIX = ["      " + "---" * i for i in range(64)]


class DFUUpdater(DFUMatcher):
    """Select plus update, cancel and graph-change operations."""

    level = 0

    # -- job windows ---------------------------------------------------------------
    def _record_window(self, meta) -> None:
        w = self._job_windows
        jobid = meta.jobid
        if jobid in w:
            self.forget_job(jobid)
        end = meta.at + meta.duration
        reserved = meta.alloc_type == AT_RESERVE
        w[jobid] = (meta.at, end, reserved)
        if reserved:
            self._n_reserved += 1
        heapq.heappush(self._ends, (end, jobid))
        heapq.heappush(self._starts, (-meta.at, jobid))

    def forget_job(self, jobid: int) -> None:
        """Drop the time window of a job that no longer holds anything."""
        w = self._job_windows
        ent = w.pop(jobid, None)
        if ent is not None and ent[2]:
            self._n_reserved -= 1

    def time_free(self, now: int) -> bool:
        """True when every recorded job is an allocation covering ``now``.

        Then "free during ``[now, now+d)``" means "held by no job" for every
        vertex, which is what the indexed fast path relies on.
        """
        w = self._job_windows
        if not w:
            return True
        if self._n_reserved:
            return False
        ends = self._ends
        while ends:
            end, jobid = ends[0]
            ent = w.get(jobid)
            if ent is None or ent[1] != end:
                heapq.heappop(ends)
                continue
            if end <= now:
                return False
            break
        starts = self._starts
        while starts:
            neg, jobid = starts[0]
            ent = w.get(jobid)
            if ent is None or ent[0] != -neg:
                heapq.heappop(starts)
                continue
            return -neg <= now
        return True

    def _prefix(self) -> str:
        return _PREFIX[self.level] if self.level < len(_PREFIX) else "      " + "---" * self.level

    def _modify_traversal(self, u: int, shadow: bool) -> bool:
        return shadow or self.g.vtype[u] in self.policy.exclusive_types

    # -- update -----------------------------------------------------------------
    def update(self, root: int, writers, meta) -> int:
        """Commit the last selection for ``meta``; 0 on success."""
        g = self.g
        dom = self.policy.dom
        vrt = g.v_rt.get(dom)
        if vrt is None or vrt[2] != self.seq:
            self.errno = "EINVAL"
            self.err += "update: resource state wasn't properly set up for update.\n"
            return -1
        return self._update_walk(root, writers, meta, vrt[0], vrt[1] != 0, True)

    def _update_walk(self, root, writers, meta, needs, x, full) -> int:
        self.reset_color()
        self.level = 0
        self._uvis = self._visited(self.policy.dom)
        self._prune_set = self.policy.pruning_total.get(self.policy.dom, set())
        shadow = self._modify_traversal(root, False)
        n = self._upd_dfv(root, writers, needs, x, meta, full, {}, shadow, False)
        if n > 0:
            if meta.alloc_type != AT_NO_ALLOC:
                self._record_window(meta)
            writers.emit_tm(meta.at, meta.at + meta.duration)
            if meta.queue:
                writers.emit_attrs("queue", meta.queue)
            return 0
        return -1

    def _upd_dfv(self, u, writers, needs, excl, meta, full, to_parent, shadow, excl_parent):
        """Commit ``u``'s marked subtree, children first; return the vertices recorded.

        Per vertex (Fluxion's ``upd_sched``/``upd_meta``): an exclusive vertex
        gets a planner span; a vertex with something recorded below it (or
        itself exclusive) gets the job's tag and window, a span in its
        pruning filter for the units used below it, and is written out.
        Under ``stop_on_1_matches`` the weight of each edge taken is set to
        the free units of its target's last pruning type.
        """
        g = self.g
        pol = self.policy
        dom = pol.dom
        mod = shadow or g.vtype[u] in pol.exclusive_types
        excl = excl or mod
        self.level += 1
        vis = self._uvis
        epoch = self.epoch
        vis[u] = epoch
        n = 0
        dfu: dict[str, int] = {}
        seq = self.seq
        esub, etgt, e_seq = g.esub, g.etgt, g.e_seq
        if mod or self.marked_seq != seq:
            edges = g.out[u]
        else:
            # out-edge lists are in increasing edge order, so sorting the
            # marked ones keeps the walk (and the output) in graph order
            edges = self.marked.get(u)
            if edges is None:
                edges = ()
            elif len(edges) > 1:
                edges = sorted(set(edges))
        for e in edges:
            if esub[e] != dom:
                continue
            tgt = etgt[e]
            if vis[tgt] == epoch:
                continue
            if mod:
                nsub = self._upd_dfv(tgt, writers, g.size[tgt], True, meta, full, dfu, mod, excl)
            elif e_seq[e] != seq:
                continue
            else:
                x = g.e_excl[e] != 0
                nsub = self._upd_dfv(tgt, writers, g.e_needs[e], x, meta, full, dfu, mod, excl)
            if nsub > 0:
                if pol.stop_on_k > 0:
                    sp = g.subplans[tgt]
                    p = sp.get(dom) if sp else None
                    if p is not None:
                        avail = p.planners[-1].avail_at(meta.now)
                        if avail != 0 or p._lookup:
                            new = avail if avail > 0 else 0
                            old = g.e_weight[e]
                            if new != old:
                                g.e_weight[e] = new
                                if self.observer is not None:
                                    self.observer.weight_changed(e, old, new)
                if writers.wants_edges:
                    lv = self.level
                    writers.emit_edg(_PREFIX[lv] if lv < 64 else self._prefix(), g, e)
                n += nsub
        alloc_type = meta.alloc_type
        if alloc_type == AT_NO_ALLOC:
            if excl:
                n += 1
        else:
            if excl:
                n += 1
                if full:
                    try:
                        span = g.add_span(u, meta.at, meta.duration, needs)
                    except PlannerError as exc:
                        self.err += f"upd_plan: planner_add_span returned -1.\n{exc}\n"
                        self.level -= 1
                        return n
                    if alloc_type == AT_ALLOC:
                        d = g.allocs[u]
                        if d is None:
                            d = g.allocs[u] = {}
                        d[meta.jobid] = span
                    elif alloc_type == AT_RESERVE:
                        d = g.resvs[u]
                        if d is None:
                            d = g.resvs[u] = {}
                        d[meta.jobid] = span
            if n > 0:
                self._upd_meta(u, dom, needs, excl, meta, dfu, to_parent)
                if self.on_touch is not None:
                    self.on_touch(u)
        if n > 0:
            lv = self.level
            writers.emit_vtx(_PREFIX[lv] if lv < 64 else self._prefix(), g, u, needs, excl)
        self.level -= 1
        return n

    def _upd_meta(self, u, s, needs, excl, meta, dfu, to_parent) -> None:
        g = self.g
        jobid = meta.jobid
        tags = g.tags[u]
        if tags is None:
            tags = g.tags[u] = {}
        tags[jobid] = jobid
        held = g.by_jobid.get(jobid)
        if held is None:
            g.by_jobid[jobid] = {u: None}
            g.windows[jobid] = (meta.at, meta.at + meta.duration)
        else:
            held[u] = None
        sp = g.subplans[u]
        p = sp.get(s) if sp else None
        if p is not None and dfu:
            try:
                mspan = p.add_span(meta.at, meta.duration, [dfu.get(t, 0) for t in p.types])
            except PlannerError as exc:
                self.err += f"upd_agfilter: planner_multi_add_span returned -1.\n{exc}\n"
            else:
                j2s = g.job2span[u]
                if j2s is None:
                    j2s = g.job2span[u] = {}
                j2s[jobid] = mspan
        prune = self._prune_set
        t = g.vtype[u]
        if t in prune:
            to_parent[t] = to_parent.get(t, 0) + (g.size[u] if excl else g.size[u] - needs)
        for k, v in dfu.items():
            if k in prune:
                to_parent[k] = to_parent.get(k, 0) + v

    # -- cancel ---------------------------------------------------------------------
    def remove_job(self, jobid: int) -> int:
        """Release every span of ``jobid``; removing an unknown job is a no-op."""
        self.preorder = 0
        self.postorder = 0
        self.forget_job(jobid)
        vertices = self.g.by_jobid.get(jobid)
        if not vertices:
            return 0
        for v in list(vertices):
            self.preorder += 1
            self._cancel_vertex(v, jobid, "CANCEL", {})
            self.postorder += 1
        return 0

    def _cancel_vertex(self, v, jobid, mode, mod) -> int:
        g = self.g
        dom = self.policy.dom
        stop = False
        if mode != "PARTIAL":
            tags = g.tags[v]
            if not tags or jobid not in tags:
                stop = True
            else:
                del tags[jobid]
        if not stop:
            self._mod_agfilter(v, jobid, dom, mode, mod)
        self._mod_plan(v, jobid, mode, mod)
        if mode != "PARTIAL":
            g.remove_job_vertex(jobid, v)
        if self.on_touch is not None:
            self.on_touch(v)
        return 0

    def _mod_agfilter(self, v, jobid, s, mode, mod) -> None:
        g = self.g
        sp = g.subplans[v]
        p = sp.get(s) if sp else None
        if p is None:
            return
        j2s = g.job2span[v]
        if not j2s or jobid not in j2s:
            return
        if mode != "PARTIAL":
            p.rem_span(j2s.pop(jobid))
            return
        tags = g.tags[v]
        if not tags or jobid not in tags:
            return
        try:
            if p.reduce_span(j2s[jobid], mod.get("type_to_count", {})):
                del j2s[jobid]
        except PlannerError as exc:
            self.err += f"mod_agfilter: planner_multi_reduce_span returned -1.\n{exc}\n"

    def _mod_plan(self, v, jobid, mode, mod) -> None:
        g = self.g
        for store in (g.allocs[v], g.resvs[v]):
            if store and jobid in store:
                span = store[jobid]
                start, end, count = g.span(v, span)
                if mode == "PARTIAL":
                    if count == 0:
                        return
                    new = g.add_span(v, start, end - start, 0)
                    g.rem_span(v, span)
                    store[jobid] = new
                    mod["released_own_count"] = g.size[v]
                    return
                if mode == "VTX_CANCEL":
                    counts = mod.setdefault("rank_to_counts", {}).setdefault(g.rank[v], {})
                    counts[g.vtype[v]] = counts.get(g.vtype[v], 0) + count
                del store[jobid]
                g.rem_span(v, span)
                return

    # -- shrink by ranks ---------------------------------------------------------------
    def _ancestors(self, v: int) -> list[int]:
        g = self.g
        dom = self.policy.dom
        chain = []
        p = g.parent(v, dom)
        while p >= 0:
            chain.append(p)
            p = g.parent(p, dom)
        return chain

    def _subgraph_root(self, vertices) -> int:
        g = self.g
        dom = self.policy.dom
        best, blen = -1, None
        for v in vertices:
            p = g.paths[v].get(dom)
            if p is not None and (blen is None or len(p) < blen):
                best, blen = v, len(p)
        return best

    def _clear_vertex(self, v, rank_counts) -> None:
        g = self.g
        total = 0
        if g.allocs[v]:
            for span in g.allocs[v].values():
                total += g.span(v, span)[2]
        counts = rank_counts.setdefault(g.rank[v], {})
        counts[g.vtype[v]] = counts.get(g.vtype[v], 0) + total
        g.plans[v] = None
        sp = g.subplans[v]
        if sp:
            p = sp.get(self.policy.dom)
            if p is not None:
                p.reset()
        for store in (g.tags, g.job2span, g.allocs, g.resvs):
            d = store[v]
            if d:
                for jobid in list(d):
                    g.remove_job_vertex(jobid, v)
                store[v] = None
        if self.observer is not None:
            self.observer.invalidate()

    def remove_ranks(self, ranks) -> int:
        """Clear all job state held by ``ranks`` and lower their ancestors' filters."""
        g = self.g
        self.preorder = 0
        self.postorder = 0
        jobids: set[int] = set()
        rank_counts: dict[int, dict[str, int]] = {}
        rank_root: dict[int, int] = {}
        for rank in ranks:
            vs = g.by_rank.get(rank)
            if vs is None:
                self.err += f"remove: {rank} not found in by_rank map.\n"
                return -1
            for v in list(vs):
                if g.tags[v]:
                    jobids.update(g.tags[v])
                self._clear_vertex(v, rank_counts)
            root = self._subgraph_root(vs)
            if root >= 0:
                rank_root[rank] = root
        if not jobids:
            return 0
        per_job: dict[int, dict[int, dict[str, int]]] = {j: {} for j in jobids}
        depth: dict[int, int] = {}
        for rank, root in rank_root.items():
            counts = rank_counts.get(rank, {})
            chain = self._ancestors(root)
            for jobid in jobids:
                red = per_job[jobid]
                for i, a in enumerate(chain):
                    depth[a] = len(chain) - 1 - i
                    r = red.setdefault(a, {})
                    for t, c in counts.items():
                        r[t] = r.get(t, 0) + c
        rc = 0
        for jobid, red in per_job.items():
            rc |= self._reduce_ancestors(jobid, red, depth)
        return rc

    def _reduce_ancestors(self, jobid, reductions, depth) -> int:
        g = self.g
        order = sorted(reductions, key=lambda a: depth[a], reverse=True)
        for u in order:
            mod = {"type_to_count": reductions[u]}
            self.preorder += 1
            self._cancel_vertex(u, jobid, "PARTIAL", mod)
            released = mod.get("released_own_count", 0)
            if released > 0:
                for a in self._ancestors(u):
                    if a in reductions:
                        r = reductions[a]
                        r[g.vtype[u]] = r.get(g.vtype[u], 0) + released
        return 0

    # -- graph changes ----------------------------------------------------------------
    def mark(self, path: str, status: int) -> int:
        """Set the status of the vertex at ``path`` (its subtree is pruned with it)."""
        vs = self.g.find_path(path)
        if not vs:
            self.err += f"mark: could not find subtree path ({path}) in resource graph.\n"
            self.errno = "EINVAL"
            return -1
        g = self.g
        changed: set[int] = set()
        for v in vs:
            if g.status[v] != status:
                g.status[v] = status
                changed.update(g.subtree(v, self.policy.dom))
        n = sum(g.size[v] for v in changed if g.vtype[v] == "node")
        g.adjust_nodes_up(n if status == 0 else -n)
        if changed and self.observer is not None:
            self.observer.status_changed(changed)
        return 0

    def mark_ranks(self, ranks, status: int) -> int:
        g = self.g
        total = 0
        for rank in ranks:
            vs = [v for v in g.by_rank.get(rank, ()) if g.alive[v]]
            if vs:
                root = self._subgraph_root(vs)
                if g.status[root] != status:
                    g.status[root] = status
                    total += 1
                    if self.observer is not None:
                        self.observer.status_changed(g.subtree(root, self.policy.dom))
        g.adjust_nodes_up(total if status == 0 else -total)
        return 0

    def remove_subgraph_path(self, path: str) -> int:
        g = self.g
        vs = g.by_path.get(path)
        if not vs:
            return -1
        root = vs[-1]
        return self._remove_subgraph([root], set(g.subtree(root, self.policy.dom)))

    def remove_subgraph_ranks(self, ranks) -> int:
        g = self.g
        roots, vset = [], set()
        for rank in ranks:
            vs = [v for v in g.by_rank.get(rank, ()) if g.alive[v]]
            if not vs:
                continue
            r = self._subgraph_root(vs)
            if r < 0:
                self.err += f"remove_subgraph: no vertex of rank {rank} has a path.\n"
                return -1
            vset.update(vs)
            roots.append(r)
        return self._remove_subgraph(roots, vset)

    def _remove_subgraph(self, roots, vertices) -> int:
        g = self.g
        dom = self.policy.dom
        for r in roots:
            if g.parent(r, dom) < 0:
                self.err += (
                    f"remove_subgraph: {g.name[r]} has no parent in the dominant subsystem.\n"
                )
                return -1
        nodes = sum(
            g.size[v] for v in vertices if g.vtype[v] == "node" and g.alive[v] and not g.status[v]
        )
        g.nodes_up()
        g.remove_vertices(vertices)
        g.adjust_nodes_up(-nodes)
        return 0
