"""Box formats: round trips, Qwen's smart_resize, ordering, labels, refusals."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from annoconvert import boxes
from annoconvert.errors import RecipeError
from annoconvert.model import (
    Box,
    Cuboid,
    Ellipse,
    Mask,
    Points,
    Polygon,
    Polyline,
    PreparedImage,
    Region,
)
from annoconvert.options import Options

FORMATS = ["box_2d", "qwen2.5-vl", "qwen3-vl", "xyxy-px", "xywh-px"]


@st.composite
def envelopes(draw: st.DrawFn) -> tuple[float, float, float, float]:
    xs = sorted(draw(st.lists(st.floats(0, 1), min_size=2, max_size=2)))
    ys = sorted(draw(st.lists(st.floats(0, 1), min_size=2, max_size=2)))
    return (xs[0], ys[0], xs[1], ys[1])


def _grid(fmt: str, width: int, height: int) -> tuple[int, int]:
    if fmt in ("box_2d", "qwen3-vl"):
        return (1000, 1000)
    if fmt == "qwen2.5-vl":
        return boxes.qwen25_size(width, height, 56 * 56, 28 * 28 * 1280)
    return (width, height)


@settings(max_examples=400, deadline=None)
@given(
    env=envelopes(),
    fmt=st.sampled_from(FORMATS),
    width=st.integers(16, 5000),
    height=st.integers(16, 5000),
)
def test_every_format_round_trips_within_one_grid_unit(
    env: tuple[float, float, float, float], fmt: str, width: int, height: int
) -> None:
    if max(width, height) / min(width, height) > 200:
        return
    options = Options(box_format=fmt)  # type: ignore[arg-type]
    values = boxes.encode_box(fmt, env, width, height, options)
    assert all(isinstance(v, int) for v in values)
    back = boxes.decode_box(fmt, values, width, height)
    gw, gh = _grid(fmt, width, height)
    for got, want, unit in zip(back, env, (1 / gw, 1 / gh, 1 / gw, 1 / gh), strict=True):
        assert abs(got - want) <= unit + 1e-12
    assert back[0] < back[2] and back[1] < back[3]
    assert min(back) >= 0 and max(back) <= 1


def test_box_2d_is_y_first_on_0_1000_like_the_seed() -> None:
    # the seed's scratch: [150, 200, 250, 300] = ymin, xmin, ymax, xmax
    assert boxes.to_box_2d((0.2, 0.15, 0.3, 0.25)) == [150, 200, 250, 300]
    assert boxes.to_qwen3((0.2, 0.15, 0.3, 0.25)) == [200, 150, 300, 250]


def test_pixel_formats_use_the_embedded_image_size() -> None:
    env = (700 / 1024, 500 / 768, 760 / 1024, 550 / 768)
    assert boxes.to_xyxy(env, 1024, 768) == [700, 500, 760, 550]
    assert boxes.to_xywh(env, 1024, 768) == [700, 500, 60, 50]
    # the same box on the image resized to 512x384
    assert boxes.to_xyxy(env, 512, 384) == [350, 250, 380, 275]


@pytest.mark.parametrize(
    ("height", "width", "expected"),
    [
        # worked by hand from Qwen's algorithm (qwen_vl_utils.smart_resize)
        (480, 640, (476, 644)),  # round(17.14)=17, round(22.86)=23 -> x28
        (768, 1024, (756, 1036)),
        (3000, 4000, (840, 1148)),  # over max_pixels: beta = sqrt(12e6 / 1003520)
        (20, 20, (56, 56)),  # under min_pixels: scaled up
        (42, 1000, (56, 1008)),  # 42/28 = 1.5 rounds to even (2)
        (70, 1000, (56, 1008)),  # 70/28 = 2.5 rounds to even (2), as Python's round
    ],
)
def test_smart_resize_matches_qwen(height: int, width: int, expected: tuple[int, int]) -> None:
    assert boxes.smart_resize(height, width) == expected


def test_smart_resize_refuses_extreme_aspect_like_qwen() -> None:
    with pytest.raises(ValueError, match="aspect ratio"):
        boxes.smart_resize(10, 2500)


def test_qwen25_boxes_are_in_resized_pixels() -> None:
    image = PreparedImage("a.jpg", "a.jpg", 640, 480)
    box = Box("label", ("dent",), 0.5, 0.5, 0.25, 0.25)
    [obj] = boxes.format_boxes([box], image, Options(box_format="qwen2.5-vl"))
    assert obj == {"bbox_2d": [322, 238, 483, 357], "label": "dent"}  # grid 644 x 476


def _image() -> PreparedImage:
    return PreparedImage("a.jpg", "a.jpg", 1000, 500)


def test_reading_order_top_to_bottom_then_left_to_right() -> None:
    regions = [
        Box("l", ("low",), 0.1, 0.8, 0.1, 0.1),
        Box("l", ("right",), 0.6, 0.2, 0.1, 0.1),
        Box("l", ("left",), 0.1, 0.2, 0.1, 0.1),
    ]
    out = boxes.format_boxes(regions, _image(), Options())
    assert [o["label"] for o in out] == ["left", "right", "low"]
    kept = boxes.format_boxes(regions, _image(), Options(box_order="source"))
    assert [o["label"] for o in kept] == ["low", "right", "left"]


def test_labels_are_renamed_and_keys_follow_the_format() -> None:
    region = Box("l", ("scratch",), 0.1, 0.1, 0.2, 0.2)
    opts = Options(box_format="xywh-px", labels={"scratch": "surface_scratch"})
    assert boxes.format_boxes([region], _image(), opts) == [
        {"bbox": [100, 50, 200, 100], "label": "surface_scratch"}
    ]


def test_polygon_mask_and_ellipse_become_their_envelope() -> None:
    image = PreparedImage("a.png", "a.png", 100, 100)
    poly = Polygon("l", ("p",), ((0.1, 0.2), (0.3, 0.1), (0.2, 0.4)))
    mask = Mask("l", ("m",), (5, 2, 3, 2, 8), 50, 50, 5, 4, 100, 100)  # rows 1-2, cols 0-1
    ellipse = Ellipse("l", ("e",), 0.5, 0.9, 0.1, 0.05)
    out = boxes.format_boxes([poly, mask, ellipse], image, Options(box_format="xyxy-px"))
    assert out == [
        {"bbox": [10, 10, 30, 40], "label": "p"},
        {"bbox": [50, 51, 52, 53], "label": "m"},
        {"bbox": [40, 85, 60, 95], "label": "e"},
    ]


def test_out_of_frame_boxes_are_clamped() -> None:
    [obj] = boxes.format_boxes([Box("l", ("x",), -0.1, 0.9, 0.3, 0.3)], _image(), Options())
    assert obj["box_2d"] == [900, 0, 1000, 200]


@pytest.mark.parametrize(
    "region",
    [
        Box("l", ("x",), 1.2, 0.1, 0.3, 0.3),  # beyond the right edge
        Box("l", ("x",), 0.1, -0.5, 0.3, 0.4),  # above the top
        Box("l", ("x",), 1.0, 0.1, 0.3, 0.3),  # touching the right edge from outside
        Box("l", ("x",), 0.2, -0.3, 0.3, 0.3),  # touching the top edge from outside
        Box("l", ("x",), 1.5e305, 1.5e305, 1.5e305, 1.5e305),  # huge, far away: not NaN
        Polygon("l", ("x",), ((-0.5, 0.2), (-0.1, 0.3), (-0.2, 0.6))),
    ],
)
def test_a_shape_with_no_part_on_the_image_is_refused_not_drawn_on_the_edge(
    region: Region,
) -> None:
    """Clipping such a shape would write a one-unit sliver on the edge: a box nobody drew."""
    with pytest.raises(RecipeError) as err:
        boxes.format_boxes([region], _image(), Options())
    assert err.value.code == "empty_region"
    assert "no part of it is on the image" in str(err.value)


def test_a_line_on_the_edge_and_a_box_over_it_are_written() -> None:
    """A zero-width outline lying on the right edge is on the image; a box across the edge
    is clipped to its part on the image."""
    edge = Polyline("l", ("seam",), ((1.0, -0.1), (1.0, 0.5)))
    across = Box("l", ("x",), 0.9, 0.1, 0.3, 0.3)
    assert boxes.format_boxes([edge, across], _image(), Options(box_order="source")) == [
        {"box_2d": [0, 999, 500, 1000], "label": "seam"},
        {"box_2d": [100, 900, 400, 1000], "label": "x"},
    ]


def test_points_are_written_as_points_in_each_convention() -> None:
    """A keypoint at (x=0.1, y=0.25): Gemini writes [y, x] on 0-1000, Qwen3 [x, y] on 0-1000,
    the pixel formats [x, y] in pixels of the embedded image; absent points (v=0) are left out."""
    point = Points("kp", ("corner",), ((0.1, 0.25), (0.5, 0.5)), visibility=(2, 0))
    image = _image()
    assert boxes.format_boxes([point], image, Options()) == [
        {"point": [250, 100], "label": "corner"}
    ]
    assert boxes.format_boxes([point], image, Options(box_format="qwen3-vl")) == [
        {"point_2d": [100, 250], "label": "corner"}
    ]
    px = boxes.format_boxes([point], image, Options(box_format="xyxy-px"))
    assert px == [
        {"point": [round(0.1 * image.width), round(0.25 * image.height)], "label": "corner"}
    ]


def test_cuboids_are_not_boxes() -> None:
    cuboid = Cuboid("c", ("crate",), tuple((0.1 * i, 0.1) for i in range(8)))
    with pytest.raises(RecipeError) as err:
        boxes.format_boxes([cuboid], _image(), Options())
    assert err.value.code == "unsupported_region"
    assert "cuboid" in str(err.value)


def test_pixel_format_without_a_size_is_refused() -> None:
    image = PreparedImage("a.jpg", "a.jpg", 0, 0)
    with pytest.raises(RecipeError) as err:
        boxes.format_boxes(
            [Box("l", ("x",), 0.1, 0.1, 0.1, 0.1)], image, Options(box_format="xyxy-px")
        )
    assert err.value.code == "missing_image_size"


def test_empty_mask_and_unlabelled_box_are_errors() -> None:
    empty = Mask("l", ("m",), (4,), 0, 0, 2, 2, 10, 10)
    with pytest.raises(RecipeError) as err:
        boxes.format_boxes([empty], _image(), Options())
    assert err.value.code == "empty_region"
    with pytest.raises(RecipeError) as err:
        boxes.format_boxes([Box("l", (), 0.1, 0.1, 0.1, 0.1)], _image(), Options())
    assert err.value.code == "missing_label"


def test_zero_size_box_still_has_min_below_max() -> None:
    [obj] = boxes.format_boxes([Box("l", ("x",), 0.5, 0.5, 0.0, 0.0)], _image(), Options())
    y0, x0, y1, x1 = obj["box_2d"]
    assert y0 < y1 and x0 < x1


_coordinates = st.floats(-2, 3, allow_nan=False)
_sizes = st.floats(1e-9, 3, allow_nan=False)


@settings(max_examples=400, deadline=None)
@given(
    shapes=st.lists(
        st.tuples(
            _coordinates,
            _coordinates,
            _sizes,
            _sizes,
            st.sampled_from([0.0, -0.0, 360.0, 90.0, 17.5]),
            st.sampled_from(["car", "dog"]),
        ),
        max_size=6,
    ),
    fmt=st.sampled_from(FORMATS),
    order=st.sampled_from(["reading", "source"]),
)
def test_unturned_boxes_are_written_as_their_envelope(
    shapes: list[tuple[float, float, float, float, float, str]], fmt: str, order: str
) -> None:
    """format_boxes' shortcut for unturned boxes gives what the envelope of any region gives,
    and refuses what it refuses (a box with no part on the image)."""
    image = _image()
    regions = [Box("l", (lb,), x, y, w, h, rot, 640, 480) for x, y, w, h, rot, lb in shapes]
    opts = Options(box_format=fmt, box_order=order)
    rows = []
    for region in regions:
        try:
            env = boxes.region_envelope(region, image.width, image.height)
        except RecipeError as refused:
            with pytest.raises(RecipeError) as err:
                boxes.format_boxes(regions, image, opts)
            assert err.value.code == refused.code == "empty_region"
            return
        values = boxes.encode_box(fmt, env, image.width, image.height, opts)
        rows.append(((env[1], env[0], env[3], env[2], region.labels[0]), values, region.labels))
    if order == "reading":
        rows.sort(key=lambda row: row[0])
    expected = [{boxes.BOX_KEYS[fmt]: values, "label": labels[0]} for _, values, labels in rows]
    assert boxes.format_boxes(regions, image, opts) == expected


def test_a_turned_shape_too_large_to_place_is_refused() -> None:
    """A box near the float limit, turned: its corners come out as NaN (inf - inf)."""
    box = Box("l", ("car",), 0.0, 0.0, 1e306, 1e306, 30.0, 640, 480)
    with pytest.raises(RecipeError) as err:
        boxes.format_boxes([box], _image(), Options())
    assert err.value.code == "bad_region"
    assert "too large" in str(err.value)


def test_an_outline_without_points_is_refused_as_a_region() -> None:
    """Readers refuse such shapes; the box writer does too, for any reader that does not."""
    with pytest.raises(RecipeError) as err:
        boxes.format_boxes([Polyline("l", ("seam",), ())], _image(), Options())
    assert err.value.code == "bad_region"
