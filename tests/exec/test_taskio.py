"""TaskOutput: output eventlog lines vs. files, labels, EOFs."""

import json

import pytest

from fluxlab.exec.output import template_values
from fluxlab.exec.spec import ExecSpec
from fluxlab.exec.taskio import TaskOutput
from fluxlab.job.jobspec import JobspecV1


def make(tmp_path, tasks=(0, 1), **kw):
    spec = ExecSpec.from_jobspec(JobspecV1.from_command(["x"], environment={}, **kw).jobspec)
    lines = []

    def values(task, local_id):
        return template_values("x", 2, 1, task, local_id, 0, "h")

    out = TaskOutput(
        spec,
        1234,
        "job.k.guest.output",
        lambda k, t: lines.append((k, t)),
        values,
        list(tasks),
        lambda: 1.0,
    )
    return out, lines


def contexts(lines):
    return [json.loads(t)["context"] for _, t in lines]


def test_kvs_stdout_is_line_buffered_stderr_is_not(tmp_path):
    out, lines = make(tmp_path)
    out.write(0, "stdout", b"one\ntw")
    out.write(0, "stderr", b"err-part")
    out.write(1, "stdout", b"x\n")
    out.write(0, "stdout", b"o\n")
    out.task_eof(0)
    ctx = contexts(lines)
    assert ctx[:4] == [
        {"stream": "stdout", "rank": "0", "data": "one\n"},
        {"stream": "stderr", "rank": "0", "data": "err-part"},
        {"stream": "stdout", "rank": "1", "data": "x\n"},
        {"stream": "stdout", "rank": "0", "data": "two\n"},
    ]
    assert ctx[4:] == [
        {"stream": "stdout", "rank": "0", "eof": True},
        {"stream": "stderr", "rank": "0", "eof": True},
    ]
    assert all(k == "job.k.guest.output" for k, _ in lines)


def test_unterminated_tail_is_flushed_at_eof(tmp_path):
    out, lines = make(tmp_path, tasks=(0,))
    out.write(0, "stdout", b"no newline")
    assert lines == []
    out.task_eof(0)
    assert contexts(lines)[0]["data"] == "no newline"


def test_shared_file_with_labels(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old contents\n")  # job-exec truncates job-wide files; here: appended
    out, lines = make(tmp_path, output=str(path), label_io=True)
    out.write(0, "stdout", b"a\nb\n")
    out.write(1, "stderr", b"e1\ne2")
    out.task_eof(1)
    out.close()
    assert path.read_text() == "old contents\n0: a\n0: b\n1: e1\n1: e2"
    assert lines == []  # nothing goes to the eventlog for redirected streams


def test_per_task_files_truncate(tmp_path):
    tmpl = str(tmp_path / "o.{{task.id}}")
    (tmp_path / "o.1").write_text("stale")
    out, lines = make(tmp_path, output=tmpl, error=str(tmp_path / "e.{{taskid}}"))
    out.write(1, "stdout", b"hello\n")
    out.write(0, "stderr", b"bad\n")
    out.close()
    assert (tmp_path / "o.1").read_text() == "hello\n"
    assert (tmp_path / "o.0").read_text() == ""
    assert (tmp_path / "e.0").read_text() == "bad\n"


def test_unopenable_file_names_it(tmp_path):
    bad = str(tmp_path / "missing-dir" / "o.{{task.id}}")
    with pytest.raises(OSError, match="error opening output file .*missing-dir/o.0"):
        make(tmp_path, output=bad)


def test_huge_lines_are_split(tmp_path):
    from fluxlab.exec.taskio import MAX_EVENT_DATA

    out, lines = make(tmp_path, tasks=(0,))
    out.write(0, "stdout", b"x" * (2 * MAX_EVENT_DATA + 10) + b"\n")
    out.write(0, "stderr", b"y" * (MAX_EVENT_DATA + 1))
    out.task_eof(0)
    data = [c for c in contexts(lines) if "data" in c]
    assert all(len(c["data"]) <= MAX_EVENT_DATA for c in data)
    assert (
        "".join(c["data"] for c in data if c["stream"] == "stdout")
        == "x" * (2 * MAX_EVENT_DATA + 10) + "\n"
    )
    assert sum(len(c["data"]) for c in data if c["stream"] == "stderr") == MAX_EVENT_DATA + 1
