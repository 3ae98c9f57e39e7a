"""What every recipe shares: template values, rendering, label renames, message assembly."""

from __future__ import annotations

import functools
import json
import json.encoder
import string
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping, Sequence
from typing import Any

import orjson

from annoconvert.errors import RecipeError
from annoconvert.model import (
    AnnotationSet,
    Choice,
    DateTime,
    Example,
    ImagePart,
    Message,
    Number,
    Part,
    PreparedImage,
    Rating,
    Task,
    Taxonomy,
    TextAnswer,
    TextPart,
)
from annoconvert.options import Options

_FORMATTER = string.Formatter()


def rename(label: str, options: Options) -> str:
    """The label as the user wants it written (`[labels]` renames in the config)."""
    renames = options.labels
    return renames.get(label, label) if renames else label


_ENCODER = json.JSONEncoder(ensure_ascii=False)


def _c_encoder() -> Callable[[Any, int], Any] | None:
    """The C encoder `json.dumps(ensure_ascii=False)` builds on every call, built once (that
    build is half of a short answer's encoding time). It is CPython's internal: used only if
    it exists, takes these arguments and writes what `json.dumps` writes."""
    make: Any = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return None
    try:
        encoder = make(
            None,
            _ENCODER.default,
            json.encoder.encode_basestring,
            None,
            ": ",
            ", ",
            False,
            False,
            True,
        )
        probe = [{"é": 1.5, "b": [1, None, True]}, "x\n"]
        if "".join(encoder(probe, 0)) != json.dumps(probe, ensure_ascii=False):
            return None
    except (TypeError, ValueError):
        return None
    return encoder  # type: ignore[no-any-return]


_C_ENCODER = _c_encoder()


def dumps(value: Any) -> str:
    """Assistant JSON: built as objects, written with the seed's spacing, non-ASCII kept."""
    if _C_ENCODER is None or isinstance(value, str):
        return _ENCODER.encode(value)
    return "".join(_C_ENCODER(value, 0))


def dumps_boxes(objects: list[dict[str, Any]]) -> str:
    """`dumps` of a box answer, in 60 % of its time where every object is a `box_2d` of four
    ints and a plain label (`_plain_label`): orjson writes such objects as `dumps` does but
    compact, and the seed's spacing goes back after each `,` and `:`, none of which can then
    be inside a string. Any other answer is `dumps`'s."""
    plain = _PLAIN_LABELS
    for obj in objects:
        if len(obj) != 2:
            return dumps(objects)
        label, box = obj.get("label"), obj.get("box_2d")
        if type(label) is not str or (label not in plain and not _plain_label(label)):
            return dumps(objects)
        if type(box) is not list or len(box) != 4:
            return dumps(objects)
        a, b, c, d = box
        if type(a) is not int or type(b) is not int or type(c) is not int or type(d) is not int:
            return dumps(objects)
    try:
        compact = orjson.dumps(objects)
    except orjson.JSONEncodeError:  # an int past 64 bits
        return dumps(objects)
    return compact.decode().replace(",", ", ").replace(":", ": ")


_PLAIN_LABELS: set[str] = set()
"""Labels `_plain_label` took (at most 4,096: a run's labels are a few)."""


def _plain_label(label: str) -> bool:
    """Printable ASCII without `"`, `\\`, `,` and `:`: written as it is by both encoders, and
    holding no character the spacing goes after."""
    if not (label.isascii() and label.isprintable()) or any(c in label for c in '",:\\'):
        return False
    if len(_PLAIN_LABELS) < 4096:
        _PLAIN_LABELS.add(label)
    return True


def control_values(annotation: AnnotationSet, options: Options) -> dict[str, Any]:
    """Template values from the annotation: each control's answer by its field name.

    Choices give their (renamed) labels joined with ", "; text answers their texts joined with
    a newline; numbers, ratings and dates their value; taxonomies their paths joined with '/'.
    """
    values: dict[str, Any] = {}
    for region in annotation.regions:
        if isinstance(region, Choice):
            values[region.field] = ", ".join(rename(lb, options) for lb in region.labels)
        elif isinstance(region, TextAnswer) and region.region_id is None:
            values[region.field] = "\n".join(region.texts)
        elif isinstance(region, Number | Rating | DateTime):
            values[region.field] = region.value
        elif isinstance(region, Taxonomy):
            values[region.field] = ", ".join("/".join(path) for path in region.paths)
    return values


def task_values(task: Task) -> dict[str, Any]:
    """Template values from the task's input: `text`, `id` and every data field."""
    # lists and objects stay as they are: `render` writes them as JSON if a template asks
    values: dict[str, Any] = {k: v for k, v in task.fields.items() if not k.startswith("__")}
    if task.text is not None:
        values["text"] = task.text
    values["id"] = task.id
    return values


@functools.lru_cache(maxsize=256)
def _parsed(template: str) -> tuple[tuple[str, str | None, str | None, str | None], ...]:
    """A template parsed once per run, not once per task."""
    return tuple(_FORMATTER.parse(template))


def template_names(template: str) -> frozenset[str]:
    """The values a template names (`{label}` -> label; `{{` names none)."""
    return frozenset(name for _, name, _, _ in _parsed(template) if name is not None)


class TemplateValues(MutableMapping[str, Any]):
    """A task's template values (`task_values` + `control_values`), built on first read.

    Most runs set no template, so most tasks never need them. Values a recipe sets
    (`label`, `labels`) are kept apart and win over the task's.
    """

    __slots__ = ("_annotation", "_base", "_extra", "_options", "_task")

    def __init__(self, task: Task, annotation: AnnotationSet, options: Options):
        self._task = task
        self._annotation = annotation
        self._options = options
        self._base: dict[str, Any] | None = None
        self._extra: dict[str, Any] = {}

    def _loaded(self) -> dict[str, Any]:
        if self._base is None:
            self._base = task_values(self._task)
            self._base.update(control_values(self._annotation, self._options))
        return self._base

    def __getitem__(self, key: str) -> Any:
        if key in self._extra:
            return self._extra[key]
        return self._loaded()[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._extra[key] = value

    def __delitem__(self, key: str) -> None:
        self._extra.pop(key, None)
        self._loaded().pop(key, None)

    def __iter__(self) -> Iterator[str]:
        return iter({**self._loaded(), **self._extra})

    def __len__(self) -> int:
        return len({**self._loaded(), **self._extra})


def system_text(options: Options, default: str | None, values: Mapping[str, Any]) -> str | None:
    """The system message: `--system` rendered, else the recipe's default."""
    return render(options.system, values) if options.system is not None else default


def template_values(task: Task, annotation: AnnotationSet, options: Options) -> TemplateValues:
    """The values templates may name, for one task and annotation (see TemplateValues)."""
    return TemplateValues(task, annotation, options)


def render(template: str, values: Mapping[str, Any]) -> str:
    """Fill a template; an absent or empty value rejects the task (`missing_field`)."""
    parsed = _parsed(template)
    if len(parsed) == 1 and not parsed[0][0]:
        _, only, spec, conv = parsed[0]  # the common '{label}' / '{text}'
        value = values.get(only) if only is not None else None
        if isinstance(value, str) and value and not spec and not conv:
            return value
    out: list[str] = []
    for literal, name, spec, conv in parsed:
        out.append(literal)
        if name is None:
            continue
        value = values.get(name)
        if value is None or value == "":
            raise RecipeError(
                "missing_field", f"template field {{{name}}} is empty or absent for this task"
            )
        if not isinstance(value, str | int | float):
            value = dumps(value)  # a list or object from the task's data
        try:
            if conv:
                value = _FORMATTER.convert_field(value, conv)
            out.append(_FORMATTER.format_field(value, spec or ""))
        except (ValueError, TypeError) as err:  # a format for another type: `{label:d}`
            raise RecipeError(
                "bad_template", f"template field {{{name}:{spec}}} cannot show {value!r}: {err}"
            ) from err
    return "".join(out)


def label_list(labels: Iterable[str]) -> str:
    """`'A', 'B', or 'C'` as in the seed's system prompt."""
    return _label_list(tuple(labels))


@functools.lru_cache(maxsize=64)
def _label_list(labels: tuple[str, ...]) -> str:
    quoted = [f"'{label}'" for label in labels]
    if len(quoted) <= 1:
        return "".join(quoted)
    if len(quoted) == 2:
        return f"{quoted[0]} or {quoted[1]}"
    return ", ".join(quoted[:-1]) + f", or {quoted[-1]}"


def declared_labels(
    task: Task, field: str | None = None, kinds: frozenset[str] | None = None
) -> list[str]:
    """Labels the tool declared (readers put them in `fields['__labels__']`).

    `field` picks one control; `kinds` keeps the controls of those types (per
    `fields['__controls__']`, e.g. {"labels"} for span controls only).
    """
    declared = task.fields.get("__labels__")
    if not isinstance(declared, dict):
        return []
    if field is not None:
        return list(declared.get(field, []))
    controls = task.fields.get("__controls__")
    merged: dict[str, None] = {}  # a dict keeps the order and drops repeats in linear time
    for name, labels in declared.items():
        if kinds is not None and isinstance(controls, dict) and controls.get(name) not in kinds:
            continue
        merged.update(dict.fromkeys(labels))
    return list(merged)


def allowed_labels(
    task: Task, options: Options, field: str | None = None, kinds: frozenset[str] | None = None
) -> tuple[str, ...]:
    """The declared labels (see declared_labels), renamed as the user wants them written."""
    declared = declared_labels(task, field, kinds)
    if not options.labels:  # nothing to rename (the usual run)
        return tuple(declared)
    return tuple(rename(lb, options) for lb in declared)


SPAN_CONTROLS = frozenset({"labels", "hypertextlabels", "paragraphlabels"})
CHOICE_CONTROLS = frozenset({"choices"})
GEOMETRY_CONTROLS = frozenset(
    {
        "rectanglelabels",
        "polygonlabels",
        "brushlabels",
        "ellipselabels",
        "keypointlabels",
        "labels",
        "rectangle",
        "polygon",
    }
)


def image_parts(images: Sequence[PreparedImage], options: Options) -> list[Part]:
    """Image parts: real images, or the seed's `<image:NAME>` text in placeholder mode."""
    if options.image_mode == "placeholder":
        return [TextPart(f"<image:{img.name}>") for img in images]
    return [ImagePart(img) for img in images]


def make_example(
    task: Task,
    annotation: AnnotationSet,
    *,
    system: str | None,
    user: Sequence[Part],
    assistant: str,
    label: str | None = None,
) -> Example:
    """Assemble system / user / assistant messages into an Example."""
    messages: list[Message] = []
    if system:
        messages.append(Message("system", (TextPart(system),)))
    messages.append(Message("user", tuple(user)))
    messages.append(Message("assistant", (TextPart(assistant),)))
    return Example(
        task_id=task.id,
        source=task.source,
        messages=tuple(messages),
        multimodal=any(isinstance(p, ImagePart) for p in user),
        label=label,
        group=group_key(task),
        annotator=annotation.annotator,
    )


def group_key(task: Task) -> str:
    """What keeps one source document or image in one split: its image URIs, else its text."""
    images = task.images
    if images:
        return images[0].uri if len(images) == 1 else "|".join(img.uri for img in images)
    return task.text if task.text is not None else f"task:{task.id}"


def user_parts(
    task: Task,
    images: Sequence[PreparedImage],
    options: Options,
    values: Mapping[str, Any],
    default_prompt: str | None,
) -> list[Part]:
    """The user message: the prompt (or the text) then the images, as the seed orders them.

    In placeholder mode the image names join the prompt in one string, as in the seed's
    `Inspect the following item: <image:product_001.jpg>`.
    """
    if task.fields.get("audio") and task.text is None and not task.images:
        raise RecipeError(
            "unsupported_audio",
            f"the task's input is audio ({task.fields['audio']}); chat fine-tuning formats "
            "take text and images only",
        )
    template = options.prompt if options.prompt is not None else default_prompt
    if template == "{text}" and task.text:
        prompt: str | None = task.text  # the default prompt: no template values needed
    else:
        prompt = render(template, values) if template is not None else None
    parts: list[Part] = []
    imgs = image_parts(images, options)
    if options.image_mode == "placeholder" and imgs:
        names = " ".join(p.text for p in imgs if isinstance(p, TextPart))
        parts.append(TextPart(f"{prompt} {names}" if prompt else names))
        return parts
    if prompt:
        parts.append(TextPart(prompt))
    parts.extend(imgs)
    if not parts:
        raise RecipeError(
            "missing_field", "the task has no text or image to put in the user message"
        )
    return parts


def only_choice(annotation: AnnotationSet, field: str | None = None) -> Choice | None:
    """The annotation's first Choice region (of `field` when given)."""
    for region in annotation.regions:
        if isinstance(region, Choice) and (field is None or region.field == field):
            return region
    return None
