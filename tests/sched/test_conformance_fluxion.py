"""Replay Fluxion's resource-query conformance cases (``conformance/fluxion``).

Each case runs the offline tool with the case's argv and command input and
compares the ``-t`` file (or stderr) byte for byte with the stored expected
output, after the case's postprocess filter.  See the folder's README.md.
"""

from __future__ import annotations

import collections
import io
import json
import re

import pytest

from fluxlab.sched.query.tool import main

# Cases we know we do not reproduce, with the reason.  Empty when all pass.
XFAIL: dict[str, str] = {}


def _cases():
    from tests.conftest import CONFORMANCE

    path = CONFORMANCE / "fluxion" / "cases.json"
    if not path.is_file():
        return []
    return json.loads(path.read_text())


def _labels(text: str) -> str:
    labels = []
    for line in text.splitlines():
        if "INFO" in line or not line.strip():
            continue
        doc = json.loads(line)
        for node in doc["graph"]["nodes"]:
            eph = node["metadata"].get("ephemeral", {})
            labels.append(str(eph.get("label", "null")))
    counts = collections.Counter(labels)
    return "".join(f"{counts[k]} {k}\n" for k in sorted(counts))


# Groups replayed a second time with ``--engine fast``: those whose requests
# the indexed fast path serves (the rest would only exercise the fallback).
FAST_GROUPS = ("basic-policies", "exclusivity", "node-exclusive", "status", "remove", "grow")


@pytest.mark.parametrize("case", _cases(), ids=lambda c: c["id"])
def test_fluxion_case(case, conformance, tmp_path):
    _replay(case, conformance, tmp_path, [])


@pytest.mark.parametrize(
    "case", [c for c in _cases() if c["group"] in FAST_GROUPS], ids=lambda c: c["id"]
)
def test_fluxion_case_fast_engine(case, conformance, tmp_path):
    _replay(case, conformance, tmp_path, ["--engine", "fast"])


def _replay(case, conformance, tmp_path, extra):
    src = conformance / "fluxion"
    if case["id"] in XFAIL:
        pytest.xfail(XFAIL[case["id"]])
    if isinstance(case["stdin"], list):
        text = "\n".join(case["stdin"]) + "\n"
    else:
        text = (src / case["stdin"]).read_text()
    text = text.replace("@TEST_SRCDIR@", str(src))
    out = tmp_path / "out.txt"
    argv = []
    for a in case["argv"]:
        a = a.replace("{out}", str(out))
        argv.append(str(src / a) if a.startswith("data/") else a)
    argv += extra
    err = io.StringIO()
    rc = main(argv, io.StringIO(text), io.StringIO(), err)
    assert rc == 0
    got = err.getvalue() if case["output"] == "stderr" else out.read_text()
    expected = (src / case["expected"]).read_text()
    pp = case.get("postprocess") or ""
    if "uniq_id" in pp:
        got = re.sub(r" \(vtx's uniq_id=\d\)", "", got)
    elif "stderr" in pp:
        got += err.getvalue()
    elif "label" in pp:
        got = "".join(_labels(got).split())
        expected = "".join(expected.split())
    assert got == expected
    if case.get("expected_stderr"):
        exp_err = (src / case["expected_stderr"]).read_text().replace("@TEST_SRCDIR@", str(src))
        assert err.getvalue() == exp_err
