"""Jobspec validation rules: canonical (RFC 14) and version 1 (RFC 25).

Every check raises :class:`JobspecError` whose message starts with the path
of the offending field, e.g. ``resources[0].with[1].count: must be a
positive integer``.  The checks only read the document.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from fluxlab.job.count import Count, CountError

TYPE_CHECKING = False  # typing itself costs ~4 ms of every CLI start
if TYPE_CHECKING:  # annotations only (they are never evaluated)
    from typing import Any

__all__ = ["JobspecError", "check_json", "validate_canonical", "validate_v1"]

TOP_LEVEL_KEYS = ("resources", "tasks", "attributes", "version")
RESOURCE_KEYS = {"type", "count", "with", "label", "exclusive", "unit", "id", "requires"}
_CONSTRAINT_OPS = {"and", "or", "not", "properties", "hostlist", "ranks"}
_BAD_PROPERTY_CHARS = set("&'\"`|()")


class JobspecError(ValueError):
    """An invalid jobspec.  ``path`` is the offending field (``""`` for the
    whole document); the message is ``"<path>: <reason>"``."""

    def __init__(self, path: str, reason: str):
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}" if path else reason)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def check_json(value: Any, path: str = "", depth: int = 0) -> None:
    """Refuse values that JSON cannot carry (YAML dates, sets, non-string
    keys, NaN/infinity) and absurd nesting."""
    if depth > 64:
        raise JobspecError(path, "nested too deeply")
    if value is None or isinstance(value, (bool, int, str)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise JobspecError(path, "must be a finite number (JSON has no NaN or infinity)")
        return
    if isinstance(value, Mapping):
        for key, val in value.items():
            if not isinstance(key, str):
                raise JobspecError(path, f"mapping key {key!r} must be a string")
            check_json(val, f"{path}.{key}" if path else key, depth + 1)
        return
    if _is_list(value):
        for i, val in enumerate(value):
            check_json(val, f"{path}[{i}]", depth + 1)
        return
    raise JobspecError(path, f"{type(value).__name__} values are not allowed in a jobspec")


# -- canonical (RFC 14) -------------------------------------------------------


def _check_count(res: Mapping, path: str) -> None:
    if "count" not in res:
        raise JobspecError(f"{path}.count", "missing")
    count = res["count"]
    cpath = f"{path}.count"
    if isinstance(count, bool):
        raise JobspecError(cpath, "must be an integer, string or mapping")
    if _is_int(count):
        rtype = res.get("type")
        if rtype in ("node", "slot", "core") and count < 1:
            raise JobspecError(cpath, f"must be a positive integer for type {rtype!r}")
        if count < 0:
            raise JobspecError(cpath, "must not be negative")
        return
    if isinstance(count, (str, Mapping)):
        try:
            Count.from_json(count)
        except CountError as exc:
            reason = str(exc)
            sub = ""
            if reason.startswith("count."):
                sub, _, reason = reason[len("count") :].partition(": ")
            elif reason.startswith("count: "):
                reason = reason[len("count: ") :]
            raise JobspecError(cpath + sub, reason) from None
        return
    raise JobspecError(cpath, "must be an integer, string or mapping")


def _check_resource(res: Any, path: str, depth: int) -> None:
    if not isinstance(res, Mapping):
        raise JobspecError(path, "must be a mapping")
    if "type" not in res:
        raise JobspecError(f"{path}.type", "missing")
    if not isinstance(res["type"], str) or not res["type"]:
        raise JobspecError(f"{path}.type", "must be a non-empty string")
    _check_count(res, path)
    for key in ("id", "unit", "label"):
        if key in res and not isinstance(res[key], str):
            raise JobspecError(f"{path}.{key}", "must be a string")
    if "exclusive" in res and not isinstance(res["exclusive"], bool):
        raise JobspecError(f"{path}.exclusive", "must be a boolean")
    extra = set(res) - RESOURCE_KEYS
    if extra:
        raise JobspecError(f"{path}", f"unknown key(s) {', '.join(sorted(map(str, extra)))}")
    if res["type"] == "slot":
        if "label" not in res:
            raise JobspecError(f"{path}.label", "missing (a slot must have a label)")
        if "with" not in res:
            raise JobspecError(f"{path}.with", "missing (a slot must contain resources)")
    if "with" in res:
        _check_resource_list(res["with"], f"{path}.with", depth + 1)


def _check_resource_list(value: Any, path: str, depth: int) -> None:
    if depth > 32:
        raise JobspecError(path, "resources nested too deeply")
    if not _is_list(value):
        raise JobspecError(path, "must be a list of resources")
    if not value:
        raise JobspecError(path, "must not be empty")
    for i, res in enumerate(value):
        _check_resource(res, f"{path}[{i}]", depth)


def _check_task(task: Any, path: str) -> None:
    if not isinstance(task, Mapping):
        raise JobspecError(path, "must be a mapping")
    for key in ("command", "slot", "count"):
        if key not in task:
            raise JobspecError(f"{path}.{key}", "missing")
    command = task["command"]
    if not _is_list(command):
        raise JobspecError(f"{path}.command", "must be a list of strings")
    if not command:
        raise JobspecError(f"{path}.command", "must not be empty")
    for i, arg in enumerate(command):
        if not isinstance(arg, str):
            raise JobspecError(f"{path}.command[{i}]", "must be a string")
    if not isinstance(task["slot"], str):
        raise JobspecError(f"{path}.slot", "must be a string")
    count = task["count"]
    cpath = f"{path}.count"
    if not isinstance(count, Mapping):
        raise JobspecError(cpath, "must be a mapping")
    kinds = [k for k in ("per_slot", "per_resource", "total") if k in count]
    extra = set(count) - {"per_slot", "per_resource", "total"}
    if extra:
        raise JobspecError(cpath, f"unknown key(s) {', '.join(sorted(map(str, extra)))}")
    if len(kinds) != 1:
        raise JobspecError(cpath, "exactly one of per_slot, per_resource or total must be set")
    kind = kinds[0]
    if kind == "per_resource":
        per = count["per_resource"]
        if not isinstance(per, Mapping):
            raise JobspecError(f"{cpath}.per_resource", "must be a mapping {type, count}")
        if not isinstance(per.get("type"), str):
            raise JobspecError(f"{cpath}.per_resource.type", "must be a string")
        if not _is_int(per.get("count")) or per["count"] < 1:
            raise JobspecError(f"{cpath}.per_resource.count", "must be a positive integer")
    elif not _is_int(count[kind]) or count[kind] < 1:
        raise JobspecError(f"{cpath}.{kind}", "must be a positive integer")
    if "attributes" in task and not isinstance(task["attributes"], Mapping):
        raise JobspecError(f"{path}.attributes", "must be a mapping")
    if "distribution" in task and not isinstance(task["distribution"], str):
        raise JobspecError(f"{path}.distribution", "must be a string")


def _check_constraint(obj: Any, path: str, depth: int = 0) -> None:
    if depth > 32:
        raise JobspecError(path, "nested too deeply")
    if not isinstance(obj, Mapping):
        raise JobspecError(path, "must be a mapping of constraint operators")
    for op, args in obj.items():
        opath = f"{path}.{op}"
        if op not in _CONSTRAINT_OPS:
            raise JobspecError(opath, f"unknown constraint operator {op!r}")
        if not _is_list(args):
            raise JobspecError(opath, "must be a list")
        for i, arg in enumerate(args):
            if op in ("and", "or", "not"):
                _check_constraint(arg, f"{opath}[{i}]", depth + 1)
            elif not isinstance(arg, str):
                raise JobspecError(f"{opath}[{i}]", "must be a string")
            elif op == "properties" and _BAD_PROPERTY_CHARS & set(arg):
                raise JobspecError(f"{opath}[{i}]", f"invalid character in property {arg!r}")


def _check_system(system: Any, path: str) -> None:
    if not isinstance(system, Mapping):
        raise JobspecError(path, "must be a mapping")
    if "duration" in system:
        dur = system["duration"]
        if isinstance(dur, bool) or not isinstance(dur, (int, float)) or dur < 0:
            raise JobspecError(f"{path}.duration", "must be a number of seconds >= 0")
    if "dependencies" in system:
        deps = system["dependencies"]
        if not _is_list(deps):
            raise JobspecError(f"{path}.dependencies", "must be a list")
        for i, dep in enumerate(deps):
            dpath = f"{path}.dependencies[{i}]"
            if not isinstance(dep, Mapping):
                raise JobspecError(dpath, "must be a mapping")
            for key in ("scheme", "value"):
                if key not in dep:
                    raise JobspecError(f"{dpath}.{key}", "missing")
                if not isinstance(dep[key], str):
                    raise JobspecError(f"{dpath}.{key}", "must be a string")
    if "constraints" in system:
        _check_constraint(system["constraints"], f"{path}.constraints")
    for key in ("cwd", "queue", "bank", "project"):
        if key in system and not isinstance(system[key], str):
            raise JobspecError(f"{path}.{key}", "must be a string")
    if "environment" in system and not isinstance(system["environment"], Mapping):
        raise JobspecError(f"{path}.environment", "must be a mapping")


def validate_canonical(js: Any) -> None:
    """Validate ``js`` (a decoded document) against RFC 14."""
    if not isinstance(js, Mapping):
        raise JobspecError("", "jobspec must be a mapping")
    for key in TOP_LEVEL_KEYS:
        if key not in js:
            raise JobspecError(key, "missing")
    extra = set(js) - set(TOP_LEVEL_KEYS)
    if extra:
        raise JobspecError("", f"unknown top-level key(s) {', '.join(sorted(map(str, extra)))}")
    check_json(js)
    if not _is_int(js["version"]):
        raise JobspecError("version", "must be an integer")
    if js["version"] < 1:
        raise JobspecError("version", "must be >= 1")
    _check_resource_list(js["resources"], "resources", 0)
    tasks = js["tasks"]
    if not _is_list(tasks):
        raise JobspecError("tasks", "must be a list")
    if not tasks:
        raise JobspecError("tasks", "must not be empty")
    for i, task in enumerate(tasks):
        _check_task(task, f"tasks[{i}]")
    attrs = js["attributes"]
    if not isinstance(attrs, Mapping):
        raise JobspecError("attributes", "must be a mapping")
    extra = set(attrs) - {"system", "user"}
    if extra:
        raise JobspecError(
            "attributes", f"unknown key(s) {', '.join(sorted(map(str, extra)))} (only system, user)"
        )
    if "user" in attrs and not isinstance(attrs["user"], Mapping):
        raise JobspecError("attributes.user", "must be a mapping")
    if "system" in attrs:
        _check_system(attrs["system"], "attributes.system")


# -- version 1 (RFC 25) -------------------------------------------------------


def _v1_int_count(res: Mapping, path: str, minimum: int) -> None:
    count = res.get("count")
    if not _is_int(count):
        raise JobspecError(
            f"{path}.count", f"must be an integer in jobspec version 1 (type {res['type']!r})"
        )
    if count < minimum:
        raise JobspecError(f"{path}.count", f"must be >= {minimum} for type {res['type']!r}")


def _v1_slot(slot: Mapping, path: str) -> None:
    _v1_int_count(slot, path, 1)
    children = slot["with"]
    types = [c["type"] for c in children]
    if types not in (["core"], ["core", "gpu"], ["gpu", "core"]):
        raise JobspecError(
            f"{path}.with",
            f"a version 1 slot holds core or core+gpu, not {'+'.join(types)}",
        )
    for i, child in enumerate(children):
        _v1_int_count(child, f"{path}.with[{i}]", 1 if child["type"] == "core" else 0)
        if "with" in child:
            raise JobspecError(
                f"{path}.with[{i}].with", f"{child['type']} must not contain resources"
            )


def validate_v1(js: Any) -> None:
    """Validate against RFC 25 (implies RFC 14): version 1, shapes
    ``slot>core``, ``node>slot>core`` (with optional ``gpu`` beside the core),
    integer counts, one task counted ``per_slot`` or ``total``, and
    ``attributes.system.duration``."""
    validate_canonical(js)
    if js["version"] != 1:
        raise JobspecError("version", "must be 1")
    resources = js["resources"]
    if len(resources) != 1:
        raise JobspecError("resources", "version 1 allows exactly one top-level resource")
    top = resources[0]
    if top["type"] == "node":
        _v1_int_count(top, "resources[0]", 1)
        children = top.get("with")
        if not children or len(children) != 1 or children[0]["type"] != "slot":
            raise JobspecError(
                "resources[0].with", "a version 1 node must contain exactly one slot"
            )
        _v1_slot(children[0], "resources[0].with[0]")
    elif top["type"] == "slot":
        _v1_slot(top, "resources[0]")
    else:
        raise JobspecError(
            "resources[0].type", f"must be 'node' or 'slot' in version 1, not {top['type']!r}"
        )
    tasks = js["tasks"]
    if len(tasks) != 1:
        raise JobspecError("tasks", "version 1 allows exactly one task")
    if "per_resource" in tasks[0]["count"]:
        raise JobspecError("tasks[0].count", "version 1 allows per_slot or total, not per_resource")
    system = js["attributes"].get("system")
    if not isinstance(system, Mapping):
        raise JobspecError("attributes.system", "missing (required in version 1)")
    if "duration" not in system:
        raise JobspecError("attributes.system.duration", "missing (required in version 1)")
