"""Match policies: how the traverser scores and picks among candidates.

Names follow Fluxion (``flux-config-sched-fluxion-resource(5)``):

=============  ==========================================================
``first``      ``policy=high node_centric=true stop_on_1_matches=true``
``firstnodex`` as ``first`` plus ``node_exclusive=true``
``high``       highest ids first
``low``        lowest ids first
``hinode``     ``policy=high node_centric=true``
``lonode``     ``policy=low node_centric=true``
``hinodex``    ``hinode`` with whole nodes
``lonodex``    ``lonode`` with whole nodes
``locality``   prefer contiguous id ranges
``variation``  prefer nodes of similar ``perf_class`` property
=============  ==========================================================

A custom policy string (``"policy=low node_centric=true"``) builds the
same multilevel-id policy from its options.

Scores: a vertex's score is ``1 + id + 1`` plus, under ``node_centric``,
the *factor* of its enclosing node, ``(node_id + 2) * 10000 + |uniq_id %
10000 - 1|``, so every resource inside a better node outranks every
resource inside a worse one.  ``stop_on_1_matches`` makes the traverser stop
exploring children as soon as a request is satisfied ("first match").
"""

from __future__ import annotations

from fluxlab.sched.errors import MatchError
from fluxlab.sched.scoring import MATCH_MET, MATCH_UNMET, Scoring

__all__ = [
    "POLICIES",
    "MatchPolicy",
    "MultilevelPolicy",
    "VariationPolicy",
    "LocalityPolicy",
    "create_policy",
    "calc_count",
    "calc_effective_max",
]

UINT_MAX = 2**32 - 1

POLICIES = {
    "first": "policy=high node_centric=true stop_on_1_matches=true",
    "firstnodex": "policy=high node_centric=true node_exclusive=true stop_on_1_matches=true",
    "high": "policy=high",
    "low": "policy=low",
    "lonode": "policy=low node_centric=true",
    "hinode": "policy=high node_centric=true",
    "lonodex": "policy=low node_centric=true node_exclusive=true",
    "hinodex": "policy=high node_centric=true node_exclusive=true",
    "locality": "",
    "variation": "",
}
_OPTIONS = ("policy", "node_centric", "stop_on_1_matches", "node_exclusive")


def calc_count(res, qc: int) -> int:
    """Units to take of ``res`` when ``qc`` qualify (0: cannot satisfy)."""
    cur = res.min
    if cur > res.max or cur > qc:
        return 0
    oper = res.oper
    if oper == "+":
        count = qc if qc < res.max else res.max
        return count - (count - cur) % res.operand
    count = 0
    if oper == "*":
        if res.operand == 1:
            return cur
        while cur <= qc and cur <= res.max:
            count = cur
            cur *= res.operand
        return count
    if oper == "^":
        if res.operand < 2 or cur == 1:
            return cur
        while cur <= qc and cur <= res.max:
            base = cur
            count = cur
            for _ in range(1, res.operand):
                cur *= base
        return count
    return 0


def calc_effective_max(res) -> int:
    return calc_count(res, UINT_MAX)


def parse_policy_string(text: str) -> dict[str, bool]:
    """Parse ``"policy=high node_centric=true ..."`` into flags.

    Raises
    ------
    MatchError
        For an unknown option or a value that is not ``true``/``false``
        (``low``/``high`` for ``policy``).
    """
    out: dict[str, bool] = {}
    for opt in text.split(" "):
        key, _, val = opt.partition("=")
        if key not in _OPTIONS:
            raise MatchError(f"invalid policy option: {key}")
        if key == "policy":
            if val not in ("high", "low"):
                raise MatchError("policy key within custom policy accepts only low or high")
            out.setdefault(val, True)
        elif val in ("true", "false"):
            out.setdefault(key, val == "true")
        else:
            raise MatchError(f"Policy option {key} requires true or false, got {val}")
    return out


class MatchPolicy:
    """Base policy: pruning types, exclusive types and the visit callbacks."""

    name = "base"
    descending = True
    stop_on_k = 0
    #: Break score ties by discovery order (Python's stable sort) instead of
    #: reproducing libstdc++'s introsort; the indexed fast path needs this.
    stable = False

    def __init__(self, name: str = "") -> None:
        self.name = name or self.name
        self.exclusive_types: set[str] = set()
        self.subsystems: list[str] = []
        self.dom = "error"
        # subsystem -> anchor type -> prune types (in insertion order of types)
        self.pruning: dict[str, dict[str, list[str]]] = {}
        self.pruning_total: dict[str, set[str]] = {}
        self.pruning_version = 0
        self.type_order = None

    # -- subsystems ----------------------------------------------------------
    def add_subsystem(self, s: str) -> None:
        if s not in self.subsystems:
            self.subsystems.append(s)
        #: the dominant subsystem (the first added)
        self.dom = self.subsystems[0]

    # -- pruning types --------------------------------------------------------
    def _sorted(self, items) -> list[str]:
        if self.type_order is None:
            return sorted(items)
        return self.type_order.sort(items)

    def set_pruning_types_w_spec(self, s: str, spec: str) -> None:
        """Install ``HL:LL[,HL:LL...]`` filters (``ALL`` = every type)."""
        for pair in spec.split(","):
            if ":" not in pair:
                raise MatchError(f"prune filter {pair!r} is not HL:LL")
            hi, _, lo = pair.partition(":")
            hi = "".join(hi.split())
            lo = "".join(lo.split())
            if not hi or not lo:
                raise MatchError(f"prune filter {pair!r} has an empty type")
            self.set_pruning_type(s, "*" if hi == "ALL" else hi, lo)

    def set_pruning_type(self, s: str, anchor: str, prune: str) -> None:
        self.pruning_version += 1
        m = self.pruning.setdefault(s, {})
        if anchor == "*":
            for k in m:
                if prune in m[k]:
                    m[k] = [t for t in m[k] if t != prune]
            m[anchor] = self._sorted(set(m.get(anchor, [])) | {prune})
        elif "*" not in m or prune not in m["*"]:
            m[anchor] = self._sorted(set(m.get(anchor, [])) | {prune})
        self.pruning_total.setdefault(s, set()).add(prune)

    def is_pruning_type(self, s: str, t: str) -> bool:
        tot = self.pruning_total.get(s)
        return tot is not None and t in tot

    def my_pruning_types(self, s: str, anchor: str) -> list[str]:
        m = self.pruning.get(s)
        if m is None:
            return []
        out = list(m.get(anchor, ()))
        if anchor != "*":
            out.extend(t for t in m.get("*", ()) if t != anchor)
        return out

    # -- callbacks (overridden) -----------------------------------------------
    def reset(self) -> None:
        """Forget per-traversal state."""

    def dom_discover_vtx(self, g, u: int) -> bool:
        return True

    def dom_finish_vtx(self, g, u: int, resources, dfu: Scoring, s: str) -> bool:
        return True

    def dom_finish_slot(self, dfu: Scoring, s: str) -> None:
        pass

    def dom_finish_graph(self, resources, dfu: Scoring, s: str) -> bool:
        return True

    def _choose_children(self, g, u, resources, dfu, s, descending) -> int:
        score = MATCH_MET
        t = g.vtype[u]
        for res in resources:
            if res.type != t:
                continue
            for c in res.with_:
                count = calc_count(c, dfu.qualified_count(s, c.type))
                if count == 0:
                    score = MATCH_UNMET
                    break
                dfu.choose_accum_best_k(s, c.type, count, descending, self.stable)
        return score


class MultilevelPolicy(MatchPolicy):
    """low/high id first, optionally node-centric and node-exclusive."""

    def __init__(
        self,
        name: str,
        descending: bool,
        *,
        node_centric=False,
        node_exclusive=False,
        stop_on_1=False,
    ):
        super().__init__(name)
        self.descending = descending
        self.factors: dict[str, tuple[int, int]] = {}
        if node_centric:
            self.factors["node"] = (1, 10000)
        if node_exclusive:
            self.exclusive_types.add("node")
        self.stop_on_k = 1 if stop_on_1 else 0
        self.node_exclusive = node_exclusive
        self._scores = 0
        self._last_factor: dict[str, int] = {}

    def reset(self) -> None:
        self._scores = 0

    def dom_discover_vtx(self, g, u: int) -> bool:
        f = self.factors.get(g.vtype[u])
        if f is not None:
            vid = g.vid[u]
            if vid < -1:
                return False
            add_by, mult = f
            factor = (vid + 1 + add_by) * mult + abs(g.uniq_id[u] % mult - 1)
            self._last_factor[g.vtype[u]] = factor
            self._scores += factor
        return True

    def dom_finish_vtx(self, g, u, resources, dfu, s) -> bool:
        score = self._choose_children(g, u, resources, dfu, s, self.descending)
        t = g.vtype[u]
        if t in self.factors:
            self._scores -= self._last_factor.get(t, 0)
        dfu.overall_score = (score + self._scores + g.vid[u] + 1) if score == MATCH_MET else score
        return score == MATCH_MET

    def dom_finish_slot(self, dfu, s) -> None:
        for t in dfu.types(s):
            dfu.choose_accum_all(s, t, self.descending, self.stable)

    def dom_finish_graph(self, resources, dfu, s) -> bool:
        score = MATCH_MET
        for res in resources:
            count = calc_count(res, dfu.qualified_count(s, res.type))
            if count == 0:
                score = MATCH_UNMET
                break
            dfu.choose_accum_best_k(s, res.type, count, self.descending, self.stable)
        dfu.overall_score = score
        self._scores = 0
        return score == MATCH_MET


class VariationPolicy(MatchPolicy):
    """Variation-aware: score nodes by their ``perf_class`` property."""

    name = "variation"
    descending = False

    def dom_finish_vtx(self, g, u, resources, dfu, s) -> bool:
        score = self._choose_children(g, u, resources, dfu, s, False)
        if score == MATCH_MET:
            perf = 9999
            props = g.props[u]
            if props and "perf_class" in props:
                try:
                    perf = _stoi(props["perf_class"])
                except ValueError:
                    perf = 9999
                if perf < 0 or perf > 9999:
                    perf = 9999
            dfu.overall_score = score + perf
        else:
            dfu.overall_score = score
        return score == MATCH_MET

    def dom_finish_slot(self, dfu, s) -> None:
        for t in dfu.types(s):
            dfu.choose_accum_all(s, t, True, self.stable)

    def dom_finish_graph(self, resources, dfu, s) -> bool:
        score = MATCH_MET
        for res in resources:
            count = calc_count(res, dfu.qualified_count(s, res.type))
            if count == 0:
                score = MATCH_UNMET
                break
            dfu.choose_accum_best_k(s, res.type, count, False, self.stable)
        dfu.overall_score = score
        return score == MATCH_MET


def _stoi(text: str) -> int:
    """C++ ``std::stoi``: leading whitespace, sign, digits; rest ignored."""
    s = text.lstrip()
    i = 0
    if i < len(s) and s[i] in "+-":
        i += 1
    j = i
    while j < len(s) and s[j].isdigit():
        j += 1
    if j == i:
        raise ValueError(text)
    return int(s[:j])


class LocalityPolicy(MultilevelPolicy):
    """Locality-aware: prefer candidates whose scores form contiguous runs.

    Candidates are ranked by the run of consecutive scores they belong to
    (a higher run first), which keeps a job's resources in one id range.
    """

    def __init__(self) -> None:
        super().__init__("locality", True)

    def dom_finish_graph(self, resources, dfu, s) -> bool:
        score = MATCH_MET
        for res in resources:
            count = calc_count(res, dfu.qualified_count(s, res.type))
            if count == 0:
                score = MATCH_UNMET
                break
            ev = dfu.evals(s, res.type)
            runs = _runs({g.score for g in ev.groups})
            orig = {id(g): g.score for g in ev.groups}
            for g in ev.groups:
                g.score = runs[g.score]
            dfu.choose_accum_best_k(s, res.type, count, True, self.stable)
            for g in ev.groups:
                g.score = orig[id(g)]
        dfu.overall_score = score
        self._scores = 0
        return score == MATCH_MET


def _runs(scores: set[int]) -> dict[int, int]:
    """Map each score to a sortable key of its contiguous run (upper end)."""
    out: dict[int, int] = {}
    ordered = sorted(scores)
    start = 0
    for i in range(1, len(ordered) + 1):
        if i == len(ordered) or ordered[i] != ordered[i - 1] + 1:
            for s in ordered[start:i]:
                out[s] = ordered[i - 1]
            start = i
    return out


def create_policy(name: str) -> MatchPolicy:
    """Build a policy from a Fluxion policy name or custom policy string.

    Raises
    ------
    MatchError
        For an unknown policy.
    """
    if name == "locality":
        return LocalityPolicy()
    if name == "variation":
        return VariationPolicy("variation")
    spec = POLICIES.get(name, name)
    if not spec:
        raise MatchError(f"unknown match policy {name!r}")
    flags = parse_policy_string(spec)
    if flags.get("high"):
        descending = True
    elif flags.get("low"):
        descending = False
    else:
        raise MatchError(f"match policy {name!r} names neither policy=low nor policy=high")
    return MultilevelPolicy(
        name,
        descending,
        node_centric=flags.get("node_centric", False),
        node_exclusive=flags.get("node_exclusive", False),
        stop_on_1=flags.get("stop_on_1_matches", False),
    )
