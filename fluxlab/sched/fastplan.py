"""Static side of the indexed fast path: graph layout and request plans.

:class:`Layout` classifies every vertex of the containment tree once per
graph shape (it is rebuilt after ``attach``/``remove``):

* *containers* hang above nodes (``cluster``, ``rack``...),
* *nodes* are the ``node`` vertices (never nested),
* everything below a node is *inner* (``socket``) or a *leaf*,
* *other* vertices hang above nodes but hold no node (a ``storage`` pool
  under the cluster); no supported request can use them.

It also records the depth-first preorder position of every vertex (the
order the exhaustive traversal discovers candidates in, which breaks score
ties) and, per slot *host* (the topmost vertex at or below a node whose
children include every type a slot asks for), the host's children of each
type in the three orders the policies need.

:func:`compile_plan` recognises the two request shapes the fast path
serves and returns a :class:`Plan`, or ``None`` for anything else:

``slot[S] -> {leaf[c]...}``
    ``S`` slots anywhere (the shape ``flux run -n S`` produces);
``node[N] -> slot[S] -> {leaf[c]...}``
    ``N`` nodes (exclusive or not), each with ``S`` slots on the node or
    on its direct children (sockets).

All counts must be fixed (``min == max``), leaf types must be size-1
leaves, and no level may carry a label other than the slot's or a unit.
"""

from __future__ import annotations

import json

from fluxlab.sched.graph import CONTAINMENT, ResourceGraph
from fluxlab.sched.policies import MultilevelPolicy

__all__ = ["Layout", "Plan", "compile_plan", "SLOT_TOP", "NODE_TOP"]

SLOT_TOP = 0
NODE_TOP = 1

OTHER, CONTAINER, NODE, INNER, LEAF = range(5)


class Plan:
    """A compiled request the fast path can serve."""

    __slots__ = (
        "kind",
        "count",
        "slots",
        "excl",
        "leaves",
        "types",
        "constraint",
        "sig",
        "is_host",
    )

    def __init__(self, kind, count, slots, excl, leaves, constraint):
        self.kind = kind
        self.count = count
        self.slots = slots
        self.excl = excl
        self.leaves = leaves
        self.types = frozenset(t for t, _c in leaves)
        self.constraint = constraint
        csig = json.dumps(constraint.as_data(), sort_keys=True) if constraint is not None else ""
        self.sig = (kind, count, slots, excl, leaves, csig)
        self.is_host: set[int] = set()


class Layout:
    """Roles, preorder positions and per-host child lists of one graph shape."""

    def __init__(self, g: ResourceGraph):
        self.g = g
        self.ok = False
        self.why = ""
        n = len(g.vtype)
        self.role = bytearray(n)
        self.node_of = [-1] * n
        self.pos = [-1] * n
        self.pedge = [-1] * n
        self.kids: dict[int, list[int]] = {}
        self.containers: list[int] = []
        self.nodes: list[int] = []
        self.root = g.roots.get(CONTAINMENT, -1)
        self._hosts: dict[frozenset, tuple | None] = {}
        self._lists: dict[tuple[int, str], tuple[list[int], list[int], list[int]]] = {}
        self._notleaf: set[str] = set()
        self._ctypes: dict[int, frozenset] = {}
        self._factor: dict[int, int] = {}
        self._build()

    # -- construction -------------------------------------------------------------
    def _build(self) -> None:
        g = self.g
        root = self.root
        if root < 0:
            self.why = "no containment root"
            return
        if g.vtype[root] == "node" or not g.out[root]:
            self.why = "the root is a node or has no children"
            return
        esub, etgt, vtype, out = g.esub, g.etgt, g.vtype, g.out
        pos, pedge, kids = self.pos, self.pedge, self.kids
        # depth-first over the vertices that have children (and nodes);
        # leaves are only recorded as children, which keeps this fast
        order: list[int] = []
        stack = [root]
        while stack:
            u = stack.pop()
            pos[u] = len(order)
            order.append(u)
            ks = []
            push = []
            for e in out[u]:
                if esub[e] != CONTAINMENT:
                    continue
                c = etgt[e]
                if pedge[c] >= 0 or c == root:
                    self.why = f"vertex {g.name[c]!r} is reached twice"
                    return
                pedge[c] = e
                ks.append(c)
                if out[c] or vtype[c] == "node":
                    push.append(c)
            if ks:
                kids[u] = ks
                stack.extend(reversed(push))
        role, node_of = self.role, self.node_of
        sizes = g.size
        # types that are not always size-1 leaves below nodes
        bad = self._notleaf
        has_node = set()
        for u in reversed(order):
            if vtype[u] == "node" or any(c in has_node for c in kids.get(u, ())):
                has_node.add(u)
        for u in order:
            if sizes[u] != 1:
                # "held by a job" would not mean "no units free"
                self.why = f"vertex {g.name[u]!r} has size {sizes[u]}"
                return
            e = pedge[u]
            parent_node = node_of[g.esrc[e]] if e >= 0 else -1
            if vtype[u] == "node":
                if parent_node >= 0:
                    self.why = f"node {g.name[u]!r} is inside another node"
                    return
                role[u] = NODE
                node_of[u] = u
                self.nodes.append(u)
            elif parent_node >= 0:
                node_of[u] = parent_node
                role[u] = INNER
            elif u in has_node:
                role[u] = CONTAINER
                self.containers.append(u)
            else:
                role[u] = OTHER
            n = node_of[u]
            if n >= 0:
                if role[u] == INNER:
                    bad.add(vtype[u])
                for c in kids.get(u, ()):
                    if not out[c] and vtype[c] != "node":
                        node_of[c] = n
                        role[c] = LEAF
                        if sizes[c] != 1:
                            bad.add(vtype[c])
        if not self.nodes:
            self.why = "the graph has no node vertices"
            return
        self.ok = True

    # -- queries --------------------------------------------------------------------------
    def leaf_type_ok(self, t: str) -> bool:
        """True when every live ``t`` below a node is a size-1 leaf."""
        return t not in self._notleaf and t != "node"

    def child_types(self, u: int) -> frozenset:
        ct = self._ctypes.get(u)
        if ct is None:
            vtype = self.g.vtype
            ct = self._ctypes[u] = frozenset(vtype[c] for c in self.kids.get(u, ()))
        return ct

    def hosts(self, types: frozenset):
        """Slot hosts for ``types``: ``(hosts, per_node, is_host)`` or None.

        None when a container would host the slot itself (the fast path
        does not serve that).
        """
        if types in self._hosts:
            return self._hosts[types]
        out = None
        if all(not types <= self.child_types(c) for c in self.containers):
            hosts: list[int] = []
            per_node: dict[int, list[int]] = {}
            for node in self.nodes:
                found: list[int] = []
                self._find_hosts(node, types, found)
                per_node[node] = found
                hosts.extend(found)
            hosts.sort(key=self.pos.__getitem__)
            out = (hosts, per_node, set(hosts))
        self._hosts[types] = out
        return out

    def _find_hosts(self, u: int, types: frozenset, found: list[int]) -> None:
        if types <= self.child_types(u):
            found.append(u)
            return
        for c in self.kids.get(u, ()):
            if self.role[c] == INNER:
                self._find_hosts(c, types, found)

    def lists(self, h: int, t: str, descending: bool):
        """Children of ``h`` of type ``t``: (out-order, uniq-desc, score order)."""
        key = (h, t)
        lst = self._lists.get(key)
        if lst is None:
            g = self.g
            vtype = g.vtype
            out = [c for c in self.kids.get(h, ()) if vtype[c] == t]
            uq = sorted(out, key=g.uniq_id.__getitem__, reverse=True)
            sc = sorted(out, key=g.vid.__getitem__, reverse=descending)
            lst = self._lists[key] = (out, uq, sc)
        return lst

    def factor(self, node: int) -> int:
        """Node-centric factor of ``node`` (see :mod:`fluxlab.sched.policies`)."""
        f = self._factor.get(node)
        if f is None:
            g = self.g
            f = self._factor[node] = (g.vid[node] + 2) * 10000 + abs(g.uniq_id[node] % 10000 - 1)
        return f

    def chain(self, u: int) -> list[int]:
        """Ancestors of ``u`` below the root, nearest first."""
        g = self.g
        out = []
        e = self.pedge[u]
        while e >= 0:
            p = g.esrc[e]
            if p == self.root:
                break
            out.append(p)
            e = self.pedge[p]
        return out


def _fixed(r) -> bool:
    return r.min == r.max and r.min >= 1


def compile_plan(js, layout: Layout, policy) -> Plan | None:
    """Recognise a request the fast path serves (see the module docstring)."""
    if not layout.ok or type(policy) is not MultilevelPolicy or policy.subsystems != [CONTAINMENT]:
        return None
    res = js.resources
    if len(res) != 1:
        return None
    top = res[0]
    excl = False
    if top.type == "slot":
        kind = SLOT_TOP
        slot = top
    elif top.type == "node":
        if not _fixed(top) or top.label or top.unit or len(top.with_) != 1:
            return None
        kind = NODE_TOP
        excl = top.exclusive is True
        slot = top.with_[0]
        if slot.type != "slot":
            return None
    else:
        return None
    if not _fixed(slot) or slot.unit or not slot.with_:
        return None
    leaves = []
    seen = set()
    for r in slot.with_:
        t = r.type
        if (
            t in seen
            or t in ("slot", "node")
            or r.with_
            or not _fixed(r)
            or r.label
            or r.unit
            or r.exclusive is False
            or not layout.leaf_type_ok(t)
        ):
            return None
        seen.add(t)
        leaves.append((t, r.min))
    plan = Plan(kind, top.min, slot.min, excl, tuple(leaves), js.constraint)
    hosts = layout.hosts(plan.types)
    if hosts is None:
        return None
    plan.is_host = hosts[2]
    if kind == NODE_TOP:
        # slots must sit on the node or on its direct children: the
        # traverser does not look deeper once the node matched
        pedge, esrc = layout.pedge, layout.g.esrc
        for n, hs in hosts[1].items():
            if hs != [n] and any(esrc[pedge[h]] != n for h in hs):
                return None
    return plan
