"""Kill escalation state machine: actions per event, impossible events."""

import signal

import pytest

from fluxlab.exec.escalation import (
    TIMEOUT_NOTE,
    Arm,
    Disarm,
    EscalationError,
    KillEscalation,
    KillState,
    Raise,
    Signal,
)


def test_plain_signal_does_not_escalate():
    e = KillEscalation(1, 5.0)
    assert e.kill(signal.SIGUSR1) == [Signal(signal.SIGUSR1)]
    assert e.state == KillState.RUNNING and not e.terminating
    assert e.exited() == [Disarm()]


def test_escalate_then_repeat_sigkill_until_gone():
    e = KillEscalation(1, 0.5)
    assert e.kill(signal.SIGTERM, escalate=True) == [Signal(signal.SIGTERM), Arm(0.5)]
    assert e.terminating
    assert e.kill(signal.SIGTERM, escalate=True) == [Signal(signal.SIGTERM)]  # no re-arm
    assert e.timer() == [Signal(signal.SIGKILL), Arm(0.5)]
    assert e.timer() == [Signal(signal.SIGKILL), Arm(0.5)]
    assert e.kills == 2 and e.state == KillState.KILLING
    assert e.exited() == [Disarm()]
    assert e.kill(signal.SIGTERM) == [] and e.expire() == []  # late requests
    assert [t[1] for t in e.log] == [
        "kill-escalate",
        "kill-escalate",
        "timer",
        "timer",
        "exited",
        "kill",
        "expire",
    ]


def test_time_limit():
    e = KillEscalation(7, 5.0)
    assert e.expire() == [Raise("timeout", TIMEOUT_NOTE), Signal(signal.SIGALRM), Arm(5.0)]
    assert e.expire() == []
    assert e.timer() == [Signal(signal.SIGKILL), Arm(5.0)]


def test_impossible_events_name_job_state_and_event():
    e = KillEscalation(42, 1.0)
    with pytest.raises(EscalationError, match=r"job 42: impossible event 'timer' in state running"):
        e.timer()
    e.exited()
    with pytest.raises(EscalationError, match="'exited' in state done"):
        e.exited()


def test_kill_timeout_configuration():
    from fluxlab.exec.job_exec import DEFAULT_KILL_TIMEOUT, kill_timeout_from

    assert kill_timeout_from([], {}) == DEFAULT_KILL_TIMEOUT == 5.0
    assert kill_timeout_from([], {"exec": {"kill-timeout": "2m"}}) == 120.0
    assert kill_timeout_from([], {"job-exec": {"kill-timeout": 0.25}}) == 0.25
    assert kill_timeout_from(["kill-timeout=1s"], {"exec": {"kill-timeout": "2m"}}) == 1.0
    with pytest.raises(ValueError, match="invalid kill-timeout 'soon'"):
        kill_timeout_from(["kill-timeout=soon"], {})
