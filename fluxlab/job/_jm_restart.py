"""Rebuild the job-manager from the KVS after an instance restart.

Every ``job.<dothex>`` directory is replayed (RFC 21: replay reproduces the
state).  Inactive jobs become :class:`InactiveJob` entries; pending jobs are
requeued (SCHED jobs post ``flux-restart`` so they are re-prioritized);
jobs that were running lost their processes with the old instance and get a
fatal ``exec`` exception, then release their resources normally (the new
scheduler learns about them from ``sched-hello``).
"""

from __future__ import annotations

import errno
import json
from typing import TYPE_CHECKING

from fluxlab.core.errors import FluxError
from fluxlab.job._jm_job import InactiveJob, Job
from fluxlab.job.jobid import JobIDError, id_parse
from fluxlab.job.record import JobRecord
from fluxlab.job.states import JobState

if TYPE_CHECKING:
    from fluxlab.job.manager import JobManager

__all__ = ["restart"]


async def _entries(jm: JobManager, key: str) -> dict:
    try:
        return (await jm.h.rpc("kvs.lookup", {"key": key, "dir": True}))["entries"]
    except FluxError as e:
        if e.errno in (errno.ENOENT, errno.ENOTDIR):
            return {}
        raise


async def _text(jm: JobManager, key: str) -> str | None:
    try:
        return (await jm.h.rpc("kvs.lookup", {"key": key})).get("data")
    except FluxError as e:
        if e.errno == errno.ENOENT:
            return None
        raise


async def restart(jm: JobManager) -> int:
    """Reload every job; returns how many were found."""
    keys = []
    for a in await _entries(jm, "job"):
        for b in await _entries(jm, f"job.{a}"):
            for c in await _entries(jm, f"job.{a}.{b}"):
                for d in await _entries(jm, f"job.{a}.{b}.{c}"):
                    keys.append(f"{a}.{b}.{c}.{d}")
    if not keys:
        return 0
    resumed = []
    for dothex in keys:
        try:
            jobid = id_parse(dothex)
        except JobIDError:
            continue
        text = await _text(jm, f"job.{dothex}.eventlog")
        if not text:
            continue
        try:
            record = JobRecord.replay(text, jobid)
        except ValueError as e:
            jm.log(3, f"restart: job {dothex}: corrupt eventlog ignored: {e}")
            continue
        spec_text = await _text(jm, f"job.{dothex}.jobspec")
        try:
            jobspec = json.loads(spec_text) if spec_text else {}
        except ValueError:
            jobspec = {}
        job = Job(jobid, jobspec)
        job.record = record
        jm.max_id = max(jm.max_id, jobid)
        if record.state == JobState.INACTIVE:
            jm.inactive[jobid] = InactiveJob(job)
            continue
        r_text = await _text(jm, f"job.{dothex}.R")
        if r_text:
            try:
                job.R = json.loads(r_text)
            except ValueError:
                job.R = None
        from fluxlab.job.eventlog import parse_eventlog

        job.events = [dict(e) for e in parse_eventlog(text)]
        jm.jobs[jobid] = job
        st = int(record.state)
        jm.state_counts[st] = jm.state_counts.get(st, 0) + 1
        resumed.append(job)
    jm.inactive = dict(sorted(jm.inactive.items(), key=lambda kv: kv[1].t_inactive))
    await jm.h.rpc("job-ingest.seed", {"max_id": jm.max_id})
    for job in sorted(resumed, key=lambda j: j.id):
        state = job.state
        if state == JobState.NEW:
            jm.post(job, "validate")
        elif state == JobState.DEPEND:
            jm.depend.enter(job)
        elif state == JobState.PRIORITY:
            jm._enter(job, JobState.PRIORITY)
        elif state == JobState.SCHED:
            jm.post(job, "flux-restart")  # SCHED -> PRIORITY: re-prioritized, then requeued
        elif state in (JobState.RUN, JobState.CLEANUP):
            job.exec_done = True
            if state == JobState.RUN:
                jm.post(
                    job,
                    "exception",
                    {
                        "type": "exec",
                        "severity": 0,
                        "userid": job.userid,
                        "note": "the job was running when the instance stopped",
                    },
                )
            else:
                jm.progress(job)
    jm.log(5, f"restart: reloaded {len(keys)} jobs ({len(resumed)} active)")
    return len(keys)
