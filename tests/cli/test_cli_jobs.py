"""Job commands end to end: run, submit, bulksubmit, jobs, job, cancel, queue."""

import io
import json
import re

import pytest

import fluxlab
from fluxlab.cli.main import Context, run_command
from fluxlab.testing import wait_for


@pytest.fixture(scope="module")
def inst():
    with fluxlab.start(size=2, conf={"resource": {"cores-per-node": 4}}) as inst:
        yield inst


def cmd(inst, *argv, stdin=None):
    out, err = io.StringIO(), io.StringIO()
    ctx = Context(stdout=out, stderr=err, uri=inst.uri)
    rc = run_command(list(argv), ctx)
    return rc, out.getvalue(), err.getvalue()


F58 = re.compile(r"^ƒ[1-9A-HJ-NP-Za-km-z]+$")


def test_run_streams_output_and_returns_exit_code(inst):
    rc, out, err = cmd(inst, "run", "-n", "2", "sh", "-c", "echo out-$FLUX_TASK_RANK; echo err >&2")
    assert rc == 0
    assert sorted(out.split()) == ["out-0", "out-1"] and err.count("err") == 2
    assert cmd(inst, "run", "sh", "-c", "exit 7")[0] == 7
    rc, _, err = cmd(inst, "run", "sh", "-c", "kill -TERM $$")
    assert rc == 128 + 15


def test_run_label_io_and_env(inst):
    rc, out, _ = cmd(inst, "run", "-n2", "-l", "--env=FOO=bar", "sh", "-c", "echo $FOO")
    assert rc == 0 and sorted(out.splitlines()) == ["0: bar", "1: bar"]


def test_run_missing_program(inst):
    rc, _, err = cmd(inst, "run", "/no/such/program")
    assert rc == 127 and "No such file or directory" in err


def test_submit_prints_f58_and_jobs_lists_it(inst):
    rc, out, _ = cmd(inst, "submit", "--job-name=listme", "true")
    jobid = out.strip()
    assert rc == 0 and F58.match(jobid)
    assert cmd(inst, "job", "status", jobid)[0] == 0
    rc, out, _ = cmd(inst, "jobs", "-a", "--name=listme")
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["JOBID", "USER", "NAME", "ST"]
    assert lines[1].split()[0] == jobid and lines[1].split()[3] == "CD"
    rc, out, _ = cmd(inst, "jobs", "-a", "--name=listme", "-o", "{id.f58} {state} {result}")
    assert out.splitlines()[1] == f"{jobid} INACTIVE COMPLETED"
    rc, out, _ = cmd(inst, "jobs", "-a", "--json", jobid)
    assert json.loads(out)["id"] and json.loads(out)["name"] == "listme"


def test_submit_cc_wait_and_watch(inst):
    rc, out, _ = cmd(inst, "submit", "--cc=1-3", "--watch", "sh", "-c", "echo copy-{cc}")
    assert rc == 0
    ids = [line for line in out.splitlines() if F58.match(line)]
    assert len(ids) == 3
    for i in (1, 2, 3):
        assert any(line.endswith(f"copy-{i}") for line in out.splitlines())
    rc, out, _ = cmd(inst, "submit", "--cc=0-1", "--wait", "sh", "-c", "exit {cc}")
    assert rc == 1


def test_bulksubmit_inputs_and_dry_run(inst):
    rc, out, _ = cmd(
        inst, "bulksubmit", "--dry-run", "echo", "{}", "{1}", ":::", "a", "b", ":::", "x"
    )
    assert rc == 0 and out.splitlines() == ["echo a x", "echo b x"]
    rc, out, _ = cmd(inst, "bulksubmit", "--watch", "echo", "item-{}", ":::", "1", "2", "3")
    assert rc == 0 and sorted(
        line.split(": ")[-1] for line in out.splitlines() if "item-" in line
    ) == ["item-1", "item-2", "item-3"]
    rc, _, err = cmd(inst, "bulksubmit", "echo", "{nope}", ":::", "1")
    assert rc == 1 and "unknown replacement field {nope}" in err


def test_job_subcommands(inst):
    jobid = cmd(inst, "submit", "sh", "-c", "echo info")[1].strip()
    assert cmd(inst, "job", "status", jobid)[0] == 0
    rc, out, _ = cmd(inst, "job", "eventlog", jobid)
    names = [line.split()[1] for line in out.splitlines()]
    assert names[0] == "submit" and names[-1] == "clean" and "start" in names
    # flux-core's -p shorthands: exec, output
    rc, out, _ = cmd(inst, "job", "eventlog", "-p", "exec", jobid)
    assert rc == 0 and [line.split()[1] for line in out.splitlines()][-1] == "done"
    rc, out, _ = cmd(inst, "job", "eventlog", "-p", "output", jobid)
    assert rc == 0 and out.split("\n")[0].split()[1] == "header" and "info" in out
    assert cmd(inst, "job", "wait-event", "-p", "exec", jobid, "done")[0] == 0
    rc, out, _ = cmd(inst, "job", "info", jobid, "jobspec")
    assert json.loads(out)["version"] == 1
    rc, out, _ = cmd(inst, "job", "info", jobid, "R")
    assert json.loads(out)["execution"]["R_lite"]
    assert cmd(inst, "job", "attach", jobid)[1] == "info\n"
    assert cmd(inst, "job", "last")[1].strip() == jobid
    rc, out, _ = cmd(inst, "job", "id", "--to=dec", jobid)
    assert rc == 0 and cmd(inst, "job", "id", "--to=f58", out.strip())[1].strip() == jobid
    rc, _, err = cmd(inst, "job", "eventlog", "nonsense!")
    assert rc == 1 and "invalid" in err.lower()


def test_cancel_kill_urgency_and_time_limit(inst):
    held = cmd(inst, "submit", "--urgency=hold", "true")[1].strip()
    rc, out, _ = cmd(inst, "job", "urgency", "-v", held, "expedite")
    assert rc == 0 and out.strip() == "0"
    assert cmd(inst, "job", "status", held)[0] == 0
    long = cmd(inst, "submit", "sleep", "60")[1].strip()
    h = inst.handle()
    from fluxlab.job.jobid import id_parse

    wait_for(lambda: fluxlab.job.get_job(h, id_parse(long)).get("t_run"), what="sleep job running")
    assert cmd(inst, "cancel", long)[0] == 0
    rc, _, err = cmd(inst, "job", "status", long)
    assert rc == 128 + 15 and "type=cancel" in err
    rc, _, err = cmd(inst, "cancel", long)
    assert rc == 1 and "inactive" in err
    rc, _, err = cmd(inst, "run", "-t", "0.5s", "sleep", "60")
    assert rc != 0 and "type=timeout" in err
    h.close()


def test_queue_disable_enable(inst):
    assert cmd(inst, "queue", "disable", "maintenance", "window")[0] == 0
    rc, out, _ = cmd(inst, "queue", "status")
    assert "disabled: maintenance window" in out
    rc, _, err = cmd(inst, "submit", "true")
    assert rc == 1 and "maintenance window" in err
    assert cmd(inst, "queue", "enable")[0] == 0
    assert cmd(inst, "queue", "stop")[0] == 0
    jobid = cmd(inst, "submit", "true")[1].strip()
    h = inst.handle()
    from fluxlab.job.jobid import id_parse

    assert fluxlab.job.get_job(h, id_parse(jobid))["state"] in ("PRIORITY", "SCHED")  # held back
    assert cmd(inst, "queue", "start")[0] == 0
    assert cmd(inst, "job", "status", jobid)[0] == 0
    h.close()


@pytest.mark.parametrize(
    "argv,msg",
    [
        (["run"], "a command is required"),
        (["run", "-n", "0", "true"], "--ntasks must be a positive integer"),
        (["run", "-n", "100", "true"], "unsatisfiable"),
        (["submit", "--urgency=99", "true"], "--urgency"),
        (["submit", "-t", "soon", "true"], "-t/--time-limit"),
        (["submit", "--dependency=bogus:1", "true"], "dependency"),
        (["submit", "--flags=fast", "true"], "--flags"),
        (["jobs", "-o", "{nosuchfield}"], "--format"),
        (["jobs", "-f", "weird"], "invalid filter"),
        (["cancel"], "give one or more job ids"),
        (["job", "kill", "-s", "SIGNOPE", "ƒ1"], "unknown signal"),
    ],
)
def test_bad_input_one_line_errors(inst, argv, msg):
    rc, _, err = cmd(inst, *argv)
    assert rc != 0 and msg in err and "Traceback" not in err
