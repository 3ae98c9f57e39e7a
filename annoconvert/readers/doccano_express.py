"""The express lane's test for Doccano examples (see `annoconvert.express`).

A document-classification export's common example is one record (the collaborative `all`
file, or one user's file where no other user has the example) holding an int or string id,
a non-empty text, a `label` list of one class name and no comment; any other key it holds
(Doccano writes the imported columns beside them) is metadata, which no line of the lane's
options shows. For such an example the test returns (id, (text, class)); the line is the
general path's, cut and verified by `express.Lane`. Every other example (several users'
records, several or no labels, a legacy `annotations` list, spans, a comment) goes the
general way, which reads every field.
"""

from __future__ import annotations

from typing import Any

from annoconvert.express import Extract, Value, class_line, meta_of
from annoconvert.options import Options
from annoconvert.readers.doccano import KNOWN_KEYS
from annoconvert.writers.sink import LineMeta

EXAMPLE_KEYS = KNOWN_KEYS - {"id", "text", "label", "Comments"}
"""Keys the reader reads as the example or its answer besides the common ones: a record
holding one goes the general way."""


def text_classification(project_type: str, options: Options) -> Extract | None:
    """The test for a document-classification export's examples; None for another type.
    Under renames and templates the line shows `express.class_line` (the class's control is
    `label`, whose template value is the class itself)."""
    if project_type != "DocumentClassification":
        return None
    templated = class_line(options)
    meta = meta_of(options)

    def extract(item: Any) -> tuple[int | str, tuple[Value, ...], LineMeta] | None:
        if len(item) != 1:
            return None  # several users' records of one example: the policy chooses
        record = item[0][1]
        data = record.data
        if not EXAMPLE_KEYS.isdisjoint(data) or data.get("Comments"):
            return None
        task_id = data.get("id", record.index)  # (orjson reads an int past 64 bits as a float)
        if type(task_id) is not int and type(task_id) is not str:
            return None  # the reader numbers the record instead: the general path says so
        text = data.get("text")
        label = data.get("label")
        if type(text) is not str or not text or type(label) is not list or len(label) != 1:
            return None
        name = label[0]
        if type(name) is not str or not name:
            return None
        if templated is None:
            return task_id, (text, name), meta(text, name, None)
        shown = templated(text, name)
        return None if shown is None else (task_id, shown[0], meta(text, shown[1], None))

    return extract
