"""Image recipes: detection, image classification, image to text (DESIGN.md section 3).

The images arrive prepared (`PreparedImage`: upright, maybe resized); box numbers refer to
them, so the answer always matches the picture the model is shown.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from annoconvert.boxes import BOX_KINDS, format_boxes
from annoconvert.errors import RecipeError
from annoconvert.model import (
    GEOMETRY_KINDS,
    PART_OF,
    AnnotationSet,
    Choice,
    Example,
    PreparedImage,
    Region,
    Task,
    TextAnswer,
)
from annoconvert.options import Options
from annoconvert.recipes.common import (
    GEOMETRY_CONTROLS,
    allowed_labels,
    control_values,
    dumps_boxes,
    label_list,
    make_example,
    rename,
    render,
    system_text,
    template_values,
    user_parts,
)

FORMAT_WORDS = {
    "box_2d": '"box_2d": [ymin, xmin, ymax, xmax] normalized to 0-1000',
    "qwen2.5-vl": '"bbox_2d": [x1, y1, x2, y2] in pixels',
    "qwen3-vl": '"bbox_2d": [x1, y1, x2, y2] normalized to 0-1000',
    "xyxy-px": '"bbox": [x1, y1, x2, y2] in pixels',
    "xywh-px": '"bbox": [x, y, width, height] in pixels',
}


def _one_image(images: Sequence[PreparedImage], recipe: str) -> PreparedImage:
    if not images:
        raise RecipeError("missing_image", f"{recipe} needs an image and the task has none")
    if len(images) > 1:
        raise RecipeError(
            "multiple_images",
            f"{recipe} takes one image per task; this task has {len(images)}",
        )
    return images[0]


def _default_prompt(task: Task, fallback: str) -> str:
    return "{text}" if task.text is not None else fallback


@functools.lru_cache(maxsize=64)
def _detection_system(box_format: str, allowed: tuple[str, ...]) -> str:
    """Detection's default system message (the same for every task of an export)."""
    text = (
        "You are a computer vision assistant that detects and localizes objects in images. "
        "Respond only with a JSON list of objects, each with "
        f'{FORMAT_WORDS[box_format]} and a "label"'
    )
    return text + (f", one of {label_list(allowed)}." if allowed else ".")


def detection_shapes(regions: Sequence[Region]) -> list[Region]:
    """The regions detection writes, each object once (an outline of an object whose box is
    written is left out); RecipeError for a geometry it cannot write as a box or a point."""
    shapes: list[Region] = []
    box_ids = {r.id for r in regions if r.kind == "box" and r.id is not None}
    for region in regions:
        if (region.attributes or {}).get(PART_OF) in box_ids:
            continue  # another outline of an object whose box is written
        if region.kind in BOX_KINDS:
            shapes.append(region)
        elif region.kind in GEOMETRY_KINDS:
            raise RecipeError(
                "unsupported_region",
                f"a {region.kind} region cannot be written as a box or a point; detection "
                "takes boxes, polygons, polylines, masks, ellipses and points",
            )
    return shapes


class Detection:
    """Image plus boxes (polygons, masks and ellipses as their envelope) -> a JSON list."""

    name = "detection"
    summary = 'image + boxes -> JSON list [{"box_2d": [ymin, xmin, ymax, xmax], "label": ...}]'
    needs_images = True

    def build(
        self,
        task: Task,
        annotation: AnnotationSet,
        images: Sequence[PreparedImage],
        options: Options,
    ) -> list[Example]:
        image = _one_image(images, "detection")
        objects = format_boxes(detection_shapes(annotation.regions), image, options)
        values = template_values(task, annotation, options)
        found = list(dict.fromkeys(obj["label"] for obj in objects))
        values["labels"] = ", ".join(found)
        if len(found) == 1:
            values["label"] = found[0]
        allowed = allowed_labels(task, options, kinds=GEOMETRY_CONTROLS)
        default_system = _detection_system(options.box_format, allowed)
        prompt = _default_prompt(task, "Detect the objects in the image and output the JSON list.")
        return [
            make_example(
                task,
                annotation,
                system=system_text(options, default_system, values),
                user=user_parts(task, images, options, values, prompt),
                assistant=dumps_boxes(objects),
            )
        ]


class ImageClassification:
    """Image plus a chosen class -> the label through the answer template."""

    name = "image-classification"
    summary = "image + one choice -> the label (answer template, e.g. 'Classification: {label}')"
    needs_images = True

    def build(
        self,
        task: Task,
        annotation: AnnotationSet,
        images: Sequence[PreparedImage],
        options: Options,
    ) -> list[Example]:
        if not images:
            raise RecipeError("missing_image", "image-classification needs an image")
        choice = next((r for r in annotation.regions if isinstance(r, Choice)), None)
        if choice is None or not choice.labels:
            raise RecipeError("missing_label", "the annotation chose no class for the image")
        labels = [rename(lb, options) for lb in choice.labels]
        label = ", ".join(labels)
        values = template_values(task, annotation, options)
        values["label"] = values["labels"] = label
        allowed = allowed_labels(task, options, choice.field)
        default_system = "You are an image classification system."
        if allowed:
            default_system += f" Classify the image as one of {label_list(allowed)}."
        prompt = _default_prompt(task, "Classify the image.")
        return [
            make_example(
                task,
                annotation,
                system=system_text(options, default_system, values),
                user=user_parts(task, images, options, values, prompt),
                assistant=render(options.answer_template or "{label}", values),
                label=label,
            )
        ]


def control_order(task: Task, annotation: AnnotationSet, values: Mapping[str, Any]) -> list[str]:
    """Controls with a value, in the label config's order when known, else the regions'."""
    declared = task.fields.get("__controls__")
    order: list[str] = []
    if isinstance(declared, dict):
        order = [name for name in declared if name in values]
    for region in annotation.regions:
        name = region.field
        if name in values and name not in order:
            order.append(name)
    return order


def _text_system(names: Sequence[str], templated: bool) -> str:
    """The default system message: what the answer holds, in the control's own words."""
    base = "You are a vision assistant. Look at the image and "
    if len(names) == 1:
        return base + f"write its {names[0].replace('_', ' ')}."
    listed = ", ".join(names[:-1]) + f" and {names[-1]}"
    if templated:
        return base + f"report {listed}."
    return base + f"report {listed}, one 'Name: value' line each."


class ImageToText:
    """Image plus written answers (caption, code, VQA answer, several fields) -> the text."""

    name = "image-to-text"
    summary = "image + text answer(s) -> the text; several controls as 'Name: value' lines"
    needs_images = True

    def build(
        self,
        task: Task,
        annotation: AnnotationSet,
        images: Sequence[PreparedImage],
        options: Options,
    ) -> list[Example]:
        if not images:
            raise RecipeError("missing_image", "image-to-text needs an image")
        answers = control_values(annotation, options)
        values = template_values(task, annotation, options)
        chosen = [
            rename(lb, options)
            for r in annotation.regions
            if isinstance(r, Choice)
            for lb in r.labels
        ]
        if chosen:
            values["labels"] = ", ".join(chosen)
            if len(chosen) == 1:
                values["label"] = chosen[0]
        if options.answer_template is not None:
            answer = render(options.answer_template, values)
        else:
            names = control_order(task, annotation, answers)
            if not names:
                kinds = {r.kind for r in annotation.regions if not isinstance(r, TextAnswer)}
                raise RecipeError(
                    "missing_answer",
                    "the annotation holds no text answer"
                    + (f" (only {', '.join(sorted(kinds))} regions)" if kinds else ""),
                )
            if len(names) == 1:
                answer = str(answers[names[0]])
            else:
                answer = "\n".join(f"{name}: {answers[name]}" for name in names)
        if answer == "":
            raise RecipeError("missing_answer", "the text answer is empty")
        prompt = _default_prompt(task, "Describe the image.")
        default_system = _text_system(
            control_order(task, annotation, answers), options.answer_template is not None
        )
        return [
            make_example(
                task,
                annotation,
                system=system_text(options, default_system, values),
                user=user_parts(task, images, options, values, prompt),
                assistant=answer,
            )
        ]


DETECTION = Detection()
IMAGE_CLASSIFICATION = ImageClassification()
IMAGE_TO_TEXT = ImageToText()

__all__ = ["DETECTION", "IMAGE_CLASSIFICATION", "IMAGE_TO_TEXT", "control_order"]
