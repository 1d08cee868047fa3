"""Job execution: task layout, environment, output, kill escalation, services.

The pure layers (importable without a broker) are re-exported here:
:class:`ExecSpec` (what a jobspec asks the execution system to do),
:func:`compute_layout` (tasks per rank), the environment builders, the RFC
24 output encoders and :class:`KillEscalation`.  The services live in
:mod:`fluxlab.exec.job_exec` (``job-exec``, rank 0) and
:mod:`fluxlab.exec.service` (``exec``, every rank); the broker loads them
by name.  Protocol: ``docs/spec/exec.md``.
"""

from fluxlab.exec.environ import gpu_sets, job_environment, task_environment
from fluxlab.exec.escalation import EscalationError, KillEscalation, KillState
from fluxlab.exec.layout import TaskLayout, compute_layout, taskmap
from fluxlab.exec.output import (
    LineBuffer,
    data_context,
    decode_data,
    eof_context,
    header_context,
    log_context,
    redirect_context,
    render_template,
)
from fluxlab.exec.proc import Proc, ProcError, exit_code
from fluxlab.exec.spec import ExecSpec, ExecSpecError, SimulatedExec, StreamOptions, simulated_exec

__all__ = [
    "EscalationError",
    "ExecSpec",
    "ExecSpecError",
    "KillEscalation",
    "KillState",
    "LineBuffer",
    "Proc",
    "ProcError",
    "SimulatedExec",
    "StreamOptions",
    "TaskLayout",
    "compute_layout",
    "data_context",
    "decode_data",
    "eof_context",
    "exit_code",
    "gpu_sets",
    "header_context",
    "job_environment",
    "log_context",
    "redirect_context",
    "render_template",
    "simulated_exec",
    "task_environment",
    "taskmap",
]
