"""COCO reader: instances, stuff, person_keypoints, captions, Datumaro labels, image_info.

Each annotation file is loaded once with orjson while the garbage collector is paused (a bulk
load of millions of small objects is ~4x slower with it running, DESIGN.md §9); an index
image id -> annotation records (references into the document, not copies) is built once.
Regions are converted lazily, one image at a time.

Files of one export folder and subset (`instances_train.json`, `person_keypoints_train.json`,
`captions_train.json` ...) are merged: one Task per image (matched by `file_name`), one anonymous
AnnotationSet holding every region; an image with no annotations gives an empty set. An
annotation id already seen for an image (COCO's person_keypoints repeat the person instances;
Datumaro's stuff file repeats its instances) adds only its keypoints.

Refused: a bare JSON list (COCO results, a category list) -> ShapeError; panoptic files (their
masks live in PNGs) -> ShapeError when given alone, a Reject (code `unsupported_panoptic`) when
they sit in a folder with other COCO files.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import orjson

from annoconvert.errors import ParseError, ShapeError, TaskError
from annoconvert.inputs import InputSource, open_input
from annoconvert.model import AnnotationSet, ImageRef, JsonValue, Region, Reject, Source, Task
from annoconvert.readers import coco_regions as cr
from annoconvert.readers.coco_layout import CocoFile, annotation_files, image_roots
from annoconvert.registry import ReaderOption

if TYPE_CHECKING:
    from annoconvert.options import Options

NAME = "coco"
_INSTANCE_KINDS = frozenset({"instances", "stuff", "person_keypoints"})


@dataclass
class _Doc:
    """One loaded annotation file and its index."""

    file: CocoFile
    display: str
    images: list[dict[str, Any]]
    categories: dict[Any, dict[str, Any]]
    by_image: dict[Any, list[dict[str, Any] | bytes]] = field(default_factory=dict)
    """Annotations by image id: dicts, or their JSON bytes for a large file (see STREAM_FROM)."""
    id_by_name: dict[str, Any] = field(default_factory=dict)
    duplicate_ids: set[Any] = field(default_factory=set)


def _key(value: Any) -> Any:
    """An id usable as a dict key: ints and strings as they are, anything else by its repr
    (a hostile file can hold a list where an id belongs; it must not crash the index)."""
    if isinstance(value, int | str) and not isinstance(value, bool):
        return value
    return repr(value)


def _load(source: InputSource, f: CocoFile) -> Any:
    display = source.display(f.member)
    with source.open(f.member) as fh:
        raw = fh.read()
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]  # a UTF-8 byte order mark, as some Windows editors write
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        raise ParseError(f"not valid JSON: {err}", file=display) from None


def _check_shape(data: Any, display: str) -> None:
    if isinstance(data, list):
        raise ShapeError(
            "this is a bare JSON list (a COCO results file or a category list), not a COCO "
            "dataset with 'images' and 'annotations'",
            file=display,
        )
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise ShapeError("not a COCO dataset: no 'images' list at the top level", file=display)
    for key in ("annotations", "categories"):
        if not isinstance(data.get(key, []), list):
            raise ShapeError(f"{key!r} is not a list", file=display, locator=key)


def is_panoptic(f: CocoFile, data: dict[str, Any]) -> bool:
    """Panoptic by content (annotations carrying `segments_info`), by name when it has none.

    The panopticapi's `panoptic_coco_detection_format.json` is named panoptic but holds
    instances, so content wins.
    """
    anns = data.get("annotations") or []
    first = anns[0] if anns else None
    if isinstance(first, tuple):  # streamed: (image id, JSON bytes)
        first = orjson.loads(first[1])
    if isinstance(first, dict):
        return "segments_info" in first
    return f.kind == "panoptic"


STREAM_FROM = 16 * 1024**2
"""Annotation files from this size on are read in passes with ijson, each annotation kept as
its compact JSON bytes until its image comes: a full load holds 10-16x the file in Python
objects, this about 1.5x (DESIGN.md: under 2x the file)."""


IMAGE_FIELDS = ("id", "file_name", "width", "height")


def _image_fields(img: Any) -> Any:
    """An image record with only what the reader uses (licence, URLs and dates dropped)."""
    if not isinstance(img, dict):
        return img
    return {k: img[k] for k in IMAGE_FIELDS if k in img}


def _load_streaming(source: InputSource, f: CocoFile, display: str) -> Any:
    """`images` and `categories` as objects, `annotations` as (image id, JSON bytes) pairs
    (three passes over the file)."""
    import ijson

    def items(prefix: str) -> Iterator[Any]:
        with source.open(f.member) as fh:
            yield from ijson.items(fh, prefix, use_float=True)

    try:
        with source.open(f.member) as fh:
            head = next(ijson.parse(fh), None)
        if head is not None and head[1] == "start_array":
            return []  # a bare list: _check_shape says what it is
        if head is None or head[1] != "start_map":
            return {}
        data: dict[str, Any] = {
            "images": [_image_fields(img) for img in items("images.item")],
            "categories": list(items("categories.item")),
        }
        dumps = orjson.dumps
        # orjson's result keeps its whole output buffer (about 4 KB for a 150-byte object):
        # a copy holds just the bytes, 1 GB -> 60 MB for 250k annotations
        data["annotations"] = [
            (_key(a.get("image_id")), bytes(memoryview(dumps(a)))) if isinstance(a, dict) else a
            for a in items("annotations.item")
        ]
    except ijson.JSONError as err:
        raise ParseError(f"not valid JSON: {err}", file=display) from None
    return data


def _index(f: CocoFile, display: str, data: dict[str, Any]) -> _Doc:
    cats = {_key(c.get("id")): c for c in data.get("categories") or [] if isinstance(c, dict)}
    doc = _Doc(f, display, data["images"], cats)
    seen_ids: set[Any] = set()
    for img in doc.images:
        if isinstance(img, dict) and isinstance(img.get("file_name"), str):
            image_id = _key(img.get("id"))
            if image_id in seen_ids:
                doc.duplicate_ids.add(image_id)
            seen_ids.add(image_id)
            doc.id_by_name.setdefault(img["file_name"], image_id)
    by_image = doc.by_image
    for ann in data.get("annotations") or []:
        stored: dict[str, Any] | bytes
        if isinstance(ann, tuple):  # (image id, JSON bytes) from _load_streaming
            key, stored = ann
        elif isinstance(ann, dict):
            key, stored = _key(ann.get("image_id")), ann
        else:
            continue
        bucket = by_image.get(key)
        if bucket is None:
            by_image[key] = [stored]
        else:
            bucket.append(stored)
    return doc


def _label_lists(docs: list[_Doc]) -> dict[str, JsonValue]:
    labels: list[str] = []
    tags: list[str] = []
    controls: dict[str, str] = {}
    for doc in docs:
        names = [str(c.get("name")) for _, c in sorted(doc.categories.items(), key=_id_key)]
        target = tags if doc.file.kind == "labels" else labels
        if doc.file.kind in ("captions", "image_info"):
            if doc.file.kind == "captions":
                controls[cr.CAPTION_FIELD] = "textarea"
            continue
        target.extend(n for n in names if n not in target)
        controls[cr.TAG_FIELD if doc.file.kind == "labels" else cr.FIELD] = (
            "choices" if doc.file.kind == "labels" else "labels"
        )
    out: dict[str, Any] = {cr.FIELD: labels}
    if tags:
        out[cr.TAG_FIELD] = tags
    return {"__labels__": out, "__controls__": controls}


def _id_key(item: tuple[Any, Any]) -> tuple[int, Any]:
    key = item[0]
    return (0, key) if isinstance(key, int) else (1, str(key))


def _regions(image_docs: list[tuple[_Doc, Any]], width: Any, height: Any) -> list[Region]:
    """All regions of one image across the group's files; TaskError for a bad record."""
    regions: list[Region] = []
    seen: set[Any] = set()
    for doc, image_id in image_docs:
        kind = doc.file.kind
        for n, stored in enumerate(doc.by_image.get(image_id, ())):
            ann = orjson.loads(stored) if isinstance(stored, bytes) else stored
            loc = f"annotations[image_id={image_id}][{n}]"
            if kind == "captions":
                regions.append(cr.caption_region(ann, loc))
                continue
            cat = doc.categories.get(_key(ann.get("category_id")))
            if cat is None:
                raise TaskError(
                    "unknown_category",
                    f"category_id {ann.get('category_id')!r} is not in 'categories'",
                    locator=f"{loc}.category_id",
                )
            label = str(cat.get("name"))
            if kind == "labels":
                regions.append(cr.label_region(ann, label))
                continue
            w, h = _size(width, height, loc)
            ann_id = ann.get("id")
            repeat = ann_id is not None and ann_id in seen
            seen.add(ann_id)
            if not repeat and kind in _INSTANCE_KINDS:
                box = cr.box_region(ann, label, w, h, loc)
                if box is not None:
                    regions.append(box)
                regions.extend(cr.segmentation_regions(ann, label, w, h, loc))
            names = cat.get("keypoints") if isinstance(cat.get("keypoints"), list) else None
            kp = cr.keypoints_region(ann, label, names, w, h, loc)
            if kp is not None:
                regions.append(kp)
    return regions


def _size(width: Any, height: Any, loc: str) -> tuple[int, int]:
    if isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0:
        return width, height
    raise TaskError(
        "missing_image_size",
        "the image record has no positive integer width/height, needed to normalize geometry",
        locator=loc,
    )


def _group_tasks(docs: list[_Doc], subset: str | None) -> Iterator[Task | Reject]:
    """One Task per image listed by any file of the group, in first-listed order."""
    fields = _label_lists(docs)
    order: dict[str, tuple[_Doc, int, dict[str, Any]]] = {}
    for doc in docs:
        names_here: set[str] = set()
        for i, img in enumerate(doc.images):
            if not isinstance(img, dict) or not isinstance(img.get("file_name"), str):
                yield Reject(
                    _opt_id(img.get("id")) if isinstance(img, dict) else None,
                    doc.display,
                    f"images[{i}]",
                    "bad_image",
                    "image record has no string 'file_name'",
                )
                continue
            name = img["file_name"]
            image_id = _key(img.get("id"))
            if image_id in doc.duplicate_ids:
                yield Reject(
                    _opt_id(img.get("id")),
                    doc.display,
                    f"images[{i}]",
                    "duplicate_image_id",
                    f"image id {img.get('id')!r} is listed more than once, so its annotations "
                    "cannot be told apart",
                )
                continue
            if name in names_here:
                yield Reject(
                    _opt_id(img.get("id")),
                    doc.display,
                    f"images[{i}]",
                    "duplicate_image",
                    f"file_name {name!r} is listed twice in this file",
                )
                continue
            names_here.add(name)
            order.setdefault(name, (doc, i, img))
    for name, (first, i, img) in order.items():
        raw_id = _opt_id(img.get("id"))
        task_id: int | str = raw_id if raw_id is not None else name
        per_doc = [(d, d.id_by_name[name]) for d in docs if name in d.id_by_name]
        width, height = img.get("width"), img.get("height")
        try:
            regions = _regions(per_doc, width, height)
        except TaskError as err:
            yield Reject(
                task_id, first.display, err.locator or f"images[{i}]", err.code, err.message
            )
            continue
        yield Task(
            id=task_id,
            source=Source(NAME, first.display, f"images[{i}]"),
            images=(
                ImageRef(
                    uri=name,
                    width=_opt_int(width),
                    height=_opt_int(height),
                    hint=f"{subset}/{name}" if subset else None,
                ),
            ),
            fields=fields,
            annotations=(AnnotationSet(regions=tuple(regions)),),
            subset=subset,
        )
    yield from _orphans(docs)


def _orphans(docs: list[_Doc]) -> Iterator[Reject]:
    """Annotations whose image_id names no image of their file (never dropped silently)."""
    for doc in docs:
        known = {_key(img.get("id")) for img in doc.images if isinstance(img, dict)}
        for image_id, anns in doc.by_image.items():
            if image_id in doc.duplicate_ids:
                continue  # rejected with their images
            if image_id not in known:
                yield Reject(
                    image_id,
                    doc.display,
                    f"annotations[image_id={image_id}]",
                    "unknown_image",
                    f"{len(anns)} annotation(s) refer to image_id {image_id!r}, "
                    "which is not in 'images'",
                )


def _opt_id(value: Any) -> int | str | None:
    return value if isinstance(value, int | str) and not isinstance(value, bool) else None


def _opt_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _groups(files: list[CocoFile]) -> list[list[CocoFile]]:
    groups: dict[tuple[str, str], list[CocoFile]] = {}
    for f in files:
        groups.setdefault((f.folder, f.subset or ""), []).append(f)
    return [groups[k] for k in sorted(groups)]


def read_input(path: str) -> Iterator[Task | Reject]:
    """Every task of one input (file, folder or zip), groups in sorted (folder, subset) order."""
    source = open_input(path)
    files = annotation_files(source)
    if not files:
        raise ShapeError("no COCO annotation file (*.json) found", file=path)
    only_panoptic = len(files) == 1 or all(f.kind == "panoptic" for f in files)
    for group in _groups(files):
        yield from _read_group(source, group, alone=only_panoptic)


def _read_group(source: InputSource, group: list[CocoFile], alone: bool) -> Iterator[Task | Reject]:
    docs: list[_Doc] = []
    skipped: list[Reject] = []
    enabled = gc.isenabled()
    gc.disable()
    try:
        for f in group:
            display = source.display(f.member)
            if source.size(f.member) >= STREAM_FROM:
                data = _load_streaming(source, f, display)
            else:
                data = _load(source, f)
            _check_shape(data, display)
            if is_panoptic(f, data):
                if alone:
                    raise ShapeError(
                        "COCO panoptic files are not read (their masks are PNG segment maps); "
                        "give the instances file of the same export instead",
                        file=display,
                    )
                skipped.append(
                    Reject(
                        None,
                        display,
                        "annotations",
                        "unsupported_panoptic",
                        "COCO panoptic file not read: its masks are PNG segment maps",
                    )
                )
                continue
            if f.kind == "panoptic":
                f = replace(f, kind="instances")
            docs.append(_index(f, display, data))
            del data
    finally:
        gc.freeze()
        if enabled:
            gc.enable()
    try:
        yield from skipped
        if docs:
            yield from _group_tasks(docs, group[0].subset)
    finally:
        del docs
        gc.unfreeze()


@dataclass(frozen=True)
class CocoReader:
    """The `coco` reader (see module docstring)."""

    name: str = NAME
    title: str = "COCO (instances, keypoints, captions; CVAT, Roboflow, MMDetection layouts)"
    options: tuple[ReaderOption, ...] = ()

    def read(self, inputs: Sequence[str], options: Options) -> Iterator[Task | Reject]:
        """Yield the tasks of every input in order."""
        for path in inputs:
            yield from read_input(path)

    def default_image_roots(self, inputs: Sequence[str]) -> list[str]:
        """Image folders of each file's layout; zip roots are `<zip path>!<prefix in zip>`."""
        roots: list[str] = []
        for path in inputs:
            source = open_input(path)
            for f in annotation_files(source):
                for root in image_roots(source, f):
                    if root not in roots:
                        roots.append(root)
        return roots


READER = CocoReader()
