"""The hot-path JSON encoder writes exactly what ``json`` writes, errors included."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings, strategies as st

from fluxlab._json import encoder

_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
_values = st.recursive(
    _scalars,
    lambda kids: (
        st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4)
    ),
    max_leaves=20,
)


@pytest.mark.parametrize("separators", [(",", ":"), (", ", ": ")])
@settings(max_examples=300, deadline=None)
@given(obj=_values)
def test_same_text_as_json(separators, obj):
    ref = json.JSONEncoder(separators=separators, ensure_ascii=False).encode(obj)
    assert encoder(separators)(obj) == ref


def test_reused_encoder_keeps_no_state_between_calls():
    enc = encoder()
    shared = {"a": [1, 2]}
    # the same object twice in one value is not a cycle, and a second call is clean
    assert enc([shared, shared]) == '[{"a":[1,2]},{"a":[1,2]}]'
    assert enc([shared, shared]) == '[{"a":[1,2]},{"a":[1,2]}]'


def test_errors_are_the_json_errors():
    enc = encoder()
    loop: list = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular reference"):
        enc(loop)
    with pytest.raises(TypeError, match="Object of type set is not JSON serializable"):
        enc({"x": {1}})
    assert enc(math.inf) == "Infinity"
    with pytest.raises(ValueError, match="not JSON compliant"):
        encoder(allow_nan=False)({"t": math.nan})
    # the encoder still works after an error
    assert enc({"ok": 1}) == '{"ok":1}'
