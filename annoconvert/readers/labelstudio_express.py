"""The express lane's tests for Label Studio tasks (see `annoconvert.express`).

A text-classification project (one Text object showing `$key`, one Choices control on it,
nothing else in the config) has a common task shape: an int id, the text, no predictions and
one annotation, not cancelled, whose one result chose one declared class with nothing else in
it. For such a task the test returns (id, (text, class)).

A box project (one Image object, one RectangleLabels control on it) has one too: the image's
URI, one annotation whose results are all rectangles with one declared label and one image
size (or no result: an image with nothing to find). Its test returns (id, (URL, answer)): the
written URL is the export's URI, or under `--image-uri-prefix` or in embed mode what the
general path's media preparation gives (a URI under the prefix, a data URL), the answer
from its own functions (`parse_rectangle`, then `express.box_line`: `format_boxes`, `dumps`),
so the box arithmetic stays in `geometry.py` and `boxes.py`; the lane saves the task model,
the policy, the example and the dialect around it.

A JSON-MIN export's task (one row per annotation, see the reader) takes the same tests when
it is one row whose columns are the data, `id`, the control and Label Studio's own: a class is
then the control's bare string, the boxes its list of rectangle values, each with the image
size beside it.

Anything else, however slightly different, goes to the general path, which reads every field.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from annoconvert.errors import AnnoconvertError
from annoconvert.express import (
    ClassLine,
    Extract,
    Switch,
    Value,
    box_line,
    class_line,
    meta_of,
    template_uses_text,
)
from annoconvert.model import ImageRef, Region
from annoconvert.options import Options
from annoconvert.readers.labelstudio_config import LabelConfig
from annoconvert.readers.labelstudio_results import (
    IMAGE_SIZE_KEYS,
    INT64,
    Ctx,
    parse_rectangle,
    split_min_row,
)
from annoconvert.writers.sink import LineMeta

RESULT_KEYS = frozenset({"value", "id", "from_name", "to_name", "type", "origin"})
"""The keys of a Choices result as Label Studio writes it; another key (a score, a meta, a
readonly flag) sends the task the general way."""

BOX_RESULT_KEYS = RESULT_KEYS | {"original_width", "original_height", "image_rotation"}
"""The keys of a rectangle result as Label Studio writes it (`image_rotation` is not read)."""

BOX_VALUE_KEYS = frozenset({"x", "y", "width", "height", "rotation", "rectanglelabels"})

MIN_BOX_VALUE_KEYS = BOX_VALUE_KEYS | set(IMAGE_SIZE_KEYS)
"""The keys of a JSON-MIN rectangle value: the value's, and the image size beside them."""

NO_COLUMN = object()
"""A JSON-MIN row's control column when the row has none (the annotation chose nothing)."""


def _one_pair(
    config: LabelConfig | None, object_type: str, control_type: str
) -> tuple[str, str, str, frozenset[str]] | None:
    """(data key, object name, control name, declared labels) of a config that is one object
    of `object_type` with one `control_type` control on it declaring labels; None for any
    other config (more tags, per-region answers, relations)."""
    if config is None or len(config.objects) != 1 or len(config.controls) != 1:
        return None
    (obj,) = config.objects.values()
    (control,) = config.controls.values()
    if (
        obj.type != object_type
        or obj.value_key is None
        or control.type != control_type
        or control.to_name != (obj.name,)
        or control.per_region
        or not control.labels
        or config.relation_labels
    ):
        return None
    return obj.value_key, obj.name, control.name, frozenset(control.labels)


def text_classification(config: LabelConfig | None, options: Options) -> Extract | None:
    """The test for the config's tasks, or None when the config is not a plain text
    classification."""
    pair = _one_pair(config, "text", "choices")
    if pair is None:
        return None
    key, object_name, control_name, labels = pair
    assert config is not None  # `_one_pair` found one
    templated = _templated(options)
    meta = meta_of(options)

    def extract(item: Any) -> tuple[int | str, tuple[Value, ...], LineMeta] | None:
        if type(item) is tuple:  # a JSON-MIN task (the reader's tuple of rows)
            row = _min_row(item, control_name, config)
            if row is None:
                return None
            task_id, data, label = row  # the column's bare string
        else:
            found = _common_task(item)
            if found is None:
                return None
            task_id, data, results = found
            if len(results) != 1:
                return None
            label = _chosen_class(results[0], control_name, object_name)
        text = data.get(key)
        if type(text) is not str or not text or type(label) is not str or label not in labels:
            return None
        if templated is None:
            return task_id, (text, label), meta(text, label, None)
        shown = templated(text, label, control_name)
        return None if shown is None else (task_id, shown[0], meta(text, shown[1], None))

    return extract


def _templated(
    options: Options,
) -> Callable[[str, str, str], tuple[tuple[str, str], str] | None] | None:
    """`express.class_line` for a Label Studio class, or None without renames and
    templates. The general path's template values name each control's answer by the
    control's name, after the task's text: a class chosen by a control named `text` is
    `{text}` there, so under a template naming it such a task goes the general way."""
    line: ClassLine | None = class_line(options)
    if line is None:
        return None
    if not template_uses_text(options):
        return lambda text, label, control: line(text, label)

    def shown(text: str, label: str, control: str) -> tuple[tuple[str, str], str] | None:
        return None if control == "text" else line(text, label)

    return shown


def _chosen_class(result: Any, control: str, obj: str) -> str | None:
    """The class a plain Choices result from the control onto the object chose (one, a
    non-empty string); None for any other result."""
    if not _plain_result(result, RESULT_KEYS, "choices", control, obj):
        return None
    value = result.get("value")
    if type(value) is not dict or len(value) != 1:
        return None
    choices = value.get("choices")
    if type(choices) is not list or len(choices) != 1:
        return None
    label = choices[0]
    return label if type(label) is str and label else None


def _plain_result(result: Any, keys: frozenset[str], rtype: str, control: str, obj: str) -> bool:
    """Whether `result` is a result object of type `rtype` from the control onto the object,
    with no key but `keys`."""
    return (
        type(result) is dict
        and keys.issuperset(result)
        and result.get("type") == rtype
        and result.get("from_name") == control
        and result.get("to_name") == obj
    )


def _common_task(item: Any) -> tuple[int, dict[str, Any], list[Any]] | None:
    """(id, data, results) of a task with an int id, no predictions and one annotation that
    is not cancelled; None for any other task."""
    if type(item) is not dict:
        return None
    task_id = item.get("id")
    data = item.get("data")
    annotations = item.get("annotations")
    if (
        type(task_id) is not int
        or task_id not in INT64
        or type(data) is not dict
        or type(annotations) is not list
        or len(annotations) != 1
        or item.get("predictions")
    ):
        return None
    annotation = annotations[0]
    if type(annotation) is not dict or annotation.get("was_cancelled") is not False:
        return None
    results = annotation.get("result")
    if type(results) is not list:
        return None
    return task_id, data, results


def rectangle_detection(
    config: LabelConfig | None, options: Options, switch: Switch
) -> Extract | None:
    """The test for a box project's tasks, or None when the config is not one Image object
    with one RectangleLabels control on it. The images are prepared by `switch.prepare`."""
    pair = _one_pair(config, "image", "rectanglelabels")
    if pair is None:
        return None
    key, object_name, control_name, _ = pair  # the labels: parse_rectangle checks them
    assert config is not None  # `_one_pair` found one
    names = (control_name, object_name)
    meta = meta_of(options)

    def extract(item: Any) -> tuple[int | str, tuple[Value, ...], LineMeta] | None:
        if type(item) is tuple:  # a JSON-MIN task (the reader's tuple of rows)
            row = _min_row(item, control_name, config)
            if row is None:
                return None
            task_id, data, column = row
            boxes = _min_boxes(column, names, config)
        else:
            found = _common_task(item)
            if found is None:
                return None
            task_id, data, results = found
            boxes = _result_boxes(results, names, config)
        line = _image_line(data, key, boxes, switch, options)
        return None if line is None else (task_id, line, meta(data[key], None, None))

    return extract


def _min_row(
    item: tuple[Any, ...], control: str, config: LabelConfig
) -> tuple[int, dict[str, Any], Any] | None:
    """(id, data, the control's column or NO_COLUMN) of a JSON-MIN task of one annotated row
    (an int id; an annotator or an annotation id) whose columns the reader's own
    `split_min_row` splits into data and this one control; None for any other task."""
    if len(item) != 1:
        return None
    row = item[0][1]
    if type(row) is not dict:
        return None
    task_id = row.get("id")
    if (
        type(task_id) is not int
        or task_id not in INT64
        or (row.get("annotator") is None and row.get("annotation_id") is None)
    ):
        return None
    data, controls = split_min_row(row, config)
    column = controls.pop(control, NO_COLUMN)
    return None if controls else (task_id, data, column)  # another control's column


Boxes = tuple[list[Region], tuple[int | None, int | None]]
"""A task's boxes and the image size they share (None, None without a box: the general path
knows no size either)."""


def _min_boxes(column: Any, names: tuple[str, str], config: LabelConfig) -> Boxes | None:
    """(boxes, image size) of a JSON-MIN rectangle column (no column: no box and no size)
    whose values are plain rectangles of one label with one image size; None for any other."""
    if column is NO_COLUMN:
        return [], (None, None)
    if type(column) is not list:
        return None
    ctx: Ctx | None = None
    boxes: list[Region] = []
    for value in column:
        if type(value) is not dict or not MIN_BOX_VALUE_KEYS.issuperset(value):
            return None
        plain = {k: v for k, v in value.items() if k not in IMAGE_SIZE_KEYS}
        width, height = value.get("original_width"), value.get("original_height")
        found = _rectangle(plain, width, height, ctx, names, config)
        if found is None:
            return None
        box, ctx = found
        boxes.append(box)
    return boxes, (ctx.image_width, ctx.image_height) if ctx is not None else (None, None)


def _rectangle(
    value: dict[str, Any],
    width: Any,
    height: Any,
    ctx: Ctx | None,
    names: tuple[str, str],
    config: LabelConfig | None,
) -> tuple[Region, Ctx] | None:
    """(box, the task's Ctx) of a rectangle value of one label on an image of `width` x
    `height` (ints), read by the reader's `parse_rectangle`; None for any other value, or
    one of another size than the task's boxes before it. The Ctx is made at the task's
    first box: the boxes share the control and the image size; its locator is for errors
    (which send the task the general way) and a box's id is not written."""
    if type(width) is not int or type(height) is not int or width <= 0 or height <= 0:
        return None
    if ctx is None:
        ctx = Ctx(
            where="result",
            rtype="rectanglelabels",
            from_name=names[0],
            to_name=names[1],
            rid=None,
            image_width=width,
            image_height=height,
            config=config,
        )
    elif ctx.image_width != width or ctx.image_height != height:
        return None
    chosen = value.get("rectanglelabels")
    if type(chosen) is not list or len(chosen) != 1:
        return None
    try:
        return parse_rectangle(value, ctx), ctx
    except AnnoconvertError:
        return None


def _result_boxes(
    results: list[Any], names: tuple[str, str], config: LabelConfig | None
) -> Boxes | None:
    """The boxes of a task's results when they are all plain rectangles from the control onto
    the object `names` with one image size; None for any other results."""
    control_name, object_name = names
    ctx: Ctx | None = None  # one for the task's boxes, made at the first
    boxes: list[Region] = []
    for result in results:
        if not _plain_result(result, BOX_RESULT_KEYS, "rectanglelabels", control_name, object_name):
            return None
        value = result.get("value")
        if type(value) is not dict or not BOX_VALUE_KEYS.issuperset(value):
            return None
        width, height = result.get("original_width"), result.get("original_height")
        found = _rectangle(value, width, height, ctx, names, config)
        if found is None:
            return None
        box, ctx = found
        boxes.append(box)
    return boxes, (ctx.image_width, ctx.image_height) if ctx is not None else (None, None)


def _image_line(
    data: dict[str, Any], key: str, found: Boxes | None, switch: Switch, options: Options
) -> tuple[Value, ...] | None:
    """The (URL, answer) of a task showing the image `data[key]` with `found` boxes; None
    when it has no such image or the boxes are not the lane's."""
    uri = data.get(key)
    if found is None or type(uri) is not str or not uri:
        return None
    boxes, (width, height) = found
    ref = ImageRef(uri=uri, width=width, height=height, field=key)
    return box_line(ref, boxes, switch.prepare, options)


TEXT_KEY = "text"
IMAGE_KEY = "image"
"""The data keys the reader takes the text and the image from when it has no config."""


def without_config(options: Options, switch: Switch) -> Extract:
    """The test for tasks read without the labeling config (the usual run: Label Studio's
    export does not hold it). The reader then takes the text from `data["text"]` and the
    image from `data["image"]`, reads any list in `data` as dialogue turns, and knows no
    declared labels, so a text classification's line depends only on the text and the class,
    and a box task's only on the image and its boxes, as with a config; the names of the
    control and the object are the task's own (one pair a task), and any class is taken.

    The first task it takes fixes the kind (classes or boxes) for the run: the lane verifies
    its first tasks against the general path, which the run's one recipe converts, and a
    task of the other kind must not be filled into that layout.
    """
    Shown = tuple[tuple[Value, ...], LineMeta]
    kinds: list[Callable[[dict[str, Any], list[Any]], Shown | None]] = []
    templated = _templated(options)
    meta = meta_of(options)

    def text_values(data: dict[str, Any], results: list[Any]) -> Shown | None:
        text = data.get(TEXT_KEY)
        if IMAGE_KEY in data or type(text) is not str or not text or len(results) != 1:
            return None
        names = _names(results[0])
        label = None if names is None else _chosen_class(results[0], *names)
        if label is None or names is None:
            return None
        if templated is None:
            return (text, label), meta(text, label, None)
        shown = templated(text, label, names[0])
        return None if shown is None else (shown[0], meta(text, shown[1], None))

    def box_values(data: dict[str, Any], results: list[Any]) -> Shown | None:
        if TEXT_KEY in data:
            return None
        names = _names(results[0]) if results else ("", "")
        if names is None:
            return None
        line = _image_line(data, IMAGE_KEY, _result_boxes(results, names, None), switch, options)
        return None if line is None else (line, meta(data[IMAGE_KEY], None, None))

    def extract(item: Any) -> tuple[int | str, tuple[Value, ...], LineMeta] | None:
        found = _common_task(item)
        if found is None or not _plain_data(found[1]):
            return None
        task_id, data, results = found
        for test in kinds or (text_values, box_values):
            shown = test(data, results)
            if shown is not None:
                if not kinds:
                    kinds.append(test)
                return task_id, shown[0], shown[1]
        return None

    return extract


def _names(result: Any) -> tuple[str, str] | None:
    """(from_name, to_name) of a result object, when both are strings."""
    if type(result) is not dict:
        return None
    control, obj = result.get("from_name"), result.get("to_name")
    return (control, obj) if type(control) is str and type(obj) is str else None


def _plain_data(data: dict[str, Any]) -> bool:
    """Whether a task's data holds no list (which the reader without a config reads as
    dialogue turns) and no key of the names the readers reserve (`__labels__`)."""
    return not any(type(value) is list or key.startswith("__") for key, value in data.items())
