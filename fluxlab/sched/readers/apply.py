"""Apply an existing allocation (JGF or Rv1) to the graph: ``update`` and
``partial-cancel`` of resource-query, and the broker's restart path.

``apply_update`` places the spans of the described vertices in their
planners and marks the edges into them with the traversal token, so the
traverser's update walk (with ``full=False``) then adds tags, exclusivity
spans and pruning-filter spans exactly as for a match.  On error every span
added so far is removed again.
"""

from __future__ import annotations

from fluxlab.sched.errors import GraphError
from fluxlab.sched.graph import CONTAINMENT
from fluxlab.sched.readers.jgf import parse_jgf
from fluxlab.sched.readers.rv1exec import host_split, parse_rv1
from fluxlab.sched.traverser import AT_RESERVE

__all__ = ["apply_update", "partial_cancel"]


def _record(g, v, meta, span, added):
    store = g.resvs if meta.alloc_type == AT_RESERVE else g.allocs
    d = store[v]
    if d is None:
        d = store[v] = {}
    d[meta.jobid] = span
    added.append(v)


def _undo(g, meta, added):
    store = g.resvs if meta.alloc_type == AT_RESERVE else g.allocs
    for v in added:
        span = store[v].pop(meta.jobid)
        g.rem_span(v, span)


def _set_edge(g, src, dst, needs, excl, token) -> None:
    e = g.find_edge(src, dst)
    if e < 0:
        raise GraphError(f"edge {g.name[src]} -> {g.name[dst]} not found in resource graph")
    g.e_needs[e] = needs
    g.e_excl[e] = 1 if excl else 0
    g.e_seq[e] = token


def _find_child(g, parent, name, rtype, vid, rank):
    path = g.paths[parent].get(CONTAINMENT, "") + "/" + name
    for v in g.by_path.get(path, ()):
        if (
            g.alive[v]
            and g.rank[v] == rank
            and g.vid[v] == vid
            and g.size[v] == 1
            and g.vtype[v] == rtype
        ):
            return v
    raise GraphError(f"add_or_update: couldn't find vertex in graph for {name}.")


def _update_rv1(trav, text, meta, token) -> None:
    g = trav.g
    root = g.roots[CONTAINMENT]
    g.v_rt[CONTAINMENT] = [g.size[root], 0, token]
    added: list[int] = []
    per_rank: dict[int, int] = {}
    try:
        for ent in parse_rv1(text):
            base, hid = host_split(ent.host)
            node = _find_child(g, root, ent.host, "node", hid, ent.rank)
            if g.avail(node, meta.at, meta.duration) < g.size[node]:
                raise GraphError(f"update_vertex: {g.name[node]} is unavailable.")
            _set_edge(g, root, node, g.size[node], True, token)
            for ctype, ids in ent.children:
                for i in ids:
                    c = _find_child(g, node, f"{ctype}{i}", ctype, i, ent.rank)
                    if g.avail(c, meta.at, meta.duration) < g.size[c]:
                        raise GraphError(f"update_vertex: {g.name[c]} is unavailable.")
                    span = g.add_span(c, meta.at, meta.duration, g.size[c])
                    _record(g, c, meta, span, added)
                    per_rank[ent.rank] = per_rank.get(ent.rank, 0) + 1
                    _set_edge(g, node, c, g.size[c], True, token)
            ranked = [v for v in g.by_rank.get(ent.rank, ()) if g.alive[v]]
            if per_rank.get(ent.rank, 0) == len(ranked) - 1:
                span = g.add_span(node, meta.at, meta.duration, g.size[node])
                _record(g, node, meta, span, added)
                per_rank[ent.rank] += 1
    except GraphError:
        _undo(g, meta, added)
        raise


def _update_jgf(trav, text, meta, token) -> None:
    g = trav.g
    verts, edges, _free = parse_jgf(text)
    vmap: dict[str, tuple[int, int, int]] = {}
    added: list[int] = []
    try:
        for f in verts:
            if f.key in vmap:
                raise GraphError(f"find_vtx: found duplicate JGF node id for {f.key}.")
            v = -1
            for p in f.paths.values():
                cand = [u for u in g.by_path.get(p, ()) if g.alive[u] and g.rank[u] == f.rank]
                if not cand:
                    raise GraphError(
                        f"exist: inconsistent input vertex: nonexistent path ({p}) {f.key}."
                    )
                if v >= 0 and cand[0] != v:
                    raise GraphError(f"find_vtx: inconsistent input vertex for {p}.")
                v = cand[0]
            if v < 0 or (g.vtype[v], g.basename[v], g.size[v], g.vid[v], g.name[v]) != (
                f.type,
                f.basename,
                f.size,
                f.id,
                f.name,
            ):
                raise GraphError(f"find_vtx: inconsistent input vertex for {f.key}.")
            vmap[f.key] = (v, f.size, f.exclusive)
            avail = g.avail(v, meta.at, meta.duration)
            if f.exclusive:
                span = g.add_span(v, meta.at, meta.duration, g.size[v])
                _record(g, v, meta, span, added)
            elif avail < g.size[v]:
                raise GraphError(f"update_vtx_plan: {g.name[v]} is unavailable.")
        roots_done: set[str] = set()
        for src, tgt, _sub in edges:
            if src not in vmap or tgt not in vmap:
                raise GraphError(
                    f"unpack_edge: source and/or target vertex not found {src} -> {tgt}."
                )
            sv = vmap[src][0]
            for sub, p in g.paths[sv].items():
                if p.count("/") == 1 and sub not in roots_done:
                    g.v_rt[sub] = [vmap[src][1], vmap[src][2], token]
                    roots_done.add(sub)
            _set_edge(g, sv, vmap[tgt][0], vmap[tgt][1], vmap[tgt][2], token)
    except GraphError:
        _undo(g, meta, added)
        raise


def apply_update(trav, reader: str, text: str, meta, token: int) -> int:
    """Place the allocation ``text`` (``jgf`` or ``rv1exec``) for ``meta.jobid``."""
    if meta.at < 0 or meta.duration <= 0:
        raise GraphError(f"update: invalid time ({meta.at}, {meta.duration})")
    if reader in ("jgf", "jgf_shorthand"):
        _update_jgf(trav, text, meta, token)
    elif reader in ("rv1exec", "rv1exec_force"):
        _update_rv1(trav, text, meta, token)
    else:
        raise GraphError(f"unsupported reader {reader}")
    return 0


def partial_cancel(trav, reader: str, text: str, jobid: int) -> bool:
    """Release the vertices of ``text`` held by ``jobid``; True when none remain."""
    g = trav.g
    if reader in ("rv1exec", "rv1exec_force"):
        ranks = {ent.rank for ent in parse_rv1(text)}
    else:
        verts, _edges, _free = parse_jgf(text)
        ranks = {f.rank for f in verts if f.rank >= 0}
    mod: dict = {}
    rank_root: dict[int, int] = {}
    for rank in sorted(ranks):
        vs = [v for v in g.by_rank.get(rank, ()) if g.alive[v]]
        for v in vs:
            if g.tags[v] and jobid in g.tags[v]:
                trav._cancel_vertex(v, jobid, "VTX_CANCEL", mod)
        root = trav._subgraph_root(vs)
        if root >= 0:
            rank_root[rank] = root
    counts = mod.get("rank_to_counts", {})
    reductions: dict[int, dict[str, int]] = {}
    depth: dict[int, int] = {}
    for rank, root in rank_root.items():
        chain = trav._ancestors(root)
        for i, a in enumerate(chain):
            depth[a] = len(chain) - 1 - i
            r = reductions.setdefault(a, {})
            for t, c in counts.get(rank, {}).items():
                r[t] = r.get(t, 0) + c
    trav._reduce_ancestors(jobid, reductions, depth)
    left = g.by_jobid.get(jobid)
    if not left:
        return True
    for v in left:
        for store in (g.allocs[v], g.resvs[v]):
            if store and jobid in store and g.span(v, store[jobid])[2] != 0:
                return False
        if g.job2span[v] and jobid in g.job2span[v]:
            return False
    for v in list(left):
        trav._cancel_vertex(v, jobid, "CANCEL", {})
    return True
