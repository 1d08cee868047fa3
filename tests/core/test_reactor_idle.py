"""Reactor idle callbacks: background work that yields to every message and timer."""

import threading

import zmq

from fluxlab.core.reactor import Reactor
from fluxlab.transport import context


def _run(r: Reactor, timeout: float = 30.0) -> None:
    """Run ``r`` in a thread until it stops itself; fail loudly on a hang."""
    t = threading.Thread(target=r.run, daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        r.stop()
        t.join(5)
        raise AssertionError(f"reactor did not stop within {timeout}s")


def test_idle_runs_until_it_returns_false_and_loop_goes_on():
    r = Reactor("idle-a")
    calls = []

    def work() -> bool:
        calls.append(1)
        return len(calls) < 5

    def later():
        # registered after the idle work finished: the loop still serves timers
        assert len(calls) == 5
        r.stop()

    r.add_idle(work)
    r.add_idle(work)  # the same callback twice is one registration
    r.call_later(0.2, later)
    _run(r)
    assert len(calls) == 5


def test_idle_waits_until_readable_sockets_are_drained():
    ctx = context()
    a, b = ctx.socket(zmq.PAIR), ctx.socket(zmq.PAIR)
    addr = "inproc://test-reactor-idle-drain"
    a.bind(addr)
    b.connect(addr)
    for i in range(50):
        b.send(str(i).encode())
    r = Reactor("idle-b")
    got = []

    def on_read():
        got.append(a.recv(zmq.NOBLOCK))  # one message per callback: readable again

    seen_at_idle = []

    def work() -> bool:
        seen_at_idle.append(len(got))
        r.stop()
        return False

    r.add_reader(a, on_read)
    r.add_idle(work)
    try:
        _run(r)
    finally:
        a.close(0)
        b.close(0)
    assert seen_at_idle == [50]


def test_due_timer_and_queued_callbacks_run_before_idle():
    r = Reactor("idle-c")
    order = []
    r.call_later(0.0, lambda: order.append("timer"))
    r.call_soon(lambda: order.append("soon"))

    def work() -> bool:
        order.append("idle")
        r.stop()
        return False

    r.add_idle(work)
    _run(r)
    assert order == ["soon", "timer", "idle"]


def test_failing_idle_callback_is_dropped_not_fatal():
    r = Reactor("idle-d")
    calls = []

    def bad() -> bool:
        calls.append(1)
        raise RuntimeError("boom")

    r.add_idle(bad)
    r.call_later(0.1, r.stop)
    _run(r)
    assert calls == [1]
