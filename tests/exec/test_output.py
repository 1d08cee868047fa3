"""RFC 24 output eventlog entries, line buffering and file name templates."""

from fluxlab.exec.output import (
    LineBuffer,
    data_context,
    decode_data,
    eof_context,
    header_context,
    is_per_task,
    log_context,
    redirect_context,
    render_template,
    template_values,
)
from fluxlab.job.jobid import id_encode


def test_header_matches_flux_shell():
    assert header_context(3) == {
        "version": 1,
        "encoding": {"stdout": "UTF-8", "stderr": "UTF-8"},
        "count": {"stdout": 3, "stderr": 3},
        "options": {},
    }


def test_data_eof_redirect_log():
    assert data_context("stdout", 2, b"hi\n") == {"stream": "stdout", "rank": "2", "data": "hi\n"}
    assert eof_context("stderr", 0) == {"stream": "stderr", "rank": "0", "eof": True}
    assert redirect_context("stdout", 4, "/o") == {
        "stream": "stdout",
        "rank": "[0-3]",
        "path": "/o",
    }
    assert redirect_context("stdout", 1, "/o")["rank"] == "0"
    assert log_context(3, "oops", rank=1, component="exec") == {
        "level": 3,
        "message": "oops",
        "rank": 1,
        "component": "exec",
    }


def test_binary_data_is_base64_and_round_trips():
    ctx = data_context("stdout", 0, b"\xff\x00a")
    assert ctx["encoding"] == "base64"
    assert decode_data(ctx) == b"\xff\x00a"
    assert decode_data(data_context("stdout", 0, "é\n".encode())) == "é\n".encode()
    assert decode_data(eof_context("stdout", 0)) == b""


def test_line_buffer():
    lb = LineBuffer()
    assert lb.feed(b"a\nb") == [b"a\n"]
    assert lb.feed(b"c\n\nd") == [b"bc\n", b"\n"]
    assert lb.flush() == b"d" and lb.flush() == b""
    small = LineBuffer(limit=4)
    assert small.feed(b"abcdef") == [b"abcdef"] and len(small) == 0


def test_templates():
    jobid = 6731191091817518
    values = template_values("sleep", 4, 2, task_rank=3, local_id=1, node_index=1, hostname="h")
    assert render_template("{{id}}.out", values, jobid) == f"{id_encode(jobid, 'f58')}.out"
    assert render_template("{{jobid.dec}}-{{name}}", values, jobid) == f"{jobid}-sleep"
    assert render_template("{{ id.hex }}", values, jobid) == "0x17e9fb8df16c2e"
    assert render_template("t{{task.id}}-n{{node.id}}-{{node.name}}", values) == "t3-n1-h"
    assert render_template("{{size}}/{{nnodes}}", values) == "4/2"
    # unknown tags, and task tags when rendering job-wide, stay as written
    job_only = template_values("sleep", 4, 2)
    assert render_template("{{task.id}}{{bogus}}", job_only) == "{{task.id}}{{bogus}}"
    assert render_template("{{id.nonsense}}", job_only, jobid) == "{{id.nonsense}}"
    assert is_per_task("o.{{task.id}}") and is_per_task("{{node.id}}")
    assert not is_per_task("o.{{id}}.{{name}}")
