"""Rich displays: every hooked class renders HTML and a plain-text form."""

import fluxlab
from fluxlab.job import JobInfo, JobspecV1
from fluxlab.job.jobid import JobID
from fluxlab.jupyter.display import repr_html, text_summary
from fluxlab.resource.rv1 import ResourceSet


class _P:
    def __init__(self):
        self.out = ""

    def text(self, s):
        self.out += s


def pretty(obj):
    p = _P()
    obj._repr_pretty_(p, False)
    return p.out


def test_jobid():
    j = JobID(3791650816)
    assert j.f58 in j._repr_html_() and "0xe2000000" in j._repr_html_()
    assert pretty(j) == j.f58


def test_jobinfo():
    info = JobInfo(
        {
            "id": 1234,
            "state": 64,
            "result": 1,
            "name": "hello",
            "ntasks": 2,
            "t_run": 10.0,
            "t_cleanup": 12.5,
            "waitstatus": 0,
            "nodelist": "n[0-1]",
        }
    )
    html = info._repr_html_()
    assert "hello" in html and "COMPLETED" in html and "n[0-1]" in html and "2.500s" in html
    assert pretty(info) == f"JobInfo({JobID(1234).f58}, name='hello', status=COMPLETED)"


def test_jobspec_is_summarised_not_dumped():
    js = JobspecV1.from_command(["sleep", "5"], num_tasks=4, cores_per_task=2)
    js.environment = {f"V{i}": "x" * 50 for i in range(300)}
    html = js._repr_html_()
    assert "sleep 5" in html and "300 variables" in html and "x" * 50 not in html
    assert pretty(js) == "JobspecV1('sleep 5': 4 slot, 8 core)"


def test_resource_set():
    rs = ResourceSet.from_nodes([(0, "a", 4, 1), (1, "b", 4, 1), (2, "c", 2, 0)])
    html = rs._repr_html_()
    assert "3 nodes, 10 cores, 2 GPUs" in html and "a-b" not in html and "0-1" in html


def test_instance_and_handle():
    with fluxlab.start(size=2) as inst:
        assert "size" in inst._repr_html_() and "running" in inst._repr_html_()
        h = inst.handle()
        html = h._repr_html_()
        assert inst.uri in html and ">2<" in html
        h.close()
    assert "stopped" in inst._repr_html_()


def test_unreachable_handle_renders_reason():
    with fluxlab.start(size=1) as inst:
        h = inst.handle()
    assert "not reachable" in repr_html(h)


def test_unknown_objects_fall_back_to_repr():
    assert repr_html(object()).startswith("<pre>&lt;object")
    assert text_summary(42) == "42"
