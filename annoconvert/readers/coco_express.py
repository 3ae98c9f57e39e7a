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

The reader hands over the images of its first annotation file only: the layout holds the
system message, whose label list is that file's categories.
"""

from __future__ import annotations

from typing import Any

from annoconvert.errors import AnnoconvertError
from annoconvert.express import Extract, Switch, Value, box_line
from annoconvert.options import Options
from annoconvert.readers.coco import image_ref, key_of, regions_of
from annoconvert.recipes.vision import detection_shapes


def box_detection(options: Options, switch: Switch) -> Extract:
    """The test for an image handed over as (its file's index, its record, its subset)."""

    def extract(item: Any) -> tuple[int | str, tuple[Value, ...]] | None:
        doc, record, subset = item
        raw_id, name, width, height = record
        if type(raw_id) is not int and type(raw_id) is not str:
            return None  # another id is written as the file name: the general path says so
        try:
            shapes = detection_shapes(regions_of([(doc, key_of(raw_id))], width, height))
        except AnnoconvertError:
            return None
        line = box_line(image_ref(name, width, height, subset), shapes, switch.prepare, options)
        return None if line is None else (raw_id, line)

    return extract
