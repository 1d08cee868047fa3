"""Fuzz the parsers: random input may only raise the documented errors."""

import json

from hypothesis import HealthCheck, given, settings, strategies as st

from fluxlab.job.count import Count, CountError
from fluxlab.job.dependency import DependencyError, parse_dependency
from fluxlab.job.duration import DurationError, parse_fsd, parse_time_limit
from fluxlab.job.eventlog import EventlogError, parse_eventlog
from fluxlab.job.info import JobInfo, JobInfoError
from fluxlab.job.info_format import JobInfoFormat
from fluxlab.job.jobid import JobID, JobIDError, id_parse
from fluxlab.job.jobspec import Jobspec, JobspecError, JobspecV1
from fluxlab.job.record import JobRecord
from fluxlab.job.states import JobStateError
from fluxlab.job.urgency import UrgencyError, parse_urgency
from fluxlab.resource.idset import IdsetError, decode_ranges
from fluxlab.resource.listing import ListingError, resource_list_text, resource_status_text
from fluxlab.resource.rv1 import ResourceSet, RvError
from fluxlab.util.outputformat import FormatError

FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

json_scalars = (
    st.none() | st.booleans() | st.integers(-(2**65), 2**65) | st.floats() | st.text(max_size=8)
)
json_values = st.recursive(
    json_scalars,
    lambda kids: (
        st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4)
    ),
    max_leaves=20,
)
# strings built from the characters these grammars care about
id_chars = st.text(alphabet="0123456789abcdefxƒf.-[],+:^*job  \n😃🙊", max_size=24)

VALID = {
    "version": 1,
    "resources": [
        {"type": "slot", "count": 1, "label": "task", "with": [{"type": "core", "count": 1}]}
    ],
    "tasks": [{"command": ["app"], "slot": "task", "count": {"per_slot": 1}}],
    "attributes": {"system": {"duration": 0}},
}


@FUZZ
@given(st.text(max_size=30) | id_chars)
def test_job_ids(text):
    try:
        n = id_parse(text)
        assert 0 <= n < 2**64
        assert JobID(text) == n
    except JobIDError:
        pass


@FUZZ
@given(st.text(max_size=20) | id_chars)
def test_durations_urgency_counts_idsets(text):
    for func, errors in (
        (parse_fsd, DurationError),
        (parse_time_limit, DurationError),
        (parse_urgency, UrgencyError),
        (Count.decode, CountError),
        (decode_ranges, IdsetError),
        (parse_dependency, DependencyError),
    ):
        try:
            func(text)
        except errors:
            pass


@FUZZ
@given(st.sampled_from(["afterok", "afterany", "begin-time", "singleton", "x"]), id_chars)
def test_dependency_uris(scheme, rest):
    try:
        entry = parse_dependency(f"{scheme}:{rest}")
        assert entry["scheme"] == scheme
    except DependencyError:
        pass


@FUZZ
@given(json_values)
def test_jobspec_random_documents(doc):
    for cls in (Jobspec, JobspecV1):
        try:
            cls.from_dict(doc)
        except JobspecError:
            pass
        try:
            cls.from_yaml_stream(json.dumps(doc))
        except JobspecError:
            pass


@FUZZ
@given(st.sampled_from(["version", "resources", "tasks", "attributes"]), st.data())
def test_jobspec_mutated(section, data):
    doc = json.loads(json.dumps(VALID))
    node = doc
    path = [section]
    while isinstance(
        node.get(path[-1]) if isinstance(node, dict) else None, (dict, list)
    ) and data.draw(st.booleans()):
        child = node[path[-1]]
        key = data.draw(
            st.sampled_from(list(child) if isinstance(child, dict) else list(range(len(child))))
        )
        node, path = child, [key]
    node[path[-1]] = data.draw(json_values)
    for cls in (Jobspec, JobspecV1):
        try:
            cls.from_dict(doc)
        except JobspecError as exc:
            assert str(exc)


@FUZZ
@given(st.text(max_size=40))
def test_yaml_text(text):
    try:
        Jobspec.from_yaml_stream(text)
    except JobspecError:
        pass


event_names = st.sampled_from(
    ["submit", "validate", "depend", "priority", "alloc", "start", "finish", "release", "free",
     "clean", "exception", "urgency", "memo", "dependency-add", "dependency-remove", "set-flags",
     "flux-restart", "jobspec-update", "invalidate", "debug.x", "other"]
)  # fmt: skip
events = st.fixed_dictionaries(
    {"timestamp": st.floats(0, 1e9), "name": event_names},
    optional={
        "context": st.dictionaries(
            st.sampled_from(
                [
                    "urgency",
                    "userid",
                    "flags",
                    "priority",
                    "severity",
                    "type",
                    "note",
                    "status",
                    "ranks",
                    "final",
                    "description",
                ]
            ),
            json_scalars,
            max_size=5,
        )
    },
)


@FUZZ
@given(st.lists(events, max_size=12))
def test_state_machine(evs):
    rec = JobRecord(jobid=JobID(1))
    for ev in evs:
        try:
            rec.apply(ev)
        except JobStateError:
            pass
    JobInfo(rec.to_dict())


@FUZZ
@given(st.text(max_size=60))
def test_eventlog_text(text):
    try:
        parse_eventlog(text)
    except EventlogError:
        pass


@FUZZ
@given(json_values | st.text(max_size=30))
def test_rv1(doc):
    try:
        ResourceSet(doc)
    except RvError:
        pass


@FUZZ
@given(id_chars, id_chars, id_chars)
def test_rv1_strings(ranks, cores, hosts):
    doc = {
        "version": 1,
        "execution": {
            "R_lite": [{"rank": ranks, "children": {"core": cores}}],
            "nodelist": [hosts],
        },
    }
    try:
        rs = ResourceSet(doc)
        ResourceSet(rs.encode())
        (rs | rs) - rs.copy_ranks(rs.ranks)
    except RvError:  # HostlistError/IdsetError must arrive wrapped as RvError
        pass


@FUZZ
@given(json_values)
def test_listing_payloads(payload):
    try:
        resource_list_text(payload)
    except ListingError:
        pass
    try:
        resource_status_text(payload)
    except ListingError:
        pass


@FUZZ
@given(st.text(alphabet="{}!:<>^0123456789.?+hFHdD idnamestaupgrcol_", max_size=30))
def test_job_format_strings(fmt):
    job = JobInfo({"id": 1, "state": 16, "name": "x", "t_run": 1.0}, now=lambda: 2.0)
    try:
        JobInfoFormat(fmt).render([job])
    except FormatError:
        pass


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(
            ["id", "state", "result", "waitstatus", "t_run", "annotations", "dependencies"]
        ),
        json_values,
        max_size=6,
    )
)
def test_jobinfo_random(resp):
    try:
        job = JobInfo(resp, now=lambda: 0.0)
    except JobInfoError:
        return
    try:
        JobInfoFormat("default").render([job])
    except FormatError:
        pass
