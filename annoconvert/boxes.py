"""Box answers in the formats models are trained on, and back (for previews and checks).

Every format is a pair of small pure functions over an `Envelope` (normalized xmin, ymin,
xmax, ymax of the upright image); the numbers are integers on the format's grid:

| format       | key       | values                         | grid                          |
|--------------|-----------|--------------------------------|-------------------------------|
| `box_2d`     | `box_2d`  | [ymin, xmin, ymax, xmax]       | 0-1000 per axis (Gemini)      |
| `qwen2.5-vl` | `bbox_2d` | [x1, y1, x2, y2]               | pixels after Qwen smart_resize|
| `qwen3-vl`   | `bbox_2d` | [x1, y1, x2, y2]               | 0-1000 per axis               |
| `xyxy-px`    | `bbox`    | [x1, y1, x2, y2]               | pixels of the embedded image  |
| `xywh-px`    | `bbox`    | [x, y, w, h]                   | pixels of the embedded image  |

Rounding is half-up, values are clamped to the image, and min < max always holds.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from typing import Any

from annoconvert.errors import RecipeError
from annoconvert.geometry import (
    Envelope,
    OffImage,
    clamp_envelope,
    ellipse_envelope,
    grid_box,
    mask_envelope,
    points_envelope,
    rotated_box_envelope,
    round_half_up,
)
from annoconvert.model import Box, Ellipse, Mask, Points, Polyline, PreparedImage, Region
from annoconvert.model import Polygon as PolygonRegion
from annoconvert.options import Options
from annoconvert.recipes.common import rename

BOX_KEYS = {
    "box_2d": "box_2d",
    "qwen2.5-vl": "bbox_2d",
    "qwen3-vl": "bbox_2d",
    "xyxy-px": "bbox",
    "xywh-px": "bbox",
}
"""The JSON key each box format writes."""
BOX_KINDS = frozenset({"box", "polygon", "polyline", "mask", "ellipse", "points"})
"""Region kinds a detection answer can hold (as their axis-aligned envelope)."""
QWEN_FACTOR = 28
QWEN_MAX_RATIO = 200


# --- Qwen2.5-VL's resize ---------------------------------------------------------------------


def _round_by_factor(number: float, factor: int) -> int:
    return round(number / factor) * factor


def _ceil_by_factor(number: float, factor: int) -> int:
    return math.ceil(number / factor) * factor


def _floor_by_factor(number: float, factor: int) -> int:
    return math.floor(number / factor) * factor


def smart_resize(
    height: int,
    width: int,
    factor: int = QWEN_FACTOR,
    min_pixels: int = 56 * 56,
    max_pixels: int = 28 * 28 * 1280,
) -> tuple[int, int]:
    """The (height, width) Qwen2.5-VL resizes an image to, as `qwen_vl_utils.smart_resize`.

    Both sides become multiples of `factor` (Python's round, so halves go to even), scaled
    down when over `max_pixels` and up when under `min_pixels`. ValueError for an aspect
    ratio over 200, as Qwen's code.
    """
    if max(height, width) / min(height, width) > QWEN_MAX_RATIO:
        raise ValueError(
            f"absolute aspect ratio must be smaller than {QWEN_MAX_RATIO}, "
            f"got {max(height, width) / min(height, width)}"
        )
    h_bar = max(factor, _round_by_factor(height, factor))
    w_bar = max(factor, _round_by_factor(width, factor))
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = _floor_by_factor(height / beta, factor)
        w_bar = _floor_by_factor(width / beta, factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = _ceil_by_factor(height * beta, factor)
        w_bar = _ceil_by_factor(width * beta, factor)
    return h_bar, w_bar


# --- the formats: envelope -> integers and back ------------------------------------------------


def to_box_2d(env: Envelope) -> list[int]:
    """Gemini: [ymin, xmin, ymax, xmax] on 0-1000 per axis."""
    x0, y0, x1, y1 = grid_box(env, 1000, 1000)
    return [y0, x0, y1, x1]


def from_box_2d(values: Sequence[float]) -> Envelope:
    """The envelope a `box_2d` stands for."""
    y0, x0, y1, x1 = values
    return (x0 / 1000, y0 / 1000, x1 / 1000, y1 / 1000)


def to_xyxy(env: Envelope, width: int, height: int) -> list[int]:
    """[x1, y1, x2, y2] on a `width` x `height` integer grid (pixels, or 1000 x 1000)."""
    return list(grid_box(env, width, height))


def from_xyxy(values: Sequence[float], width: int, height: int) -> Envelope:
    """The envelope an [x1, y1, x2, y2] on a `width` x `height` grid stands for."""
    x0, y0, x1, y1 = values
    return (x0 / width, y0 / height, x1 / width, y1 / height)


def to_qwen3(env: Envelope) -> list[int]:
    """Qwen3-VL: [x1, y1, x2, y2] on 0-1000 per axis."""
    return to_xyxy(env, 1000, 1000)


def from_qwen3(values: Sequence[float]) -> Envelope:
    """The envelope a Qwen3-VL `bbox_2d` stands for."""
    return from_xyxy(values, 1000, 1000)


def qwen25_size(width: int, height: int, min_pixels: int, max_pixels: int) -> tuple[int, int]:
    """(width, height) of the image as Qwen2.5-VL sees it."""
    h, w = smart_resize(height, width, QWEN_FACTOR, min_pixels, max_pixels)
    return (w, h)


def to_qwen25(
    env: Envelope, width: int, height: int, min_pixels: int, max_pixels: int
) -> list[int]:
    """Qwen2.5-VL: [x1, y1, x2, y2] in pixels of the smart-resized image."""
    w, h = qwen25_size(width, height, min_pixels, max_pixels)
    return to_xyxy(env, w, h)


def from_qwen25(
    values: Sequence[float], width: int, height: int, min_pixels: int, max_pixels: int
) -> Envelope:
    """The envelope a Qwen2.5-VL `bbox_2d` stands for on a `width` x `height` image."""
    w, h = qwen25_size(width, height, min_pixels, max_pixels)
    return from_xyxy(values, w, h)


def to_xywh(env: Envelope, width: int, height: int) -> list[int]:
    """COCO-style [x, y, w, h] in pixels (from the rounded corners, so x + w is exact)."""
    x0, y0, x1, y1 = to_xyxy(env, width, height)
    return [x0, y0, x1 - x0, y1 - y0]


def from_xywh(values: Sequence[float], width: int, height: int) -> Envelope:
    """The envelope an [x, y, w, h] in pixels stands for."""
    x, y, w, h = values
    return from_xyxy((x, y, x + w, y + h), width, height)


def encode_box(
    box_format: str, env: Envelope, width: int, height: int, options: Options
) -> list[int]:
    """An envelope in `box_format`; `width`/`height` are the embedded image's pixels."""
    if box_format == "box_2d":
        return to_box_2d(env)
    if box_format == "qwen3-vl":
        return to_qwen3(env)
    _need_size(box_format, width, height)
    if box_format == "qwen2.5-vl":
        try:
            return to_qwen25(env, width, height, options.qwen_min_pixels, options.qwen_max_pixels)
        except ValueError as err:
            raise RecipeError(
                "unsupported_image", f"Qwen2.5-VL cannot take this image: {err}"
            ) from err
    if box_format == "xyxy-px":
        return to_xyxy(env, width, height)
    if box_format == "xywh-px":
        return to_xywh(env, width, height)
    raise ValueError(f"unknown box format {box_format!r}")


def decode_box(
    box_format: str,
    values: Sequence[float],
    width: int,
    height: int,
    *,
    qwen_min_pixels: int = 56 * 56,
    qwen_max_pixels: int = 28 * 28 * 1280,
) -> Envelope:
    """The normalized envelope behind a formatted box (previews, validation, agreement)."""
    if box_format == "box_2d":
        return from_box_2d(values)
    if box_format == "qwen3-vl":
        return from_qwen3(values)
    if box_format == "qwen2.5-vl":
        return from_qwen25(values, width, height, qwen_min_pixels, qwen_max_pixels)
    if box_format == "xyxy-px":
        return from_xyxy(values, width, height)
    if box_format == "xywh-px":
        return from_xywh(values, width, height)
    raise ValueError(f"unknown box format {box_format!r}")


def _need_size(box_format: str, width: int, height: int) -> None:
    if width <= 0 or height <= 0:
        raise RecipeError(
            "missing_image_size",
            f"box format {box_format} needs the image's pixel size, which is not known",
        )


# --- regions -> answer objects -----------------------------------------------------------------

Row = tuple[tuple[Any, ...], dict[str, Any]]
"""An answer object with its reading-order key."""


def region_envelope(region: Region, width: int, height: int) -> Envelope:
    """The axis-aligned envelope of a box, polygon, mask or ellipse, clamped to the image.

    `width`/`height` give the pixel aspect for rotations when the region does not record
    its image size. RecipeError for an empty mask (`empty_region`) and for other kinds
    (`unsupported_region`).
    """
    if isinstance(region, Box):
        w = region.image_width or width
        h = region.image_height or height
        if region.rotation % 360.0 != 0 and (w <= 0 or h <= 0):
            raise RecipeError(
                "missing_image_size",
                "a rotated box needs the image's pixel size to find its envelope",
            )
        env = rotated_box_envelope(
            region.x, region.y, region.width, region.height, region.rotation, w or 1, h or 1
        )
    elif isinstance(region, PolygonRegion | Polyline):
        if not region.points:
            raise RecipeError("bad_region", f"a {region.kind} region without points")
        env = points_envelope(region.points)
    elif isinstance(region, Ellipse):
        w = region.image_width or width
        h = region.image_height or height
        if region.rotation % 360.0 != 0 and (w <= 0 or h <= 0):
            raise RecipeError(
                "missing_image_size", "a rotated ellipse needs the image's pixel size"
            )
        env = ellipse_envelope(
            region.cx, region.cy, region.rx, region.ry, region.rotation, w or 1, h or 1
        )
    elif isinstance(region, Mask):
        try:
            found = mask_envelope(
                region.counts,
                region.left,
                region.top,
                region.mask_width,
                region.mask_height,
                region.image_width,
                region.image_height,
            )
        except ValueError as err:
            raise RecipeError("bad_region", f"mask {region.id or ''}: {err}".strip()) from err
        if found is None:
            raise RecipeError(
                "empty_region", f"mask {region.id or ''} covers no pixel".replace("  ", " ")
            )
        env = found
    else:
        raise RecipeError(
            "unsupported_region",
            f"a {region.kind} region cannot be written as a box; detection takes boxes, "
            "polygons, masks and ellipses",
        )
    return _clamped(env, region)


def _clamped(env: Envelope, region: Region) -> Envelope:
    """The envelope clipped to the image; RecipeError `empty_region` for a shape with no part
    on the image, `bad_region` for one with no place at all."""
    try:
        return clamp_envelope(env)
    except ValueError as err:
        code = "empty_region" if isinstance(err, OffImage) else "bad_region"
        named = f" (id {region.id})" if region.id is not None else ""
        raise RecipeError(code, f"a {region.kind} region{named}: {err}") from err


def _label(region: Region, options: Options) -> str:
    labels: Sequence[str] = getattr(region, "labels", ())
    if len(labels) == 1:  # the common case
        return rename(labels[0], options)
    names = [rename(label, options) for label in labels]
    if not names:
        raise RecipeError("missing_label", f"a {region.kind} region has no label")
    return ", ".join(names)


GRID = 1000

POINT_KEYS = {
    "box_2d": "point",
    "qwen3-vl": "point_2d",
    "qwen2.5-vl": "point_2d",
    "xyxy-px": "point",
    "xywh-px": "point",
}
"""Keypoints are written as points: Gemini's `"point": [y, x]` (0-1000), Qwen's
`"point_2d": [x, y]`, or `"point": [x, y]` in pixels for the pixel formats."""


def encode_point(
    box_format: str, x: float, y: float, width: int, height: int, options: Options
) -> list[int]:
    """A normalized point in the point convention that goes with `box_format`."""
    if box_format == "box_2d":
        return [round_half_up(y * GRID), round_half_up(x * GRID)]
    if box_format == "qwen3-vl":
        return [round_half_up(x * GRID), round_half_up(y * GRID)]
    _need_size(box_format, width, height)
    if box_format == "qwen2.5-vl":
        width, height = qwen25_size(width, height, options.qwen_min_pixels, options.qwen_max_pixels)
    return [round_half_up(x * width), round_half_up(y * height)]


def _point_rows(region: Points, image: PreparedImage, options: Options) -> list[Row]:
    label = _label(region, options)
    key = POINT_KEYS[options.box_format]
    rows = []
    for i, (x, y) in enumerate(region.points):
        if region.visibility is not None and region.visibility[i] == 0:
            continue  # COCO v=0: not labelled
        cx, cy = min(max(x, 0.0), 1.0), min(max(y, 0.0), 1.0)
        values = encode_point(options.box_format, cx, cy, image.width, image.height, options)
        obj: dict[str, Any] = {key: values, "label": label}
        if region.names is not None and i < len(region.names):
            obj["name"] = region.names[i]
        rows.append(((cy, cx, cy, cx, label), obj))
    return rows


def format_boxes(
    regions: Sequence[Region], image: PreparedImage, options: Options
) -> list[dict[str, Any]]:
    """Answer objects `{<key>: [...], "label": ...}` for the regions, in reading order.

    `--box-order source` keeps the regions' order. Any region kind that is not a box,
    polygon, mask or ellipse is an error, and so is a mask without a pixel.
    """
    box_format = options.box_format
    key = BOX_KEYS[box_format]
    rows: list[Row] = []
    for region in regions:
        if type(region) is Box and region.rotation == 0.0:
            # the common box, unturned: region_envelope's own first answer, without its dispatch
            env = unturned_envelope(region.x, region.y, region.width, region.height)
            env = _clamped(env, region)
        elif isinstance(region, Points):
            rows.extend(_point_rows(region, image, options))
            continue
        else:
            env = region_envelope(region, image.width, image.height)
        label = _label(region, options)
        if box_format == "box_2d":
            rows.append(box_2d_row(env, label))
            continue
        values = encode_box(box_format, env, image.width, image.height, options)
        order = (env[1], env[0], env[3], env[2], label)
        rows.append((order, {key: values, "label": label}))
    return in_order(rows, options)


def unturned_envelope(x: float, y: float, width: float, height: float) -> Envelope:
    """The envelope of an unturned box (the model's normalized x, y, width, height)."""
    return (x, y, x + width, y + height)


def box_2d_row(env: Envelope, label: str) -> Row:
    """A clamped envelope's `box_2d` object and its reading-order key."""
    return (env[1], env[0], env[3], env[2], label), {"box_2d": to_box_2d(env), "label": label}


def in_order(rows: list[Row], options: Options) -> list[dict[str, Any]]:
    """The answer objects, in reading order (top edge, then left edge) unless `--box-order
    source` keeps the regions' order."""
    if options.box_order == "reading" and len(rows) > 1:
        rows.sort(key=_reading_key)
    return [obj for _, obj in rows]


_reading_key = operator.itemgetter(0)
"""A row's reading-order key (its first item)."""
