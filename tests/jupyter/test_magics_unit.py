"""Magic helpers that need no kernel: option splitting, cell scripts, id lists."""

import pytest

from fluxlab.job.jobid import JobID
from fluxlab.jupyter.magics import JobIDList, _magic_options, script_command


def test_magic_options_before_the_command():
    assert _magic_options(["-o", "x", "run", "-o", "opt", "a"]) == (
        {"out": "x"},
        ["run", "-o", "opt", "a"],
    )
    assert _magic_options(["--out=y", "jobs"]) == ({"out": "y"}, ["jobs"])
    assert _magic_options(["jobs", "-o", "{id}"]) == ({"out": None}, ["jobs", "-o", "{id}"])


@pytest.mark.parametrize(
    "argv, msg", [(["-o"], "needs a variable name"), (["-o", "1x", "run"], "not a valid")]
)
def test_magic_options_errors(argv, msg):
    with pytest.raises(ValueError, match=msg):
        _magic_options(argv)


def test_script_command_default_shell_and_shebangs():
    assert script_command("echo a\necho b\n") == ["/bin/sh", "-c", "echo a\necho b"]
    assert script_command("#!/usr/bin/env python3\nprint(1)") == [
        "/usr/bin/env",
        "python3",
        "-c",
        "print(1)",
    ]
    assert script_command("#!/bin/bash -e\nfalse") == ["/bin/bash", "-e", "-c", "false"]
    assert script_command("#!/usr/bin/perl\nprint 1") == ["/usr/bin/perl", "-e", "print 1"]


@pytest.mark.parametrize(
    "body, msg",
    [("  \n", "empty"), ("#!\nx", "no interpreter"), ("#!/bin/awk -f\n{}", "cannot pass")],
)
def test_script_command_errors(body, msg):
    with pytest.raises(ValueError, match=msg):
        script_command(body)


def test_jobidlist_is_a_list_with_short_text():
    ids = JobIDList(JobID(i) for i in range(1, 11))
    assert ids == list(range(1, 11)) and len(ids) == 10
    assert ids._text().endswith("(10 job ids)") and "..." in ids._text()
    assert "(10 job ids)" in ids._repr_html_()
