"""job-ingest refuses an infeasible job at submit, whatever else is in its batch.

Answers to ``feasibility.check`` are cached by jobspec text in a bounded
cache; a batch with more distinct jobspecs than the cache holds must still
refuse the infeasible ones (regression: the commit read the answers back from
the cache, which had evicted the early ones, and accepted those jobs).
"""

import fluxlab
import fluxlab as flux
import fluxlab.job.ingest as ingest
from fluxlab.job import JobspecV1


def test_infeasible_job_refused_in_a_batch_larger_than_the_cache(monkeypatch):
    monkeypatch.setattr(ingest, "_CACHE_MAX", 2)
    with fluxlab.start(size=1, conf={"resource": {"cores-per-node": 2}}) as inst:
        h = inst.handle()
        big = JobspecV1.from_command(["true"], num_tasks=999).dumps()
        small = [JobspecV1.from_command(["true", str(i)]).dumps() for i in range(6)]
        for batch in ([big, *small], [*small[:3], big, *small[3:]]):
            ids = flux.job.submit_bulk_async(h, batch).get(timeout=60)["ids"]
            refused = ids[batch.index(big)]
            assert isinstance(refused, dict), ids
            assert "unsatisfiable request" in refused["errstr"], refused
            assert all(isinstance(i, int) for n, i in enumerate(ids) if batch[n] != big)
            for jobid in (i for i in ids if isinstance(i, int)):
                assert flux.job.result_async(h, jobid).get_info(timeout=60).returncode == 0
        h.close()
