"""Label Studio reader: JSON / JSON-MIN exports, a single task, or JSONL, streamed into Tasks.

Inputs it recognises (by content, not by name):
- the JSON export (`[{"id", "data", "annotations", ...}, ...]`), streamed item by item
  (`json_array`), so memory stays flat in the size of the file;
- the JSON-MIN export (`[{<data keys>, "id", <control keys>, "annotator", "annotation_id", ...}]`):
  one row per annotation; adjacent rows of one task id become one Task. Columns before `id` are
  data, columns between `id` and `annotator` are controls (the converter writes them in that
  order); with `--label-config` the control types are known, without it a bare string cannot be
  told apart (Choices or TextArea?) and the reader asks for the config;
- one task object (`{"data": ...}`), and JSONL (one task per line; a bad line is a `bad_line`
  reject with its line number).

Task-level reject codes: `bad_line`, `not_a_task`, `missing_data`, `unknown_result_type`,
`bad_result`, `bad_geometry`, `bad_span`, `undeclared_label`, `unknown_control`,
`missing_image_size`. Predictions are kept apart (`Task.predictions`), drafts are left out.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from annoconvert.errors import ConfigError, ParseError, ShapeError, TaskError
from annoconvert.express import RawTask, Switch
from annoconvert.inputs import open_input
from annoconvert.model import AnnotationSet, ImageRef, Region, Reject, Source, Task, Turn
from annoconvert.options import Options
from annoconvert.readers.json_array import JsonArrayError, array_items
from annoconvert.readers.json_array import loads as json_loads
from annoconvert.readers.labelstudio_config import LabelConfig, parse_label_config
from annoconvert.readers.labelstudio_express import (
    rectangle_detection,
    text_classification,
    without_config,
)
from annoconvert.readers.labelstudio_results import (
    IMAGE_SIZE_KEYS,
    INT64,
    PARSERS,
    Ctx,
    infer_type,
    parse_relation,
    split_min_row,
)
from annoconvert.registry import ReaderOption

FORMAT = "labelstudio"
BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class _Where:
    """The file being read and how its locators start."""

    file: str
    config: LabelConfig | None


def _child(prefix: str, suffix: str) -> str:
    sep = " " if prefix.startswith("line ") else "."
    return f"{prefix}{sep}{suffix}"


# --- task input: text, images, turns, fields -------------------------------------------------


def _turns(
    value: Any, speaker_key: str = "author", text_key: str = "text"
) -> tuple[Turn, ...] | None:
    """Paragraphs dialogue (`[{"author", "text"}]`) or chat messages (`[{"role", "content"}]`)."""
    if not isinstance(value, list) or not value:
        return None
    for sk, tk in ((speaker_key, text_key), ("role", "content")):
        if all(
            isinstance(t, dict) and isinstance(t.get(sk), str) and isinstance(t.get(tk), str)
            for t in value
        ):
            return tuple(Turn(speaker=t[sk], text=t[tk]) for t in value)
    return None


@dataclass(slots=True)
class _Input:
    text: str | None
    text_key: str | None
    images: tuple[ImageRef, ...]
    turns: tuple[Turn, ...] | None
    fields: dict[str, Any]
    texts_by_object: dict[str, str]


def _task_input(
    data: Mapping[str, Any], config: LabelConfig | None, sizes: Mapping[str, tuple[int, int]]
) -> _Input:
    """Split a task's `data` into text, images, dialogue turns and the other fields.

    A text taken from a key other than `text` stays in `fields` under its own name too, so
    templates can name it (`{question}`).
    """
    used: set[str] = set()
    text: str | None = None
    text_key: str | None = None
    images: list[ImageRef] = []
    turns: tuple[Turn, ...] | None = None
    texts_by_object: dict[str, str] = {}
    if config is not None:
        for obj in config.keyed_objects:
            key = obj.value_key
            if key is None or key not in data:
                continue
            value = data[key]
            if obj.type in ("text", "hypertext") and isinstance(value, str):
                texts_by_object[obj.name] = value
                if text is None:
                    text, text_key = value, key
            elif obj.type == "image" and isinstance(value, str):
                w, h = sizes.get(obj.name, (None, None))
                images.append(ImageRef(uri=value, width=w, height=h, field=key))
                used.add(key)
            elif obj.type in ("paragraphs", "chat") and turns is None:
                turns = _turns(
                    value,
                    obj.attributes.get("nameKey", "author"),
                    obj.attributes.get("textKey", "text"),
                )
                if turns is not None:
                    used.add(key)
    else:
        value = data.get("text")
        if isinstance(value, str):
            text, text_key = value, "text"
        image = data.get("image")
        if isinstance(image, str):
            w, h = sizes.get("image", (None, None))
            if (w, h) == (None, None) and len(sizes) == 1:
                w, h = next(iter(sizes.values()))
            images.append(ImageRef(uri=image, width=w, height=h, field="image"))
            used.add("image")
        for key, value in data.items():
            if isinstance(value, list):
                turns = _turns(value)
                if turns is not None:
                    used.add(key)
                    break
    if text_key == "text":
        used.add("text")
    fields = {k: v for k, v in data.items() if k not in used}
    if config is not None:
        fields.update(config.task_fields)
    return _Input(text, text_key, tuple(images), turns, fields, texts_by_object)


def _image_sizes(annotation_lists: Iterable[Any]) -> dict[str, tuple[int, int]]:
    """Object name -> (original_width, original_height) from the first region that has them."""
    sizes: dict[str, tuple[int, int]] = {}
    for results in annotation_lists:
        if not isinstance(results, list):
            continue
        for item in results:
            if not isinstance(item, dict):
                continue
            to_name = item.get("to_name")
            w, h = item.get("original_width"), item.get("original_height")
            if (
                isinstance(to_name, str)
                and to_name not in sizes
                and type(w) is int
                and type(h) is int
                and w > 0
                and h > 0
            ):
                sizes[to_name] = (w, h)
    return sizes


# --- results -> regions ----------------------------------------------------------------------


def _size(item: Mapping[str, Any], where: str | tuple[str, int]) -> tuple[int | None, int | None]:
    """original_width/height of a result; `where` is its locator or (the result list's
    locator, its index), put together only for an error."""
    w, h = item.get("original_width"), item.get("original_height")
    if type(w) is int and type(h) is int and w > 0 and h > 0:
        return w, h  # the common case
    loc = where if isinstance(where, str) else f"{where[0]}[{where[1]}]"
    out: list[int | None] = []
    for key in IMAGE_SIZE_KEYS:
        v = item.get(key)
        if v is None:
            out.append(None)
        elif type(v) is not int or v <= 0:
            raise TaskError(
                "bad_geometry", f"{key} must be a positive integer", locator=f"{loc}.{key}"
            )
        else:
            out.append(v)
    return out[0], out[1]


def _span_text(to_name: str, inp: _Input, data: Mapping[str, Any]) -> str | None:
    if to_name in inp.texts_by_object:
        return inp.texts_by_object[to_name]
    if not inp.texts_by_object:
        value = data.get(to_name)
        if isinstance(value, str):
            return value
        return inp.text
    return None


def _regions(
    results: Any, loc: str, inp: _Input, data: Mapping[str, Any], config: LabelConfig | None
) -> tuple[Region, ...]:
    """A full-JSON `result` list -> regions; TaskError (with locator) on the first bad item."""
    if not isinstance(results, list):
        raise TaskError("bad_result", "result must be a list", locator=loc)
    region_ids: set[Any] | None = None
    out: list[Region] = []
    for i, item in enumerate(results):
        if not isinstance(item, dict):
            raise TaskError("bad_result", "a result item must be an object", locator=f"{loc}[{i}]")
        rtype = item.get("type")
        if rtype == "relation":
            out.append(parse_relation(item, f"{loc}[{i}]", config))
            continue
        parser = PARSERS.get(rtype) if isinstance(rtype, str) else None
        if parser is None or not isinstance(rtype, str):
            raise TaskError(
                "unknown_result_type",
                f"result type {rtype!r} is not one this reader knows",
                locator=f"{loc}[{i}].type",
            )
        value = item.get("value")
        if not isinstance(value, dict):
            raise TaskError(
                "bad_result", "the result has no value object", locator=f"{loc}[{i}].value"
            )
        from_name, to_name = item.get("from_name"), item.get("to_name")
        if not isinstance(from_name, str) or not isinstance(to_name, str):
            raise TaskError(
                "bad_result", "from_name/to_name must be strings", locator=f"{loc}[{i}]"
            )
        if config is not None and from_name not in config.controls:
            raise TaskError(
                "unknown_control",
                f"control {from_name!r} is not in the label config {config.file}",
                locator=f"{loc}[{i}].from_name",
            )
        rid = item.get("id")
        if rid is not None and not isinstance(rid, str):
            rid = str(rid) if isinstance(rid, int) else None
        region_id = None
        if rtype == "textarea" and rid is not None:
            if region_ids is None:
                region_ids = {
                    r.get("id")
                    for r in results
                    if isinstance(r, dict) and r.get("type") not in ("textarea", "relation")
                }
            if rid in region_ids:
                region_id = rid
        if "original_width" in item or "original_height" in item:
            iw, ih = _size(item, (loc, i))
        else:
            iw = ih = None
        ctx = Ctx(
            where=(loc, i),
            rtype=rtype,
            from_name=from_name,
            to_name=to_name,
            rid=rid,
            image_width=iw,
            image_height=ih,
            text=_span_text(to_name, inp, data) if rtype == "labels" else None,
            region_id=region_id,
            config=config,
        )
        region = parser(value, ctx)
        score = item.get("score")
        if score is not None and isinstance(score, int | float):
            attrs = dict(getattr(region, "attributes", None) or {})
            attrs["score"] = score
            region = _with_attributes(region, attrs)
        out.append(region)
    return tuple(out)


def _with_attributes(region: Region, attrs: dict[str, Any]) -> Region:
    import dataclasses

    return dataclasses.replace(region, attributes=attrs)


def _annotator(value: Any) -> str | None:
    """completed_by: an int id, or `{"id": ...}` when the snapshot expanded users."""
    if isinstance(value, dict):
        value = value.get("id", value.get("email"))
    if value is None or isinstance(value, bool):
        return None
    return str(value)


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _annotation_set(
    ann: Any, loc: str, inp: _Input, data: Mapping[str, Any], config: LabelConfig | None
) -> AnnotationSet:
    if not isinstance(ann, dict):
        raise TaskError("bad_result", "an annotation must be an object", locator=loc)
    regions = _regions(ann.get("result", []), f"{loc}.result", inp, data, config)
    score = ann.get("score")
    return AnnotationSet(
        regions=regions,
        annotator=_annotator(ann.get("completed_by")),
        ground_truth=ann.get("ground_truth") is True,
        cancelled=ann.get("was_cancelled") is True,
        created_at=_opt_str(ann.get("created_at")),
        updated_at=_opt_str(ann.get("updated_at")),
        id=_opt_str(ann.get("id")),
        model_version=_opt_str(ann.get("model_version")) or None,
        score=float(score)
        if isinstance(score, int | float) and not isinstance(score, bool)
        else None,
    )


def id_of(raw: Any) -> int | str | None:
    """A task id as the export gives it (None: no usable id), in a form every JSON writer
    carries: an integer past 64 bits (where orjson stops) as its digits, a lone surrogate
    escape in a string id as the escape's text."""
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        return None
    if isinstance(raw, int):
        return raw if raw in INT64 else str(raw)
    text: str = raw
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def build_task(item: Any, loc: str, where: _Where) -> Task:
    """One task object of the JSON export -> Task; TaskError for anything wrong inside it."""
    if not isinstance(item, dict):
        raise TaskError("not_a_task", "a task must be a JSON object", locator=loc)
    found_id = id_of(item.get("id"))
    task_id = loc if found_id is None else found_id
    data = item.get("data")
    if not isinstance(data, dict):
        raise TaskError("missing_data", "the task has no data object", task=task_id, locator=loc)
    annotations = item.get("annotations") or []
    raw_predictions = item.get("predictions") or []
    if not isinstance(annotations, list):
        raise TaskError("bad_result", "annotations must be a list", locator=f"{loc}.annotations")
    if not isinstance(raw_predictions, list):
        raise TaskError("bad_result", "predictions must be a list", locator=f"{loc}.predictions")
    predictions = [p for p in raw_predictions if isinstance(p, dict)]
    config = where.config
    if config is not None and not config.has_images:
        sizes: dict[str, tuple[int, int]] = {}  # nothing to size: a text project
    else:
        sizes = _image_sizes(
            [a.get("result") for a in annotations if isinstance(a, dict)]
            + [p.get("result") for p in predictions]
        )
    inp = _task_input(data, config, sizes)
    anns = tuple(
        _annotation_set(a, _child(loc, f"annotations[{i}]"), inp, data, config)
        for i, a in enumerate(annotations)
    )
    preds = tuple(
        _annotation_set(p, _child(loc, f"predictions[{i}]"), inp, data, config)
        for i, p in enumerate(raw_predictions)
        if isinstance(p, dict)
    )
    return Task(
        id=task_id,
        source=Source(FORMAT, where.file, loc),
        text=inp.text,
        images=inp.images,
        turns=inp.turns,
        fields=inp.fields,
        annotations=anns,
        predictions=preds,
    )


def _task_or_reject(item: Any, loc: str, where: _Where) -> Task | Reject:
    try:
        return build_task(item, loc, where)
    except TaskError as err:
        task_id = id_of(item.get("id")) if isinstance(item, dict) else None
        return Reject(
            task=err.task if task_id is None else task_id,
            file=where.file,
            locator=err.locator or loc,
            code=err.code,
            reason=err.message,
        )


# --- JSON-MIN --------------------------------------------------------------------------------


def is_min_row(item: Any) -> bool:
    """A JSON-MIN row: no `annotations`/`data`, but `annotator`/`annotation_id` columns."""
    return (
        isinstance(item, dict)
        and "annotations" not in item
        and "data" not in item
        and ("annotator" in item or "annotation_id" in item)
    )


def _min_regions(
    key: str, value: Any, loc: str, inp: _Input, data: Mapping[str, Any], config: LabelConfig | None
) -> list[Region]:
    """One JSON-MIN control column -> regions (the column's shapes are listed in the README)."""
    control = config.controls.get(key) if config is not None else None
    ctype = control.type if control is not None else None
    if config is not None and control is None:  # as a JSON export's result would be
        raise TaskError(
            "unknown_control",
            f"column {key!r} is not a control in the label config {config.file}",
            locator=_child(loc, key),
        )

    def one(v: Mapping[str, Any], vloc: str, rtype: str | None) -> Region:
        rtype = rtype or infer_type(v)
        if rtype is None or rtype not in PARSERS:
            raise TaskError(
                "unknown_result_type",
                f"cannot tell what kind of answer {key!r} holds",
                locator=vloc,
            )
        iw, ih = _size(v, vloc)
        to_name = control.to_name[0] if control is not None and control.to_name else ""
        ctx = Ctx(
            where=vloc,
            rtype=rtype,
            from_name=key,
            to_name=to_name,
            rid=None,
            image_width=iw,
            image_height=ih,
            text=_span_text(to_name, inp, data) if rtype == "labels" else None,
            config=config,
        )
        clean = {k: x for k, x in v.items() if k not in IMAGE_SIZE_KEYS}
        return PARSERS[rtype](clean, ctx)

    def bare(text: str, vloc: str) -> Region:
        """A bare string: one Choices choice or one TextArea text (the config says which)."""
        if ctype == "choices":
            return one({"choices": [text]}, vloc, "choices")
        if ctype == "textarea":
            return one({"text": [text]}, vloc, "textarea")
        if ctype is None:
            raise ConfigError(
                f"JSON-MIN column {key!r} holds bare text, which can be a Choices or a TextArea "
                "answer; give the project's labeling config with --label-config"
            )
        raise TaskError("bad_result", f"{ctype} column {key!r} holds bare text", locator=vloc)

    vloc = _child(loc, key)
    if isinstance(value, str):
        return [bare(value, vloc)]
    if isinstance(value, dict):
        return [one(value, vloc, ctype)]
    if isinstance(value, list):
        out: list[Region] = []
        for i, v in enumerate(value):
            if isinstance(v, str):
                out.append(bare(v, f"{vloc}[{i}]"))
            elif isinstance(v, dict):
                out.append(one(v, f"{vloc}[{i}]", ctype))
            else:
                raise TaskError(
                    "bad_result", "a JSON-MIN value must be an object", locator=f"{vloc}[{i}]"
                )
        return out
    raise TaskError("bad_result", f"column {key!r} holds {type(value).__name__}", locator=vloc)


def _min_tasks(
    rows: Iterator[tuple[int, Any]], where: _Where, express: Switch | None = None
) -> Iterator[Task | Reject | RawTask]:
    """Group adjacent JSON-MIN rows of one task id into Tasks (one AnnotationSet per row);
    once `express` is on, each group is handed over unbuilt: a tuple of (index, row), a
    type no JSON parser makes, so that the lane's test tells it from a task object."""
    for task_id, group in itertools.groupby(rows, key=lambda r: _row_id(r[1])):
        items = list(group)
        loc = f"rows[{items[0][0]}]"
        if express is not None and express.on:
            build = functools.partial(_min_task_or_reject, task_id, items, loc, where)
            yield RawTask(tuple(items), Source(FORMAT, where.file, loc), build)
        else:
            yield _min_task_or_reject(task_id, items, loc, where)


def _min_task_or_reject(
    task_id: Any, items: list[tuple[int, Any]], loc: str, where: _Where
) -> Task | Reject:
    try:
        return _min_task(task_id, items, loc, where)
    except TaskError as err:
        return Reject(
            task=id_of(task_id),
            file=where.file,
            locator=err.locator or loc,
            code=err.code,
            reason=err.message,
        )


def _row_id(row: Any) -> Any:
    return row.get("id") if isinstance(row, dict) else object()


def _min_task(task_id: Any, items: list[tuple[int, Any]], loc: str, where: _Where) -> Task:
    config = where.config
    first = items[0][1]
    if not isinstance(first, dict):
        raise TaskError("not_a_task", "a JSON-MIN row must be an object", locator=loc)
    data, _ = split_min_row(first, config)
    sizes: dict[str, tuple[int, int]] = {}
    inp = _task_input(data, config, sizes)
    anns: list[AnnotationSet] = []
    for index, row in items:
        rloc = f"rows[{index}]"
        if not isinstance(row, dict):
            raise TaskError("not_a_task", "a JSON-MIN row must be an object", locator=rloc)
        if row.get("annotator") is None and row.get("annotation_id") is None:
            continue
        _, controls = split_min_row(row, config)
        regions: list[Region] = []
        for key, value in controls.items():
            regions.extend(_min_regions(key, value, rloc, inp, data, config))
        anns.append(
            AnnotationSet(
                regions=tuple(regions),
                annotator=_annotator(row.get("annotator")),
                created_at=_opt_str(row.get("created_at")),
                updated_at=_opt_str(row.get("updated_at")),
                id=_opt_str(row.get("annotation_id")),
            )
        )
    images = inp.images
    if not any(i.width for i in images):
        found = _min_image_size(anns)
        if found is not None:
            images = tuple(
                ImageRef(uri=i.uri, width=found[0], height=found[1], field=i.field) for i in images
            )
    found_id = id_of(task_id)
    return Task(
        id=loc if found_id is None else found_id,
        source=Source(FORMAT, where.file, loc),
        text=inp.text,
        images=images,
        turns=inp.turns,
        fields=inp.fields,
        annotations=tuple(anns),
    )


def _min_image_size(anns: Sequence[AnnotationSet]) -> tuple[int, int] | None:
    for ann in anns:
        for region in ann.regions:
            w, h = getattr(region, "image_width", None), getattr(region, "image_height", None)
            if w and h:
                return (int(w), int(h))
    return None


# --- files -----------------------------------------------------------------------------------


def _skip_bom(fh: IO[bytes]) -> None:
    if fh.read(3) != BOM:
        fh.seek(0)


def _first_char(fh: IO[bytes]) -> bytes:
    """The first non-blank byte (the file position is left at the start, after any BOM)."""
    start = fh.tell()
    while True:
        chunk = fh.read(4096)
        if not chunk:
            fh.seek(start)
            return b""
        stripped = chunk.lstrip()
        if stripped:
            fh.seek(start)
            return stripped[:1]


def _looks_like(obj: Any) -> str:
    """Say what a JSON document that is not a Label Studio export looks like."""
    if isinstance(obj, dict):
        keys = set(obj)
        if {"images", "annotations"} <= keys or "categories" in keys:
            return "a COCO annotation file (images/annotations/categories)"
        if "label_config" in keys:
            return "a Label Studio project description, not an export"
        if "text" in keys and ("label" in keys or "labels" in keys or "entities" in keys):
            return "a Doccano record"
        return f"an object with keys {sorted(keys)[:8]}"
    if isinstance(obj, list):
        return "a list"
    return f"a JSON {type(obj).__name__}"


def _looks_like_item(item: Any) -> str:
    if isinstance(item, dict) and {"image_id", "category_id"} <= set(item):
        return "a COCO results/annotations list"
    if isinstance(item, dict) and "text" in item and ("label" in item or "labels" in item):
        return "a Doccano export"
    return f"a list whose first item is {_looks_like(item)}"


def _read_list(
    fh: IO[bytes], where: _Where, express: Switch | None = None
) -> Iterator[Task | Reject | RawTask]:
    items = array_items(fh)
    count = 0

    def stream() -> Iterator[tuple[int, Any]]:
        nonlocal count
        try:
            for item in items:
                yield count, item
                count += 1
        except JsonArrayError as err:
            raise ParseError(
                f"not valid JSON (broken or truncated after {count} tasks): {err}",
                file=where.file,
                locator=f"tasks[{count}]",
            ) from err

    it = stream()
    first = next(it, None)
    if first is None:
        return
    index, item = first
    rest = itertools.chain([first], it)
    if is_min_row(item):
        yield from _min_tasks(rest, where, express)
        return
    if not isinstance(item, dict) or ("data" not in item and "annotations" not in item):
        raise ShapeError(
            f"not a Label Studio export: it looks like {_looks_like_item(item)}",
            file=where.file,
            locator="tasks[0]",
        )
    for index, item in rest:
        loc = f"tasks[{index}]"
        if express is not None and express.on:
            build = functools.partial(_task_or_reject, item, loc, where)
            yield RawTask(item, Source(FORMAT, where.file, loc), build)
        else:
            yield _task_or_reject(item, loc, where)


def _read_jsonl(
    fh: IO[bytes], where: _Where, express: Switch | None = None
) -> Iterator[Task | Reject | RawTask]:
    for number, raw in enumerate(fh, start=1):
        line = raw.strip()
        if number == 1 and line.startswith(BOM):
            line = line[3:].strip()
        if not line:
            continue
        loc = f"line {number}"
        try:
            item = json_loads(line)
        except (ValueError, UnicodeDecodeError) as err:
            yield Reject(
                None, where.file, loc, "bad_line", f"line {number} is not valid JSON: {err}"
            )
            continue
        if express is not None and express.on:
            build = functools.partial(_task_or_reject, item, loc, where)
            yield RawTask(item, Source(FORMAT, where.file, loc), build)
        else:
            yield _task_or_reject(item, loc, where)


def _is_jsonl(path: str, fh: IO[bytes]) -> bool:
    if Path(path).suffix.lower() in (".jsonl", ".ndjson"):
        return True
    start = fh.tell()
    first = fh.readline()
    rest = fh.read(64).strip()
    fh.seek(start)
    if not rest:
        return False
    try:
        return isinstance(json.loads(first), dict)
    except ValueError:
        return False


def read_file(
    path: str, config: LabelConfig | None = None, express: Switch | None = None
) -> Iterator[Task | Reject | RawTask]:
    """Every task of one Label Studio export file, in order (JSON list exports hand tasks
    over unbuilt once `express` is on)."""
    source = open_input(path)
    if source.kind != "file":
        raise ShapeError("give the Label Studio export file itself, not a folder or zip", file=path)
    where = _Where(path, config)
    with open(path, "rb") as fh:
        _skip_bom(fh)
        head = _first_char(fh)
        if head == b"[":
            yield from _read_list(fh, where, express)
            return
        if head == b"{":
            if _is_jsonl(path, fh):
                yield from _read_jsonl(fh, where, express)
                return
            yield from _read_object(fh, where)
            return
        if head == b"":
            return  # a 0-byte export holds no tasks (the run warns that it read none)
        _read_scalar(fh, where)


def _read_object(fh: IO[bytes], where: _Where) -> Iterator[Task | Reject]:
    try:
        obj = json.loads(fh.read())
    except (ValueError, UnicodeDecodeError) as err:
        raise ParseError(f"not valid JSON: {err}", file=where.file, locator="task") from err
    if not isinstance(obj, dict) or "data" not in obj:
        raise ShapeError(
            f"not a Label Studio task or export: it looks like {_looks_like(obj)}",
            file=where.file,
            locator="task",
        )
    yield _task_or_reject(obj, "task", where)


def _read_scalar(fh: IO[bytes], where: _Where) -> None:
    try:
        obj = json.loads(fh.read())
    except (ValueError, UnicodeDecodeError) as err:
        raise ParseError(f"not JSON: {err}", file=where.file, locator="tasks[0]") from err
    raise ShapeError(
        f"not a Label Studio export: the top level is {_looks_like(obj)}, not a list of tasks",
        file=where.file,
        locator="tasks",
    )


class LabelStudioReader:
    """The `labelstudio` reader (see the module docstring)."""

    name = "labelstudio"
    title = "Label Studio (JSON, JSON-MIN, task JSONL)"
    options = (
        ReaderOption(
            "label-config",
            "the project's labeling config XML: declared labels, data keys, JSON-MIN column types",
            is_path=True,
        ),
    )

    def read(
        self, inputs: Sequence[str], options: Options, express: Switch | None = None
    ) -> Iterator[Task | Reject | RawTask]:
        """Every task of every input, in order (the label config is parsed before reading).

        `express` gets the lane's test when the config is a plain text classification or a
        plain box project, or when there is no config."""
        config = parse_label_config(options.label_config) if options.label_config else None
        if express is not None:
            express.extract = (
                text_classification(config, options)
                or rectangle_detection(config, options, express)
                or (without_config(options, express) if config is None else None)
            )
        for path in inputs:
            yield from read_file(path, config, express)

    def default_image_roots(self, inputs: Sequence[str]) -> list[str]:
        """An `images/` folder beside an export, if there is one (the server's paths such as
        `/data/upload/13/e88b91ff-car_door.jpg` are matched there by name); else none: the
        user gives --images-root."""
        roots: list[str] = []
        for path in inputs:
            folder = os.path.join(os.path.dirname(os.path.abspath(path)), "images")
            if os.path.isdir(folder) and folder not in roots:
                roots.append(folder)
        return roots


READER = LabelStudioReader()
