"""A COCO bbox's numbers: four finite floats are read at once, anything else is checked one by
one and refused with the record's `bbox` as the locator."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from annoconvert import geometry
from annoconvert.errors import TaskError
from annoconvert.model import Box
from annoconvert.readers.coco_regions import box_region

_numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-5, max_value=2000),
    st.just(10**400),
    st.sampled_from([True, False, "10", None]),
)

LOC = "annotations[image_id=1][0]"


@settings(max_examples=1000, deadline=None)
@given(x=_numbers, y=_numbers, w=_numbers, h=_numbers)
@example(x=math.nan, y=1.0, w=2.0, h=3.0)
@example(x=1.0, y=-math.inf, w=2.0, h=3.0)
@example(x=1.0, y=1.0, w=math.inf, h=3.0)
@example(x=1.0, y=1.0, w=2.0, h=math.nan)
@example(x=1.0, y=1.0, w=2.0, h=math.inf)
@example(x=True, y=1.0, w=2.0, h=3.0)
@example(x=1.0, y=1.0, w=2.0, h=10**400)
@example(x=1, y=2, w=3, h=4)
def test_a_bbox_reads_or_is_refused_at_its_locator(x: Any, y: Any, w: Any, h: Any) -> None:
    ann = {"id": 7, "bbox": [x, y, w, h], "iscrowd": 0}

    def finite(v: Any) -> bool:
        if type(v) not in (int, float):
            return False
        try:
            return math.isfinite(float(v))
        except OverflowError:
            return False

    good = all(finite(v) for v in (x, y, w, h)) and float(w) > 0 and float(h) > 0
    if good:
        box = box_region(ann, "car", 640, 480, LOC)
        assert isinstance(box, Box)
        expected = geometry.pixel_xywh_box(float(x), float(y), float(w), float(h), 640, 480)
        assert (box.x, box.y, box.width, box.height, box.rotation) == expected
        assert (box.labels, box.id, box.attributes) == (("car",), "7", {"iscrowd": False})
    else:
        with pytest.raises(TaskError) as err:
            box_region(ann, "car", 640, 480, LOC)
        assert err.value.code == "bad_geometry"
        assert err.value.locator == f"{LOC}.bbox"
