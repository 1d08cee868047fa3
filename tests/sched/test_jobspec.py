"""Fluxion's jobspec parser: conformance verdicts and parsed values."""

from __future__ import annotations

import json

import pytest

from fluxlab.sched.errors import JobspecError
from fluxlab.sched.jobspec import UINT_MAX, parse_jobspec


def _fluxion_cases():
    from tests.conftest import CONFORMANCE

    path = CONFORMANCE / "jobspec" / "expected.json"
    if not path.is_file():
        return []
    return [e for e in json.loads(path.read_text()) if e["rules"] == "fluxion"]


@pytest.mark.parametrize("entry", _fluxion_cases(), ids=lambda e: e["file"])
def test_conformance_verdict(entry, conformance):
    text = (conformance / "jobspec" / entry["file"]).read_text()
    if entry["expect"] == "accept":
        parse_jobspec(text)
    else:
        with pytest.raises(JobspecError):
            parse_jobspec(text)


def test_conformance_set_is_complete(conformance):
    cases = _fluxion_cases()
    assert sum(e["expect"] == "accept" for e in cases) == 20
    assert sum(e["expect"] == "reject" for e in cases) == 49


BASE = """
version: 9999
resources:
  - type: node
    count: {count}
    exclusive: true
    with:
      - type: slot
        count: 2
        label: task
        with:
          - type: core
            count: 4
          - type: memory
            count: 2
            unit: GB
tasks:
  - command: ["app"]
    slot: task
    count:
      per_slot: 1
attributes:
  system:
    duration: 1800.5
    queue: debug
    constraints:
      properties: ["amd"]
"""


def test_values():
    js = parse_jobspec(BASE.format(count=3))
    node = js.resources[0]
    assert (node.type, node.min, node.max, node.exclusive) == ("node", 3, 3, True)
    slot = node.with_[0]
    assert slot.label == "task" and slot.exclusive is None
    assert [c.type for c in slot.with_] == ["core", "memory"]
    assert slot.with_[1].unit == "GB"
    assert js.duration == 1800.5 and js.queue == "debug"
    assert js.constraint.match("n1", 0, {"amd": ""})
    assert not js.constraint.match("n1", 0, {})
    assert js.tasks[0].slot == "task" and js.tasks[0].count == {"per_slot": "1"}


def test_count_forms():
    js = parse_jobspec(BASE.format(count="{min: 2}"))
    assert (js.resources[0].min, js.resources[0].max) == (2, UINT_MAX)
    js = parse_jobspec(BASE.format(count="{min: 2, max: 16, operator: '*', operand: 2}"))
    r = js.resources[0]
    assert (r.min, r.max, r.oper, r.operand) == (2, 16, "*", 2)
    js = parse_jobspec(BASE.format(count="0x10"))
    assert js.resources[0].min == 16
    with pytest.raises(JobspecError, match="greater than zero"):
        parse_jobspec(BASE.format(count="{min: 0}"))
    with pytest.raises(JobspecError, match="bad conversion"):
        parse_jobspec(BASE.format(count="-3"))


def test_dict_input_and_unknown_types():
    doc = {
        "version": 1,
        "resources": [
            {"type": "slot", "count": 1, "label": "t", "with": [{"type": "core", "count": 1}]}
        ],
        "tasks": [{"command": ["true"], "slot": "t", "count": {"per_slot": 1}}],
        "attributes": {"system": {"duration": 0}},
    }
    js = parse_jobspec(doc)
    assert js.resources[0].with_[0].type == "core"
    doc["resources"][0]["with"][0]["type"] = "quantum"
    with pytest.raises(JobspecError, match="known to fluxion"):
        parse_jobspec(doc, known_types={"slot", "core"})


def test_error_names_line():
    with pytest.raises(JobspecError) as info:
        parse_jobspec(BASE.format(count="{min: 2, max: 1, operator: '+', operand: 1}"))
    assert info.value.line > 1
    assert "max" in str(info.value)
