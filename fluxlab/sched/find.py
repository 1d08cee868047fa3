"""``find``: list vertices matching a predicate expression.

Predicates: ``status=up|down``, ``sched-now=allocated|free``,
``sched-future=reserved|free``, ``agfilter=true|false`` (also ``t``/``f``),
``names=HOSTLIST``, ``jobid-alloc=ID``, ``jobid-span=ID``, ``jobid-tag=ID``,
``jobid-reserved=ID`` and ``property=NAME``.  They combine with ``and``,
``or`` and parentheses; juxtaposition means ``and``; evaluation is strictly
left to right (no precedence), as in Fluxion's ``expr_eval_api``.

The walk is depth first; a vertex is written when it matches or has a
matching descendant.  A parent that is down, allocated or reserved makes its
children count as such.  With ``agfilter=true`` only vertices holding a
pruning filter are written, with their ``used``/``total`` counts (for one
job when a ``jobid-*`` predicate is present).
"""

from __future__ import annotations

import time

from fluxlab.resource.hostlist import Hostlist, HostlistError
from fluxlab.sched.errors import MatchError
from fluxlab.sched.graph import DOWN

__all__ = ["validate", "evaluate", "extract", "find"]

_WS = " \t"


def _find_not_of(e: str, at: int) -> int:
    while at < len(e) and e[at] in _WS:
        at += 1
    return at if at < len(e) else -1


def _find_of(e: str, chars: str, at: int) -> int:
    while at < len(e):
        if e[at] in chars:
            return at
        at += 1
    return -1


def _closing_paren(e: str, at: int) -> int:
    pa = _find_not_of(e, at)
    if pa < 0:
        return -1
    bal = 1
    pa += 1
    while bal:
        pa = _find_of(e, "()", pa)
        if pa < 0:
            return -1
        bal = bal - 1 if e[pa] == ")" else bal + 1
        pa += 1
    return pa


def _parse_leaf(e: str, at: int):
    tok = _find_not_of(e, at)
    if tok < 0:
        raise MatchError("empty expression")
    end = _find_of(e, _WS, tok)
    if end < 0:
        end = len(e)
    return tok, end - tok


def _is_paren(e: str, at: int) -> bool:
    i = _find_not_of(e, at)
    return i >= 0 and e[i] == "("


def _pred_op(e: str, at: int):
    if at >= len(e) or e[at] not in _WS:
        raise MatchError("expected whitespace between predicates")
    nws = _find_not_of(e, at)
    if nws < 0:
        raise MatchError("dangling operator")
    xws = _find_of(e, _WS, nws)
    if xws < 0:
        xws = len(e)
    word = e[nws:xws]
    if word == "and":
        return "and", xws
    if word == "or":
        return "or", xws
    return "and", at


def _last_not_ws(e: str) -> int:
    i = len(e) - 1
    while i >= 0 and e[i] in _WS:
        i -= 1
    return i


def _walk(e: str, leaf) -> bool:
    """Evaluate ``e`` left to right; ``leaf(text)`` gives a predicate's value."""

    def one(at):
        if not _is_paren(e, at):
            tok, ln = _parse_leaf(e, at)
            return leaf(e[tok : tok + ln]), tok + ln
        tok = _find_not_of(e, at)
        end = _closing_paren(e, tok)
        if end < 0:
            raise MatchError("unbalanced parentheses")
        return _walk(e[tok + 1 : end - 1], leaf), end

    result, at = one(0)
    last = _last_not_ws(e)
    while at <= last:
        op, at = _pred_op(e, at)
        r2, at = one(at)
        result = (result and r2) if op == "and" else (result or r2)
    return result


_KEYS = {
    "status": ("down", "up"),
    "sched-now": ("allocated", "free"),
    "sched-future": ("reserved", "free"),
    "agfilter": ("true", "t", "false", "f"),
}
_JOB_KEYS = ("jobid-alloc", "jobid-span", "jobid-tag", "jobid-reserved")


def _jobid(x: str) -> int | None:
    try:
        return int(x, 0) if x.lower().startswith("0x") else int(x)
    except ValueError:
        return None


def _split(leaf: str) -> tuple[str, str]:
    if "=" not in leaf:
        raise MatchError(f"predicate {leaf!r} has no '='")
    k, _, v = leaf.partition("=")
    return k, v


def _valid(k: str, v: str) -> bool:
    lv = v.lower()
    if k in _KEYS:
        return lv in _KEYS[k]
    if k in _JOB_KEYS:
        return _jobid(v) is not None and _jobid(v) >= 0
    if k == "names":
        try:
            Hostlist(lv)
        except HostlistError:
            return False
        return True
    if k == "property":
        return len(lv) > 0
    return False


def validate(expr: str) -> None:
    """Raise :class:`MatchError` when ``expr`` is not a valid find expression."""

    def leaf(text):
        k, v = _split(text)
        if not _valid(k, v):
            raise MatchError(f"invalid predicate {text!r}")
        return True

    _walk(expr, leaf)


def extract(expr: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []

    def leaf(text):
        k, v = _split(text)
        out.append((k, v.lower()))
        return True

    _walk(expr, leaf)
    return out


def evaluate(expr: str, g, u: int, over: tuple[bool, bool, bool]) -> bool:
    """Value of ``expr`` at vertex ``u`` with inherited (down, allocated, reserved)."""
    down, alloc, resv = over

    def leaf(text):
        k, v = _split(text)
        if not _valid(k, v):
            raise MatchError(f"invalid predicate {text!r}")
        lv = v.lower()
        if k == "status":
            if lv == "down":
                return down or g.status[u] == DOWN
            return not down and g.status[u] != DOWN
        if k == "sched-now":
            if lv == "allocated":
                return alloc or bool(g.allocs[u])
            return not alloc and not g.allocs[u]
        if k == "sched-future":
            if lv == "reserved":
                return resv or bool(g.resvs[u])
            return not resv and not g.resvs[u]
        if k in _JOB_KEYS:
            j = _jobid(v)
            store = {
                "jobid-alloc": g.allocs,
                "jobid-reserved": g.resvs,
                "jobid-span": g.job2span,
                "jobid-tag": g.tags,
            }[k][u]
            return bool(store) and j in store
        if k == "agfilter":
            return lv in ("true", "t")
        if k == "names":
            return g.name[u] in set(Hostlist(lv))
        if k == "property":
            return lv in (g.props[u] or {})
        return False

    return _walk(expr, leaf)


def find(trav, writers, criteria: str) -> int:
    """Write the vertices matching ``criteria``; 0 on success, -1 on error."""
    g = trav.g
    dom = trav.policy.dom
    root = g.roots.get(dom)
    if root is None:
        trav.errno = "EINVAL"
        return -1
    try:
        validate(criteria)
    except MatchError:
        trav.err += f"find: invalid criteria: {criteria}.\n"
        return -1
    jobid = 0
    agfilter = False
    for k, v in extract(criteria):
        if k in _JOB_KEYS:
            jobid = _jobid(v) or 0
        elif k == "agfilter":
            agfilter = v in ("true", "t")
    trav.tick()
    trav.level = 0
    rc = _dfv(trav, writers, criteria, root, (False, False, False), jobid, agfilter)
    writers.emit_tm(0, 0)
    return 0 if rc >= 0 else -1


def _dfv(trav, w, criteria, u, over, jobid, agfilter) -> int:
    g = trav.g
    dom = trav.policy.dom
    over = (
        over[0] or g.status[u] == DOWN,
        over[1] or bool(g.allocs[u]),
        over[2] or bool(g.resvs[u]),
    )
    vis = trav._visited(dom)
    vis[u] = trav.epoch
    trav.level += 1
    try:
        nchildren = 0
        for s in trav.policy.subsystems:
            for e in list(g.out[u]):
                if g.esub[e] != s:
                    continue
                t = g.etgt[e]
                if s == dom and vis[t] == trav.epoch:
                    continue
                rc = _dfv(trav, w, criteria, t, over, jobid, agfilter) if s == dom else 0
                if rc > 0:
                    w.emit_edg(trav._prefix(), g, e)
                    nchildren += rc
                elif rc < 0:
                    return rc
        try:
            result = evaluate(criteria, g, u, over)
        except MatchError as exc:
            trav.err += f"dom_find_dfv: error from evaluate: {exc}"
            return -1
        if not result and not nchildren:
            return 0
        agdata: dict[str, str] = {}
        if agfilter:
            sp = g.subplans[u]
            p = sp.get(dom) if sp else None
            if p is None:
                return 0
            if jobid == 0:
                now = int(time.time())
                for i in range(len(p)):
                    total = p.total_at(i)
                    free = p.avail_at(now, i)
                    if free == total:
                        tmp = p.avail_at(0, i)
                        if tmp != total:
                            free = tmp
                    agdata[p.types[i]] = f"used:{total - free}, total:{total}"
            else:
                j2s = g.job2span[u]
                if not j2s or jobid not in j2s:
                    trav.err += f"dom_find_dfv: span missing in job2span  for vertex: {g.name[u]}\n"
                    return 0
                for i in range(len(p)):
                    used = p.span_planned_at(j2s[jobid], i)
                    agdata[p.types[i]] = f"used:{used}, total:{p.total_at(i)}"
        eph = g.ephemeral[u]
        if eph is not None and eph[0] < trav.seq:
            g.ephemeral[u] = None
        w.emit_vtx(trav._prefix(), g, u, g.size[u], True, agdata or None)
        g.ephemeral[u] = None
        return nchildren + 1
    finally:
        trav.level -= 1
