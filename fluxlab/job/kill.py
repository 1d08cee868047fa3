"""``cancel``, ``kill``, ``job_raise`` and their async twins."""

from __future__ import annotations

import signal

from fluxlab.core.future import Future

__all__ = ["cancel", "cancel_async", "job_raise", "job_raise_async", "kill", "kill_async"]


def cancel_async(flux_handle, jobid: int, reason: str | None = None) -> Future:
    return flux_handle.rpc("job-manager.cancel", {"id": int(jobid), "note": reason or ""})


def cancel(flux_handle, jobid: int, reason: str | None = None) -> None:
    """Cancel a job (a ``cancel`` exception: pending jobs end, running ones are signalled)."""
    cancel_async(flux_handle, jobid, reason).get()


def kill_async(flux_handle, jobid: int, signum: int | None = None) -> Future:
    sig = int(signal.SIGTERM if signum is None else signum)
    return flux_handle.rpc("job-manager.kill", {"id": int(jobid), "signum": sig})


def kill(flux_handle, jobid: int, signum: int | None = None) -> None:
    """Send a signal (default SIGTERM) to a running job's tasks."""
    kill_async(flux_handle, jobid, signum).get()


def job_raise_async(
    flux_handle, jobid: int, exc_type: str, severity: int = 0, note: str | None = None
) -> Future:
    return flux_handle.rpc(
        "job-manager.raise",
        {"id": int(jobid), "type": exc_type, "severity": severity, "note": note or ""},
    )


def job_raise(
    flux_handle, jobid: int, exc_type: str, severity: int = 0, note: str | None = None
) -> None:
    job_raise_async(flux_handle, jobid, exc_type, severity, note).get()
