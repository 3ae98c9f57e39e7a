"""A rectangle's numbers: finite floats of positive size are read at once, anything else is
refused with the field that is wrong."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from annoconvert import geometry
from annoconvert.errors import TaskError
from annoconvert.model import Box
from annoconvert.readers.labelstudio_results import Ctx, parse_rectangle

_numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-5, max_value=200),
    st.just("10"),
    st.none(),
)


def _ctx() -> Ctx:
    return Ctx(
        ("tasks[0].annotations[0].result", 0),
        "rectanglelabels",
        "label",
        "image",
        None,
        image_width=640,
        image_height=480,
    )


@settings(max_examples=1000, deadline=None)
@given(x=_numbers, y=_numbers, w=_numbers, h=_numbers)
def test_a_rectangle_reads_or_names_its_bad_field(x: Any, y: Any, w: Any, h: Any) -> None:
    value = {"x": x, "y": y, "width": w, "height": h, "rectanglelabels": ["car"]}

    def finite(v: Any) -> bool:
        return type(v) in (int, float) and math.isfinite(v)

    bad = next(
        (
            key
            for key, v in (("x", x), ("y", y), ("width", w), ("height", h))
            if not finite(v) or (key in ("width", "height") and not v > 0)
        ),
        None,
    )
    if bad is None:
        box = parse_rectangle(value, _ctx())
        assert isinstance(box, Box)
        expected = geometry.ls_rectangle(float(x), float(y), float(w), float(h), 0.0, 640, 480)
        assert (box.x, box.y, box.width, box.height, box.rotation) == expected
    else:
        with pytest.raises(TaskError) as err:
            parse_rectangle(value, _ctx())
        assert err.value.locator == f"tasks[0].annotations[0].result[0].value.{bad}"
