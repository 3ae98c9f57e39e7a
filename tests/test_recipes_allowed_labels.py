"""The renamed declared labels a recipe names in its prompt follow each task's own labels."""

from __future__ import annotations

from typing import Any

from annoconvert.model import Source, Task
from annoconvert.options import Options
from annoconvert.recipes.common import GEOMETRY_CONTROLS, allowed_labels, declared_labels


def _task(labels: dict[str, list[str]], controls: dict[str, str] | None = None) -> Task:
    fields: dict[str, Any] = {"__labels__": labels}
    if controls is not None:
        fields["__controls__"] = controls
    return Task(1, Source("labelstudio", "x.json", "tasks[0]"), fields=fields)


def test_tasks_sharing_the_declared_labels_get_them_renamed() -> None:
    shared = {"box": ["car", "bus", "car"], "kind": ["day", "night"]}
    controls = {"box": "rectanglelabels", "kind": "choices"}
    first, second = _task(shared, controls), _task(shared, controls)
    options = Options(labels={"car": "automobile"})
    assert allowed_labels(first, options, kinds=GEOMETRY_CONTROLS) == ("automobile", "bus")
    assert allowed_labels(second, options, kinds=GEOMETRY_CONTROLS) == ("automobile", "bus")
    assert allowed_labels(first, options, "kind") == ("day", "night")
    assert allowed_labels(first, Options(), kinds=GEOMETRY_CONTROLS) == ("car", "bus")


def test_other_label_objects_are_read_again_even_when_equal_or_recycled() -> None:
    options = Options()
    for round_ in range(200):  # freed dicts' ids come back: the answer must follow the content
        labels = {"box": [f"a{round_}", f"b{round_}"]}
        task = _task(labels, {"box": "rectanglelabels"})
        assert allowed_labels(task, options, kinds=GEOMETRY_CONTROLS) == (
            f"a{round_}",
            f"b{round_}",
        )
        assert list(allowed_labels(task, options, kinds=GEOMETRY_CONTROLS)) == declared_labels(
            task, kinds=GEOMETRY_CONTROLS
        )


def test_no_declared_labels() -> None:
    task = Task(1, Source("coco", "x.json", "images[0]"))
    assert allowed_labels(task, Options()) == ()
