"""Output-side geometry: envelopes of rotated boxes, ellipses, polygons and masks."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from annoconvert import boxes, geometry
from tests.conftest import corpus_path

sizes = st.integers(min_value=16, max_value=4000)
unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


def _bumper_result() -> dict:
    export = corpus_path("labelstudio", "g_object_detection", "JSON.json")
    tasks = json.loads(export.read_text(encoding="utf-8"))
    task = next(t for t in tasks if "bumper" in t["data"]["image"])
    admin = next(a for a in task["annotations"] if a["completed_by"] == 1)
    return next(r for r in admin["result"] if r["value"].get("rotation"))


def test_label_studio_rotated_bumper_matches_the_pixel_hull_in_the_readme() -> None:
    # README: the 30-degree bumper scratch's true pixel hull is [180, 150, 279.8, 184.6]
    # as COCO x, y, w, h (LS's own COCO export computes it in percent space and is wrong).
    result = _bumper_result()
    v = result["value"]
    w_img, h_img = result["original_width"], result["original_height"]
    x, y, w, h, rot = geometry.ls_rectangle(
        v["x"], v["y"], v["width"], v["height"], v["rotation"], w_img, h_img
    )
    env = geometry.rotated_box_envelope(x, y, w, h, rot, w_img, h_img)
    x0, y0, x1, y1 = geometry.scale_envelope(env, w_img, h_img)
    assert [round(x0, 1), round(y0, 1), round(x1 - x0, 1), round(y1 - y0, 1)] == [
        180.0,
        150.0,
        279.8,
        184.6,
    ]


@settings(max_examples=300, deadline=None)
@given(
    w_img=sizes,
    h_img=sizes,
    x=unit,
    y=unit,
    w=st.floats(min_value=0.001, max_value=1.0),
    h=st.floats(min_value=0.001, max_value=1.0),
    rot=st.floats(min_value=-720, max_value=720, allow_nan=False),
)
def test_rotated_envelope_contains_and_touches_all_four_corners(
    w_img: int, h_img: int, x: float, y: float, w: float, h: float, rot: float
) -> None:
    env = geometry.rotated_box_envelope(x, y, w, h, rot, w_img, h_img)
    corners = geometry.box_corners(x, y, w, h, rot, w_img, h_img)
    px = [c[0] / w_img for c in corners]
    py = [c[1] / h_img for c in corners]
    eps = 1e-9
    for cx, cy in zip(px, py, strict=True):
        assert env[0] - eps <= cx <= env[2] + eps
        assert env[1] - eps <= cy <= env[3] + eps
    assert math.isclose(min(px), env[0], abs_tol=eps)
    assert math.isclose(max(px), env[2], abs_tol=eps)
    assert math.isclose(min(py), env[1], abs_tol=eps)
    assert math.isclose(max(py), env[3], abs_tol=eps)


def test_rotation_is_turned_in_pixels_not_in_normalized_space() -> None:
    # a 90-degree turn of a wide box on a 2:1 image: in pixels 200x50 becomes 50x200
    env = geometry.rotated_box_envelope(0.25, 0.45, 0.5, 0.1, 90, 400, 200)
    x0, y0, x1, y1 = geometry.scale_envelope(env, 400, 200)
    assert (round(x1 - x0, 6), round(y1 - y0, 6)) == (20.0, 200.0)
    assert (round((x0 + x1) / 2, 6), round((y0 + y1) / 2, 6)) == (200.0, 100.0)


@settings(max_examples=200, deadline=None)
@given(
    w_img=sizes,
    h_img=sizes,
    rx=st.floats(min_value=0.001, max_value=0.5),
    ry=st.floats(min_value=0.001, max_value=0.5),
    rot=st.floats(min_value=0, max_value=360),
)
def test_ellipse_envelope_is_tight_around_sampled_boundary(
    w_img: int, h_img: int, rx: float, ry: float, rot: float
) -> None:
    cx, cy = 0.5, 0.5
    env = geometry.ellipse_envelope(cx, cy, rx, ry, rot, w_img, h_img)
    # fine enough that sampling misses an extreme by < 1e-8 at the widest case (a 0.5-wide
    # ellipse on a 4000x16 image spans 125 image heights; the miss is span * step**2 / 8)
    t = np.linspace(0, 2 * math.pi, 200_001)
    a, b = rx * w_img, ry * h_img
    r = math.radians(rot)
    xs = (cx * w_img + a * np.cos(t) * math.cos(r) - b * np.sin(t) * math.sin(r)) / w_img
    ys = (cy * h_img + a * np.cos(t) * math.sin(r) + b * np.sin(t) * math.cos(r)) / h_img
    assert xs.min() >= env[0] - 1e-9 and xs.max() <= env[2] + 1e-9
    assert ys.min() >= env[1] - 1e-9 and ys.max() <= env[3] + 1e-9
    # sampled extremes come within a sliver of the analytic envelope
    assert xs.min() - env[0] < 1e-5 and env[3] - ys.max() < 1e-5


def test_unrotated_ellipse_envelope_is_centre_plus_minus_radii() -> None:
    assert geometry.ellipse_envelope(0.5, 0.4, 0.2, 0.1, 0, 640, 480) == pytest.approx(
        (0.3, 0.3, 0.7, 0.5)
    )


def test_polygon_envelope() -> None:
    pts = ((0.2, 0.3), (0.6, 0.1), (0.4, 0.9))
    assert geometry.points_envelope(pts) == (0.2, 0.1, 0.6, 0.9)
    with pytest.raises(ValueError):
        geometry.points_envelope(())


@st.composite
def rle_masks(draw: st.DrawFn) -> tuple[list[int], int, int]:
    mw = draw(st.integers(1, 30))
    mh = draw(st.integers(1, 30))
    bits = draw(st.lists(st.booleans(), min_size=mw * mh, max_size=mw * mh))
    counts: list[int] = []
    current, run = False, 0
    for bit in bits:
        if bit == current:
            run += 1
        else:
            counts.append(run)
            current, run = bit, 1
    counts.append(run)
    return counts, mw, mh


@settings(max_examples=300, deadline=None)
@given(rle_masks())
def test_mask_bounds_from_runs_equal_bitmap_bounds(mask: tuple[list[int], int, int]) -> None:
    counts, mw, mh = mask
    bitmap = geometry.mask_bitmap(counts, mw, mh)
    bounds = geometry.mask_pixel_bounds(counts, mw, mh)
    if not bitmap.any():
        assert bounds is None
        return
    rows = np.flatnonzero(bitmap.any(axis=1))
    cols = np.flatnonzero(bitmap.any(axis=0))
    assert bounds == (cols[0], rows[0], cols[-1] + 1, rows[-1] + 1)


def test_cvat_doc_mask_envelope() -> None:
    # CVAT's documented example: row-major over the 13x15 box at (707, 888), background first
    doc = corpus_path(
        "cvat", "upstream", "cvat-docs", "example_doc-v1.1_cvat-2.42_fmt1.1_annotation.xml"
    )
    found = re.search(r'<mask [^>]*rle="([^"]+)"[^>]*left="707"', doc.read_text(encoding="utf-8"))
    assert found is not None
    counts = [int(c) for c in found.group(1).split(", ")]
    mw, mh = 13, 15
    bitmap = geometry.mask_bitmap(counts, mw, mh)
    rows = np.flatnonzero(bitmap.any(axis=1))
    cols = np.flatnonzero(bitmap.any(axis=0))
    env = geometry.mask_envelope(counts, 707, 888, mw, mh, 1000, 1000)
    assert env is not None
    x0, y0, x1, y1 = (round(v) for v in geometry.scale_envelope(env, 1000, 1000))
    assert (x0, y0, x1, y1) == (707 + cols[0], 888 + rows[0], 708 + cols[-1], 889 + rows[-1])
    assert bitmap[7, 6]  # the disc's centre is set


def test_mask_runs_must_cover_the_box() -> None:
    with pytest.raises(ValueError, match="sum"):
        geometry.mask_pixel_bounds([1, 2], 2, 2)


@given(lo=unit, hi=unit, size=st.integers(1, 5000))
def test_grid_span_is_ordered_in_range_and_close(lo: float, hi: float, size: int) -> None:
    lo, hi = min(lo, hi), max(lo, hi)
    a, b = geometry.grid_span(lo, hi, size)
    assert 0 <= a < b <= size
    assert abs(a / size - lo) <= 1 / size + 1e-12
    assert abs(b / size - hi) <= 1 / size + 1e-12


def test_clamp_envelope_clips_to_the_frame() -> None:
    assert geometry.clamp_envelope((-0.1, 0.2, 1.3, 0.5)) == (0.0, 0.2, 1.0, 0.5)


near = st.floats(min_value=-0.5, max_value=1.5, allow_nan=False)


@given(env=st.tuples(near, near, near, near), width=st.integers(1, 5000), height=sizes)
def test_grid_box_is_grid_span_on_both_axes(
    env: tuple[float, float, float, float], width: int, height: int
) -> None:
    """The one-call grid of a box gives what `grid_span` gives for each axis, at the edges,
    for slivers and for spans beyond the grid too."""
    x0, x1 = geometry.grid_span(env[0], env[2], width)
    y0, y1 = geometry.grid_span(env[1], env[3], height)
    assert geometry.grid_box(env, width, height) == (x0, y0, x1, y1)


pixels = (
    st.integers(-10_000, 500_000).map(lambda cents: cents / 100)  # as exports write them
    | st.floats(-100.0, 5000.0)
    | st.floats(allow_nan=True, allow_infinity=True)
)


@settings(max_examples=300)
@given(box=st.tuples(pixels, pixels, pixels, pixels), width=sizes, height=sizes)
@example(box=(88.05, 77.27, 186.52, 162.35), width=640, height=480)  # a far edge's rounding
def test_pixel_corners_envelope_is_the_clipped_envelope_of_the_readers_boxes(
    box: tuple[float, float, float, float], width: int, height: int
) -> None:
    """The lanes' one call gives the floats (or the error) of the readers' conversions (COCO's
    `[x, y, w, h]`, CVAT's corners), the unturned envelope and the clipping, for boxes in,
    across and beyond the frame."""
    a, b, c, d = box
    for corners, model_box in (
        ((a, b, a + c, b + d), geometry.pixel_xywh_box(a, b, c, d, width, height)),
        ((a, b, c, d), geometry.pixel_corners_box(a, b, c, d, width, height)),
    ):
        nx, ny, nw, nh, _ = model_box
        try:
            expected = geometry.clamp_envelope(boxes.unturned_envelope(nx, ny, nw, nh))
        except ValueError as err:
            with pytest.raises(type(err)):
                geometry.pixel_corners_envelope(*corners, width, height)
            continue
        assert geometry.pixel_corners_envelope(*corners, width, height) == expected
