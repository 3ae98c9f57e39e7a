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


_ABSENT = object()

_rotations = st.one_of(
    st.just(_ABSENT),
    st.sampled_from([0, 0.0, -0.0, 360, 90, -30.5, False, True, "0", None]),
    st.floats(allow_nan=True, allow_infinity=True),
)


@settings(max_examples=1000, deadline=None)
@given(x=_numbers, y=_numbers, w=_numbers, h=_numbers, rotation=_rotations)
def test_a_rectangle_reads_or_names_its_bad_field(
    x: Any, y: Any, w: Any, h: Any, rotation: Any
) -> None:
    value = {"x": x, "y": y, "width": w, "height": h, "rectanglelabels": ["car"]}
    if rotation is not _ABSENT:
        value["rotation"] = rotation

    def finite(v: Any) -> bool:
        return type(v) in (int, float) and math.isfinite(v)

    bad = next(
        (
            key
            for key, v in (("x", x), ("y", y), ("width", w), ("height", h), ("rotation", rotation))
            if (key != "rotation" or v is not _ABSENT)
            and (not finite(v) or (key in ("width", "height") and not v > 0))
        ),
        None,
    )
    turn = 0.0 if rotation is _ABSENT or bad is not None else float(rotation)
    if bad is None and not _turnable(float(x), float(y), float(w), float(h), turn):
        bad = "rotation"  # finite numbers too large to turn about the corner
    if bad is None:
        box = parse_rectangle(value, _ctx())
        assert isinstance(box, Box)
        expected = geometry.ls_rectangle(float(x), float(y), float(w), float(h), turn, 640, 480)
        assert (box.x, box.y, box.width, box.height, box.rotation) == expected
        assert all(math.isfinite(v) for v in expected)
        assert type(box.rotation) is float
    else:
        with pytest.raises(TaskError) as err:
            parse_rectangle(value, _ctx())
        assert err.value.locator == f"tasks[0].annotations[0].result[0].value.{bad}"


def _turnable(x: float, y: float, w: float, h: float, turn: float) -> bool:
    """Whether turning the rectangle about its corner keeps every number finite (worked out
    here with the pivot change written out, not with geometry's code)."""
    if turn % 360.0 == 0:
        return True
    px, py = x / 100 * 640, y / 100 * 480
    w_px, h_px = w / 100 * 640, h / 100 * 480
    rad = math.radians(turn % 360.0)
    dx, dy = w_px / 2, h_px / 2
    cx = px + dx * math.cos(rad) - dy * math.sin(rad)
    cy = py + dx * math.sin(rad) + dy * math.cos(rad)
    return all(math.isfinite(v) for v in (cx - w_px / 2, cy - h_px / 2, w_px, h_px))


def test_a_rectangle_too_large_to_turn_is_refused_not_written_as_nan() -> None:
    value = {"x": 0.0, "y": 0.0, "width": 1.0, "height": 1e308, "rotation": 90}
    value["rectanglelabels"] = ["car"]
    with pytest.raises(TaskError) as err:
        parse_rectangle(value, _ctx())
    assert err.value.code == "bad_geometry"
    assert err.value.locator == "tasks[0].annotations[0].result[0].value.rotation"
