"""The express lane's test for Label Studio tasks (see `annoconvert.express`).

A text-classification project (one Text object showing `$key`, one Choices control on it,
nothing else in the config) has a common task shape: an int id, the text, no predictions and
one annotation, not cancelled, whose one result chose one declared class with nothing else in
it. For such a task the test returns (id, (text, class)); anything else, however slightly
different, goes to the general path, which reads every field.
"""

from __future__ import annotations

from typing import Any

from annoconvert.express import Extract
from annoconvert.readers.labelstudio_config import LabelConfig

RESULT_KEYS = frozenset({"value", "id", "from_name", "to_name", "type", "origin"})
"""The keys of a Choices result as Label Studio writes it; another key (a score, a meta, a
readonly flag) sends the task the general way."""


def text_classification(config: LabelConfig | None) -> Extract | None:
    """The test for the config's tasks, or None when the config is not a plain text
    classification."""
    if config is None or len(config.objects) != 1 or len(config.controls) != 1:
        return None
    (obj,) = config.objects.values()
    (control,) = config.controls.values()
    key = obj.value_key
    if (
        obj.type != "text"
        or key is None
        or control.type != "choices"
        or control.to_name != (obj.name,)
        or control.per_region
        or not control.labels
        or config.relation_labels
    ):
        return None
    object_name, control_name = obj.name, control.name
    labels = frozenset(control.labels)

    def extract(item: Any) -> tuple[int | str, tuple[str, ...]] | None:
        if type(item) is not dict:
            return None
        task_id = item.get("id")
        data = item.get("data")
        annotations = item.get("annotations")
        if (
            type(task_id) is not int
            or not -(1 << 63) <= task_id < (1 << 63)
            or type(data) is not dict
            or type(annotations) is not list
            or len(annotations) != 1
            or item.get("predictions")
        ):
            return None
        text = data.get(key)
        annotation = annotations[0]
        if type(text) is not str or not text or type(annotation) is not dict:
            return None
        if annotation.get("was_cancelled") is not False:
            return None
        results = annotation.get("result")
        if type(results) is not list or len(results) != 1:
            return None
        result = results[0]
        if (
            type(result) is not dict
            or not RESULT_KEYS.issuperset(result)
            or result.get("type") != "choices"
            or result.get("from_name") != control_name
            or result.get("to_name") != object_name
        ):
            return None
        value = result.get("value")
        if type(value) is not dict or len(value) != 1:
            return None
        choices = value.get("choices")
        if type(choices) is not list or len(choices) != 1:
            return None
        label = choices[0]
        if type(label) is not str or label not in labels:
            return None
        return task_id, (text, label)

    return extract
