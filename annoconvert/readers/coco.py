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
    by_image: dict[Any, list[dict[str, Any]]] = field(default_factory=dict)
    id_by_name: dict[str, Any] = field(default_factory=dict)


def _load(source: InputSource, f: CocoFile) -> Any:
    display = source.display(f.member)
    with source.open(f.member) as fh:
        raw = fh.read()
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
    anns = data.get("annotations", [])
    if not isinstance(anns, list):
        raise ShapeError("'annotations' is not a list", file=display, locator="annotations")


def is_panoptic(f: CocoFile, data: dict[str, Any]) -> bool:
    """Panoptic by content (annotations carrying `segments_info`), by name when it has none.

    The panopticapi's `panoptic_coco_detection_format.json` is named panoptic but holds
    instances, so content wins.
    """
    anns = data.get("annotations") or []
    if anns and isinstance(anns[0], dict):
        return "segments_info" in anns[0]
    return f.kind == "panoptic"


def _index(f: CocoFile, display: str, data: dict[str, Any]) -> _Doc:
    cats = {c.get("id"): c for c in data.get("categories") or [] if isinstance(c, dict)}
    doc = _Doc(f, display, data["images"], cats)
    for img in doc.images:
        if isinstance(img, dict) and isinstance(img.get("file_name"), str):
            doc.id_by_name.setdefault(img["file_name"], img.get("id"))
    by_image = doc.by_image
    for ann in data.get("annotations") or []:
        if isinstance(ann, dict):
            key = ann.get("image_id")
            bucket = by_image.get(key)
            if bucket is None:
                by_image[key] = [ann]
            else:
                bucket.append(ann)
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
        for n, ann in enumerate(doc.by_image.get(image_id, ())):
            loc = f"annotations[image_id={image_id}][{n}]"
            if kind == "captions":
                regions.append(cr.caption_region(ann, loc))
                continue
            cat = doc.categories.get(ann.get("category_id"))
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
        for i, img in enumerate(doc.images):
            if not isinstance(img, dict) or not isinstance(img.get("file_name"), str):
                yield Reject(
                    img.get("id") if isinstance(img, dict) else None,
                    doc.display,
                    f"images[{i}]",
                    "bad_image",
                    "image record has no string 'file_name'",
                )
                continue
            order.setdefault(img["file_name"], (doc, i, img))
    for name, (first, i, img) in order.items():
        raw_id = img.get("id")
        task_id: int | str = raw_id if isinstance(raw_id, int | str) else name
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
            images=(ImageRef(uri=name, width=_opt_int(width), height=_opt_int(height)),),
            fields=fields,
            annotations=(AnnotationSet(regions=tuple(regions)),),
            subset=subset,
        )
    yield from _orphans(docs)


def _orphans(docs: list[_Doc]) -> Iterator[Reject]:
    """Annotations whose image_id names no image of their file (never dropped silently)."""
    for doc in docs:
        known = {img.get("id") for img in doc.images if isinstance(img, dict)}
        for image_id, anns in doc.by_image.items():
            if image_id not in known:
                yield Reject(
                    image_id,
                    doc.display,
                    f"annotations[image_id={image_id}]",
                    "unknown_image",
                    f"{len(anns)} annotation(s) refer to image_id {image_id!r}, "
                    "which is not in 'images'",
                )


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
