"""Fluxion's own jobspec parser (flux-sched ``libjobspec``).

This is not the RFC 14/25 validator of the job manager: it is the looser
parser the matcher uses, with its own acceptance rules.

* Top level: a mapping of exactly ``version`` (1..9999), ``resources``,
  ``tasks`` and ``attributes`` (which may be null).
* Resource: a mapping of 2..10 known keys: ``type`` and ``count``
  (required), ``unit``, ``exclusive`` (``true``/``false``), ``with``,
  ``label`` (required on ``slot``) and ``id``.  A count is an unsigned
  scalar (``min == max``) or ``{min, [max, operator, operand]}`` where
  ``min >= 1``, ``max >= min``, operator ``+`` needs operand ``>= 1``,
  ``*`` and ``^`` need ``>= 2`` (and ``^`` needs ``min >= 2``).  A count
  mapping without ``max`` means "at least min, as many as are free".
* Task: a mapping of 3..5 entries with ``command`` (a sequence), ``slot``
  (a scalar), a ``count`` mapping of exactly one scalar entry, optional
  ``distribution`` and ``attributes``.
* ``attributes`` holds only ``system`` and ``user``; ``system.duration``
  (seconds), ``queue``, ``cwd``, ``environment`` and ``constraints`` (RFC 31,
  see :mod:`fluxlab.sched.constraint`) are interpreted.

Scalar conversion follows yaml-cpp: an integer scalar is read with C++
stream rules (``0x`` hex, leading-zero octal, no ``-`` for unsigned), a
quoted scalar is a string, and a plain ``~``/``null``/empty value is null.
"""

from __future__ import annotations

import json
import math
import re

import yaml

from fluxlab.sched.constraint import Constraint, parse_constraint
from fluxlab.sched.errors import JobspecError

__all__ = ["Resource", "Task", "Jobspec", "parse_jobspec", "UINT_MAX"]

UINT_MAX = 2**32 - 1
INT_MAX = 2**31 - 1
_NULL_TAG = "tag:yaml.org,2002:null"
_INT_RE = re.compile(r"[+-]?(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)\s*\Z")
_FLOAT_RE = re.compile(r"[+-]?((\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)\s*\Z")
_INF = {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"}
_NINF = {"-.inf", "-.Inf", "-.INF"}
_NAN = {".nan", ".NaN", ".NAN"}


class _Reader:
    """yaml-cpp-like access to PyYAML composed nodes."""

    @staticmethod
    def line(node) -> int:
        return node.start_mark.line + 1 if node is not None else -1

    @staticmethod
    def is_null(node) -> bool:
        return isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG and node.style is None

    def is_scalar(self, node) -> bool:
        return isinstance(node, yaml.ScalarNode) and not self.is_null(node)

    @staticmethod
    def is_map(node) -> bool:
        return isinstance(node, yaml.MappingNode)

    @staticmethod
    def is_seq(node) -> bool:
        return isinstance(node, yaml.SequenceNode)

    @staticmethod
    def is_quoted(node) -> bool:
        return isinstance(node, yaml.ScalarNode) and node.style is not None

    def get(self, node, key: str):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                return v
        return None

    def as_str(self, node) -> str:
        if self.is_null(node):
            return "null"
        if not isinstance(node, yaml.ScalarNode):
            raise JobspecError("bad conversion: expected a scalar", self.line(node))
        return node.value

    def as_int(self, node, what: str, unsigned: bool = False, bits: int = 32) -> int:
        if not self.is_scalar(node):
            raise JobspecError(f"bad conversion of {what}: not a scalar", self.line(node))
        text = node.value
        m = _INT_RE.match(text)
        if not m or (unsigned and text.startswith("-")):
            raise JobspecError(f"bad conversion of {what}: {text!r}", self.line(node))
        body = m.group(1)
        sign = -1 if text.startswith("-") else 1
        if body[:2] in ("0x", "0X"):
            val = int(body, 16)
        elif len(body) > 1 and body[0] == "0":
            val = int(body, 8)
        else:
            val = int(body)
        val *= sign
        lo, hi = (0, 2**bits - 1) if unsigned else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
        if not lo <= val <= hi:
            raise JobspecError(f"bad conversion of {what}: {text!r} out of range", self.line(node))
        return val

    def as_char(self, node, what: str) -> str:
        if not self.is_scalar(node) or len(node.value) != 1:
            raise JobspecError(f"bad conversion of {what}: expected one character", self.line(node))
        return node.value

    def as_double(self, node, what: str) -> float:
        if not self.is_scalar(node):
            raise JobspecError(f"bad conversion of {what}: not a scalar", self.line(node))
        text = node.value
        if text in _INF:
            return math.inf
        if text in _NINF:
            return -math.inf
        if text in _NAN:
            return math.nan
        if not _FLOAT_RE.match(text):
            raise JobspecError(f"bad conversion of {what}: {text!r}", self.line(node))
        return float(text)


_R = _Reader()


class Resource:
    """One vertex of the jobspec resource tree.

    ``exclusive`` is ``None`` when unspecified.  ``user_data`` holds the
    per-type aggregates the traverser primes for pruning (it is rebuilt for
    every match).
    """

    __slots__ = (
        "type",
        "min",
        "max",
        "oper",
        "operand",
        "unit",
        "label",
        "id",
        "exclusive",
        "with_",
        "user_data",
    )

    def __init__(
        self,
        rtype: str,
        count: int = 1,
        *,
        max: int | None = None,
        oper: str = "+",
        operand: int = 1,
        unit: str = "",
        label: str = "",
        id: str = "",
        exclusive: bool | None = None,
        with_: list[Resource] | None = None,
    ):
        self.type = rtype
        self.min = count
        self.max = count if max is None else max
        self.oper = oper
        self.operand = operand
        self.unit = unit
        self.label = label
        self.id = id
        self.exclusive = exclusive
        self.with_ = with_ or []
        self.user_data: dict[str, int] = {}

    def to_dict(self) -> dict:
        d: dict = {"type": self.type}
        if self.min == self.max:
            d["count"] = self.min
        else:
            d["count"] = {
                "min": self.min,
                "max": self.max,
                "operator": self.oper,
                "operand": self.operand,
            }
        if self.unit:
            d["unit"] = self.unit
        if self.label:
            d["label"] = self.label
        if self.exclusive is not None:
            d["exclusive"] = self.exclusive
        if self.with_:
            d["with"] = [r.to_dict() for r in self.with_]
        return d

    def __repr__(self) -> str:
        return f"Resource({self.type!r}, {self.min}..{self.max})"


class Task:
    """A task entry (command, slot label, count)."""

    __slots__ = ("command", "slot", "count", "distribution", "attributes")

    def __init__(self, command, slot, count, distribution="", attributes=None):
        self.command = command
        self.slot = slot
        self.count = count
        self.distribution = distribution
        self.attributes = attributes or {}


class Jobspec:
    """A parsed jobspec: resources, tasks and the system attributes used."""

    __slots__ = (
        "version",
        "resources",
        "tasks",
        "duration",
        "queue",
        "cwd",
        "environment",
        "constraint",
        "user",
        "fast_plan",
        "primed",
    )

    def __init__(
        self,
        resources: list[Resource],
        tasks: list[Task] | None = None,
        *,
        version: int = 1,
        duration: float = 0.0,
        queue: str = "",
        constraint: Constraint | None = None,
    ):
        self.version = version
        self.resources = resources
        self.tasks = tasks or []
        self.duration = duration
        self.queue = queue
        self.cwd = ""
        self.environment: dict[str, str] = {}
        self.constraint = constraint
        self.user = None
        # (index generation, plan) cached by the indexed fast path
        self.fast_plan = None
        # (policy id, pruning version, aggregates, exclusive types) of the
        # last priming by a traverser
        self.primed = None

    @classmethod
    def parse(cls, source, known_types=None) -> Jobspec:
        return parse_jobspec(source, known_types)


def _count(res: Resource, c) -> None:
    if _R.is_scalar(c):
        res.min = res.max = _R.as_int(c, "count", unsigned=True)
        return
    if not _R.is_map(c):
        raise JobspecError("count is not a mapping", _R.line(c))
    mn = _R.get(c, "min")
    if mn is None:
        raise JobspecError('Key "min" missing from count', _R.line(c))
    if not _R.is_scalar(mn):
        raise JobspecError('Value of "min" must be a scalar', _R.line(mn))
    mx, op, opnd = _R.get(c, "max"), _R.get(c, "operator"), _R.get(c, "operand")
    if mx is not None or op is not None or opnd is not None:
        if mx is None or op is None or opnd is None:
            raise JobspecError(
                'All or none of "max", "operator", and "operand" must be specified', _R.line(c)
            )
        for key, node in (("max", mx), ("operator", op), ("operand", opnd)):
            if not _R.is_scalar(node):
                raise JobspecError(f'Value of "{key}" must be a scalar', _R.line(node))
        res.max = _R.as_int(mx, "max", unsigned=True)
        res.oper = _R.as_char(op, "operator")
        res.operand = _R.as_int(opnd, "operand")
    else:
        res.max = UINT_MAX
    res.min = _R.as_int(mn, "min", unsigned=True)
    if res.min < 1:
        raise JobspecError('"min" must be greater than zero', _R.line(mn))
    if mx is not None and res.max < res.min:
        raise JobspecError('"max" must be greater than or equal to "min"', _R.line(mx))
    if res.oper == "+":
        if res.operand < 1:
            raise JobspecError(
                "\"operand\" must be greater than zero for addition '+'", _R.line(opnd)
            )
    elif res.oper == "*":
        if res.operand < 2:
            raise JobspecError(
                "\"operand\" must be greater than one for multiplication '*'", _R.line(opnd)
            )
    elif res.oper == "^":
        if res.operand < 2:
            raise JobspecError(
                "\"operand\" must be greater than one for exponentiation '^'", _R.line(opnd)
            )
        if res.min < 2:
            raise JobspecError(
                "\"min\" must be greater than one for exponentiation '^'", _R.line(mn)
            )
    else:
        raise JobspecError("Invalid count operator", _R.line(op))


def _resource(node, known_types) -> Resource:
    if not _R.is_map(node):
        raise JobspecError("resource is not a mapping", _R.line(node))
    t = _R.get(node, "type")
    if t is None:
        raise JobspecError('Key "type" missing from resource', _R.line(node))
    if not _R.is_scalar(t):
        raise JobspecError('Value of "type" must be a scalar', _R.line(t))
    rtype = t.value
    if known_types is not None and rtype not in known_types:
        raise JobspecError('Value of "type" must be a resource type known to fluxion', _R.line(t))
    res = Resource(rtype)
    fields = 1
    c = _R.get(node, "count")
    if c is None:
        raise JobspecError('Key "count" missing from resource', _R.line(node))
    _count(res, c)
    fields += 1
    u = _R.get(node, "unit")
    if u is not None:
        if not _R.is_scalar(u):
            raise JobspecError('Value of "unit" must be a scalar', _R.line(u))
        fields += 1
        res.unit = u.value
    x = _R.get(node, "exclusive")
    if x is not None:
        if not _R.is_scalar(x):
            raise JobspecError('Value of "exclusive" must be a scalar', _R.line(x))
        fields += 1
        if x.value == "false":
            res.exclusive = False
        elif x.value == "true":
            res.exclusive = True
        else:
            raise JobspecError('Value of "exclusive" must be either "true" or "false"', _R.line(x))
    w = _R.get(node, "with")
    if w is not None:
        fields += 1
        res.with_ = _resources(w, known_types)
    lab = _R.get(node, "label")
    if lab is not None:
        if not _R.is_scalar(lab):
            raise JobspecError('Value of "label" must be a scalar', _R.line(lab))
        fields += 1
        res.label = lab.value
    elif rtype == "slot":
        raise JobspecError("All slots must be labeled", _R.line(node))
    i = _R.get(node, "id")
    if i is not None:
        if not _R.is_scalar(i):
            raise JobspecError('Value of "id" must be a scalar', _R.line(i))
        fields += 1
        res.id = i.value
    if fields != len(node.value):
        raise JobspecError("Unrecognized key in resource mapping", _R.line(node))
    if not 2 <= len(node.value) <= 10:
        raise JobspecError("impossible number of entries in resource mapping", _R.line(node))
    return res


def _resources(node, known_types) -> list[Resource]:
    if not _R.is_seq(node):
        raise JobspecError('"resources" is not a sequence', _R.line(node))
    return [_resource(n, known_types) for n in node.value]


def _task(node) -> Task:
    if not _R.is_map(node):
        raise JobspecError("task is not a mapping", _R.line(node))
    cmd = _R.get(node, "command")
    if cmd is None:
        raise JobspecError('Key "command" missing from task', _R.line(node))
    if not _R.is_seq(cmd):
        raise JobspecError('"command" value must be a sequence', _R.line(cmd))
    command = [_R.as_str(a) for a in cmd.value]
    slot = _R.get(node, "slot")
    if slot is None:
        raise JobspecError('Key "slot" missing from task', _R.line(node))
    if not _R.is_scalar(slot):
        raise JobspecError('Value of task "slot" must be a YAML scalar', _R.line(slot))
    count: dict[str, str] = {}
    c = _R.get(node, "count")
    if c is not None:
        if not _R.is_map(c):
            raise JobspecError('"count" in task is not a mapping', _R.line(c))
        if len(c.value) != 1:
            raise JobspecError('"count" in task must have exactly one entry', _R.line(c))
        for k, v in c.value:
            count[_R.as_str(k)] = _R.as_str(v)
    dist = ""
    d = _R.get(node, "distribution")
    if d is not None:
        if not _R.is_scalar(d):
            raise JobspecError('Value of task "distribution" must be a YAML scalar', _R.line(d))
        dist = d.value
    attrs: dict[str, str] = {}
    a = _R.get(node, "attributes")
    if a is not None:
        if not _R.is_map(a):
            raise JobspecError('"attributes" in task is not a mapping', _R.line(a))
        for k, v in a.value:
            attrs[_R.as_str(k)] = _R.as_str(v)
    if not 3 <= len(node.value) <= 5:
        raise JobspecError("impossible number of entries in task mapping", _R.line(node))
    return Task(command, slot.value, count, dist, attrs)


def _attributes(node, js: Jobspec) -> None:
    if not _R.is_map(node):
        raise JobspecError('"attributes" is not a map', _R.line(node))
    for k, v in node.value:
        key = _R.as_str(k)
        if key == "user":
            js.user = v
        elif key == "system":
            if _R.is_seq(v) and v.value:
                raise JobspecError("invalid node in attributes.system", _R.line(v))
            if not _R.is_map(v):
                continue
            for sk, sv in v.value:
                skey = _R.as_str(sk)
                if skey == "duration":
                    js.duration = _R.as_double(sv, "duration")
                elif skey == "queue":
                    js.queue = _R.as_str(sv)
                elif skey == "cwd":
                    js.cwd = _R.as_str(sv)
                elif skey == "environment":
                    if _R.is_map(sv):
                        for ek, ev in sv.value:
                            js.environment[_R.as_str(ek)] = _R.as_str(ev)
                elif skey == "constraints":
                    js.constraint = parse_constraint(sv, _R)
        else:
            raise JobspecError('Unknown key in "attributes"', _R.line(v))


def parse_jobspec(source, known_types=None) -> Jobspec:
    """Parse a jobspec (YAML/JSON text, bytes or a dict) under Fluxion's rules.

    Parameters
    ----------
    source : str | bytes | dict
        The jobspec.  A dict is serialised to JSON first, so the same rules
        apply.
    known_types : set[str], optional
        When given, a resource type outside this set is rejected, as
        Fluxion's matcher does once its graph is loaded.

    Raises
    ------
    JobspecError
        With Fluxion's message and the YAML line when known.
    """
    if isinstance(source, dict):
        source = json.dumps(source)
    if isinstance(source, bytes):
        source = source.decode("utf-8", errors="replace")
    try:
        top = yaml.compose(source)
    except yaml.YAMLError as exc:
        raise JobspecError(f"invalid YAML: {exc}") from None
    if top is None or not _R.is_map(top):
        raise JobspecError("Top level of jobspec is not a mapping", _R.line(top))
    for key, msg in (
        ("version", 'Missing key "version" in top level mapping'),
        ("resources", 'Missing key "resource" in top level mapping'),
        ("tasks", 'Missing key "tasks" in top level mapping'),
        ("attributes", 'Missing key "attributes" in top level mapping'),
    ):
        if _R.get(top, key) is None:
            raise JobspecError(msg, _R.line(top))
    if len(top.value) != 4:
        raise JobspecError("Top mapping in jobspec must have exactly four entries", _R.line(top))
    vnode = _R.get(top, "version")
    if not _R.is_scalar(vnode):
        raise JobspecError('"version" must be an unsigned integer', _R.line(vnode))
    version = _R.as_int(vnode, "version", unsigned=True)
    if not 1 <= version <= 9999:
        raise JobspecError('Only jobspec "version" 1-9999 is supported', _R.line(vnode))
    js = Jobspec([], [], version=version)
    attrs = _R.get(top, "attributes")
    if not _R.is_null(attrs):
        _attributes(attrs, js)
    js.resources = _resources(_R.get(top, "resources"), known_types)
    tnode = _R.get(top, "tasks")
    if not _R.is_seq(tnode):
        raise JobspecError('"tasks" is not a sequence', _R.line(tnode))
    js.tasks = [_task(t) for t in tnode.value]
    return js
