"""The `auto` recipe: pick a recipe from the label config or the regions present, and say why."""

from __future__ import annotations

from collections.abc import Iterable

from annoconvert.model import (
    GEOMETRY_KINDS,
    Choice,
    Task,
    TextAnswer,
)

PREFERENCE_KINDS = frozenset({"pairwise", "ranking"})


def choose_recipe(tasks: Iterable[Task]) -> tuple[str, str]:
    """The recipe name for a sample of tasks, and a reason a user can check."""
    kinds: set[str] = set()
    text_fields: set[str] = set()
    multi_choice = False
    has_turns = has_images = has_text = per_region_text = False
    controls: dict[str, str] = {}
    for task in tasks:
        has_turns = has_turns or bool(task.turns)
        has_images = has_images or bool(task.images)
        has_text = has_text or task.text is not None
        declared = task.fields.get("__controls__")
        if isinstance(declared, dict):
            controls.update(declared)
        for annotation in task.annotations:
            for region in annotation.regions:
                kinds.add(region.kind)
                if isinstance(region, Choice) and len(region.labels) > 1:
                    multi_choice = True
                if isinstance(region, TextAnswer):
                    if region.region_id is None:
                        text_fields.add(region.field)
                    else:
                        per_region_text = True
    control_kinds = set(controls.values())
    if "textarea" in control_kinds:
        text_fields |= {n for n, k in controls.items() if k == "textarea"}
    if kinds & PREFERENCE_KINDS or control_kinds & {"pairwise", "ranker"}:
        return "preference", "pairwise or ranking results"
    if has_turns:
        return "dialogue", "the tasks hold dialogue turns"
    if has_images:
        if kinds & GEOMETRY_KINDS or control_kinds & {
            "rectanglelabels",
            "polygonlabels",
            "brushlabels",
            "ellipselabels",
            "rectangle",
        }:
            return "detection", "image tasks with boxes, polygons or masks"
        if text_fields or kinds & {"number", "rating", "datetime", "text"}:
            return "image-to-text", "image tasks with written or several answers"
        return "image-classification", "image tasks with chosen classes"
    if "span" in kinds:
        if per_region_text:
            return "extraction", "spans with per-region text"
        if "relation" in kinds:
            return "extraction", "spans with relations (entities and triples)"
        if "choice" in kinds:
            return "extraction", "an intent with slot spans"
        return "ner", "text tasks with labelled spans"
    if len(text_fields) > 1:
        return "extraction", f"{len(text_fields)} named text fields"
    if text_fields:
        return "summarization", "text tasks with one written answer"
    if multi_choice:
        return "multilabel", "some tasks chose several classes"
    return "classification", "text tasks with one chosen class"
