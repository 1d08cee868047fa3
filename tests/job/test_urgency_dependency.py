"""RFC 30 urgency parsing and RFC 26 dependency URIs."""

import pytest

from fluxlab.job.dependency import (
    DependencyError,
    dependency_array_create,
    parse_dependency,
    validate_dependency,
)
from fluxlab.job.urgency import (
    PRIORITY_MAX,
    URGENCY_DEFAULT,
    UrgencyError,
    default_priority,
    parse_urgency,
)


def test_urgency_names_and_numbers():
    assert parse_urgency("hold") == 0
    assert parse_urgency("Default") == URGENCY_DEFAULT == 16
    assert parse_urgency("expedite") == 31
    assert parse_urgency("7") == 7 and parse_urgency(31) == 31
    assert default_priority(0) == 0 and default_priority(31) == PRIORITY_MAX
    assert default_priority(10) == 10


@pytest.mark.parametrize("bad", ["32", -1, "x", "", True, 1.0, "1.5", "٣"])
def test_urgency_rejects(bad):
    with pytest.raises(UrgencyError):
        parse_urgency(bad)


def test_guest_limit():
    assert parse_urgency(16, guest=True) == 16
    with pytest.raises(UrgencyError, match="guests"):
        parse_urgency("expedite", guest=True)


def test_parse_dependency():
    assert parse_dependency("afterok:ƒ2") == {"scheme": "afterok", "value": "ƒ2"}
    assert parse_dependency("afterany:1234?foo=1&bar=x&bar=2.5") == {
        "scheme": "afterany",
        "value": "1234",
        "foo": 1,
        "bar": ["x", 2.5],
    }
    assert parse_dependency("begin-time:1700000000.5") == {
        "scheme": "begin-time",
        "value": "1700000000.5",
    }
    assert parse_dependency("singleton") == {"scheme": "singleton", "value": ""}
    assert parse_dependency("after:f2")["scheme"] == "after"
    assert len(dependency_array_create(["afterok:1", "afternotok:2"])) == 2


@pytest.mark.parametrize(
    "uri, message",
    [
        ("afterok", "expected scheme:value"),
        ("afterok:", "needs a job id"),
        ("afterok:notanid", "invalid job id"),
        ("bogus:1", "unknown dependency scheme 'bogus'"),
        ("begin-time:tomorrow", "Unix timestamp"),
        ("begin-time:-5", "Unix timestamp"),
        ("singleton:1", "takes no value"),
        ("afterok:1?", "empty query"),
        ("afterok:1?a", "malformed query"),
        ("afterok:1?scheme=x", "may not set"),
        (":1", "invalid scheme"),
        (5, "must be a string"),
    ],
)
def test_parse_dependency_errors(uri, message):
    with pytest.raises(DependencyError, match=message):
        parse_dependency(uri)


def test_validate_entry():
    validate_dependency({"scheme": "afterok", "value": "f2"})
    with pytest.raises(DependencyError, match="value: must be a string"):
        validate_dependency({"scheme": "afterok", "value": 1})
    with pytest.raises(DependencyError, match="scheme: missing"):
        validate_dependency({"value": "1"})
