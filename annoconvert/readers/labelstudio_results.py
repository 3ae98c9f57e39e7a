"""Label Studio result values to model regions, one small function per result type.

Every function takes the result's `value` dict and a `Ctx` (names, image size, locator) and
returns one region, or raises `TaskError` with a code and the locator of the bad value:
`bad_result` (wrong shape or type), `bad_geometry` (a number that is not one, or negative),
`bad_span` (offsets that do not fit the text), `undeclared_label`, `missing_image_size`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from annoconvert import geometry
from annoconvert.errors import TaskError
from annoconvert.model import (
    Box,
    Choice,
    DateTime,
    Ellipse,
    Mask,
    Number,
    Pairwise,
    Points,
    Polygon,
    Ranking,
    Rating,
    Region,
    Relation,
    Span,
    Taxonomy,
    TextAnswer,
)
from annoconvert.readers.labelstudio_config import LabelConfig

MIN_META_KEYS = ("annotator", "annotation_id", "created_at", "updated_at", "lead_time")
"""The columns JSON-MIN appends after the controls."""
IMAGE_SIZE_KEYS = ("original_width", "original_height")
"""The image size a result (and a JSON-MIN value) carries beside its value."""


INT64 = range(-(1 << 63), 1 << 63)
"""The integer task ids orjson writes as numbers (`id in INT64`, a test in C); the reader's
`id_of` keeps a larger one as its digits."""


def split_min_row(
    row: Mapping[str, Any], config: LabelConfig | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(data, controls) of a JSON-MIN row, by column position: columns before `id` are
    data, columns after it controls (Label Studio writes them in that order), and the
    config, when given, says which keys are controls and which data keys objects show.
    Label Studio's own columns (`MIN_META_KEYS`) are in neither."""
    data: dict[str, Any] = {}
    controls: dict[str, Any] = {}
    seen_id = "id" not in row
    for key, value in row.items():
        if key in MIN_META_KEYS:
            continue
        if key == "id":
            seen_id = True
            continue
        if (config is not None and key in config.controls) or (
            seen_id and (config is None or key not in config.object_keys())
        ):
            controls[key] = value
        else:
            data[key] = value
    return data, controls


@dataclass(slots=True)
class Ctx:
    """What a value parser needs besides the value: where it is and what it refers to."""

    where: str | tuple[str, int]
    """The value's locator, or (the result list's locator, item index): built only when an
    error names it, because every region of a large export would otherwise pay for it."""
    rtype: str
    from_name: str
    to_name: str
    rid: str | None
    image_width: int | None = None
    image_height: int | None = None
    text: str | None = None
    """The text a span refers to, when known (validated against)."""
    region_id: str | None = None
    """For a per-region answer: the id of the region it describes."""
    config: LabelConfig | None = None

    @property
    def loc(self) -> str:
        """Locator of the value, e.g. `tasks[3].annotations[0].result[2].value`."""
        where = self.where
        return where if isinstance(where, str) else f"{where[0]}[{where[1]}].value"


# --- checked getters -------------------------------------------------------------------------


def _fail(code: str, loc: str, message: str) -> TaskError:
    return TaskError(code, message, locator=loc)


def number(value: Mapping[str, Any], key: str, ctx: Ctx, *, code: str = "bad_geometry") -> float:
    """A finite JSON number (not a bool, not a string) at `value[key]`."""
    v = value.get(key)
    if type(v) is float and v - v == 0.0:  # the common case: a finite float
        return v
    if type(v) is int and -(1 << 53) <= v <= 1 << 53:  # next: an int (`"rotation": 0`)
        return float(v)
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise _fail(code, f"{ctx.loc}.{key}", f"{key} must be a number, got {v!r}")
    try:
        f = float(v)
    except OverflowError:
        f = math.inf
    if not math.isfinite(f):
        raise _fail(code, f"{ctx.loc}.{key}", f"{key} must be a finite number, got {v!r}")
    return f


def _nonneg(value: Mapping[str, Any], key: str, ctx: Ctx) -> float:
    v = number(value, key, ctx)
    if v < 0:
        raise _fail("bad_geometry", f"{ctx.loc}.{key}", f"{key} must not be negative, got {v!r}")
    return v


def _positive(value: Mapping[str, Any], key: str, ctx: Ctx) -> float:
    """A size that must be above zero: a box of no width or height marks nothing."""
    v = number(value, key, ctx)
    if not v > 0:
        raise _fail("bad_geometry", f"{ctx.loc}.{key}", f"{key} must be above 0, got {v!r}")
    return v


def _integer(value: Mapping[str, Any], key: str, ctx: Ctx, code: str) -> int:
    v = value.get(key)
    if isinstance(v, bool) or not isinstance(v, int):
        raise _fail(code, f"{ctx.loc}.{key}", f"{key} must be an integer, got {v!r}")
    return v


def str_list(value: Mapping[str, Any], key: str, ctx: Ctx) -> tuple[str, ...]:
    """A list of strings at `value[key]` (labels, choices, texts)."""
    v = value.get(key)
    if isinstance(v, list):
        for s in v:
            if not isinstance(s, str):
                break
        else:
            return tuple(v)
    raise _fail("bad_result", f"{ctx.loc}.{key}", f"{key} must be a list of strings")


def labels_of(value: Mapping[str, Any], ctx: Ctx) -> tuple[str, ...]:
    """The region's labels: `value[<type>]` (`rectanglelabels`, ...) or `value.labels`, or none."""
    key = ctx.rtype if ctx.rtype.endswith("labels") else "labels"
    if key not in value:
        key = "labels" if "labels" in value else key
    if key not in value:
        return ()
    labels = str_list(value, key, ctx)
    check_declared(labels, ctx, key)
    return labels


def check_declared(labels: tuple[str, ...], ctx: Ctx, key: str) -> None:
    """With a label config: every label must be declared by the control that made it.

    `key` is the value's field that holds the labels (named in the error's locator).
    """
    if ctx.config is None:
        return
    control = ctx.config.controls.get(ctx.from_name)
    if control is None:
        raise _fail(
            "unknown_control",
            f"{ctx.loc}.{key}",
            f"control {ctx.from_name!r} is not in the label config {ctx.config.file}",
        )
    if not control.labels:
        return
    for label in labels:
        if label not in control.labels:
            raise _fail(
                "undeclared_label",
                f"{ctx.loc}.{key}",
                f"label {label!r} is not declared by control {ctx.from_name!r} in the label config",
            )


def _image_size(ctx: Ctx) -> tuple[int | None, int | None]:
    return ctx.image_width, ctx.image_height


# --- classification-like ---------------------------------------------------------------------


def parse_choices(value: Mapping[str, Any], ctx: Ctx) -> Region:
    labels = str_list(value, "choices", ctx)
    check_declared(labels, ctx, "choices")
    return Choice(field=ctx.from_name, labels=labels, id=ctx.rid)


def parse_textarea(value: Mapping[str, Any], ctx: Ctx) -> Region:
    raw = value.get("text")
    texts = (raw,) if isinstance(raw, str) else str_list(value, "text", ctx)
    attrs = {k: v for k, v in value.items() if k != "text"} or None
    return TextAnswer(
        field=ctx.from_name, texts=texts, region_id=ctx.region_id, id=ctx.rid, attributes=attrs
    )


def parse_rating(value: Mapping[str, Any], ctx: Ctx) -> Region:
    v = number(value, "rating", ctx, code="bad_result")
    raw = value["rating"]
    return Rating(field=ctx.from_name, value=raw if isinstance(raw, int) else v, id=ctx.rid)


def parse_number(value: Mapping[str, Any], ctx: Ctx) -> Region:
    number(value, "number", ctx, code="bad_result")
    raw: int | float = value["number"]
    return Number(field=ctx.from_name, value=raw, id=ctx.rid)


def parse_datetime(value: Mapping[str, Any], ctx: Ctx) -> Region:
    v = value.get("datetime")
    if not isinstance(v, str):
        raise _fail("bad_result", f"{ctx.loc}.datetime", "datetime must be a string")
    return DateTime(field=ctx.from_name, value=v, id=ctx.rid)


def parse_taxonomy(value: Mapping[str, Any], ctx: Ctx) -> Region:
    raw = value.get("taxonomy")
    if not isinstance(raw, list) or not all(
        isinstance(p, list) and all(isinstance(s, str) for s in p) for p in raw
    ):
        raise _fail("bad_result", f"{ctx.loc}.taxonomy", "taxonomy must be a list of label paths")
    paths = tuple(tuple(p) for p in raw)
    if ctx.config is not None:
        check_declared((), ctx, "taxonomy")
        control = ctx.config.controls[ctx.from_name]
        for i, path in enumerate(paths):
            if control.taxonomy_paths and path not in control.taxonomy_paths:
                raise _fail(
                    "undeclared_label",
                    f"{ctx.loc}.taxonomy[{i}]",
                    f"taxonomy path {'/'.join(path)!r} is not declared by control "
                    f"{ctx.from_name!r} in the label config",
                )
    return Taxonomy(field=ctx.from_name, paths=paths, id=ctx.rid)


def parse_pairwise(value: Mapping[str, Any], ctx: Ctx) -> Region:
    selected = value.get("selected")
    if selected == "left":
        return Pairwise(field=ctx.from_name, selected="left", id=ctx.rid)
    if selected == "right":
        return Pairwise(field=ctx.from_name, selected="right", id=ctx.rid)
    raise _fail(
        "bad_result", f"{ctx.loc}.selected", f"selected must be left or right: {selected!r}"
    )


def parse_ranker(value: Mapping[str, Any], ctx: Ctx) -> Region:
    raw = value.get("ranker")
    if not isinstance(raw, dict) or not all(
        isinstance(items, list) and all(isinstance(s, str) for s in items) for items in raw.values()
    ):
        raise _fail("bad_result", f"{ctx.loc}.ranker", "ranker must map bucket names to id lists")
    buckets = {str(name): tuple(items) for name, items in raw.items()}
    ranked = tuple(i for items in buckets.values() for i in items)
    return Ranking(field=ctx.from_name, ranked=ranked, buckets=buckets, id=ctx.rid)


# --- text spans ------------------------------------------------------------------------------


def parse_span(value: Mapping[str, Any], ctx: Ctx) -> Region:
    """Text (`labels`), HyperText and Paragraphs spans.

    Text spans carry code-point offsets checked against the text. HyperText/Paragraphs spans
    carry XPath or paragraph-index `start`/`end` plus `startOffset`/`endOffset`: they are kept
    in `attributes` and the model offsets come from `globalOffsets` (HyperText) or the offsets
    inside the paragraph.
    """
    labels = labels_of(value, ctx)
    span_text = value.get("text")
    if span_text is not None and not isinstance(span_text, str):
        raise _fail("bad_result", f"{ctx.loc}.text", "a span's text must be a string")
    if "startOffset" in value or ctx.rtype in ("hypertextlabels", "paragraphlabels"):
        attrs = {
            k: value[k]
            for k in ("start", "end", "startOffset", "endOffset", "globalOffsets")
            if k in value
        }
        offsets = value.get("globalOffsets")
        source: Mapping[str, Any] = value
        keys = ("startOffset", "endOffset")
        if isinstance(offsets, dict):
            source, keys = offsets, ("start", "end")
        start = _integer(source, keys[0], ctx, "bad_span")
        end = _integer(source, keys[1], ctx, "bad_span")
        if start < 0 or end < start:
            raise _fail("bad_span", ctx.loc, f"span offsets {start}..{end} are inverted")
        return Span(
            field=ctx.from_name,
            start=start,
            end=end,
            labels=labels,
            text=span_text or "",
            id=ctx.rid,
            attributes=attrs,
        )
    start = _integer(value, "start", ctx, "bad_span")
    end = _integer(value, "end", ctx, "bad_span")
    if start < 0 or end < start:
        raise _fail("bad_span", ctx.loc, f"span {start}..{end} is inverted or negative")
    if ctx.text is not None:
        if end > len(ctx.text):
            raise _fail(
                "bad_span",
                f"{ctx.loc}.end",
                f"span end {end} is past the end of the text ({len(ctx.text)} characters)",
            )
        actual = ctx.text[start:end]
        if span_text is not None and span_text != actual:
            raise _fail(
                "bad_span",
                f"{ctx.loc}.text",
                f"span text {span_text!r} does not match text[{start}:{end}] = {actual!r}",
            )
        span_text = actual
    return Span(
        field=ctx.from_name,
        start=start,
        end=end,
        labels=labels,
        text=span_text or "",
        id=ctx.rid,
    )


# --- image geometry --------------------------------------------------------------------------


def parse_rectangle(value: Mapping[str, Any], ctx: Ctx) -> Region:
    """Percent rectangle rotated about its corner -> model box (pivot change in pixels)."""
    labels = labels_of(value, ctx)
    x: Any = value.get("x")
    y: Any = value.get("y")
    w: Any = value.get("width")
    h: Any = value.get("height")
    if not (geometry.finite_floats(x, y, w, h) and w > 0 and h > 0):  # else one by one
        x, y = number(value, "x", ctx), number(value, "y", ctx)
        w, h = _positive(value, "width", ctx), _positive(value, "height", ctx)
    rotation = value.get("rotation", 0.0)
    if not (rotation == 0 and (type(rotation) is int or type(rotation) is float)):
        rotation = number(value, "rotation", ctx)  # turned, or not a number: checked
    iw, ih = _image_size(ctx)
    try:
        bx, by, bw, bh, rot = geometry.ls_rectangle(x, y, w, h, rotation, iw, ih)
    except TaskError as err:
        raise _fail(err.code, f"{ctx.loc}.rotation", err.message) from err
    return Box(ctx.from_name, labels, bx, by, bw, bh, rot, iw, ih, id=ctx.rid)


def parse_polygon(value: Mapping[str, Any], ctx: Ctx) -> Region:
    labels = labels_of(value, ctx)
    raw = value.get("points")
    if not isinstance(raw, list):
        raise _fail("bad_geometry", f"{ctx.loc}.points", "points must be a list of [x, y]")
    for i, p in enumerate(raw):
        if not isinstance(p, list) or len(p) != 2:
            raise _fail("bad_geometry", f"{ctx.loc}.points[{i}]", "a point must be [x, y]")
        for j in (0, 1):
            c = p[j]
            if isinstance(c, bool) or not isinstance(c, int | float) or not math.isfinite(c):
                raise _fail(
                    "bad_geometry",
                    f"{ctx.loc}.points[{i}][{j}]",
                    f"a coordinate must be a number: {c!r}",
                )
    closed = value.get("closed")
    attrs = {"closed": closed} if closed is False else None
    iw, ih = _image_size(ctx)
    return Polygon(
        field=ctx.from_name,
        labels=labels,
        points=geometry.percent_points(raw),
        image_width=iw,
        image_height=ih,
        id=ctx.rid,
        attributes=attrs,
    )


def parse_keypoint(value: Mapping[str, Any], ctx: Ctx) -> Region:
    labels = labels_of(value, ctx)
    x, y = number(value, "x", ctx), number(value, "y", ctx)
    attrs = {"width": _nonneg(value, "width", ctx)} if "width" in value else None
    iw, ih = _image_size(ctx)
    return Points(
        field=ctx.from_name,
        labels=labels,
        points=geometry.percent_points([(x, y)]),
        image_width=iw,
        image_height=ih,
        id=ctx.rid,
        attributes=attrs,
    )


def parse_ellipse(value: Mapping[str, Any], ctx: Ctx) -> Region:
    labels = labels_of(value, ctx)
    x, y = number(value, "x", ctx), number(value, "y", ctx)
    rx, ry = _positive(value, "radiusX", ctx), _positive(value, "radiusY", ctx)
    rotation = number(value, "rotation", ctx) if "rotation" in value else 0.0
    iw, ih = _image_size(ctx)
    return Ellipse(
        field=ctx.from_name,
        labels=labels,
        cx=x / 100.0,
        cy=y / 100.0,
        rx=rx / 100.0,
        ry=ry / 100.0,
        rotation=rotation % 360.0,
        image_width=iw,
        image_height=ih,
        id=ctx.rid,
    )


def parse_brush(value: Mapping[str, Any], ctx: Ctx) -> Region:
    """Label Studio's RGBA-canvas RLE -> the model's row-major mask over its tight box."""
    labels = labels_of(value, ctx)
    fmt = value.get("format", "rle")
    if fmt != "rle":
        raise _fail("bad_result", f"{ctx.loc}.format", f"brush format {fmt!r} is not 'rle'")
    rle = value.get("rle")
    if not isinstance(rle, list) or not all(
        isinstance(b, int) and not isinstance(b, bool) and 0 <= b <= 255 for b in rle
    ):
        raise _fail("bad_geometry", f"{ctx.loc}.rle", "rle must be a list of bytes (0..255)")
    iw, ih = _image_size(ctx)
    if not iw or not ih:
        raise _fail(
            "missing_image_size",
            ctx.loc,
            "a brush mask needs original_width/original_height to be decoded",
        )
    from annoconvert.media.prepare import DEFAULT_MAX_PIXELS  # here: brush tasks are rare

    if iw * ih > DEFAULT_MAX_PIXELS:
        raise _fail(
            "image_too_large",
            ctx.loc,
            f"a brush mask of {iw}x{ih} is a canvas of more than {DEFAULT_MAX_PIXELS} pixels "
            "(the limit of any image decoded here)",
        )
    try:
        canvas = decode_brush_rle(bytes(rle), iw * ih * 4)
    except ValueError as err:
        raise _fail("bad_geometry", f"{ctx.loc}.rle", str(err)) from err
    left, top, mw, mh, counts = alpha_mask_rle(canvas, iw, ih)
    return Mask(
        field=ctx.from_name,
        labels=labels,
        counts=counts,
        left=left,
        top=top,
        mask_width=mw,
        mask_height=mh,
        image_width=iw,
        image_height=ih,
        id=ctx.rid,
    )


class _Bits:
    """MSB-first bit reader over bytes (the thi.ng rle-pack stream Label Studio writes)."""

    __slots__ = ("data", "nbits", "pos")

    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0
        self.nbits = len(data) * 8

    def read(self, n: int) -> int:
        end = self.pos + n
        if end > self.nbits:
            raise ValueError("rle stream ends early")
        first, last = self.pos >> 3, (end + 7) >> 3
        chunk = int.from_bytes(self.data[first:last], "big")
        chunk >>= (last << 3) - end
        self.pos = end
        return chunk & ((1 << n) - 1)


def decode_brush_rle(data: bytes, words: int) -> bytearray:
    """Decode Label Studio brush RLE (thi.ng rle-pack) into the flat RGBA canvas bytes.

    Stream: 32-bit word count, 5-bit word size - 1, four 4-bit run-length field sizes - 1, then
    runs: 1 flag bit (1 = repeat one word, 0 = literal words), 2-bit size selector, the run
    length - 1 in that many bits, then the word(s). `words` is the canvas the image's size
    gives: a stream that declares another size is refused before anything is allocated (a
    few bytes can declare gigabytes).
    """
    bits = _Bits(data)
    total = bits.read(32)
    word = bits.read(5) + 1
    if word != 8:
        raise ValueError(f"brush rle word size is {word} bits, expected 8")
    sizes = [bits.read(4) + 1 for _ in range(4)]
    if total != words:
        raise ValueError(f"rle declares {total} bytes, not the image's canvas of {words}")
    out = bytearray(total)
    i = 0
    while i < total:
        repeat = bits.read(1)
        j = i + 1 + bits.read(sizes[bits.read(2)])
        if j > total:
            raise ValueError("brush rle run goes past the declared size")
        if repeat:
            v = bits.read(8)
            if v:
                out[i:j] = bytes([v]) * (j - i)
        else:
            for k in range(i, j):
                out[k] = bits.read(8)
        i = j
    return out


def alpha_mask_rle(
    canvas: bytes | bytearray, width: int, height: int
) -> tuple[int, int, int, int, tuple[int, ...]]:
    """Alpha > 0 of an RGBA canvas -> (left, top, w, h, counts) over the tight box, row-major.

    Counts alternate background/foreground and start with a background run (maybe 0).
    An empty mask gives a 0x0 box and no counts.
    """
    import numpy as np

    alpha = np.frombuffer(bytes(canvas), dtype=np.uint8)[3::4].reshape(height, width) > 0
    rows = np.flatnonzero(alpha.any(axis=1))
    if rows.size == 0:
        return (0, 0, 0, 0, ())
    cols = np.flatnonzero(alpha.any(axis=0))
    top, bottom, left, right = int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1])
    flat = alpha[top : bottom + 1, left : right + 1].ravel()
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate(([0], changes, [flat.size]))
    runs = [int(n) for n in np.diff(bounds)]
    if flat[0]:
        runs.insert(0, 0)
    return (left, top, right - left + 1, bottom - top + 1, tuple(runs))


# --- dispatch --------------------------------------------------------------------------------

PARSERS: dict[str, Callable[[Mapping[str, Any], Ctx], Region]] = {
    "choices": parse_choices,
    "labels": parse_span,
    "hypertextlabels": parse_span,
    "paragraphlabels": parse_span,
    "textarea": parse_textarea,
    "rating": parse_rating,
    "number": parse_number,
    "datetime": parse_datetime,
    "taxonomy": parse_taxonomy,
    "pairwise": parse_pairwise,
    "ranker": parse_ranker,
    "rectanglelabels": parse_rectangle,
    "rectangle": parse_rectangle,
    "polygonlabels": parse_polygon,
    "polygon": parse_polygon,
    "keypointlabels": parse_keypoint,
    "keypoint": parse_keypoint,
    "brushlabels": parse_brush,
    "brush": parse_brush,
    "ellipselabels": parse_ellipse,
    "ellipse": parse_ellipse,
}
"""Result `type` -> value parser. Anything else is rejected as `unknown_result_type`."""

_INFER_KEYS = (
    "rectanglelabels",
    "polygonlabels",
    "keypointlabels",
    "brushlabels",
    "ellipselabels",
    "hypertextlabels",
    "paragraphlabels",
    "labels",
    "choices",
    "taxonomy",
    "rating",
    "number",
    "datetime",
    "ranker",
)


def infer_type(value: Mapping[str, Any]) -> str | None:
    """The result type a JSON-MIN value dict has (JSON-MIN drops `type`), from its keys."""
    for key in _INFER_KEYS:
        if key in value:
            return key
    if "selected" in value:
        return "pairwise"
    if "rle" in value:
        return "brush"
    if "points" in value:
        return "polygon"
    if "radiusX" in value:
        return "ellipse"
    if "text" in value and isinstance(value["text"], list):
        return "textarea"
    if {"x", "y", "width", "height"} <= value.keys():
        return "rectangle"
    if {"x", "y"} <= value.keys():
        return "keypoint"
    return None


def parse_relation(item: Mapping[str, Any], loc: str, config: LabelConfig | None) -> Relation:
    """A `type: relation` result: it has no value, only `from_id`/`to_id`/`direction`/`labels`."""
    from_id, to_id = item.get("from_id"), item.get("to_id")
    if not isinstance(from_id, str) or not isinstance(to_id, str):
        raise _fail("bad_result", loc, "a relation needs string from_id and to_id")
    direction = item.get("direction", "right")
    if direction not in ("right", "left", "bi"):
        raise _fail("bad_result", f"{loc}.direction", f"unknown relation direction {direction!r}")
    raw = item.get("labels", [])
    if not isinstance(raw, list) or not all(isinstance(s, str) for s in raw):
        raise _fail("bad_result", f"{loc}.labels", "relation labels must be a list of strings")
    if config is not None and config.relation_labels:
        for label in raw:
            if label not in config.relation_labels:
                raise _fail(
                    "undeclared_label",
                    f"{loc}.labels",
                    f"relation label {label!r} is not declared in the label config",
                )
    return Relation(from_id=from_id, to_id=to_id, labels=tuple(raw), direction=direction, id=None)
