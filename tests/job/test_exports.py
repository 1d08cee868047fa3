"""The public surface of fluxlab.job is what we document, and stays light."""

import subprocess
import sys

import fluxlab.job
import fluxlab.resource.listing


def test_all_names_exist():
    for module in (fluxlab.job, fluxlab.resource.listing):
        for name in module.__all__:
            assert hasattr(module, name), (module.__name__, name)


def test_expected_public_names():
    expected = {
        "JobID", "id_parse", "id_encode", "Jobspec", "JobspecV1", "validate_jobspec",
        "JobspecError", "JobRecord", "JobState", "JobResult", "EventLogEvent", "JobInfo",
        "JobInfoFormat", "NEST_COMMAND", "parse_fsd", "fsd", "parse_urgency", "parse_dependency",
    }  # fmt: skip
    assert expected <= set(fluxlab.job.__all__)


def test_import_is_light():
    code = "import sys, fluxlab.job; print(sorted(m for m in ('zmq', 'yaml', 'networkx') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
