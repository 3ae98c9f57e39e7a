"""The express lane's test for COCO images (see `annoconvert.express`).

Every image of an instances file is one task with one anonymous annotation set, so the only
parts of a detection line that differ between its images are the image's URI and the answer.
The test returns (id, (URL, answer)), each made by the general path's own functions: the
reader's `regions_of` reads the records (so every check and its reject stay the reader's), the
detection recipe's `detection_shapes` picks the shapes, and `express.box_line` gives the
written URL (the file name, under `--image-uri-prefix` the media pipeline's URI, in embed mode
the data URL of the bytes the media pipeline read) and the answer (`format_boxes`, `dumps`).
A record any of them refuses sends the image the general way, which rejects it with its
reason. The lane saves the task model, the policy, the recipe's example and the dialect
around them.

An image whose records are all plain boxes (a bbox of four finite numbers, unturned, no
outline, no keypoints: what box tools export) skips the region objects too: `plain_answer`
takes the records' numbers through the same geometry (`pixel_xywh_box`,
`boxes.unturned_envelope`, `clamp_envelope`, `boxes.box_2d_row`) to the same answer, in
about 70 % of the time of building a Box per record and formatting it (9 against 13 us
for an image of 2.5 boxes).

The reader hands over the images of its first annotation file only: the layout holds the
system message, whose label list is that file's categories.
"""

from __future__ import annotations

from typing import Any

from annoconvert import geometry
from annoconvert.boxes import box_2d_row, in_order, unturned_envelope
from annoconvert.errors import AnnoconvertError
from annoconvert.express import Extract, Switch, Value, box_line, image_value
from annoconvert.model import PART_OF
from annoconvert.options import Options
from annoconvert.readers.coco import image_ref, key_of, pixel_size, regions_of
from annoconvert.recipes.common import dumps, rename
from annoconvert.recipes.vision import detection_shapes

Labels = dict[Any, tuple[str, list[Any] | None]]


def box_detection(options: Options, switch: Switch) -> Extract:
    """The test for an image handed over as (its file's index, its record, its subset)."""
    plain = options.box_format == "box_2d"

    def extract(item: Any) -> tuple[int | str, tuple[Value, ...]] | None:
        doc, record, subset = item
        raw_id, name, width, height = record
        if type(raw_id) is not int and type(raw_id) is not str:
            return None  # another id is written as the file name: the general path says so
        key = key_of(raw_id)
        answer = None
        if plain:
            answer = plain_answer(doc.annotations.records(key), doc.labels, width, height, options)
        if answer is None:
            try:
                shapes = detection_shapes(regions_of([(doc, key)], width, height))
            except AnnoconvertError:
                return None
            ref = image_ref(name, width, height, subset)
            line = box_line(ref, shapes, switch.prepare, options)
            return None if line is None else (raw_id, line)
        if switch.prepare is None and type(name) is str:
            return raw_id, (name, answer)  # the export's URI, as `as_written` gives it then
        url = image_value(image_ref(name, width, height, subset), switch.prepare)
        return None if url is None else (raw_id, (url, answer))

    return extract


def plain_answer(
    records: list[Any], labels: Labels, width: Any, height: Any, options: Options
) -> str | None:
    """The `box_2d` answer of an image's instance records when every one is a plain box (or
    has no bbox at all), as `regions_of`, `detection_shapes`, `format_boxes` and `dumps`
    write it; None for any other record, or one they would refuse."""
    rows = []
    seen: set[Any] = set()
    size: tuple[int, int] | None = None
    for ann in records:
        if "segmentation" in ann or ann.get("keypoints"):
            return None  # an outline to check and leave out, or points to write
        found = labels.get(key_of(ann.get("category_id")))
        if found is None:
            return None
        if size is None:
            try:
                size = pixel_size(width, height, "")
            except AnnoconvertError:
                return None
        ann_id = ann.get("id")
        if ann_id is not None:
            ann_id = key_of(ann_id)
        repeat = ann_id is not None and ann_id in seen
        seen.add(ann_id)
        bbox = ann.get("bbox")
        if repeat or bbox is None or (type(bbox) is list and not bbox):
            continue  # a repeated id is one object already written; no bbox, no box
        box = _plain_bbox(bbox)
        attributes = ann.get("attributes")
        if box is None or (attributes is not None and not _plain_attributes(attributes)):
            return None
        nx, ny, nw, nh, _ = geometry.pixel_xywh_box(*box, size[0], size[1])
        try:
            env = geometry.clamp_envelope(unturned_envelope(nx, ny, nw, nh))
        except ValueError:
            return None  # off the image: the general path says which box
        rows.append(box_2d_row(env, rename(found[0], options)))
    return dumps(in_order(rows, options))


def _plain_bbox(bbox: Any) -> tuple[float, float, float, float] | None:
    """A bbox of four finite numbers (floats or ints) with a positive size, as floats."""
    if type(bbox) is not list or len(bbox) != 4:
        return None
    x, y, w, h = bbox
    if not geometry.finite_floats(x, y, w, h):  # ints, or a value to refuse
        if not all(type(v) is int or type(v) is float for v in bbox):
            return None
        try:
            x, y, w, h = (float(v) for v in bbox)
        except OverflowError:
            return None
        if not geometry.finite_floats(x, y, w, h):
            return None
    return (x, y, w, h) if w > 0 and h > 0 else None


def _plain_attributes(attributes: Any) -> bool:
    """Whether the record's attributes leave its box as it is: no rotation (or zero), and
    no `part_of`, which would make the box an outline of another object."""
    if type(attributes) is not dict:
        return True  # not read as attributes at all
    if PART_OF in attributes:
        return False
    rotation = attributes.get("rotation")
    if rotation is None or rotation == "":
        return True
    return (type(rotation) is int or type(rotation) is float) and rotation == 0
