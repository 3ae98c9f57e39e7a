"""Text recipes: classification, multilabel, ner, extraction, summarization (DESIGN.md §3)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from annoconvert.errors import RecipeError
from annoconvert.model import (
    AnnotationSet,
    Choice,
    Example,
    Part,
    PreparedImage,
    Relation,
    Span,
    Task,
    TextAnswer,
)
from annoconvert.options import Options
from annoconvert.recipes.common import (
    CHOICE_CONTROLS,
    SPAN_CONTROLS,
    allowed_labels,
    dumps,
    label_list,
    make_example,
    rename,
    render,
    system_text,
    template_values,
    user_parts,
)


def _choices(annotation: AnnotationSet) -> list[Choice]:
    return [r for r in annotation.regions if isinstance(r, Choice)]


def _user(
    task: Task, images: Sequence[PreparedImage], options: Options, values: Mapping[str, Any]
) -> list[Part]:
    return user_parts(task, images, options, values, "{text}" if task.text is not None else None)


class Classification:
    """Text plus one chosen class; the answer is the label through the answer template."""

    name = "classification"
    summary = "text + one choice -> the label (answer template, e.g. 'Classification: {label}')"
    needs_images = False

    def build(
        self,
        task: Task,
        annotation: AnnotationSet,
        images: Sequence[PreparedImage],
        options: Options,
    ) -> list[Example]:
        choices = _choices(annotation)
        if not choices:
            raise RecipeError("missing_label", "the annotation chose no class")
        choice = choices[0]
        if len(choice.labels) != 1:
            raise RecipeError(
                "not_single_label",
                f"{len(choice.labels)} classes chosen for {choice.field!r}; "
                "use --recipe multilabel",
            )
        label = rename(choice.labels[0], options)
        values = template_values(task, annotation, options)
        values["label"] = values["labels"] = label
        allowed = allowed_labels(task, options, choice.field)
        default_system = "Classify the text."
        if allowed:
            default_system += (
                f" Your response must be only one of the following: {label_list(allowed)}."
            )
        answer = render(options.answer_template or "{label}", values)
        return [
            make_example(
                task,
                annotation,
                system=system_text(options, default_system, values),
                user=_user(task, images, options, values),
                assistant=answer,
                label=label,
            )
        ]


class Multilabel:
    """Text plus several classes; labels joined with ', ' or written as a JSON list."""

    name = "multilabel"
    summary = "text + several choices -> the labels joined (or a JSON list)"
    needs_images = False

    def build(
        self,
        task: Task,
        annotation: AnnotationSet,
        images: Sequence[PreparedImage],
        options: Options,
    ) -> list[Example]:
        labels: list[str] = []
        for choice in _choices(annotation):
            labels.extend(
                rename(lb, options) for lb in choice.labels if rename(lb, options) not in labels
            )
        allowed = allowed_labels(task, options, kinds=CHOICE_CONTROLS)
        if allowed:
            order = {lb: i for i, lb in enumerate(allowed)}
            labels.sort(key=lambda lb: order.get(lb, len(order)))
        values = template_values(task, annotation, options)
        values["labels"] = ", ".join(labels)
        values["label"] = labels[0] if labels else ""
        if options.multilabel_format == "json":
            answer = dumps(labels)
        elif not labels:
            raise RecipeError(
                "empty_answer",
                "the annotation chose no class; use --multilabel-format json to write []",
            )
        else:
            answer = render(options.answer_template or "{labels}", values)
        default_system = "Choose every label that applies to the text."
        if allowed:
            default_system += f" Use only these labels: {label_list(allowed)}."
        return [
            make_example(
                task,
                annotation,
                system=system_text(options, default_system, values),
                user=_user(task, images, options, values),
                assistant=answer,
                label=", ".join(labels) or None,
            )
        ]


def _spans(annotation: AnnotationSet) -> list[Span]:
    return sorted(
        (r for r in annotation.regions if isinstance(r, Span)),
        key=lambda s: (s.start, s.end, s.labels),
    )


class Ner:
    """Text plus labelled spans; the answer maps each label to its span texts (JSON)."""

    name = "ner"
    summary = "text + spans -> JSON object label -> list of span texts"
    needs_images = False

    def build(
        self,
        task: Task,
        annotation: AnnotationSet,
        images: Sequence[PreparedImage],
        options: Options,
    ) -> list[Example]:
        spans = _spans(annotation)
        declared = allowed_labels(task, options, kinds=SPAN_CONTROLS)
        answer: Any
        if options.ner_format == "list":
            answer = [
                {"text": s.text, "label": rename(lb, options), "start": s.start, "end": s.end}
                for s in spans
                for lb in s.labels
            ]
        else:
            grouped: dict[str, list[str]] = {}
            for s in spans:
                for lb in s.labels:
                    grouped.setdefault(rename(lb, options), []).append(s.text)
            order = {lb: i for i, lb in enumerate(declared)}
            answer = dict(sorted(grouped.items(), key=lambda kv: order.get(kv[0], len(order))))
        values = template_values(task, annotation, options)
        default_system = "Extract the named entities from the text. Respond only with a JSON object"
        default_system += " mapping each entity type to the list of its mentions."
        if declared:
            default_system += f" Entity types: {label_list(declared)}."
        return [
            make_example(
                task,
                annotation,
                system=system_text(options, default_system, values),
                user=_user(task, images, options, values),
                assistant=render(options.answer_template, {**values, "entities": dumps(answer)})
                if options.answer_template
                else dumps(answer),
            )
        ]


def _field_order(task: Task, options: Options, present: Sequence[str]) -> list[str]:
    if options.field_order:
        return list(options.field_order)
    controls = task.fields.get("__controls__")
    order: list[str] = []
    if isinstance(controls, dict):
        order = [name for name, kind in controls.items() if kind == "textarea"]
    for name in present:
        if name not in order:
            order.append(name)
    return order


def _grouped(spans: Sequence[Span], options: Options) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for s in spans:
        for lb in s.labels:
            grouped.setdefault(rename(lb, options), []).append(s.text)
    return grouped


def _relation_triples(
    spans: Sequence[Span], relations: Sequence[Relation], options: Options
) -> dict[str, Any]:
    """Entities by type plus relations as [head, relation, tail] triples of span texts."""
    by_id = {s.id: s for s in spans if s.id is not None}
    triples: list[list[str]] = []
    for rel in relations:
        head, tail = by_id.get(rel.from_id), by_id.get(rel.to_id)
        if head is None or tail is None:
            raise RecipeError(
                "bad_relation",
                f"relation {rel.from_id}->{rel.to_id} links a region that is not a span",
            )
        if rel.direction == "left":
            head, tail = tail, head
        for label in rel.labels or ("related_to",):
            triples.append([head.text, rename(label, options), tail.text])
    return {"entities": _grouped(spans, options), "relations": triples}


def _intent_and_slots(
    choices: Sequence[Choice], spans: Sequence[Span], options: Options
) -> dict[str, Any]:
    """Intent detection and slot filling: {"intent": ..., "slots": {type: [texts]}}."""
    intents = [rename(lb, options) for c in choices for lb in c.labels]
    unique = list(dict.fromkeys(intents))
    return {"intent": unique[0] if len(unique) == 1 else unique, "slots": _grouped(spans, options)}


class Extraction:
    """Named text fields (or labelled spans) become one JSON object: field -> value."""

    name = "extraction"
    summary = "text + named text fields or labelled spans -> a JSON object (valid JSON)"
    needs_images = False

    def build(
        self,
        task: Task,
        annotation: AnnotationSet,
        images: Sequence[PreparedImage],
        options: Options,
    ) -> list[Example]:
        answers = [r for r in annotation.regions if isinstance(r, TextAnswer)]
        per_region = {a.region_id: a for a in answers if a.region_id is not None}
        spans = _spans(annotation)
        relations = [r for r in annotation.regions if isinstance(r, Relation)]
        choices = _choices(annotation)
        obj: dict[str, Any] = {}
        if relations:
            obj = _relation_triples(spans, relations, options)
        elif spans and choices:
            obj = _intent_and_slots(choices, spans, options)
        elif spans:
            for s in spans:
                linked = per_region.get(s.id) if s.id is not None else None
                value = "\n".join(linked.texts) if linked is not None else s.text
                for lb in s.labels:
                    key = rename(lb, options)
                    if key in obj:
                        prev = obj[key]
                        obj[key] = [*prev, value] if isinstance(prev, list) else [prev, value]
                    else:
                        obj[key] = value
        else:
            fields = {a.field: "\n".join(a.texts) for a in answers if a.region_id is None}
            for name in _field_order(task, options, list(fields)):
                obj[rename(name, options)] = fields.get(name)
        if not obj:
            raise RecipeError("missing_label", "the annotation has no text fields or spans")
        values = template_values(task, annotation, options)
        keys = ", ".join(obj)
        default_system = (
            f"Extract the following fields from the text: {keys}. "
            "Respond only with a valid JSON object."
        )
        return [
            make_example(
                task,
                annotation,
                system=system_text(options, default_system, values),
                user=_user(task, images, options, values),
                assistant=dumps(obj),
            )
        ]


class Summarization:
    """Text plus a written answer (summary, translation, seq2seq target): the answer is the text."""

    name = "summarization"
    summary = "text + text answer -> the text (one example per target with --targets all)"
    needs_images = False

    def build(
        self,
        task: Task,
        annotation: AnnotationSet,
        images: Sequence[PreparedImage],
        options: Options,
    ) -> list[Example]:
        answers = [
            r for r in annotation.regions if isinstance(r, TextAnswer) and r.region_id is None
        ]
        texts = [t for a in answers for t in a.texts if t.strip()]
        if not texts:
            raise RecipeError("missing_label", "the annotation has no written answer")
        if options.targets == "first":
            texts = texts[:1]
        values = template_values(task, annotation, options)
        default_system = "Summarize the text concisely and neutrally."
        examples = []
        for text in texts:
            answer = (
                render(options.answer_template, {**values, "answer": text})
                if options.answer_template
                else text
            )
            examples.append(
                make_example(
                    task,
                    annotation,
                    system=system_text(options, default_system, values),
                    user=_user(task, images, options, values),
                    assistant=answer,
                )
            )
        return examples


CLASSIFICATION = Classification()
MULTILABEL = Multilabel()
NER = Ner()
EXTRACTION = Extraction()
SUMMARIZATION = Summarization()
