"""Assistant JSON is written exactly as `json.dumps(ensure_ascii=False)` writes it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from annoconvert.recipes import common

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES)
def test_dumps_writes_what_json_dumps_writes(value: Any) -> None:
    assert common.dumps(value) == json.dumps(value, ensure_ascii=False)


def test_the_fallback_writes_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    value = [{"box_2d": [695, 157, 836, 230], "label": "vélo"}, {"point": [1, 2], "label": "x"}]
    fast = common.dumps(value)
    monkeypatch.setattr(common, "_C_ENCODER", None)
    assert common.dumps(value) == fast == json.dumps(value, ensure_ascii=False)
    assert (
        fast
        == '[{"box_2d": [695, 157, 836, 230], "label": "vélo"}, {"point": [1, 2], "label": "x"}]'
    )
