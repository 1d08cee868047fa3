"""Replay the 38 `flux resource list/info/R/status --from-stdin` checks."""

import json

from fluxlab.resource.listing import resource_command


def _cases(conformance):
    return json.loads((conformance / "R" / "cases.json").read_text())


def _expected(base, case):
    if "expected_text" in case:
        return case["expected_text"]
    text = (base / case["expected"]).read_text()
    if "expected_filter" in case:
        lines = text.splitlines(keepends=True)
        text = lines[0] + "".join(ln for ln in lines[1:] if ln.split()[2] != "0")
    return text


def test_all_cases(conformance):
    base = conformance / "R"
    cases = _cases(conformance)
    assert len(cases) == 38
    failures = []
    for case in cases:
        stdin = (base / case["stdin"]).read_text()
        got = resource_command(
            [case["subcommand"], *case["args"]], stdin, read_file=lambda p: (base / p).read_text()
        )
        if got != _expected(base, case):
            failures.append((case["id"], got, _expected(base, case)))
    assert failures == []
