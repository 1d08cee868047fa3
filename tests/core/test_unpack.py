"""unpack: typed request fields, with errors that name the topic and field."""

from __future__ import annotations

import errno

import pytest

from fluxlab._proto.message import Message
from fluxlab.core.errors import ServiceError
from fluxlab.core.module import unpack


def req(payload):
    return Message.request("svc.method", payload)


def test_fields_defaults_and_alternative_types():
    msg = req({"id": 7, "name": "x", "ratio": 2, "flag": True})
    assert unpack(msg, ("id", int), ("name", str), ("ratio", (int, float)), ("flag", bool)) == (
        7,
        "x",
        2,
        True,
    )
    assert unpack(msg, ("missing", int, 5), ("id", int)) == (5, 7)
    assert unpack(req(None), ("n", int, 0)) == (0,)


@pytest.mark.parametrize(
    "payload, field, message",
    [
        ({"id": True}, ("id", int), "field 'id' must be an integer, not a boolean"),
        ({"id": 1.5}, ("id", int), "field 'id' must be an integer, not a number"),
        ({"id": "7"}, ("id", (int, float)), "field 'id' must be an integer or a number"),
        ({}, ("id", int), "missing required field 'id'"),
        ([1], ("id", int), "payload must be a JSON object"),
    ],
)
def test_bad_fields_name_the_topic_and_field(payload, field, message):
    with pytest.raises(ServiceError) as e:
        unpack(req(payload), field)
    assert e.value.errno == errno.EPROTO
    assert str(e.value).startswith("svc.method: ") and message in str(e.value)


def test_a_subclass_of_the_type_is_accepted_as_before():
    class Tag(str):
        pass

    assert unpack(req({"t": Tag("a")}), ("t", str)) == ("a",)
