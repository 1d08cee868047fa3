"""Simulated execution (flux-core's *testexec*): a timer instead of processes.

Selected by ``attributes.system.exec.test`` in the jobspec.  The job starts
at once (``init``, ``starting`` in the exec eventlog, ``start`` response),
runs for ``run_duration`` seconds (default: the jobspec duration; 0 means
until killed), then finishes with ``wait_status`` (default 0).  A kill ends
it at once with the signal number as its status, as testexec does.  No
message leaves rank 0 except the batched ``kvs.commit``: this is the path
of the throughput benchmark, so it does nothing per job beyond a timer and
four eventlog lines.
"""

from __future__ import annotations

from typing import Any

from fluxlab.exec._jobbase import ExecJob
from fluxlab.exec.spec import SimulatedExec

__all__ = ["SimJob"]


class SimJob(ExecJob):
    """A job whose tasks are a timer."""

    def __init__(self, mod: Any, msg: Any, jobid: int, R: dict, test: SimulatedExec):
        super().__init__(mod, msg, jobid, R)
        self.test = test
        self._timer = None

    def run(self) -> None:
        self.post("init")
        if self.test.mock_exception == "init":
            self.raise_exception("exec", "mock initialization exception generated")
            self.release()
            return
        self.post("starting")
        self.respond_start()
        if self.test.mock_exception == "run":
            self.raise_exception("exec", "mock run exception generated")
            self.status = 1 << 8
            self.finish()
            return
        if self.test.run_duration > 0:
            self._timer = self.mod.h.reactor.call_later(self.test.run_duration, self._done)
        # a run duration of 0 (unlimited) runs until killed, as in testexec

    def _done(self) -> None:
        self._timer = None
        self.status = max(self.status, self.test.wait_status)
        self.finish()

    def signal(self, signum: int) -> None:
        if self.finished:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.status = max(self.status, signum)
        self.finish()
