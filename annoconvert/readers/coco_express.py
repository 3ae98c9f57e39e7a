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
reads the records with the reader's own pieces (`repeated`, `bbox_numbers`, `rotation_of`)
and takes the numbers through the same geometry (`geometry.pixel_corners_envelope`, which is
`pixel_xywh_box`, the unturned envelope and `clamp_envelope` in one call, then
`boxes.box_2d_row`) to the same answer, in about half the time of building a Box per record
and formatting it (6.2 against 13 us for an image of 2.5 boxes).

The reader hands over the images of its first annotation file only: the layout holds the
system message, whose label list is that file's categories.
"""

from __future__ import annotations

from typing import Any

from annoconvert import geometry
from annoconvert.boxes import box_2d_row, in_order
from annoconvert.errors import AnnoconvertError
from annoconvert.express import Extract, Switch, Value, box_line, image_value, meta_of
from annoconvert.model import PART_OF
from annoconvert.options import Options
from annoconvert.readers.coco import image_ref, key_of, pixel_size, regions_of, repeated
from annoconvert.readers.coco_regions import bbox_numbers, rotation_of
from annoconvert.recipes.common import dumps_boxes, rename
from annoconvert.recipes.vision import detection_shapes
from annoconvert.writers.sink import LineMeta

Labels = dict[Any, tuple[str, list[Any] | None]]
Names = dict[Any, str]


def box_detection(options: Options, switch: Switch) -> Extract:
    """The test for an image handed over as (its file's index, its record, its subset)."""
    plain = options.box_format == "box_2d"
    meta = meta_of(options)
    written: dict[int, tuple[Any, Names]] = {}
    """id(file's index) -> (the index, its `written_names`)."""

    def extract(item: Any) -> tuple[int | str, tuple[Value, ...], LineMeta] | None:
        doc, record, subset = item
        raw_id, name, width, height = record
        if type(raw_id) is not int and type(raw_id) is not str:
            return None  # another id is written as the file name: the general path says so
        key = key_of(raw_id)
        answer = None
        if plain:
            found = written.get(id(doc))
            if found is None:
                found = written[id(doc)] = (doc, written_names(doc.labels, options))
            records = doc.annotations.records(key)
            answer = plain_answer(records, found[1], width, height, options)
        if answer is None:
            try:
                shapes = detection_shapes(regions_of([(doc, key)], width, height))
            except AnnoconvertError:
                return None
            ref = image_ref(name, width, height, subset)
            line = box_line(ref, shapes, switch.prepare, options)
            return None if line is None else (raw_id, line, meta(name, None, subset))
        if switch.prepare is None and type(name) is str:
            # the export's URI, as `as_written` gives it then
            return raw_id, (name, answer), meta(name, None, subset)
        url = image_value(image_ref(name, width, height, subset), switch.prepare)
        return None if url is None else (raw_id, (url, answer), meta(name, None, subset))

    return extract


def written_names(labels: Labels, options: Options) -> Names:
    """Category id -> the label a box of it is written with (`rename`d), for `plain_answer`."""
    return {key: rename(label, options) for key, (label, _) in labels.items()}


def plain_answer(
    records: list[Any], names: Names, width: Any, height: Any, options: Options
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
        category = ann.get("category_id")
        label = names.get(category if type(category) is int else key_of(category))
        if label is None:
            return None
        if size is None:
            try:
                size = pixel_size(width, height, "")
            except AnnoconvertError:
                return None
        bbox = ann.get("bbox")
        if repeated(ann, seen) or bbox is None or (type(bbox) is list and not bbox):
            continue  # a repeated id is one object already written; no bbox, no box
        attributes = ann.get("attributes")
        if type(attributes) is dict and PART_OF in attributes:
            return None  # an outline of another object's box: detection_shapes leaves it out
        turnable = type(attributes) is dict and "rotation" in attributes  # rotation_of's source
        try:  # the reader's own readings of the numbers (its refusals send the image its way)
            box = bbox_numbers(bbox, "")
            if turnable and rotation_of(ann, "") != 0.0:
                return None  # a turned box: its envelope is region_envelope's
            x, y, w, h = box
            env = geometry.pixel_corners_envelope(x, y, x + w, y + h, size[0], size[1])
        except (AnnoconvertError, ValueError):
            return None  # off the image, or a value the general path names
        rows.append(box_2d_row(env, label))
    return dumps_boxes(in_order(rows, options))
