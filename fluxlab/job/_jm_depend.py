"""Job dependencies (RFC 26) for the job-manager.

A job in DEPEND has one outstanding entry per dependency, announced with a
``dependency-add`` event and retired with ``dependency-remove``; when none
remain the manager posts ``depend``.  An unsatisfiable dependency raises a
fatal ``dependency`` exception.  Targets are re-examined when they start or
become inactive; ``singleton`` jobs when another job of the same user and
name leaves the running set; ``begin-time`` by a timer.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from fluxlab.job.jobid import JobIDError, id_parse
from fluxlab.job.states import JobState

if TYPE_CHECKING:
    from fluxlab.job._jm_job import Job
    from fluxlab.job.manager import JobManager

__all__ = ["Dependencies"]

_AFTER = {
    "after": "afterstart",
    "afterstart": "afterstart",
    "afterany": "afterany",
    "afterok": "afterok",
    "afternotok": "afternotok",
    "afterexcept": "afterexcept",
}
_PAST_DEPEND = JobState.PRIORITY | JobState.SCHED | JobState.RUN | JobState.CLEANUP


class Dependencies:
    def __init__(self, jm: JobManager):
        self.jm = jm
        self.by_target: dict[int, list[tuple[Job, str]]] = {}
        self.singletons: dict[tuple[int, str], list[Job]] = {}

    # -- entering DEPEND ---------------------------------------------------------
    def enter(self, job: Job) -> None:
        deps = job.system_attr("dependencies", [])
        if not isinstance(deps, list):
            self.jm.raise_exception(
                job, "dependency", "attributes.system.dependencies must be an array"
            )
            return
        for i, dep in enumerate(deps):
            if (
                not isinstance(dep, dict)
                or not isinstance(dep.get("scheme"), str)
                or not isinstance(dep.get("value"), str)
            ):
                self.jm.raise_exception(
                    job, "dependency", f"dependencies[{i}]: needs string scheme and value"
                )
                return
            scheme, value = dep["scheme"], dep["value"]
            desc = f"{scheme}:{value}"
            if scheme in _AFTER:
                if not self._add_after(job, _AFTER[scheme], value, desc):
                    return
            elif scheme == "singleton":
                self._add(job, desc)
                self.singletons.setdefault((job.userid, job.name), []).append(job)
            elif scheme == "begin-time":
                try:
                    when = float(value)
                except ValueError:
                    self.jm.raise_exception(
                        job, "dependency", f"begin-time: invalid timestamp {value!r}"
                    )
                    return
                self._add(job, desc)
                delay = max(0.0, when - time.time())
                self.jm.h.reactor.call_later(delay, self._satisfy, job, desc)
            else:
                self.jm.raise_exception(job, "dependency", f"unknown dependency scheme {scheme!r}")
                return
        for key in list(self.singletons):
            self._check_singletons(key)
        self.jm.maybe_depend(job)

    def _add(self, job: Job, desc: str) -> None:
        if desc in job.deps:
            return
        job.deps[desc] = True
        self.jm.post(job, "dependency-add", {"description": desc})

    def _add_after(self, job: Job, scheme: str, value: str, desc: str) -> bool:
        try:
            target = id_parse(value)
        except JobIDError as e:
            self.jm.raise_exception(job, "dependency", f"{desc}: {e}")
            return False
        if target == job.id:
            self.jm.raise_exception(job, "dependency", f"{desc}: a job cannot depend on itself")
            return False
        status = self._status(scheme, target)
        if status is None:
            self.jm.raise_exception(job, "dependency", f"{desc}: job {value} not found")
            return False
        if status == "never":
            self.jm.raise_exception(
                job,
                "dependency",
                f"{desc}: can never be satisfied (job {value} {self._why(target)})",
            )
            return False
        if status == "yes":
            return True
        self._add(job, desc)
        self.by_target.setdefault(target, []).append((job, desc))
        return True

    def _why(self, target: int) -> str:
        old = self.jm.inactive.get(target)
        if old is None:
            return "is active"
        return f"ended with result {old.result.name if old.result else 'unknown'}"

    def _status(self, scheme: str, target: int) -> str | None:
        """``"yes"`` satisfied, ``"no"`` not yet, ``"never"``, or None unknown target."""
        active = self.jm.jobs.get(target)
        if active is not None:
            if scheme == "afterstart" and active.record.started:
                return "yes"
            return "no"
        old = self.jm.inactive.get(target)
        if old is None:
            return None
        if scheme == "afterstart":
            return "yes" if old.started else "never"
        if scheme == "afterany":
            return "yes"
        if scheme == "afterok":
            return "yes" if old.success else "never"
        if scheme == "afternotok":
            return "never" if old.success else "yes"
        if scheme == "afterexcept":
            return "yes" if old.exception else "never"
        return None

    # -- progress ---------------------------------------------------------------
    def target_changed(self, target: int) -> None:
        """A target started or became inactive: re-examine its dependents."""
        waiting = self.by_target.get(target)
        if not waiting:
            return
        keep = []
        for job, desc in waiting:
            if job.id not in self.jm.jobs or desc not in job.deps:
                continue
            scheme = _AFTER[desc.partition(":")[0]]
            status = self._status(scheme, target)
            if status == "yes":
                self._satisfy(job, desc)
            elif status == "never":
                self.jm.raise_exception(
                    job,
                    "dependency",
                    f"{desc}: can never be satisfied "
                    f"(job {desc.partition(':')[2]} {self._why(target)})",
                )
            else:
                keep.append((job, desc))
        if keep:
            self.by_target[target] = keep
        else:
            del self.by_target[target]

    def _satisfy(self, job: Job, desc: str) -> None:
        if job.id not in self.jm.jobs or desc not in job.deps:
            return
        del job.deps[desc]
        self.jm.post(job, "dependency-remove", {"description": desc})
        self.jm.maybe_depend(job)

    def job_left_running(self, job: Job) -> None:
        """``job`` became inactive: release the next singleton of its name."""
        self._check_singletons((job.userid, job.name))

    def _check_singletons(self, key: tuple[int, str]) -> None:
        waiting = [
            j
            for j in self.singletons.get(key, [])
            if j.id in self.jm.jobs and any(d.startswith("singleton:") for d in j.deps)
        ]
        if not waiting:
            self.singletons.pop(key, None)
            return
        self.singletons[key] = waiting
        busy = any(
            j.userid == key[0] and j.name == key[1] and j.state & _PAST_DEPEND
            for j in self.jm.jobs.values()
        )
        if not busy:
            first = min(waiting, key=lambda j: j.id)
            desc = next(d for d in first.deps if d.startswith("singleton:"))
            self._satisfy(first, desc)
