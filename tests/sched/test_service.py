"""The graph scheduler as the instance's ``sched`` module (RFC 27)."""

import errno
import io

import pytest

import fluxlab
import fluxlab as flux
from fluxlab.broker.config import DEFAULT_MODULES
from fluxlab.cli.main import Context, run_command
from fluxlab.core.errors import FluxError
from fluxlab.job import JobspecV1
from fluxlab.sched.service import parse_options
from fluxlab.testing import wait_for


def modules(*args):
    return [("sched", "0", list(args)) if m[0] == "sched" else m for m in DEFAULT_MODULES]


def job_R(h, jobid):
    return h.rpc("job-info.lookup", {"id": int(jobid), "keys": ["R"], "decode": True}).get()["R"]


def test_graph_scheduler_is_the_default():
    assert ("sched", "0", []) in DEFAULT_MODULES
    assert not any(m[0] == "sched-simple" for m in DEFAULT_MODULES)


@pytest.fixture(scope="module")
def inst():
    with fluxlab.start(
        size=2, conf={"resource": {"cores-per-node": 4, "gpus-per-node": 1}}
    ) as inst:
        yield inst


@pytest.fixture
def h(inst):
    h = inst.handle()
    yield h
    h.close()


def test_allocations_follow_the_first_policy_and_free(h):
    a = flux.job.submit(h, JobspecV1.from_command(["sleep", "30"], num_tasks=2))
    flux.job.event_wait(h, a, "start")
    R = job_R(h, a)
    # Fluxion's "first" policy takes the highest-numbered resources first
    assert R["execution"]["R_lite"] == [{"rank": "1", "children": {"core": "2-3"}}]
    st = h.rpc("sched.resource-status").get()
    assert st["allocated"]["execution"]["R_lite"] == [{"rank": "1", "children": {"core": "2-3"}}]
    flux.job.cancel(h, a)
    flux.job.result(h, a)
    wait_for(
        lambda: not h.rpc("sched.resource-status").get()["allocated"]["execution"]["R_lite"],
        what="resources freed",
    )


def test_gpus_and_exclusive_nodes(h):
    jid = flux.job.submit(
        h,
        JobspecV1.from_command(["true"], num_nodes=2, num_tasks=2, gpus_per_task=1, exclusive=True),
    )
    assert flux.job.result(h, jid).result == "COMPLETED"
    R = job_R(h, jid)
    assert R["execution"]["R_lite"] == [{"rank": "0-1", "children": {"core": "0-3", "gpu": "0"}}]


def test_time_limit_sets_expiration(h):
    jid = flux.job.submit(h, JobspecV1.from_command(["true"], duration=30))
    flux.job.result(h, jid)
    ex = job_R(h, jid)["execution"]
    assert 29.9 < ex["expiration"] - ex["starttime"] < 30.1


def test_infeasible_request_is_refused_at_submit(h):
    with pytest.raises(OSError) as e:
        flux.job.submit(h, JobspecV1.from_command(["true"], num_tasks=9))
    assert "never provide" in str(e.value)
    with pytest.raises(OSError):
        flux.job.submit(h, JobspecV1.from_command(["true"], gpus_per_task=2))


def test_easy_backfill_with_reservations():
    with fluxlab.start(
        size=1, modules=modules("queue-policy=easy"), conf={"resource": {"cores-per-node": 4}}
    ) as inst:
        h = inst.handle()
        long = flux.job.submit(h, JobspecV1.from_command(["sleep", "30"], num_tasks=2, duration=30))
        flux.job.event_wait(h, long, "start")
        big = flux.job.submit(h, JobspecV1.from_command(["true"], num_tasks=4, duration=10))
        # the big job is reserved behind the long one; a short one fits before it
        wait_for(
            lambda: (
                (flux.job.get_job(h, big) or {})
                .get("annotations", {})
                .get("sched", {})
                .get("reason_pending")
                == "reserved"
            ),
            what="reservation annotation",
        )
        small = flux.job.submit(h, JobspecV1.from_command(["true"], num_tasks=2, duration=5))
        assert flux.job.result(h, small).result == "COMPLETED"
        assert flux.job.get_job(h, big)["state"] == "SCHED"
        flux.job.cancel(h, long)
        assert flux.job.result(h, big).result == "COMPLETED"
        h.close()


def test_fcfs_head_of_line_blocks():
    with fluxlab.start(
        size=1, modules=modules("queue-policy=fcfs"), conf={"resource": {"cores-per-node": 4}}
    ) as inst:
        h = inst.handle()
        long = flux.job.submit(h, JobspecV1.from_command(["sleep", "30"], num_tasks=2))
        flux.job.event_wait(h, long, "start")
        big = flux.job.submit(h, JobspecV1.from_command(["true"], num_tasks=4))
        small = flux.job.submit(h, JobspecV1.from_command(["true"], num_tasks=1))
        wait_for(
            lambda: (flux.job.get_job(h, big) or {}).get("annotations", {}).get("sched"),
            what="big job annotated",
        )
        assert flux.job.get_job(h, small)["state"] == "SCHED"  # blocked behind big
        flux.job.cancel(h, long)
        assert flux.job.result(h, small).result == "COMPLETED"
        h.close()


def test_a_pass_cut_short_by_queue_depth_goes_on_while_resources_are_free():
    """One free of 8 cores with 8 one-core jobs waiting and queue-depth=2:
    all 8 start, though no other event follows (a pass considers 2 jobs; one
    that started all it considered runs again)."""
    with fluxlab.start(
        size=1, modules=modules("queue-depth=2"), conf={"resource": {"cores-per-node": 8}}
    ) as inst:
        h = inst.handle()
        big = flux.job.submit(h, JobspecV1.from_command(["sleep", "30"], num_tasks=8))
        flux.job.event_wait(h, big, "start")
        small = [
            flux.job.submit(h, JobspecV1.from_command(["sleep", "30"], num_tasks=1))
            for _ in range(8)
        ]
        wait_for(
            lambda: all(flux.job.get_job(h, j)["state"] == "SCHED" for j in small),
            what="small jobs queued",
        )
        flux.job.cancel(h, big)
        wait_for(
            lambda: all(flux.job.get_job(h, j)["state"] == "RUN" for j in small),
            what="all 8 small jobs running",
        )
        assert h.rpc("sched.resource-status").get()["allocated"]["execution"]["R_lite"] == [
            {"rank": "0", "children": {"core": "0-7"}}
        ]
        for j in small:
            flux.job.cancel(h, j)
        h.close()


def test_swap_scheduler_at_run_time_keeps_jobs():
    with fluxlab.start(size=1, conf={"resource": {"cores-per-node": 2}}) as inst:
        h = inst.handle()
        running = flux.job.submit(h, JobspecV1.from_command(["sleep", "30"], num_tasks=2))
        flux.job.event_wait(h, running, "start")
        waiting = flux.job.submit(h, JobspecV1.from_command(["true"], num_tasks=2))

        def cmd(*argv):
            err = io.StringIO()
            return run_command(
                list(argv), Context(stdout=io.StringIO(), stderr=err, uri=inst.uri)
            ), err

        assert cmd("module", "remove", "sched")[0] == 0
        assert cmd("module", "load", "sched-simple")[0] == 0
        mods = {m["name"] for m in h.rpc("module.list").get()["modules"]}
        assert "sched-simple" in mods and "sched" not in mods
        flux.job.cancel(h, running)  # sched-simple learned about it from hello
        assert flux.job.result(h, waiting).result == "COMPLETED"
        assert cmd("module", "remove", "sched-simple")[0] == 0
        rc, err = cmd("module", "load", "sched", "policy=nonsense")
        assert rc == 1 and "policy" in err.getvalue()
        assert cmd("module", "load", "sched", "policy=low")[0] == 0
        jid = flux.job.submit(h, JobspecV1.from_command(["true"]))
        assert flux.job.result(h, jid).result == "COMPLETED"
        assert job_R(h, jid)["execution"]["R_lite"][0]["children"]["core"] == "0"
        h.close()


def test_drained_ranks_are_not_allocated():
    with fluxlab.start(size=2, conf={"resource": {"cores-per-node": 2}}) as inst:
        h = inst.handle()
        h.rpc("resource.drain", {"targets": "1", "reason": "maintenance"}).get()
        wait_for(
            lambda: h.rpc("sched.stats").get()["down"] == "1", what="scheduler sees rank 1 drained"
        )
        jid = flux.job.submit(h, JobspecV1.from_command(["true"], num_tasks=2))
        flux.job.result(h, jid)
        assert job_R(h, jid)["execution"]["R_lite"][0]["rank"] == "0"
        both = flux.job.submit(h, JobspecV1.from_command(["true"], num_nodes=2, num_tasks=2))
        wait_for(
            lambda: (flux.job.get_job(h, both) or {}).get("annotations"), what="pending annotation"
        )
        h.rpc("resource.undrain", {"targets": "1"}).get()
        assert flux.job.result(h, both).result == "COMPLETED"
        h.close()


@pytest.mark.parametrize(
    "args,msg",
    [
        (["queue-policy=lifo"], "queue-policy"),
        (["queue-depth=0"], "queue-depth"),
        (["queue-depth=x"], "integer"),
        (["frob=1"], "unknown option"),
        (["policy"], "KEY=VALUE"),
        (["match-format=jgf"], "match-format"),
    ],
)
def test_bad_options(args, msg):
    with pytest.raises(ValueError, match=msg):
        parse_options(args, {})


def test_sched_errors_never_kill_the_module(h):
    with pytest.raises(FluxError) as e:
        h.rpc("sched.free", {"id": "x"}).get()
    assert e.value.errno == errno.EPROTO
    assert h.rpc("sched.ping").get()["name"] == "sched"


def test_lost_broker_is_down_in_the_graph():
    from fluxlab.instance.local import LocalInstance

    with LocalInstance(3, conf={"resource": {"cores-per-node": 2}}) as inst:
        h = fluxlab.Flux(inst.uri)
        wait_for(lambda: h.rpc("sched.stats").get()["down"] == "", what="scheduler ready")
        inst.kill(2)
        wait_for(lambda: h.rpc("sched.stats").get()["down"] == "2", what="rank 2 down in the graph")
        jid = flux.job.submit(h, JobspecV1.from_command(["true"], num_nodes=2, num_tasks=2))
        assert flux.job.result(h, jid).result == "COMPLETED"
        assert job_R(h, jid)["execution"]["R_lite"][0]["rank"] == "0-1"
        h.close()


def test_equal_jobspecs_are_parsed_once_even_as_separate_objects(monkeypatch):
    """A scheduler in a module process decodes a new dict per alloc request;
    identical submissions must still share one Fluxion parse (~1 ms each)."""
    import json

    from fluxlab.job import JobspecV1
    from fluxlab.sched import ResourceQuery, fake_nodes
    from fluxlab.sched.service import _CachingMatcher

    rq = ResourceQuery(fake_nodes(1, 4), policy="first")
    calls = []
    real = rq.parse
    monkeypatch.setattr(rq, "parse", lambda js: calls.append(1) or real(js))
    cm = _CachingMatcher(rq)
    text = JobspecV1.from_command(["true"], num_tasks=2).dumps()
    first = cm.parse(json.loads(text))
    again = [cm.parse(json.loads(text)) for _ in range(5)]  # new, equal dicts
    assert len(calls) == 1 and all(p is first for p in again)
    other = cm.parse(json.loads(JobspecV1.from_command(["true"], num_tasks=3).dumps()))
    assert len(calls) == 2 and other is not first
    assert cm.match("satisfiability", first, jobid=1, at=0).satisfiable
