"""Jobspec conformance: every canonical/v1 file in conformance/jobspec gets
the expected verdict, and the flux-run option tables build the same jobspec
summaries as flux-core's jj/jjc readers."""

import json
import re

import pytest

from fluxlab.job.jj import JJError, jj_get_counts, jjc_get_counts
from fluxlab.job.jobspec import Jobspec, JobspecError, JobspecV1

RULES = {"canonical": Jobspec, "v1": JobspecV1}


def _expected(conformance):
    return json.loads((conformance / "jobspec" / "expected.json").read_text())


def test_every_canonical_and_v1_file(conformance):
    entries = [e for e in _expected(conformance) if e["rules"] in RULES]
    assert len(entries) == 45 + 55 + 13 + 13  # fluxion files belong to the scheduler parser
    wrong = []
    for entry in entries:
        path = conformance / "jobspec" / entry["file"]
        cls = RULES[entry["rules"]]
        try:
            cls.from_yaml_file(path)
            verdict = "accept"
        except JobspecError as exc:
            verdict = "reject"
            assert str(exc), entry["file"]
        if verdict != entry["expect"]:
            wrong.append(entry["file"])
    assert wrong == []


@pytest.mark.parametrize(
    "name, field",
    [
        ("resource_count_negative.yaml", "resources[0].with[0].count"),
        ("task_command_array_notstring.yaml", "tasks[0].command[0]"),
        ("resource_count_missing_min.yaml", "resources[0].count.min"),
        ("attributes_null.yaml", "attributes"),
        ("dependency_invalid.yaml", "attributes.system.dependencies[0].value"),
        ("version_is_zero.yaml", "version"),
    ],
)
def test_errors_name_the_field(conformance, name, field):
    with pytest.raises(JobspecError) as info:
        Jobspec.from_yaml_file(conformance / "jobspec" / "invalid" / "core-any" / name)
    assert info.value.path == field
    assert str(info.value).startswith(field + ": ")


def _from_options(options, command):
    return JobspecV1.from_command(
        command,
        num_tasks=options.get("ntasks", 1),
        cores_per_task=options.get("cores_per_task", 1),
        gpus_per_task=options.get("gpus_per_task"),
        num_nodes=options.get("nodes"),
        duration=options.get("time_limit"),
        environment={},
    )


def test_run_option_rows(conformance):
    table = json.loads((conformance / "jobspec" / "from_command.json").read_text())
    assert len(table["run_options"]) == 12
    for row in table["run_options"]:
        js = _from_options(row["options"], row["command"])
        assert jj_get_counts(js.jobspec).text() == row["jj"]["text"], row["argv"]
        assert jjc_get_counts(js.jobspec).text() == row["jjc"]["text"], row["argv"]
        # the jobspec round-trips through JSON and stays valid V1
        JobspecV1.from_json(js.dumps())


def test_jobspec_file_rows(conformance):
    table = json.loads((conformance / "jobspec" / "from_command.json").read_text())
    assert len(table["jobspec_files"]) == 15
    for row in table["jobspec_files"]:
        doc = Jobspec.from_yaml_file(conformance / "jobspec" / row["file"]).jobspec
        doc = json.loads(json.dumps(doc))
        for reader, func in (("jj", jj_get_counts), ("jjc", jjc_get_counts)):
            expect = row[reader]
            if "text" in expect:
                assert func(doc).text() == expect["text"], (row["file"], reader)
            else:
                with pytest.raises(JJError) as info:
                    func(doc)
                assert expect["error"] == f"{reader}-reader: {info.value}", row["file"]


def _jq_edit(doc, edit):
    """Apply the two jq forms used by the table: PATH = JSON and del(PATH)."""
    m = re.fullmatch(r"del\((.+)\)", edit)
    path, value = (m.group(1), None) if m else [s.strip() for s in edit.split("=", 1)]
    steps = re.findall(r"\.(\w+)|\[(\d+)\]", path)
    node = doc
    keys = [k if k else int(i) for k, i in steps]
    for key in keys[:-1]:
        node = node[key]
    if m:
        del node[keys[-1]]
    else:
        node[keys[-1]] = json.loads(value)
    return doc


def test_dry_run_edit_rows(conformance):
    table = json.loads((conformance / "jobspec" / "from_command.json").read_text())
    rows = table["dry_run_edits"]
    assert len(rows) == 16
    for row in rows:
        func = jj_get_counts if row["reader"] == "jj" else jjc_get_counts
        if "input" in row:
            try:
                doc = json.loads(row["input"])
            except ValueError:
                assert row["exit_code"] == 1
                continue
        else:
            args = row["base_argv"]
            options = {"nodes": 1, "ntasks": 1} if args == ["-N1", "-n1"] else {}
            doc = json.loads(_from_options(options, ["hostname"]).dumps())
            doc = _jq_edit(doc, row["edit"])
        if row["exit_code"] == 0:
            assert func(doc).text() == row["output"], row
        else:
            with pytest.raises(JJError) as info:
                func(doc)
            assert row["output"] == f"{row['reader']}-reader: {info.value}", row
