"""Proc on a live reactor: output, exit status, stdin from bytes or a file."""

import os
import signal
import threading

import pytest

from fluxlab.core.reactor import Reactor
from fluxlab.exec.proc import Proc, ProcError
from fluxlab.testing import wait_for


@pytest.fixture
def reactor():
    r = Reactor("test-proc")
    t = threading.Thread(target=r.run, daemon=True)
    t.start()
    yield r
    r.stop()
    t.join(5)
    r.close()


def run(reactor, argv, **kw):
    """Start a Proc on the reactor thread; return (result dict, done event)."""
    res = {"out": b"", "err": b"", "status": None, "error": None}
    done = threading.Event()

    def on_output(stream, data):
        res["out" if stream == "stdout" else "err"] += data

    def on_exit(p):
        res["status"] = p.status
        done.set()

    def start():
        try:
            res["proc"] = Proc(reactor, argv, dict(os.environ), None, on_output, on_exit, **kw)
        except ProcError as e:
            res["error"] = e
            done.set()

    reactor.call_soon_threadsafe(start)
    return res, done


def test_output_and_exit_status(reactor):
    res, done = run(reactor, ["sh", "-c", "echo out; echo err >&2; exit 3"])
    wait_for(done.is_set, what="task exit")
    assert res["out"] == b"out\n" and res["err"] == b"err\n"
    assert os.WEXITSTATUS(res["status"]) == 3


def test_stdin_bytes_larger_than_a_pipe(reactor):
    data = b"x" * 300_000 + b"\n"
    res, done = run(reactor, ["wc", "-c"], stdin=data)
    wait_for(done.is_set, what="wc exit")
    assert int(res["out"]) == len(data)


def test_stdin_from_file_and_missing_file(reactor, tmp_path):
    f = tmp_path / "in.txt"
    f.write_text("line1\nline2\n")
    res, done = run(reactor, ["cat"], stdin_path=str(f))
    wait_for(done.is_set, what="cat exit")
    assert res["out"] == b"line1\nline2\n"
    res, done = run(reactor, ["cat"], stdin_path=str(tmp_path / "nope"))
    wait_for(done.is_set, what="start failure")
    assert res["error"].errno == 2 and "error opening input file" in str(res["error"])


def test_missing_program(reactor):
    res, done = run(reactor, ["/nonexistent/prog"])
    wait_for(done.is_set, what="start failure")
    assert res["error"].errno == 2


def test_signal_reaches_the_process_group(reactor):
    res, done = run(reactor, ["sh", "-c", "sleep 30 & wait"])
    wait_for(lambda: "proc" in res, what="task start")
    reactor.call_soon_threadsafe(res["proc"].signal, signal.SIGTERM)
    wait_for(done.is_set, what="task killed")
    assert os.WIFSIGNALED(res["status"]) and os.WTERMSIG(res["status"]) == signal.SIGTERM
