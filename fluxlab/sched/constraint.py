"""RFC 31 job constraints as Fluxion's jobspec parser reads them.

A constraint is a one-key mapping: ``properties: [..]`` (each name may be
negated with a leading ``^``), ``hostlist: [..]`` (RFC 29), ``ranks: [..]``
(RFC 22 idsets), or ``and``/``or``/``not`` over a list of constraints
(``not`` negates the *and* of its operands).  An empty mapping matches
everything.  Constraints only apply to vertices of type ``node`` or
``storage_node`` during matching.
"""

from __future__ import annotations

from fluxlab.resource.hostlist import Hostlist, HostlistError
from fluxlab.resource.idset import IDset, IdsetError
from fluxlab.sched.errors import JobspecError

__all__ = ["Constraint", "parse_constraint", "constraint_from_data"]

_BAD_PROPERTY_CHARS = set("!&'\"^`|()")


class Constraint:
    """A parsed constraint; :meth:`match` takes ``(name, rank, properties)``."""

    __slots__ = ("op", "values")

    def __init__(self, op: str = "", values=None):
        self.op = op
        self.values = values if values is not None else []

    def match(self, name: str, rank: int, properties: dict[str, str] | None) -> bool:
        op = self.op
        if op == "":
            return True
        if op == "properties":
            props = properties or {}
            for value in self.values:
                if value.startswith("^"):
                    if value[1:] in props:
                        return False
                elif value not in props:
                    return False
            return True
        if op == "hostlist":
            return name in self.values
        if op == "ranks":
            return rank in self.values
        if op == "and":
            return all(c.match(name, rank, properties) for c in self.values)
        if op == "or":
            return any(c.match(name, rank, properties) for c in self.values)
        if op == "not":
            return not all(c.match(name, rank, properties) for c in self.values)
        return False

    def as_data(self) -> dict:
        if self.op == "":
            return {}
        if self.op in ("and", "or", "not"):
            return {self.op: [c.as_data() for c in self.values]}
        if self.op == "hostlist":
            return {"hostlist": [Hostlist(self.values).encode()]}
        if self.op == "ranks":
            return {"ranks": [str(self.values)]}
        return {self.op: list(self.values)}

    def __repr__(self) -> str:
        return f"Constraint({self.as_data()!r})"


def _check_property(prop: str, where: str) -> None:
    body = prop[1:] if prop.startswith("^") else prop
    if any(c in _BAD_PROPERTY_CHARS for c in body):
        raise JobspecError(f"{where}: {prop} is invalid")


def parse_constraint(node, reader) -> Constraint:
    """Parse a composed YAML node with the jobspec parser's ``reader`` helpers."""
    if not reader.is_map(node):
        raise JobspecError("constraint is not a mapping", reader.line(node))
    pairs = node.value
    if len(pairs) > 1:
        raise JobspecError("constraint map may not contain > 1 operation", reader.line(node))
    if not pairs:
        return Constraint()
    key, operands = pairs[0]
    op = reader.as_str(key)
    if not reader.is_seq(operands):
        raise JobspecError(f"{op} operator value must be an array", reader.line(operands))
    if op == "properties":
        vals = []
        for p in operands.value:
            if not reader.is_quoted(p):
                raise JobspecError("non-string property specified", reader.line(operands))
            s = reader.as_str(p)
            _check_property(s, "properties")
            vals.append(s)
        return Constraint("properties", vals)
    if op == "hostlist":
        hosts = Hostlist()
        for h in operands.value:
            s = reader.as_str(h)
            try:
                hosts.append(s)
            except HostlistError:
                raise JobspecError(f"Invalid hostlist `{s}'", reader.line(h)) from None
        return Constraint("hostlist", set(hosts))
    if op == "ranks":
        ranks = IDset()
        for r in operands.value:
            s = reader.as_str(r)
            try:
                ranks.add(IDset(s))
            except IdsetError:
                raise JobspecError(f"Invalid idset `{s}'", reader.line(r)) from None
        return Constraint("ranks", ranks)
    if op in ("and", "or", "not"):
        return Constraint(op, [parse_constraint(c, reader) for c in operands.value])
    raise JobspecError(f"unknown constraint operator: {op}", reader.line(node))


def constraint_from_data(data) -> Constraint:
    """Build a constraint from plain Python data (RFC 31 JSON form)."""
    if not isinstance(data, dict):
        raise JobspecError("constraint is not a mapping")
    if len(data) > 1:
        raise JobspecError("constraint map may not contain > 1 operation")
    if not data:
        return Constraint()
    ((op, operands),) = data.items()
    if not isinstance(operands, list):
        raise JobspecError(f"{op} operator value must be an array")
    if op == "properties":
        for p in operands:
            if not isinstance(p, str):
                raise JobspecError("non-string property specified")
            _check_property(p, "properties")
        return Constraint("properties", list(operands))
    if op == "hostlist":
        try:
            return Constraint("hostlist", set(Hostlist(",".join(map(str, operands)))))
        except HostlistError as exc:
            raise JobspecError(f"Invalid hostlist: {exc}") from None
    if op == "ranks":
        try:
            ranks = IDset()
            for r in operands:
                ranks.add(IDset(str(r)))
            return Constraint("ranks", ranks)
        except IdsetError as exc:
            raise JobspecError(f"Invalid idset: {exc}") from None
    if op in ("and", "or", "not"):
        return Constraint(op, [constraint_from_data(c) for c in operands])
    raise JobspecError(f"unknown constraint operator: {op}")
