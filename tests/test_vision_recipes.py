"""Vision recipes on hand-built tasks from the real Label Studio exports."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from annoconvert import geometry, registry
from annoconvert.errors import RecipeError
from annoconvert.media import MediaPipeline
from annoconvert.model import (
    AnnotationSet,
    Box,
    Choice,
    Cuboid,
    ImagePart,
    ImageRef,
    Number,
    Points,
    Polyline,
    PreparedImage,
    Region,
    Source,
    Task,
    TextAnswer,
    TextPart,
)
from annoconvert.options import Options
from annoconvert.recipes.vision import DETECTION, IMAGE_CLASSIFICATION, IMAGE_TO_TEXT
from tests.conftest import FIXTURES, corpus_path

DETECTION_LABELS = {"label": ["scratch", "dent", "paint_chip"]}


def _ls_boxes(result: list[dict[str, Any]]) -> tuple[Region, ...]:
    regions: list[Region] = []
    for r in result:
        v = r["value"]
        w, h = r["original_width"], r["original_height"]
        x, y, bw, bh, rot = geometry.ls_rectangle(
            v["x"], v["y"], v["width"], v["height"], v.get("rotation", 0), w, h
        )
        regions.append(
            Box(r["from_name"], tuple(v["rectanglelabels"]), x, y, bw, bh, rot, w, h, r["id"])
        )
    return tuple(regions)


def _detection_tasks() -> list[Task]:
    export = corpus_path("labelstudio", "g_object_detection", "JSON.json")
    tasks = []
    for t in json.loads(export.read_text(encoding="utf-8")):
        annotations = tuple(
            AnnotationSet(
                _ls_boxes(a["result"]), str(a["completed_by"]), cancelled=a["was_cancelled"]
            )
            for a in t["annotations"]
        )
        tasks.append(
            Task(
                t["id"],
                Source("labelstudio", str(export), f"tasks[{len(tasks)}]"),
                images=(ImageRef(t["data"]["image"]),),
                fields={
                    "__labels__": DETECTION_LABELS,
                    "__controls__": {"label": "rectanglelabels"},
                },
                annotations=annotations,
            )
        )
    return tasks


def _prepare(task: Task, **opts: Any) -> tuple[list[PreparedImage], Options]:
    options = Options(workers=1, **opts)
    root = str(corpus_path("labelstudio", "g_object_detection", "images"))
    return MediaPipeline(options, [root]).prepare(task.images), options


def _task(name: str) -> Task:
    return next(t for t in _detection_tasks() if name in t.images[0].uri)


def _answer(task: Task, annotator: str = "1", **opts: Any) -> list[dict[str, Any]]:
    images, options = _prepare(task, **opts)
    annotation = next(a for a in task.annotations if a.annotator == annotator)
    [example] = DETECTION.build(task, annotation, images, options)
    assert example.messages[-1].role == "assistant"
    parsed: list[dict[str, Any]] = json.loads(example.messages[-1].text)
    return parsed


def _box_2d(x0: float, y0: float, x1: float, y1: float, w: int, h: int) -> list[int]:
    return [round(y0 / h * 1000), round(x0 / w * 1000), round(y1 / h * 1000), round(x1 / w * 1000)]


def test_detection_bumper_rotated_scratch_and_paint_chip() -> None:
    meta = json.loads(
        corpus_path("labelstudio", "source_images", "images_meta.json").read_text(encoding="utf-8")
    )
    chip = meta["bumper_1024x768.png"]["defects_px"]["paint_chip"]
    # README: the rotated scratch's pixel hull is x, y, w, h = [180, 150, 279.8, 184.6]
    hull = (180, 150, 180 + 279.8, 150 + 184.6)
    assert _answer(_task("bumper")) == [
        {"box_2d": _box_2d(*hull, 1024, 768), "label": "scratch"},
        {"box_2d": _box_2d(*chip, 1024, 768), "label": "paint_chip"},
    ]


def test_detection_exif_image_boxes_refer_to_the_upright_pixels() -> None:
    meta = json.loads(
        corpus_path("labelstudio", "source_images", "images_meta.json").read_text(encoding="utf-8")
    )
    dent = meta["fender_exif6_640x480.jpg"]["defects_px_displayed"]["dent"]
    assert _answer(_task("fender"), box_format="xyxy-px") == [{"bbox": dent, "label": "dent"}]


def test_detection_boxes_follow_a_resize() -> None:
    task = _task("bumper")
    answer = _answer(task, box_format="xyxy-px", max_image_side=512)
    assert answer[1] == {"bbox": [350, 250, 380, 275], "label": "paint_chip"}  # half of 700,500,...
    assert _answer(task, max_image_side=512) == _answer(task)  # box_2d is size-free


def test_detection_empty_annotation_gives_an_empty_list() -> None:
    assert _answer(_task("roof_clean")) == []


def test_detection_default_system_names_the_declared_labels() -> None:
    task = _task("car_door")
    images, options = _prepare(task)
    [example] = DETECTION.build(task, task.annotations[0], images, options)
    system = example.messages[0].text
    assert "'scratch', 'dent', or 'paint_chip'" in system and "box_2d" in system
    assert example.multimodal
    user = example.messages[1]
    assert isinstance(user.parts[0], TextPart) and isinstance(user.parts[1], ImagePart)


def test_detection_writes_points_and_polyline_envelopes_in_reading_order() -> None:
    """A polyline counts through its envelope; a keypoint is a Gemini point [y, x]."""
    task = _task("car_door")
    images, options = _prepare(task)
    regions = (
        Points("kp", ("corner",), ((0.1, 0.5),)),
        Polyline("line", ("edge",), ((0.1, 0.1), (0.2, 0.3))),
    )
    [example] = DETECTION.build(task, AnnotationSet(regions), images, options)
    assert json.loads(example.messages[-1].text) == [
        {"box_2d": [100, 100, 300, 200], "label": "edge"},
        {"point": [500, 100], "label": "corner"},
    ]


def test_detection_refuses_cuboids() -> None:
    task = _task("car_door")
    images, options = _prepare(task)
    cuboid = Cuboid("c", ("crate",), tuple((0.1 * i, 0.1) for i in range(8)))
    with pytest.raises(RecipeError) as err:
        DETECTION.build(task, AnnotationSet((cuboid,)), images, options)
    assert err.value.code == "unsupported_region"
    assert "cuboid" in str(err.value)


def test_detection_placeholder_mode_is_the_seed_text_form() -> None:
    task = _task("car_door")
    images, options = _prepare(task, image_mode="placeholder", prompt="Inspect the following item:")
    [example] = DETECTION.build(task, task.annotations[0], images, options)
    assert example.messages[1].text == "Inspect the following item: <image:car_door_640x480.jpg>"
    assert not example.multimodal


def test_detection_golden_answers_for_every_annotation() -> None:
    answers: dict[str, Any] = {}
    for task in _detection_tasks():
        images, options = _prepare(task)
        for annotation in task.annotations:
            [example] = DETECTION.build(task, annotation, images, options)
            answers[f"{task.id}/{annotation.annotator}"] = example.messages[-1].text
    golden = FIXTURES / "vision" / "detection_g_object_detection.json"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(
            json.dumps(answers, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    assert answers == json.loads(golden.read_text(encoding="utf-8"))


# --- image classification ------------------------------------------------------------------


def _thermal_class_task() -> Task:
    return Task(
        37,
        Source("labelstudio", "JSON.json", "tasks[0]"),
        images=(ImageRef("/data/local-files/?d=thermal/thermal_hot_320x240.jpg"),),
        fields={"__labels__": {"status": ["NORMAL", "OVERHEATING", "NO_SIGNAL"]}},
        annotations=(AnnotationSet((Choice("status", ("OVERHEATING",)),), "1"),),
    )


def _thermal_images(options: Options, task: Task) -> list[PreparedImage]:
    root = str(corpus_path("labelstudio", "source_images"))
    return MediaPipeline(options, [root]).prepare(task.images)


def test_image_classification_with_the_seed_answer_template() -> None:
    task = _thermal_class_task()
    options = Options(workers=1, answer_template="Classification: {label}")
    [example] = IMAGE_CLASSIFICATION.build(
        task, task.annotations[0], _thermal_images(options, task), options
    )
    assert example.messages[-1].text == "Classification: OVERHEATING"
    assert example.label == "OVERHEATING"
    assert "'NORMAL', 'OVERHEATING', or 'NO_SIGNAL'" in example.messages[0].text


def test_image_classification_default_answer_and_renames() -> None:
    task = _thermal_class_task()
    options = Options(workers=1, labels={"OVERHEATING": "HOT"})
    [example] = IMAGE_CLASSIFICATION.build(
        task, task.annotations[0], _thermal_images(options, task), options
    )
    assert example.messages[-1].text == "HOT"
    with pytest.raises(RecipeError) as err:
        IMAGE_CLASSIFICATION.build(task, AnnotationSet(()), [], options)
    assert err.value.code == "missing_image"


# --- image to text -------------------------------------------------------------------------

THERMAL_CONTROLS = {
    "STATUS": "choices",
    "Max_Temp_C": "number",
    "Location": "textarea",
    "Severity": "choices",
}
LOCATION = "Compressor head – 2nd stage discharge valve"
SEED_TEMPLATE = (
    "STATUS: {STATUS}\nMax_Temp_C: {Max_Temp_C}\nLocation: {Location}\nSeverity: {Severity}"
)


def _thermal_task(regions: tuple[Region, ...]) -> Task:
    return Task(
        63,
        Source("labelstudio", "JSON.json", "tasks[1]"),
        images=(ImageRef("/data/upload/20/2704902f-ir_air_compressor_640x480.jpg"),),
        fields={"__controls__": THERMAL_CONTROLS},
        annotations=(AnnotationSet(regions, "2"),),
    )


def _thermal_example(task: Task, **opts: Any) -> str:
    options = Options(workers=1, **opts)
    root = str(corpus_path("labelstudio", "l_thermal_multifield", "images"))
    images = MediaPipeline(options, [root]).prepare(task.images)
    [example] = IMAGE_TO_TEXT.build(task, task.annotations[0], images, options)
    return example.messages[-1].text


# alice's results on task 63 come in click order: STATUS, Severity, Max_Temp_C, Location
ALICE = (
    Choice("STATUS", ("Warning",)),
    Choice("Severity", ("Medium",)),
    Number("Max_Temp_C", 83.9),
    TextAnswer("Location", (LOCATION,)),
)


def test_image_to_text_multi_field_lines_follow_the_config_order() -> None:
    expected = f"STATUS: Warning\nMax_Temp_C: 83.9\nLocation: {LOCATION}\nSeverity: Medium"
    assert _thermal_example(_thermal_task(ALICE)) == expected
    assert _thermal_example(_thermal_task(ALICE), answer_template=SEED_TEMPLATE) == expected


def test_image_to_text_template_with_a_missing_control_rejects() -> None:
    task = _thermal_task(ALICE[:3])
    with pytest.raises(RecipeError) as err:
        _thermal_example(task, answer_template=SEED_TEMPLATE)
    assert err.value.code == "missing_field"
    assert "Location" not in _thermal_example(task)


def test_image_to_text_cad_code_is_kept_verbatim() -> None:
    export = corpus_path("labelstudio", "m_image_to_code", "JSON.json")
    t = next(t for t in json.loads(export.read_text(encoding="utf-8")) if t["id"] == 67)
    code = t["annotations"][0]["result"][0]["value"]["text"][0]
    task = Task(
        67,
        Source("labelstudio", str(export), "tasks[1]"),
        images=(ImageRef(t["data"]["image"]),),
        annotations=(AnnotationSet((TextAnswer("code", (code,)),), "1"),),
    )
    system = "You are a helpful assistant converting images to CAD code."
    options = Options(workers=1, system=system, prompt="Generate the CADQuery code.")
    root = str(corpus_path("labelstudio", "m_image_to_code", "images"))
    images = MediaPipeline(options, [root]).prepare(task.images)
    [example] = IMAGE_TO_TEXT.build(task, task.annotations[0], images, options)
    assert example.messages[-1].text == code and code.endswith("\n")
    assert example.messages[0].text == system and example.multimodal


def test_image_to_text_without_an_answer() -> None:
    with pytest.raises(RecipeError) as err:
        _thermal_example(_thermal_task(()))
    assert err.value.code == "missing_answer"


def test_recipes_are_registered_under_their_names() -> None:
    assert registry.recipe("detection") is DETECTION
    assert registry.recipe("image-classification") is IMAGE_CLASSIFICATION
    assert registry.recipe("image-to-text") is IMAGE_TO_TEXT
    assert all(r.needs_images for r in (DETECTION, IMAGE_CLASSIFICATION, IMAGE_TO_TEXT))
    assert isinstance(DETECTION, registry.Recipe)
