"""job-list applies the journal in idle moments; queries must never see less.

The idle work is switched off on the live module (it then applies nothing),
so every answer below depends on the catch-up that each query performs and
on the backlog bound, exactly what a broker that is never idle relies on.
"""

import pytest

import fluxlab
import fluxlab as flux
import fluxlab.job.list_service as list_service
from fluxlab.job import JobspecV1
from fluxlab.job.states import JobState
from fluxlab.testing import wait_for

MODS = [("kvs", "0", []), ("job-ingest", "0", []), ("job-manager", "0", []), ("job-list", "0", [])]


@pytest.fixture
def setup(monkeypatch):
    monkeypatch.setattr(list_service.JobList, "_apply_idle", lambda self: False)
    with fluxlab.start(size=1, modules=MODS) as inst:
        h = inst.handle()
        yield h, inst.brokers[0].modules["job-list"].module
        h.close()


def _state(h, jobid):
    return JobState(h.rpc("job-manager.getinfo", {"id": jobid}).get()["state"])


def test_queries_apply_the_backlog_first(setup):
    h, mod = setup
    spec = JobspecV1.from_command(["true"])
    ids = [flux.job.submit(h, spec) for _ in range(5)]
    wait_for(lambda: all(_state(h, j) == JobState.SCHED for j in ids), what="jobs in SCHED")
    wait_for(lambda: len(mod._backlog) > 0, what="journal entries to reach job-list")
    # nothing was applied in idle moments: the list below sees every event
    # only because the query caught up first
    job = flux.job.job_list_id(h, ids[-1]).get()["job"]
    assert job["state"] == int(JobState.SCHED) and job["priority"] == 16
    listed = flux.job.job_list(h, max_entries=100).get()["jobs"]
    assert sorted(j["id"] for j in listed) == sorted(ids)
    assert all(j["state"] == int(JobState.SCHED) for j in listed)
    assert len(mod._backlog) == 0


def test_backlog_is_bounded_without_idle_time(setup, monkeypatch):
    h, mod = setup
    monkeypatch.setattr(list_service, "_BACKLOG_MAX", 8)
    spec = JobspecV1.from_command(["true"])
    ids = [flux.job.submit(h, spec) for _ in range(10)]
    wait_for(lambda: all(_state(h, j) == JobState.SCHED for j in ids), what="jobs in SCHED")
    # 10 jobs x 4 events went by: a delivery that passes the bound is applied
    # at once, so the first jobs are known without any query having run
    assert len(mod._backlog) <= 8
    assert ids[0] in mod.jobs
