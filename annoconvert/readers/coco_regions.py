"""One COCO annotation record to model regions (pure functions; geometry via geometry.py).

- instances/stuff: a Box from `bbox` (id = the annotation id; `attributes.rotation`, the
  CVAT/Datumaro extension, turns it about its centre like a CVAT box) plus the segmentation:
  one Polygon per polygon ring (id `<ann id>/polygon/<ring>`) or one Mask (id `<ann id>/mask`),
  each with `attributes["part_of"]` = the box's id (the same object, outlined)
  decoded from uncompressed or compressed RLE with pycocotools and re-encoded row-major over
  the mask's tight box;
- person_keypoints: a Points region (names from the category, COCO visibility), id
  `<ann id>/keypoints`;
- captions: TextAnswer(field="caption"); labels (Datumaro): Choice(field="tags").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from annoconvert import geometry
from annoconvert.errors import TaskError
from annoconvert.model import Box, Choice, JsonValue, Mask, Points, Polygon, Region, TextAnswer

if TYPE_CHECKING:
    import numpy as np  # masks only; a box run does not import it (50 ms)

FIELD = "label"
TAG_FIELD = "tags"
CAPTION_FIELD = "caption"


def _part_of(ann: dict[str, Any], ann_id: object) -> dict[str, JsonValue]:
    """A segmentation's attributes: it outlines the object whose box has id `part_of`.

    One COCO annotation is one object; its box and its segmentation are two views of it, so
    recipes that write boxes write the object once (see `model.PART_OF`).
    """
    return {**(_attributes(ann) or {}), "part_of": str(ann_id)}


def _attributes(ann: dict[str, Any]) -> dict[str, JsonValue] | None:
    attrs: dict[str, JsonValue] = {}
    ext = ann.get("attributes")
    if isinstance(ext, dict):
        attrs.update(ext)
    if "iscrowd" in ann:
        attrs["iscrowd"] = bool(ann["iscrowd"])
    return attrs or None


def _num(value: Any, what: str, locator: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TaskError("bad_geometry", f"{what} is not a number ({value!r})", locator=locator)
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise TaskError("bad_geometry", f"{what} is not a finite number", locator=locator)
    return number


def _numbers(values: list[Any], what: str, locator: str) -> list[float]:
    """A list's values as finite floats; TaskError (`bad_geometry`) for anything else.

    Plain floats and ints are checked at once (a finite sum means finite values): the
    reader's hot path, hundreds of thousands of boxes per file.
    """
    for v in values:
        if type(v) is not float and type(v) is not int:
            break
    else:
        try:
            out = [float(v) for v in values]
        except OverflowError:
            pass
        else:
            total = sum(out)
            if total - total == 0.0:
                return out
    return [_num(v, what, locator) for v in values]


def box_region(
    ann: dict[str, Any], label: str, width: int, height: int, locator: str
) -> Box | None:
    """The `bbox` as a Box (None when the record has no bbox)."""
    bbox = ann.get("bbox")
    if bbox is None or (isinstance(bbox, list) and not bbox):
        return None
    x, y, w, h = bbox_numbers(bbox, locator)
    rotation = rotation_of(ann, locator)
    nx, ny, nw, nh, rot = geometry.pixel_xywh_box(x, y, w, h, width, height, rotation)
    return Box(
        FIELD,
        (label,),
        nx,
        ny,
        nw,
        nh,
        rot,
        width,
        height,
        id=str(ann.get("id")),
        attributes=_attributes(ann),
    )


def bbox_numbers(bbox: Any, locator: str) -> tuple[float, float, float, float]:
    """A record's `bbox` as four finite floats of positive size; TaskError (`bad_geometry`)
    for anything else."""
    if not isinstance(bbox, list) or len(bbox) != 4:
        raise TaskError("bad_geometry", "bbox is not [x, y, w, h]", locator=f"{locator}.bbox")
    x, y, w, h = bbox
    if not geometry.finite_floats(x, y, w, h):
        x, y, w, h = _numbers(bbox, "bbox value", f"{locator}.bbox")
    if not (w > 0 and h > 0):
        raise TaskError(
            "bad_geometry",
            f"bbox width and height must be above 0, got {w:g} x {h:g}",
            locator=f"{locator}.bbox",
        )
    return x, y, w, h


def rotation_of(ann: dict[str, Any], locator: str) -> float:
    """The record's `attributes.rotation` in degrees (CVAT's extension; 0 without one);
    TaskError for a value that is not a finite number."""
    ext = ann.get("attributes")
    if isinstance(ext, dict) and ext.get("rotation") not in (None, ""):
        return _num(ext["rotation"], "attributes.rotation", f"{locator}.attributes.rotation")
    return 0.0


def segmentation_regions(
    ann: dict[str, Any], label: str, width: int, height: int, locator: str
) -> list[Region]:
    """Polygon rings or an RLE mask of the record (empty for a bbox-only record)."""
    seg = ann.get("segmentation")
    ann_id = ann.get("id")
    if seg is None or seg == [] or seg == {}:
        return []
    loc = f"{locator}.segmentation"
    if isinstance(seg, list):
        out: list[Region] = []
        for i, ring in enumerate(seg):
            if not isinstance(ring, list) or len(ring) < 6 or len(ring) % 2:
                raise TaskError(
                    "bad_geometry", "polygon ring is not a flat list of >= 3 x,y pairs", locator=loc
                )
            flat = _numbers(ring, "polygon coordinate", f"{loc}[{i}]")
            pts = geometry.pixel_points(geometry.flat_to_points(flat), width, height)
            out.append(
                Polygon(
                    FIELD,
                    (label,),
                    pts,
                    width,
                    height,
                    id=f"{ann_id}/polygon/{i}",
                    attributes=_part_of(ann, ann_id),
                )
            )
        return out
    if isinstance(seg, dict):
        return [rle_mask(seg, label, width, height, loc, f"{ann_id}/mask", _part_of(ann, ann_id))]
    raise TaskError("bad_geometry", "segmentation is neither polygons nor RLE", locator=loc)


def decode_rle(seg: dict[str, Any], width: int, height: int, locator: str) -> np.ndarray:
    """COCO RLE (column-major; counts a list or a compressed string) to an (h, w) uint8 array."""
    from pycocotools import mask as mask_utils  # lazy: keeps `--help` fast

    size = seg.get("size")
    counts = seg.get("counts")
    if size != [height, width]:
        raise TaskError(
            "bad_mask",
            f"RLE size {size!r} is not the image's [height, width] = [{height}, {width}]",
            locator=locator,
        )
    if isinstance(counts, str | bytes):
        runs = string_counts(counts)
    elif isinstance(counts, list) and all(type(c) is int for c in counts):
        runs = counts
    else:
        runs = None
    if runs is None or any(c < 0 for c in runs) or sum(runs) != height * width:
        # pycocotools decodes runs that do not cover the image exactly without a word: the
        # pixels past their end are left as the memory held them (a mask of garbage)
        raise TaskError(
            "bad_mask",
            f"RLE counts do not cover the [{height}, {width}] image exactly",
            locator=locator,
        )
    try:
        rle = mask_utils.frPyObjects({"size": [height, width], "counts": runs}, height, width)
        decoded: np.ndarray = mask_utils.decode(rle)
    except (TypeError, ValueError, OverflowError):
        raise TaskError("bad_mask", "RLE counts cannot be decoded", locator=locator) from None
    return decoded


def string_counts(text: str | bytes) -> list[int] | None:
    """The runs of COCO's compressed RLE string (pycocotools' `rleFrString`: 5 bits a
    character from '0', a continuation bit, a sign bit, each run after the second a
    difference from the run two before); None for a string that is not one."""
    try:
        data = text.encode("ascii") if isinstance(text, str) else text
    except UnicodeEncodeError:
        return None
    runs: list[int] = []
    at = 0
    while at < len(data):
        value, shift, more = 0, 0, True
        while more:
            if at >= len(data):
                return None  # the last value asks for more characters
            chunk = data[at] - 48
            if not 0 <= chunk < 64:
                return None
            value |= (chunk & 0x1F) << shift
            more = bool(chunk & 0x20)
            at += 1
            shift += 5
            if not more and chunk & 0x10:
                value -= 1 << shift
        if len(runs) > 2:
            value += runs[-2]
        runs.append(value)
    return runs


def rle_mask(
    seg: dict[str, Any],
    label: str,
    width: int,
    height: int,
    locator: str,
    region_id: str | None = None,
    attributes: dict[str, JsonValue] | None = None,
) -> Mask:
    """COCO RLE to the model's Mask: row-major runs over the tight box, background first."""
    bitmap = decode_rle(seg, width, height, locator)
    left, top, counts, mw, mh = row_major_tight(bitmap)
    return Mask(
        FIELD,
        (label,),
        counts,
        left,
        top,
        mw,
        mh,
        width,
        height,
        id=region_id,
        attributes=attributes,
    )


def row_major_tight(bitmap: np.ndarray) -> tuple[int, int, tuple[int, ...], int, int]:
    """(left, top, counts, width, height) of a bitmap's tight box; empty mask -> 0x0 box."""
    import numpy as np

    ys, xs = np.nonzero(bitmap)
    if len(xs) == 0:
        return 0, 0, (), 0, 0
    top, bottom, left, right = int(ys.min()), int(ys.max()), int(xs.min()), int(xs.max())
    flat = (bitmap[top : bottom + 1, left : right + 1] != 0).ravel(order="C").astype(np.int8)
    change = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate(([0], change, [flat.size]))
    runs = np.diff(bounds).tolist()
    if flat[0] == 1:
        runs = [0, *runs]
    return left, top, tuple(int(r) for r in runs), right - left + 1, bottom - top + 1


def keypoints_region(
    ann: dict[str, Any],
    label: str,
    names: Sequence[str] | None,
    width: int,
    height: int,
    locator: str,
) -> Points | None:
    """x,y,v triplets as Points with COCO visibility; names when the category gives them."""
    kps = ann.get("keypoints")
    if not kps:
        return None
    if not isinstance(kps, list) or len(kps) % 3:
        raise TaskError(
            "bad_geometry",
            "keypoints is not a list of x,y,v triplets",
            locator=f"{locator}.keypoints",
        )
    vals = _numbers(kps, "keypoint value", f"{locator}.keypoints")
    pts = [(vals[i], vals[i + 1]) for i in range(0, len(vals), 3)]
    vis = tuple(int(vals[i + 2]) for i in range(0, len(vals), 3))
    use_names = tuple(names) if names and len(names) == len(pts) else None
    return Points(
        FIELD,
        (label,),
        geometry.pixel_points(pts, width, height),
        visibility=vis,
        names=use_names,
        image_width=width,
        image_height=height,
        id=f"{ann.get('id')}/keypoints",
        attributes=_attributes(ann),
    )


def caption_region(ann: dict[str, Any], locator: str) -> TextAnswer:
    """A caption record as a TextAnswer for the image-to-text recipe."""
    text = ann.get("caption")
    if not isinstance(text, str):
        raise TaskError("bad_caption", "caption is not a string", locator=f"{locator}.caption")
    return TextAnswer(CAPTION_FIELD, (text,), id=str(ann.get("id")))


def label_region(ann: dict[str, Any], label: str) -> Choice:
    """A Datumaro `labels_*.json` record (image-level label) as a Choice."""
    ext = ann.get("attributes")
    return Choice(TAG_FIELD, (label,), id=str(ann.get("id")), attributes=dict(ext) if ext else None)
