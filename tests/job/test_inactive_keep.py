"""The job-manager keeps at most _INACTIVE_KEEP inactive jobs in memory,
forgetting the oldest first (their eventlogs stay in the KVS)."""

import fluxlab
import fluxlab as flux
import fluxlab.job.manager as manager
from fluxlab.job import JobspecV1
from fluxlab.testing import wait_for


def test_oldest_inactive_jobs_are_forgotten_past_the_bound(monkeypatch):
    monkeypatch.setattr(manager, "_INACTIVE_KEEP", 200)
    with fluxlab.start(size=1) as inst:
        h = inst.handle()
        spec = JobspecV1.from_command(["true"])
        spec.setattr("system.exec.test.run_duration", "0.001s")
        ids = flux.job.submit_bulk_async(h, [spec.dumps()] * 260).get()["ids"]
        # "inactive" counts every job that ended, remembered or not
        wait_for(
            lambda: h.rpc("job-manager.stats").get()["inactive"] == 260, what="260 jobs inactive"
        )
        jm = inst.brokers[0].modules["job-manager"].module
        # 201 passed the bound of 200: the oldest 2 (1%) went at once
        assert 198 <= len(jm.inactive) <= 200
        kept = set(jm.inactive)
        assert kept <= {int(j) for j in ids}
        # the forgotten ones are those that ended first (job-list still has all)
        jobs = flux.job.job_list(h, max_entries=1000, attrs=["t_inactive"]).get()["jobs"]
        ended = {j["id"]: j["t_inactive"] for j in jobs}
        assert len(ended) == 260
        forgotten = set(ended) - kept
        assert max(ended[j] for j in forgotten) <= min(ended[j] for j in kept)
        h.close()
