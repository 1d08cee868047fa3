"""RFC 18 eventlog parsing and encoding."""

import pytest

from fluxlab.job.eventlog import (
    EventlogError,
    EventLogEvent,
    decode_event,
    encode_event,
    format_eventlog,
    parse_eventlog,
)

LOG = (
    '{"timestamp":1552593348.073045,"name":"submit","context":{"urgency":16,"userid":5588,"flags":0,"version":1}}\n'
    '{"timestamp":1605115080.0358412,"name":"validate"}\n'
)


def test_parse_and_roundtrip():
    events = parse_eventlog(LOG)
    assert [e.name for e in events] == ["submit", "validate"]
    assert events[0].context["urgency"] == 16
    assert events[1].context == {}
    assert events[1].timestamp == 1605115080.0358412
    assert format_eventlog(events) == LOG
    assert parse_eventlog("") == []


def test_event_object_api():
    ev = EventLogEvent({"timestamp": 1.5, "name": "start"})
    assert isinstance(ev, dict) and ev.name == "start" and ev.context == {}
    assert str(ev) == "1.50000: start {}"
    assert decode_event('{"timestamp":2,"name":"x","context":{"a":1}}\n').context == {"a": 1}
    assert encode_event("clean", 3.0) == '{"timestamp":3.0,"name":"clean"}\n'
    assert (
        encode_event("memo", 3, {"k": "ü"}) == '{"timestamp":3,"name":"memo","context":{"k":"ü"}}\n'
    )


@pytest.mark.parametrize(
    "text, field",
    [
        ('{"timestamp":1,"name":"a"}', "newline"),
        ('{"timestamp":1,"name":"a"}\n\n', "line 2: empty"),
        ("[1]\n", "line 1: entry must be a JSON object"),
        ('{"name":"a"}\n', "line 1: timestamp: missing"),
        ('{"timestamp":"1","name":"a"}\n', "timestamp: must be a number"),
        ('{"timestamp":-1,"name":"a"}\n', "timestamp: must be finite"),
        ('{"timestamp":true,"name":"a"}\n', "timestamp: must be a number"),
        ('{"timestamp":1}\n', "name: missing"),
        ('{"timestamp":1,"name":""}\n', "name: must be a non-empty"),
        ('{"timestamp":1,"name":"a b"}\n', "whitespace"),
        ('{"timestamp":1,"name":"a","context":[]}\n', "context: must be a JSON object"),
        ('{"timestamp":1,"name":"a","extra":1}\n', "unknown key"),
        ("{not json}\n", "invalid JSON"),
        ('{"timestamp":1,"name":"ok"}\n{"timestamp":1}\n', "line 2: name"),
    ],
)
def test_parse_errors_name_the_field(text, field):
    with pytest.raises(EventlogError, match=field):
        parse_eventlog(text)


def test_encode_rejects_bad_input():
    with pytest.raises(EventlogError):
        encode_event("bad name", 1.0)
    with pytest.raises(EventlogError, match="not JSON"):
        encode_event("x", 1.0, {"o": object()})
    with pytest.raises(EventlogError):
        decode_event('{"timestamp":1,"name":"a"}\n{"timestamp":1,"name":"b"}')


def test_job_manager_event_lines_equal_the_json_encoding():
    """Services write eventlog lines by hand for speed: same text as json."""
    import json

    from hypothesis import given, strategies as st

    from fluxlab.job.eventlog import event_line as _event_line

    values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
        max_leaves=8,
    )

    @given(
        ts=st.floats(min_value=0, allow_infinity=False) | st.integers(min_value=0),
        name=st.text(min_size=1),
        context=st.none() | st.dictionaries(st.text(), values, max_size=4),
    )
    def check(ts, name, context):
        raw = {"timestamp": ts, "name": name}
        if context:  # an empty context is left out, as Flux does
            raw["context"] = context
        expected = json.dumps(raw, separators=(",", ":"), ensure_ascii=False)
        assert _event_line(ts, name, context) == expected

    check()


def test_make_equals_the_constructor_and_validates_the_same():
    from hypothesis import given, strategies as st

    @given(
        ts=st.floats(min_value=0, allow_infinity=False) | st.integers(min_value=0),
        name=st.sampled_from(["submit", "alloc", "a b", "", "x\\n", "memo"]),
        context=st.none() | st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    )
    def check(ts, name, context):
        raw = {"timestamp": ts, "name": name}
        if context is not None:
            raw["context"] = context
        try:
            expected = EventLogEvent(raw)
        except EventlogError as e:
            with pytest.raises(EventlogError, match=str(e).split(":")[1]):
                EventLogEvent.make(ts, name, context)
            return
        made = EventLogEvent.make(ts, name, context)
        assert made == expected and list(made) == list(expected)
        assert type(made) is EventLogEvent

    check()
    for bad in (float("nan"), float("inf"), -1.0):
        with pytest.raises(EventlogError, match="timestamp"):
            EventLogEvent.make(bad, "submit")
    with pytest.raises(EventlogError, match="context"):
        EventLogEvent.make(1.0, "submit", ["not", "a", "dict"])
