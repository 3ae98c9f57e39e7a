"""The express lane's test for CVAT images (see `annoconvert.express`).

Every `<image>` of a CVAT for images file is one task with one anonymous annotation set, so
its detection line differs from the next only in the image's URI and the answer. An image
whose shapes are all plain boxes (unturned, labelled, not `outside`; what box projects
export) is answered here from the reader's own readings (`image_size`, `is_outside`,
`box_values`, the declared-label rule of `to_region`) through the same geometry the general
path takes (`geometry.pixel_corners_envelope`, `boxes.box_2d_row`, `in_order`) and the
recipe's `dumps_boxes`; the URI is the image's name, or under `--image-uri-prefix` and in
embed mode what the media pipeline's preparation gives (`express.image_value`). Any other
element (a polygon, a tag, a turned box) or value the reader would refuse sends the image the
general way, which converts it or rejects it with its reason. The lane saves the task model,
the policy, the recipe's example and the dialect around them.

The reader hands over the images of its first XML file only: the layout holds the system
message, whose label list is that file's `<meta>` labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from annoconvert import geometry
from annoconvert.boxes import box_2d_row, in_order
from annoconvert.errors import AnnoconvertError
from annoconvert.express import Extract, Switch, Value, image_value, meta_of
from annoconvert.model import ImageRef
from annoconvert.options import Options
from annoconvert.readers.cvat import image_size, is_outside
from annoconvert.readers.cvat_shapes import box_values
from annoconvert.recipes.common import dumps_boxes, rename
from annoconvert.writers.sink import LineMeta


def box_detection(options: Options, switch: Switch) -> Extract | None:
    """The test for an image handed over as (its `<image>` element, its file's declared
    labels, its file's subset); None for a box format other than `box_2d`, the only one
    `plain_answer` writes."""
    if options.box_format != "box_2d":
        return None
    meta = meta_of(options)

    def extract(item: Any) -> tuple[int | str, tuple[Value, ...], LineMeta] | None:
        elem, declared, file_subset = item
        answer = plain_answer(elem, declared, options)
        if answer is None:
            return None
        name = elem.get("name") or ""
        own_subset = elem.get("subset")
        line_meta = meta(name, None, own_subset or file_subset)
        if switch.prepare is None:
            return name, (name, answer), line_meta  # the export's URI, as `as_written` gives it
        ref = ImageRef(
            uri=name,
            width=image_size(elem.get("width"), "", "width"),
            height=image_size(elem.get("height"), "", "height"),
            hint=f"{own_subset}/{name}" if own_subset else None,
        )
        url = image_value(ref, switch.prepare)
        return None if url is None else (name, (url, answer), line_meta)

    return extract


def plain_answer(elem: Any, declared: Sequence[str], options: Options) -> str | None:
    """The `box_2d` answer of an `<image>` whose shapes are all plain boxes, as the reader,
    `detection_shapes`, `format_boxes` and `dumps` write it; None for any other shape, or a
    value they would refuse."""
    rows = []
    try:
        width = image_size(elem.get("width"), "", "width")
        height = image_size(elem.get("height"), "", "height")
        for child in elem.iterchildren():
            if not isinstance(child.tag, str):
                continue  # a comment
            if child.tag != "box":
                return None  # another shape, or a tag: the general path reads it
            if is_outside(child):
                continue
            label = child.get("label") or ""
            if not label or (declared and label not in declared):
                return None  # no label to write, or an undeclared one: the general path says so
            xtl, ytl, xbr, ybr, rotation = box_values(child, "")
            if rotation % 360.0 != 0.0 or not width or not height:
                return None  # a turned box (region_envelope's), or no size to normalize by
            env = geometry.pixel_corners_envelope(xtl, ytl, xbr, ybr, width, height)
            rows.append(box_2d_row(env, rename(label, options)))
    except (AnnoconvertError, ValueError):
        return None  # a value the reader refuses, or a box off the image
    return dumps_boxes(in_order(rows, options))
