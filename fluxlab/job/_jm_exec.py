"""The job-manager side of the execution protocol (RFC 32)."""

from __future__ import annotations

import errno
import signal
from typing import TYPE_CHECKING

from fluxlab._proto import FLAG_NORESPONSE, FLAG_STREAMING
from fluxlab.core.errors import FluxError

if TYPE_CHECKING:
    from fluxlab.job._jm_job import Job
    from fluxlab.job.manager import JobManager

__all__ = ["ExecInterface"]


class ExecInterface:
    def __init__(self, jm: JobManager):
        self.jm = jm
        self.service = "job-exec"

    def start(self, job: Job) -> None:
        fut = self.jm.h.rpc(
            f"{self.service}.start",
            {"id": job.id, "userid": job.userid, "jobspec": job.jobspec, "R": job.R},
            flags=FLAG_STREAMING,
        )
        job.exec_fut = fut
        fut.then(self._response, job)

    def _response(self, fut, job: Job) -> None:
        try:
            resp = fut.get()
        except FluxError as e:
            job.exec_fut = None
            if e.errno != errno.ENODATA:
                if e.errno == errno.ENOSYS:
                    note = f"no execution service ({self.service} is not loaded)"
                else:
                    note = f"execution service failed: {e}"
                self.jm.raise_exception(job, "exec", note)
                job.exec_done = True
                self.jm.progress(job)
            return
        fut.reset()
        if job.id not in self.jm.jobs:
            return
        rtype = resp.get("type")
        data = resp.get("data") or {}
        if rtype == "start":
            self.jm.post(job, "start")
            self.jm.depend.target_changed(job.id)
        elif rtype == "release":
            final = bool(data.get("final"))
            self.jm.post(job, "release", {"ranks": data.get("ranks", "all"), "final": final})
            if final:  # the end of the stream (RFC 32): nothing follows it
                self.jm.h.forget(fut)
                job.exec_fut = None
                job.exec_done = True
                self.jm.progress(job)
        elif rtype == "exception":
            self.jm.raise_exception(
                job,
                data.get("type", "exec"),
                data.get("note", ""),
                severity=int(data.get("severity", 0)),
                from_exec=True,
            )
        elif rtype == "finish":
            self.jm.post(job, "finish", {"status": int(data.get("status", 0))})
        else:
            self.jm.log(3, f"{self.service}.start for job {job.id}: unknown response {rtype!r}")

    def kill(self, job: Job, signum: int = signal.SIGTERM, escalate: bool = False) -> None:
        self.jm.h.rpc(
            f"{self.service}.kill",
            {"id": job.id, "signum": int(signum), "escalate": escalate},
            flags=FLAG_NORESPONSE,
        )
