"""One Doccano record's labels -> model regions, one small function per project type.

Each function returns None when the record's label lists are empty (in Doccano that means the
user did not annotate the example), or the regions plus the number of span offsets remapped
from UTF-16. Problems raise `TaskError` with a locator relative to the record (`label[2]`).

Field names: classification `label` (Choice), intent `cats` (Choice) + `entities` (Span),
sequence labeling `label` (Span), relations `entities` (Span, id = entity id) + `relations`,
seq2seq `label` (TextAnswer), captioning `caption`, speech `transcript`, boxes `bbox`,
polygons `segmentation` (pixels normalized with the image size, which Doccano does not record).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from annoconvert import geometry
from annoconvert.errors import TaskError
from annoconvert.model import Box, Choice, Polygon, Region, Relation, Span, TextAnswer
from annoconvert.readers.doccano_offsets import Resolved, has_astral, resolve_spans, span_error

ImageSize = Callable[[str], "tuple[int, int] | None"]
Converted = tuple[tuple[Region, ...], int]

PIXEL_TOLERANCE = 1.0
"""How far (pixels) a box or point may lie outside the image before it is rejected."""


@dataclass(frozen=True)
class Context:
    """What converting a record needs besides the record: offsets rule and image sizes."""

    project_type: str
    offsets: str
    image_size: ImageSize


def _err(code: str, message: str, locator: str) -> TaskError:
    return TaskError(code, message, locator=locator)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_num(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _list(data: dict[str, Any], key: str, project_type: str) -> list[Any]:
    if key not in data:
        raise _err(
            "bad_record", f"the record has no {key!r} key, which a {project_type} example has", key
        )
    value = data[key]
    if not isinstance(value, list):
        raise _err("bad_record", f"{key!r} is a {type(value).__name__}, not a list", key)
    return value


def _strings(values: list[Any], key: str) -> tuple[str, ...]:
    for i, value in enumerate(values):
        if not isinstance(value, str):
            raise _err("bad_label", f"{key}[{i}] is {value!r}, not a string", f"{key}[{i}]")
    return tuple(values)


def choices(data: dict[str, Any], key: str, ctx: Context) -> Converted | None:
    """Classification labels (duplicates of a collaborative export kept as given)."""
    values = _list(data, key, ctx.project_type)
    if not values:
        return None
    return (Choice(field=key, labels=_strings(values, key)),), 0


def text_answers(data: dict[str, Any], field: str, ctx: Context) -> Converted | None:
    """Seq2seq targets, captions, transcripts: the `label` list of strings."""
    values = _list(data, "label", ctx.project_type)
    if not values:
        return None
    return (TextAnswer(field=field, texts=_strings(values, "label")),), 0


def make_spans(
    text: str,
    raw: Sequence[tuple[int, int, str, str | None]],
    field: str,
    key: str,
    offsets: str,
) -> tuple[list[Span], int]:
    """Validated spans (start, end, label, id) on `text`; offsets read per doccano_offsets."""
    resolved = resolve_spans(text, [(s, e) for s, e, _, _ in raw], offsets)
    spans: list[Span] = []
    remapped = 0
    for i, (result, (start, end, label, span_id)) in enumerate(zip(resolved, raw, strict=True)):
        if not isinstance(result, Resolved):
            err = span_error(result, text, start, end, offsets)
            err.locator = f"{key}[{i}]"
            raise err
        remapped += result.remapped
        spans.append(
            Span(
                field=field,
                start=result.start,
                end=result.end,
                labels=(label,),
                text=text[result.start : result.end],
                id=span_id,
            )
        )
    return spans, remapped


def _tuple_spans(values: list[Any], key: str) -> list[tuple[int, int, str, str | None]]:
    raw: list[tuple[int, int, str, str | None]] = []
    for i, item in enumerate(values):
        if (
            not isinstance(item, list | tuple)
            or len(item) != 3
            or not _is_int(item[0])
            or not _is_int(item[1])
            or not isinstance(item[2], str)
        ):
            raise _err(
                "bad_span", f"{key}[{i}] is {item!r}, not [start, end, label]", f"{key}[{i}]"
            )
        raw.append((item[0], item[1], item[2], None))
    return raw


def _fast_spans(text: str, values: list[Any], field: str) -> list[Span] | None:
    """Spans on a text without astral characters (both offset units agree), or None when any
    item needs the careful path (bad shape or out of range: it then reports the error)."""
    n = len(text)
    spans: list[Span] = []
    for item in values:
        if type(item) is not list or len(item) != 3:
            return None
        start, end, label = item
        if type(start) is not int or type(end) is not int or type(label) is not str:
            return None
        if not 0 <= start < end <= n:
            return None
        spans.append(Span(field, start, end, (label,), text[start:end]))
    return spans


def _spans_from_tuples(
    text: str, values: list[Any], field: str, key: str, offsets: str
) -> tuple[list[Span], int]:
    if not has_astral(text):
        fast = _fast_spans(text, values, field)
        if fast is not None:
            return fast, 0
    return make_spans(text, _tuple_spans(values, key), field, key, offsets)


def sequence_labels(data: dict[str, Any], text: str, ctx: Context, key: str) -> Converted | None:
    """`label` (or legacy `labels`) lists of [start, end, TYPE]."""
    values = _list(data, key, ctx.project_type)
    if not values:
        return None
    spans, remapped = _spans_from_tuples(text, values, "label", key, ctx.offsets)
    return tuple(spans), remapped


def intent(data: dict[str, Any], text: str, ctx: Context) -> Converted | None:
    """`cats` (Choice) and `entities` ([start, end, TYPE]) spans."""
    cats = _list(data, "cats", ctx.project_type)
    entities = _list(data, "entities", ctx.project_type)
    if not cats and not entities:
        return None
    regions: list[Region] = []
    if cats:
        regions.append(Choice(field="cats", labels=_strings(cats, "cats")))
    spans, remapped = _spans_from_tuples(text, entities, "entities", "entities", ctx.offsets)
    regions.extend(spans)
    return tuple(regions), remapped


def _dict_item(item: Any, key: str, i: int, fields: dict[str, Callable[[Any], bool]]) -> None:
    if not isinstance(item, dict) or any(
        name not in item or not check(item[name]) for name, check in fields.items()
    ):
        wanted = ", ".join(fields)
        raise _err("bad_record", f"{key}[{i}] is {item!r}, not a dict with {wanted}", f"{key}[{i}]")


def _is_id(value: Any) -> bool:
    return _is_int(value) or isinstance(value, str)


def relations(data: dict[str, Any], text: str, ctx: Context) -> Converted | None:
    """`entities` dicts (id, label, start_offset, end_offset) and `relations` dicts."""
    entities = _list(data, "entities", ctx.project_type)
    links = _list(data, "relations", ctx.project_type)
    if not entities and not links:
        return None
    raw: list[tuple[int, int, str, str | None]] = []
    for i, item in enumerate(entities):
        _dict_item(
            item,
            "entities",
            i,
            {
                "id": _is_id,
                "label": lambda v: isinstance(v, str),
                "start_offset": _is_int,
                "end_offset": _is_int,
            },
        )
        raw.append((item["start_offset"], item["end_offset"], item["label"], str(item["id"])))
    spans, remapped = make_spans(text, raw, "entities", "entities", ctx.offsets)
    known = {s.id for s in spans}
    regions: list[Region] = list(spans)
    for i, item in enumerate(links):
        _dict_item(
            item,
            "relations",
            i,
            {"from_id": _is_id, "to_id": _is_id, "type": lambda v: isinstance(v, str)},
        )
        ends = (str(item["from_id"]), str(item["to_id"]))
        missing = [e for e in ends if e not in known]
        if missing:
            raise _err(
                "bad_relation",
                f"relations[{i}] links entity {missing[0]}, which this record does not hold",
                f"relations[{i}]",
            )
        rel_id = item.get("id")
        regions.append(
            Relation(
                from_id=ends[0],
                to_id=ends[1],
                labels=(item["type"],),
                field="relations",
                id=str(rel_id) if _is_id(rel_id) else None,
            )
        )
    return tuple(regions), remapped


def _size(filename: str, ctx: Context) -> tuple[int, int]:
    size = ctx.image_size(filename)
    if size is None:
        raise _err(
            "missing_image_size",
            f"the pixel size of {filename!r} is unknown: Doccano exports no image size and the "
            "image was not found under the image roots (give --images-root)",
            "filename",
        )
    return size


def _inside(x: float, y: float, w: int, h: int) -> bool:
    tol = PIXEL_TOLERANCE
    return -tol <= x <= w + tol and -tol <= y <= h + tol


def boxes(data: dict[str, Any], filename: str, ctx: Context) -> Converted | None:
    """`bbox` dicts (uuid, x, y, width, height, label) in pixels of the original image."""
    values = _list(data, "bbox", ctx.project_type)
    if not values:
        return None
    w_img, h_img = _size(filename, ctx)
    out: list[Region] = []
    for i, item in enumerate(values):
        loc = f"bbox[{i}]"
        _dict_item(
            item,
            "bbox",
            i,
            {
                "x": _is_num,
                "y": _is_num,
                "width": _is_num,
                "height": _is_num,
                "label": lambda v: isinstance(v, str),
            },
        )
        x, y, bw, bh = (float(item[k]) for k in ("x", "y", "width", "height"))
        if bw <= 0 or bh <= 0:
            raise _err("bad_box", f"{loc} has a size of {bw} x {bh} pixels", loc)
        if not (_inside(x, y, w_img, h_img) and _inside(x + bw, y + bh, w_img, h_img)):
            raise _err(
                "bad_box",
                f"{loc} ({x}, {y}, {bw} x {bh}) lies outside the {w_img} x {h_img} image "
                f"{filename!r}: is the file under the image roots the one that was annotated?",
                loc,
            )
        nx, ny, nw, nh, _rot = geometry.pixel_xywh_box(x, y, bw, bh, w_img, h_img)
        uid = item.get("uuid")
        out.append(
            Box(
                field="bbox",
                labels=(item["label"],),
                x=nx,
                y=ny,
                width=nw,
                height=nh,
                image_width=w_img,
                image_height=h_img,
                id=uid if isinstance(uid, str) else None,
            )
        )
    return tuple(out), 0


def polygons(data: dict[str, Any], filename: str, ctx: Context) -> Converted | None:
    """`segmentation` dicts (uuid, flat pixel `points`, label); the polygon closes itself."""
    values = _list(data, "segmentation", ctx.project_type)
    if not values:
        return None
    w_img, h_img = _size(filename, ctx)
    out: list[Region] = []
    for i, item in enumerate(values):
        loc = f"segmentation[{i}]"
        _dict_item(
            item,
            "segmentation",
            i,
            {"points": lambda v: isinstance(v, list), "label": lambda v: isinstance(v, str)},
        )
        flat = item["points"]
        if len(flat) % 2 or len(flat) < 6 or not all(_is_num(v) for v in flat):
            raise _err(
                "bad_polygon",
                f"{loc} points must be an even list of at least 3 x,y pixel pairs, got "
                f"{len(flat)} values",
                loc,
            )
        pairs = geometry.flat_to_points(flat)
        if not all(_inside(px, py, w_img, h_img) for px, py in pairs):
            raise _err(
                "bad_polygon",
                f"{loc} has points outside the {w_img} x {h_img} image {filename!r}",
                loc,
            )
        uid = item.get("uuid")
        out.append(
            Polygon(
                field="segmentation",
                labels=(item["label"],),
                points=geometry.pixel_points(pairs, w_img, h_img),
                image_width=w_img,
                image_height=h_img,
                id=uid if isinstance(uid, str) else None,
            )
        )
    return tuple(out), 0


def convert(
    data: dict[str, Any], text: str | None, filename: str | None, ctx: Context
) -> Converted | None:
    """The regions of one (1.7+ shape) record for the project type in `ctx`."""
    pt = ctx.project_type
    if pt in ("DocumentClassification", "ImageClassification"):
        return choices(data, "label", ctx)
    if pt == "Seq2seq":
        return text_answers(data, "label", ctx)
    if pt == "ImageCaptioning":
        return text_answers(data, "caption", ctx)
    if pt == "Speech2text":
        return text_answers(data, "transcript", ctx)
    if pt in ("BoundingBox", "Segmentation"):
        if filename is None:
            raise _err("bad_record", f"a {pt} example has a 'filename'", "filename")
        return boxes(data, filename, ctx) if pt == "BoundingBox" else polygons(data, filename, ctx)
    if text is None:
        raise _err("bad_record", f"a {pt} example has a 'text'", "text")
    if pt == "SequenceLabeling":
        return sequence_labels(
            data, text, ctx, "labels" if "labels" in data and "label" not in data else "label"
        )
    if pt == "IntentDetectionAndSlotFilling":
        return intent(data, text, ctx)
    return relations(data, text, ctx)


def legacy_sets(
    data: dict[str, Any], text: str | None, ctx: Context
) -> list[tuple[str | None, Converted]]:
    """Legacy (<=1.6) `annotations`: one set per `user` id, in order of first appearance.

    Label ids stay ids (`"12"`): the legacy export does not carry the label names.
    """
    annotations = _list(data, "annotations", ctx.project_type)
    by_user: dict[str | None, list[tuple[int, dict[str, Any]]]] = {}
    for i, ann in enumerate(annotations):
        if not isinstance(ann, dict):
            raise _err("bad_record", f"annotations[{i}] is not a dict", f"annotations[{i}]")
        user = ann.get("user")
        by_user.setdefault(None if user is None else str(user), []).append((i, ann))
    out: list[tuple[str | None, Converted]] = []
    for user, items in by_user.items():
        out.append((user, _legacy_regions(items, text, ctx)))
    return out


def _legacy_label(ann: dict[str, Any], i: int) -> str:
    label = ann.get("label")
    if isinstance(label, str) or _is_int(label):
        return str(label)
    raise _err("bad_label", f"annotations[{i}].label is {label!r}", f"annotations[{i}].label")


def _legacy_regions(
    items: list[tuple[int, dict[str, Any]]], text: str | None, ctx: Context
) -> Converted:
    if ctx.project_type == "SequenceLabeling":
        if text is None:
            raise _err("bad_record", "a SequenceLabeling example has a 'text'", "text")
        raw: list[tuple[int, int, str, str | None]] = []
        for i, ann in items:
            s, e = ann.get("start_offset"), ann.get("end_offset")
            if not isinstance(s, int) or not isinstance(e, int) or not _is_int(s) or not _is_int(e):
                raise _err(
                    "bad_span", f"annotations[{i}] has no integer offsets", f"annotations[{i}]"
                )
            ann_id = ann.get("id")
            raw.append((s, e, _legacy_label(ann, i), str(ann_id) if _is_id(ann_id) else None))
        spans, remapped = make_spans(text, raw, "label", "annotations", ctx.offsets)
        return tuple(spans), remapped
    if ctx.project_type in ("Seq2seq", "ImageCaptioning", "Speech2text"):
        texts: list[str] = []
        for i, ann in items:
            value = ann.get("text")
            if not isinstance(value, str):
                raise _err("bad_label", f"annotations[{i}].text is {value!r}", f"annotations[{i}]")
            texts.append(value)
        field = {"Seq2seq": "label", "ImageCaptioning": "caption"}.get(
            ctx.project_type, "transcript"
        )
        return (TextAnswer(field=field, texts=tuple(texts)),), 0
    labels = tuple(_legacy_label(ann, i) for i, ann in items)
    return (Choice(field="label", labels=labels),), 0
