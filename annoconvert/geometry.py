"""Every change of coordinate unit, origin, pivot or order happens here and nowhere else.

Model convention (see `model.py`): normalized 0..1 of the upright image, origin top-left; a box
is its unrotated rectangle plus a rotation in degrees clockwise (screen, y down) about its centre.

Tool conventions this module converts from:
- Label Studio: percent 0..100 of `original_width`/`original_height`; a rotated rectangle turns
  about its stored (x, y) corner, so the pivot change needs pixel space.
- CVAT: pixel corners `xtl, ytl, xbr, ybr`; rotation about the centre (same as the model).
- COCO: pixel `[x, y, w, h]`; CVAT's COCO keeps rotation in `attributes.rotation` (centre pivot).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from annoconvert.errors import TaskError

Point = tuple[float, float]


def finite_floats(x: Any, y: Any, w: Any, h: Any) -> bool:
    """Whether a box's four numbers are finite floats, tested at once: the readers' hot path
    (hundreds of thousands of boxes a file); anything else they check one by one."""
    return (
        type(x) is float
        and type(y) is float
        and type(w) is float
        and type(h) is float
        and x - x == 0.0
        and y - y == 0.0
        and w - w == 0.0
        and h - h == 0.0
    )


def rotate(point: Point, pivot: Point, degrees: float) -> Point:
    """Rotate `point` about `pivot` by `degrees` clockwise on screen (y axis down)."""
    if degrees == 0:
        return point
    rad = math.radians(degrees)
    cos, sin = math.cos(rad), math.sin(rad)
    dx, dy = point[0] - pivot[0], point[1] - pivot[1]
    return (pivot[0] + dx * cos - dy * sin, pivot[1] + dx * sin + dy * cos)


def ls_rectangle(
    x: float,
    y: float,
    width: float,
    height: float,
    rotation: float,
    image_width: int | None,
    image_height: int | None,
) -> tuple[float, float, float, float, float]:
    """Label Studio percent rectangle (rotated about its corner) to the model's box.

    Returns normalized (x, y, width, height, rotation about the centre). A rotated box without
    the image's pixel size cannot be converted (percent space is not square): TaskError.
    """
    rotation = rotation % 360.0
    if rotation == 0:
        return (x / 100.0, y / 100.0, width / 100.0, height / 100.0, 0.0)
    if not image_width or not image_height:
        raise TaskError(
            "missing_image_size",
            "a rotated rectangle needs original_width/original_height to be converted",
        )
    w_img, h_img = float(image_width), float(image_height)
    corner = (x / 100.0 * w_img, y / 100.0 * h_img)
    w_px, h_px = width / 100.0 * w_img, height / 100.0 * h_img
    # centre of the rotated box: the corner plus the half-diagonal turned by the rotation
    cx, cy = rotate((corner[0] + w_px / 2, corner[1] + h_px / 2), corner, rotation)
    box = ((cx - w_px / 2) / w_img, (cy - h_px / 2) / h_img, w_px / w_img, h_px / h_img, rotation)
    if not all(map(math.isfinite, box)):  # sizes near the float limit: inf - inf on turning
        raise TaskError("bad_geometry", "the rectangle is too large to turn about its corner")
    return box


def percent_points(points: Sequence[Sequence[float]]) -> tuple[Point, ...]:
    """Label Studio percent points to normalized points."""
    return tuple((float(p[0]) / 100.0, float(p[1]) / 100.0) for p in points)


def pixel_points(
    points: Sequence[Sequence[float]], image_width: float, image_height: float
) -> tuple[Point, ...]:
    """Pixel points (CVAT, COCO, Doccano) to normalized points."""
    return tuple((float(p[0]) / image_width, float(p[1]) / image_height) for p in points)


def flat_to_points(flat: Sequence[float]) -> tuple[Point, ...]:
    """`[x1, y1, x2, y2, ...]` to point pairs (COCO polygons, Doccano segmentation)."""
    return tuple((float(flat[i]), float(flat[i + 1])) for i in range(0, len(flat) - 1, 2))


def pixel_corners_box(
    xtl: float,
    ytl: float,
    xbr: float,
    ybr: float,
    image_width: float,
    image_height: float,
    rotation: float = 0.0,
) -> tuple[float, float, float, float, float]:
    """CVAT pixel corners (rotation about the centre, clockwise) to the model's box."""
    return (
        xtl / image_width,
        ytl / image_height,
        (xbr - xtl) / image_width,
        (ybr - ytl) / image_height,
        rotation % 360.0,
    )


def pixel_xywh_box(
    x: float,
    y: float,
    width: float,
    height: float,
    image_width: float,
    image_height: float,
    rotation: float = 0.0,
) -> tuple[float, float, float, float, float]:
    """COCO/Doccano pixel `[x, y, w, h]` (rotation about the centre) to the model's box."""
    return pixel_corners_box(x, y, x + width, y + height, image_width, image_height, rotation)


def box_corners(
    x: float,
    y: float,
    width: float,
    height: float,
    rotation: float,
    image_width: float,
    image_height: float,
) -> tuple[Point, Point, Point, Point]:
    """The four pixel corners of a model box (top-left, top-right, bottom-right, bottom-left)."""
    x0, y0 = x * image_width, y * image_height
    x1, y1 = x0 + width * image_width, y0 + height * image_height
    centre = ((x0 + x1) / 2, (y0 + y1) / 2)
    corners = ((x0, y0), (x1, y0), (x1, y1), (x0, y1))
    tl, tr, br, bl = (rotate(c, centre, rotation) for c in corners)
    return (tl, tr, br, bl)


# --- output side: envelopes, clamping, ordering --------------------------------------------

Envelope = tuple[float, float, float, float]
"""An axis-aligned box normalized 0..1 of the upright image: (xmin, ymin, xmax, ymax)."""


def rotated_box_envelope(
    x: float,
    y: float,
    width: float,
    height: float,
    rotation: float,
    image_width: float,
    image_height: float,
) -> Envelope:
    """The axis-aligned envelope of a model box; a rotation is applied in pixel space.

    Rotation about the centre only stays a rotation in pixels (normalized space is not square
    unless the image is), so the corners are turned in pixels and normalized back.
    """
    if rotation % 360.0 == 0:
        return (x, y, x + width, y + height)
    corners = box_corners(x, y, width, height, rotation, image_width, image_height)
    xs = [c[0] for c in corners]
    ys = [c[1] for c in corners]
    return (
        min(xs) / image_width,
        min(ys) / image_height,
        max(xs) / image_width,
        max(ys) / image_height,
    )


def points_envelope(points: Sequence[Point]) -> Envelope:
    """The envelope of normalized points (polygon, polyline, keypoints, cuboid corners)."""
    if not points:
        raise ValueError("a shape without points has no envelope")
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    return (min(xs), min(ys), max(xs), max(ys))


def ellipse_envelope(
    cx: float,
    cy: float,
    rx: float,
    ry: float,
    rotation: float,
    image_width: float,
    image_height: float,
) -> Envelope:
    """The exact envelope of a rotated ellipse (radii turned in pixel space, then normalized).

    For an ellipse with pixel radii a, b turned by t the half extents are
    sqrt((a cos t)^2 + (b sin t)^2) across and sqrt((a sin t)^2 + (b cos t)^2) down.
    """
    a, b = rx * image_width, ry * image_height
    rad = math.radians(rotation % 360.0)
    cos, sin = math.cos(rad), math.sin(rad)
    half_w = math.hypot(a * cos, b * sin) / image_width
    half_h = math.hypot(a * sin, b * cos) / image_height
    return (cx - half_w, cy - half_h, cx + half_w, cy + half_h)


def mask_pixel_bounds(
    counts: Sequence[int], mask_width: int, mask_height: int
) -> tuple[int, int, int, int] | None:
    """Tight pixel bounds (x0, y0, x1, y1; x1/y1 exclusive) of a row-major RLE over its box.

    Works on the runs directly (no bitmap): a foreground run that crosses a row boundary
    covers the first and the last column. None when the mask is empty. The runs must cover
    the box exactly (ValueError otherwise).
    """
    total = mask_width * mask_height
    if sum(counts) != total:
        raise ValueError(
            f"mask runs sum to {sum(counts)}, not {mask_width}x{mask_height} = {total}"
        )
    x0, y0, x1, y1 = mask_width, mask_height, -1, -1
    pos = 0
    for i, run in enumerate(counts):
        if run < 0:
            raise ValueError("a mask run length is negative")
        if i % 2 == 1 and run > 0:
            first, last = pos, pos + run - 1
            r0, c0 = divmod(first, mask_width)
            r1, c1 = divmod(last, mask_width)
            y0, y1 = min(y0, r0), max(y1, r1)
            if r0 == r1:
                x0, x1 = min(x0, c0), max(x1, c1)
            else:
                x0, x1 = 0, mask_width - 1
        pos += run
    if y1 < 0:
        return None
    return (x0, y0, x1 + 1, y1 + 1)


def mask_bitmap(counts: Sequence[int], mask_width: int, mask_height: int) -> Any:
    """The mask as a boolean numpy array (mask_height x mask_width), for previews and checks."""
    import numpy as np

    flat = np.zeros(mask_width * mask_height, dtype=bool)
    pos = 0
    for i, run in enumerate(counts):
        if i % 2 == 1:
            flat[pos : pos + run] = True
        pos += run
    return flat.reshape(mask_height, mask_width)


def mask_envelope(
    counts: Sequence[int],
    left: int,
    top: int,
    mask_width: int,
    mask_height: int,
    image_width: int,
    image_height: int,
) -> Envelope | None:
    """The tight normalized envelope of a mask's foreground pixels; None when it is empty."""
    bounds = mask_pixel_bounds(counts, mask_width, mask_height)
    if bounds is None:
        return None
    bx0, by0, bx1, by1 = bounds
    return (
        (left + bx0) / image_width,
        (top + by0) / image_height,
        (left + bx1) / image_width,
        (top + by1) / image_height,
    )


class OffImage(ValueError):
    """A shape with no part on the image."""


def clamp_envelope(env: Envelope) -> Envelope:
    """Clip an envelope to the image (0..1 on both axes); a box may stick out of the frame.

    ValueError for a NaN coordinate; OffImage for a shape wholly beyond an edge (or touching
    it from outside), which clipping would turn into a sliver on that edge that nobody drew.
    """
    x0, y0, x1, y1 = env
    if 0.0 <= x0 <= 1.0 and 0.0 <= y0 <= 1.0 and 0.0 <= x1 <= 1.0 and 0.0 <= y1 <= 1.0:
        return env  # inside already: the common case
    if x0 != x0 or y0 != y0 or x1 != x1 or y1 != y1:
        # turning a shape of near-overflow size gives inf - inf: no box says where it is
        raise ValueError("the shape's coordinates are too large to place it on the image")
    beyond = x0 > 1.0 or x1 < 0.0 or y0 > 1.0 or y1 < 0.0
    touching = (x0 < x1 and (x0 == 1.0 or x1 == 0.0)) or (y0 < y1 and (y0 == 1.0 or y1 == 0.0))
    if beyond or touching:
        raise OffImage(
            f"no part of it is on the image (it spans x {x0:.4g}..{x1:.4g} and y "
            f"{y0:.4g}..{y1:.4g} image widths and heights; the image is 0..1)"
        )
    return (
        min(1.0, max(0.0, x0)),
        min(1.0, max(0.0, y0)),
        min(1.0, max(0.0, x1)),
        min(1.0, max(0.0, y1)),
    )


def pixel_corners_envelope(
    xtl: float, ytl: float, xbr: float, ybr: float, image_width: float, image_height: float
) -> Envelope:
    """The clipped envelope of an unturned box given by its pixel corners: `pixel_corners_box`
    (COCO's `[x, y, w, h]` is `x, y, x + w, y + h`, as `pixel_xywh_box` passes it), the
    envelope of the normalized box (x, y, x + w, y + h) and `clamp_envelope` in one call,
    with the same floats and errors. The COCO and CVAT lanes run it for every plain box."""
    nx = xtl / image_width
    ny = ytl / image_height
    x1 = nx + (xbr - xtl) / image_width
    y1 = ny + (ybr - ytl) / image_height
    if 0.0 <= nx <= 1.0 and 0.0 <= ny <= 1.0 and 0.0 <= x1 <= 1.0 and 0.0 <= y1 <= 1.0:
        return (nx, ny, x1, y1)
    return clamp_envelope((nx, ny, x1, y1))


def scale_envelope(env: Envelope, width: float, height: float) -> Envelope:
    """A normalized envelope in pixels of a `width` x `height` image."""
    return (env[0] * width, env[1] * height, env[2] * width, env[3] * height)


def round_half_up(value: float) -> int:
    """Round .5 away from zero for positives: the same input always gives the same integer."""
    return math.floor(value + 0.5)


def grid_span(lo: float, hi: float, size: int) -> tuple[int, int]:
    """Normalized [lo, hi] on an integer grid 0..size, rounded, clamped, and at least 1 wide.

    A box thinner than one grid unit still gets min < max (validators reject min == max);
    the result stays within one unit of the input.
    """
    a = math.floor(lo * size + 0.5)  # round_half_up, inlined: this runs for every box edge
    b = math.floor(hi * size + 0.5)
    if not 0 <= a <= size:
        a = min(size, max(0, a))
    if not 0 <= b <= size:
        b = min(size, max(0, b))
    if b <= a:
        # thinner than a unit: the grid cell holding its centre
        a = min(size - 1, max(0, math.floor((lo + hi) / 2 * size)))
        b = a + 1
    return (a, b)


def grid_box(env: Envelope, width: int, height: int) -> tuple[int, int, int, int]:
    """`grid_span` of an envelope's x span on `width` and its y span on `height`, as
    (x0, y0, x1, y1): a box well inside the grid (every box written) in one call."""
    x0, y0, x1, y1 = env
    a = math.floor(x0 * width + 0.5)
    b = math.floor(x1 * width + 0.5)
    c = math.floor(y0 * height + 0.5)
    d = math.floor(y1 * height + 0.5)
    if 0 <= a < b <= width and 0 <= c < d <= height:
        return (a, c, b, d)  # what grid_span gives for both: nothing to clamp or widen
    a, b = grid_span(x0, x1, width)
    c, d = grid_span(y0, y1, height)
    return (a, c, b, d)
