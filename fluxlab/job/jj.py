"""Summarise a jobspec's resource request: the ``jj`` and ``jjc`` readers.

Schedulers and the exec system need a few numbers from a jobspec, not its
whole tree.  flux-core has two small readers for that; these are the same
rules in Python (checked against flux-core's ``jj``/``jjc`` reader tests in
``conformance/jobspec/from_command.json``):

:func:`jj_get_counts`
    integer counts only; totals: ``nnodes`` (0 without a node level),
    ``nslots`` (slots per node times nodes), ``slot_size`` (cores per slot),
    ``slot_gpus``, ``exclusive`` (node-exclusive) and ``duration``.
:func:`jjc_get_counts`
    keeps counts as written (:class:`~fluxlab.job.count.Count`, so ranges
    such as ``4+`` survive) at the node and slot levels, plus
    ``nodefactor``: the product of integer counts above the node level
    (0 without a node level).

Unknown resource types are walked through and ignored.  Both raise
:class:`JJError` with flux-core's wording.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fluxlab.job.count import Count, CountError

__all__ = ["JJCCounts", "JJCounts", "JJError", "jj_get_counts", "jjc_get_counts"]


class JJError(ValueError):
    """The jobspec cannot be summarised (missing duration, slot or core...)."""


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "real"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, Sequence):
        return "array"
    return "null"


def _top(jobspec: Any) -> tuple[Any, float]:
    if not isinstance(jobspec, Mapping):
        raise JJError("at top level: jobspec must be an object")
    for key in ("version", "resources"):
        if key not in jobspec:
            raise JJError(f"at top level: Object item not found: {key}")
    version = jobspec["version"]
    if isinstance(version, bool) or not isinstance(version, int):
        raise JJError(f"at top level: Expected integer, got {_type_name(version)}")
    try:
        duration = jobspec["attributes"]["system"]["duration"]
    except (KeyError, TypeError):
        missing = "attributes"
        attrs = jobspec.get("attributes")
        if isinstance(attrs, Mapping):
            missing = "system"
            if isinstance(attrs.get("system"), Mapping):
                missing = "duration"
        raise JJError(f"at top level: getting duration: Object item not found: {missing}") from None
    if isinstance(duration, bool) or not isinstance(duration, (int, float)):
        raise JJError(f"at top level: getting duration: Expected real, got {_type_name(duration)}")
    return jobspec["resources"], float(duration)


def _level(obj: Any, level: int) -> list:
    if isinstance(obj, (str, bytes)) or not isinstance(obj, Sequence):
        raise JJError(f"level {level}: must be an array")
    return list(obj)


def _vertex(obj: Any, level: int) -> tuple[str, Any, bool, Any]:
    if not isinstance(obj, Mapping):
        raise JJError(f"level {level}: Expected object, got {_type_name(obj)}")
    for key in ("type", "count"):
        if key not in obj:
            raise JJError(f"level {level}: Object item not found: {key}")
    if not isinstance(obj["type"], str):
        raise JJError(f"level {level}: Expected string, got {_type_name(obj['type'])}")
    exclusive = obj.get("exclusive", False)
    if not isinstance(exclusive, bool):
        raise JJError(f"level {level}: Expected true or false, got {_type_name(exclusive)}")
    return obj["type"], obj["count"], exclusive, obj.get("with")


@dataclass
class JJCounts:
    """Totals from :func:`jj_get_counts`."""

    nnodes: int = 0
    nslots: int = 0
    slot_size: int = 0
    slot_gpus: int = 0
    exclusive: bool = False
    duration: float = 0.0

    def text(self) -> str:
        return (
            f"nnodes={self.nnodes} nslots={self.nslots} slot_size={self.slot_size} "
            f"slot_gpus={self.slot_gpus} exclusive={str(self.exclusive).lower()} "
            f"duration={self.duration}"
        )


def _jj_walk(obj: Any, level: int, jj: JJCounts, nodefactor: int) -> None:
    for vertex in _level(obj, level):
        rtype, count, exclusive, with_ = _vertex(vertex, level)
        if isinstance(count, bool) or not isinstance(count, int):
            raise JJError(f"level {level}: Expected integer, got {_type_name(count)}")
        if count <= 0:
            raise JJError(f"Invalid count {count} for type '{rtype}'")
        factor = nodefactor * count
        if rtype == "node":
            jj.nnodes = factor
            jj.exclusive = jj.exclusive or exclusive
        elif rtype == "slot":
            jj.nslots = count
        elif rtype == "core":
            jj.slot_size = count
        elif rtype == "gpu":
            jj.slot_gpus = count
        if with_ is not None:
            _jj_walk(with_, level + 1, jj, factor)


def jj_get_counts(jobspec: Mapping[str, Any]) -> JJCounts:
    """Integer totals of a (V1-shaped) jobspec; see the module docstring."""
    resources, duration = _top(jobspec)
    jj = JJCounts(duration=duration)
    _jj_walk(resources, 0, jj, 1)
    if jj.nslots <= 0:
        raise JJError("Unable to determine slot count")
    if jj.slot_size <= 0:
        raise JJError("Unable to determine slot size")
    if jj.nnodes:
        jj.nslots *= jj.nnodes
    return jj


@dataclass
class JJCCounts:
    """Per-level counts from :func:`jjc_get_counts` (``None`` = level absent)."""

    nodefactor: int = 0
    nnodes: Count | None = None
    nslots: Count | None = None
    slot_size: Count | None = None
    slot_gpus: Count | None = None
    exclusive: bool = False
    duration: float = 0.0

    def text(self) -> str:
        def enc(c: Count | None) -> str:
            return "0" if c is None else c.encode()

        return (
            f"nodefactor={self.nodefactor} nnodes={enc(self.nnodes)} nslots={enc(self.nslots)} "
            f"slot_size={enc(self.slot_size)} slot_gpus={enc(self.slot_gpus)} "
            f"exclusive={str(self.exclusive).lower()} duration={self.duration}"
        )


def _jjc_walk(obj: Any, level: int, jj: JJCCounts, nodefactor: int) -> None:
    for vertex in _level(obj, level):
        rtype, raw, exclusive, with_ = _vertex(vertex, level)
        if isinstance(raw, (bool, float)) or not isinstance(raw, (int, str, Mapping)):
            raise JJError(f"level {level}: create_count: Malformed jobspec resource count")
        try:
            count = Count.from_json(raw)
        except CountError as exc:
            reason = str(exc)
            if isinstance(raw, int):
                reason = "integer count must be >= 1"
            raise JJError(f"level {level}: create_count: {reason}") from None
        factor = nodefactor  # per vertex: siblings see the level's factor
        if rtype == "node":
            if nodefactor < 0:
                raise JJError("Non-integer count not allowed above node")
            jj.nnodes = count
            jj.nodefactor = nodefactor
            jj.exclusive = jj.exclusive or exclusive
        else:
            factor = nodefactor * count.first() if count.is_integer else -1
        if rtype == "slot":
            jj.nslots = count
        elif rtype == "core":
            jj.slot_size = count
        elif rtype == "gpu":
            jj.slot_gpus = count
        if with_ is not None:
            _jjc_walk(with_, level + 1, jj, factor)


def jjc_get_counts(jobspec: Mapping[str, Any]) -> JJCCounts:
    """Counts as written at node and slot level; see the module docstring."""
    resources, duration = _top(jobspec)
    jj = JJCCounts(duration=duration)
    _jjc_walk(resources, 0, jj, 1)
    if jj.nslots is None:
        raise JJError("Unable to determine slot count")
    if jj.slot_size is None:
        raise JJError("Unable to determine slot size")
    return jj
