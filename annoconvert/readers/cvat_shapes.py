"""One CVAT shape element (`<box>`, `<polygon>`, `<mask>`, `<skeleton>`, `<tag>` ...) to a region.

Pure functions over an lxml element and the image's pixel size; geometry goes through
`geometry.py`. A value that cannot be read raises `TaskError` (the image or frame is rejected).
"""

from __future__ import annotations

import math

from lxml import etree

from annoconvert import geometry
from annoconvert.errors import TaskError
from annoconvert.model import (
    Box,
    Choice,
    Cuboid,
    Ellipse,
    JsonValue,
    Mask,
    Points,
    Polygon,
    Polyline,
    Region,
)
from annoconvert.readers.cvat_meta import Meta, typed_value

FIELD = "label"
"""Field name of every CVAT geometry region (the key of `__labels__`)."""
TAG_FIELD = "tags"
"""Field name of the `Choice` made from image-level `<tag>` elements (one Choice per tag)."""
SHAPES = frozenset(
    {"box", "polygon", "polyline", "points", "mask", "ellipse", "cuboid", "skeleton", "tag"}
)
_CUBOID_KEYS = ("tl1", "bl1", "tr1", "br1", "tl2", "bl2", "tr2", "br2")


def _float(elem: etree._Element, key: str, locator: str, default: float | None = None) -> float:
    """A finite number from an XML attribute (CVAT writes every value as text)."""
    raw = elem.get(key)
    if raw is None and default is not None:
        return default
    try:
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value):
        raise TaskError(
            "bad_geometry",
            f"<{elem.tag}> has no finite number in {key!r} (found {raw!r})",
            locator=f"{locator}@{key}",
        )
    return value


def _positive(value: float, what: str, elem: etree._Element, locator: str) -> float:
    if not value > 0:
        raise TaskError(
            "bad_geometry", f"<{elem.tag}> {what} must be above 0, got {value:g}", locator=locator
        )
    return value


def _int_attr(elem: etree._Element, key: str, locator: str) -> int:
    value = _float(elem, key, locator)
    if value != int(value):
        raise TaskError(
            "bad_geometry", f"<{elem.tag}> {key}={value} is not an integer", locator=locator
        )
    return int(value)


def parse_points(text: str | None, locator: str) -> list[tuple[float, float]]:
    """CVAT `"x,y;x,y"` to pixel points; TaskError when a pair does not parse."""
    out: list[tuple[float, float]] = []
    for pair in (text or "").split(";"):
        if not pair.strip():
            continue
        xs = pair.split(",")
        try:
            if len(xs) != 2:
                raise ValueError
            x, y = float(xs[0]), float(xs[1])
            if not (math.isfinite(x) and math.isfinite(y)):
                raise ValueError
            out.append((x, y))
        except ValueError:
            raise TaskError(
                "bad_geometry", f"point {pair!r} is not 'x,y'", locator=f"{locator}@points"
            ) from None
    return out


def region_attributes(
    elem: etree._Element, meta: Meta, label: str, extra: dict[str, JsonValue] | None = None
) -> dict[str, JsonValue] | None:
    """Typed `<attribute>` children plus occluded, z_order, group_id and source."""
    attrs: dict[str, JsonValue] = {}
    if len(elem):  # most shapes have no child element: skip the search
        types = meta.attr_types.get(label, {})
        for child in elem.iterchildren("attribute"):
            name = child.get("name") or ""
            attrs[name] = typed_value(types.get(name), child.text or "")
    occluded = elem.get("occluded")
    if occluded is not None:
        attrs["occluded"] = occluded.strip() in ("1", "true", "True")
    for key in ("z_order", "group_id"):
        value = elem.get(key)
        if value is not None and value.strip().lstrip("-").isdigit():
            attrs[key] = int(value)
    source = elem.get("source")
    if source is not None:
        attrs["source"] = source
    if extra:
        attrs.update(extra)
    return attrs or None


def _labels(label: str) -> tuple[str, ...]:
    return (label,) if label else ()


def to_region(
    elem: etree._Element,
    label: str,
    width: int | None,
    height: int | None,
    meta: Meta,
    locator: str,
    extra: dict[str, JsonValue] | None = None,
) -> Region | None:
    """Convert one shape element; None for a skeleton whose points are all outside."""
    tag = elem.tag
    # a shape's label must be declared; a <tag>'s need not: CVAT's own format document shows
    # an undeclared tag label (example_doc-v1.1_cvat-2.42), so tags are read leniently
    if tag != "tag" and meta.labels and label and label not in meta.labels:
        raise TaskError(
            "undeclared_label",
            f"<{tag}> label {label!r} is not declared in <meta> "
            f"(declared: {', '.join(meta.labels[:10])})",
            locator=locator,
        )
    attrs = region_attributes(elem, meta, label, extra)
    if tag == "tag":
        return Choice(field=TAG_FIELD, labels=_labels(label), attributes=attrs)
    if not width or not height:
        raise TaskError(
            "missing_image_size",
            f"<{tag}> needs the image's width and height, which the export does not give",
            locator=locator,
        )
    labels = _labels(label)
    if tag == "box":
        xtl, ytl, xbr, ybr, rotation = box_values(elem, locator)
        x, y, w, h, rot = geometry.pixel_corners_box(xtl, ytl, xbr, ybr, width, height, rotation)
        return Box(FIELD, labels, x, y, w, h, rot, width, height, attributes=attrs)
    if tag in ("polygon", "polyline", "points"):
        parsed = parse_points(elem.get("points"), locator)
        if not parsed:
            raise TaskError("bad_geometry", f"<{tag}> has no points", locator=f"{locator}@points")
        pts = geometry.pixel_points(parsed, width, height)
        if tag == "polygon":
            return Polygon(FIELD, labels, pts, width, height, attributes=attrs)
        if tag == "polyline":
            return Polyline(FIELD, labels, pts, width, height, attributes=attrs)
        return Points(FIELD, labels, pts, image_width=width, image_height=height, attributes=attrs)
    if tag == "mask":
        return _mask(elem, labels, width, height, attrs, locator)
    if tag == "ellipse":
        cx, cy = _float(elem, "cx", locator), _float(elem, "cy", locator)
        rx = _positive(_float(elem, "rx", locator), "rx", elem, locator)
        ry = _positive(_float(elem, "ry", locator), "ry", elem, locator)
        return Ellipse(
            FIELD,
            labels,
            cx / width,
            cy / height,
            rx / width,
            ry / height,
            _float(elem, "rotation", locator, 0.0) % 360.0,
            width,
            height,
            attributes=attrs,
        )
    if tag == "cuboid":
        corners = [
            (_float(elem, "x" + k, locator), _float(elem, "y" + k, locator)) for k in _CUBOID_KEYS
        ]
        pts = geometry.pixel_points(corners, width, height)
        return Cuboid(FIELD, labels, pts, width, height, attributes=attrs)
    if tag == "skeleton":
        return _skeleton(elem, labels, width, height, attrs, locator)
    raise TaskError("unknown_shape", f"unknown CVAT element <{tag}>", locator=locator)


def box_values(elem: etree._Element, locator: str) -> tuple[float, float, float, float, float]:
    """A box's xtl, ytl, xbr, ybr and rotation.

    Boxes are most of a CVAT export: clean values are read in one go (6-8 % of the reader's
    time on the 100k-image benchmark); anything else is read again one value at a time, and
    the first wrong one raises its TaskError.
    """
    get = elem.get
    raw_rotation = get("rotation")
    try:
        xtl, ytl = float(get("xtl")), float(get("ytl"))  # type: ignore[arg-type]
        xbr, ybr = float(get("xbr")), float(get("ybr"))  # type: ignore[arg-type]
        rotation = 0.0 if raw_rotation is None else float(raw_rotation)
        if math.isfinite(xtl + ytl + xbr + ybr + rotation) and xbr > xtl and ybr > ytl:
            return xtl, ytl, xbr, ybr, rotation
    except (TypeError, ValueError):
        pass
    xtl, ytl = _float(elem, "xtl", locator), _float(elem, "ytl", locator)
    xbr, ybr = _float(elem, "xbr", locator), _float(elem, "ybr", locator)
    _positive(xbr - xtl, "width (xbr - xtl)", elem, locator)
    _positive(ybr - ytl, "height (ybr - ytl)", elem, locator)
    return xtl, ytl, xbr, ybr, _float(elem, "rotation", locator, 0.0)


def _mask(
    elem: etree._Element,
    labels: tuple[str, ...],
    width: int,
    height: int,
    attrs: dict[str, JsonValue] | None,
    locator: str,
) -> Mask:
    """CVAT mask: row-major runs over its own box, background first (the model's form)."""
    left, top = _int_attr(elem, "left", locator), _int_attr(elem, "top", locator)
    mw, mh = _int_attr(elem, "width", locator), _int_attr(elem, "height", locator)
    try:
        counts = tuple(int(c) for c in (elem.get("rle") or "").split(",") if c.strip())
    except ValueError:
        raise TaskError("bad_mask", "mask rle is not a list of integers", locator=locator) from None
    if sum(counts) != mw * mh or any(c < 0 for c in counts):
        raise TaskError(
            "bad_mask",
            f"mask rle sums to {sum(counts)}, not its box's {mw}x{mh} = {mw * mh} pixels",
            locator=locator,
        )
    if left < 0 or top < 0 or left + mw > width or top + mh > height:
        raise TaskError(
            "bad_mask", f"mask box lies outside the {width}x{height} image", locator=locator
        )
    return Mask(FIELD, labels, counts, left, top, mw, mh, width, height, attributes=attrs)


def _skeleton(
    elem: etree._Element,
    labels: tuple[str, ...],
    width: int,
    height: int,
    attrs: dict[str, JsonValue] | None,
    locator: str,
) -> Points | None:
    """Skeleton children become one named Points region; `outside` children are absent."""
    names: list[str] = []
    pts: list[tuple[float, float]] = []
    vis: list[int] = []
    for i, child in enumerate(elem.iterchildren("points")):
        if (child.get("outside") or "0").strip() in ("1", "true", "True"):
            continue
        found = parse_points(child.get("points"), f"{locator}.points[{i}]")
        if len(found) != 1:
            raise TaskError(
                "bad_geometry",
                f"skeleton point {child.get('label')!r} has {len(found)} points, not 1",
                locator=f"{locator}.points[{i}]",
            )
        names.append(child.get("label") or "")
        pts.append(found[0])
        vis.append(1 if (child.get("occluded") or "0").strip() in ("1", "true") else 2)
    if not pts:
        return None
    return Points(
        FIELD,
        labels,
        geometry.pixel_points(pts, width, height),
        visibility=tuple(vis),
        names=tuple(names),
        image_width=width,
        image_height=height,
        attributes=attrs,
    )
