"""`dumps_boxes` writes a box answer exactly as `dumps` does, whatever the labels and values."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from annoconvert.recipes.common import dumps, dumps_boxes

_labels = st.one_of(
    st.sampled_from(["car", "traffic_light", "a b", "x,y", "k:v", 'say "hi"', "back\\slash"]),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12),
    st.text(alphabet=st.characters(max_codepoint=127), max_size=12),
)
_ints = st.integers(-(2**70), 2**70)
_values = st.one_of(_ints, st.floats(allow_nan=False), st.booleans(), st.none())
_boxes = st.one_of(
    st.lists(st.integers(0, 1000), min_size=4, max_size=4),
    st.lists(_values, min_size=4, max_size=4),
    st.lists(st.integers(0, 1000), max_size=5),
)
_objects = st.one_of(
    st.fixed_dictionaries({"box_2d": _boxes, "label": _labels}),
    st.fixed_dictionaries({"box_2d": _boxes, "label": st.one_of(_ints, st.none())}),
    st.fixed_dictionaries({"label": _labels, "box_2d": _boxes}),  # the other key order
    st.fixed_dictionaries({"bbox_2d": _boxes, "label": _labels}),
    st.fixed_dictionaries({"box_2d": _boxes, "label": _labels, "score": _values}),
    st.fixed_dictionaries({"point": st.lists(_ints, min_size=2, max_size=2), "label": _labels}),
)


@settings(max_examples=2000, deadline=None)
@given(objects=st.lists(_objects, max_size=4))
def test_dumps_boxes_writes_what_dumps_writes(objects: list[dict[str, Any]]) -> None:
    assert dumps_boxes(objects) == dumps(objects)


def test_common_answer_has_the_seeds_spacing() -> None:
    answer = [
        {"box_2d": [246, 782, 299, 848], "label": "person"},
        {"box_2d": [1, 2, 3, 4], "label": "a b"},
    ]
    assert dumps_boxes(answer) == (
        '[{"box_2d": [246, 782, 299, 848], "label": "person"}, '
        '{"box_2d": [1, 2, 3, 4], "label": "a b"}]'
    )
