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

from annoconvert.errors import TaskError

Point = tuple[float, float]


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
    return (
        (cx - w_px / 2) / w_img,
        (cy - h_px / 2) / h_img,
        w_px / w_img,
        h_px / h_img,
        rotation,
    )


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
