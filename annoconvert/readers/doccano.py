"""The Doccano reader: every project type and export shape of Doccano 1.7+ and legacy <=1.6.

An input is an export file, the zip as Doccano serves it, or a folder holding its files. In
individual mode the zip holds one file per user (`alice.jsonl`): each file is that user's
annotation set, and an empty label list means the user did not annotate the example. In
collaborative mode it holds `all.jsonl`: one merged set with no annotator (duplicates kept as
given) and `fields["__collaborative__"] = True`. Legacy records carry `user` ids instead.

The project type is detected from the keys (`doccano_detect`) and announced through the
`on_warning` callback as a `Warning_` with code `detected_project_type`; `--project-type`
overrides it. Boxes and polygons are pixels without an image size: the `image_size` callback
(uri -> (width, height) or None) gives it; without one, the image header is read with Pillow
under the image roots. Reserved fields this reader sets: `__project_type__`, `__controls__`,
`__collaborative__`, `__comments__` ([{annotator, text}]), `__remapped_offsets__` (spans read
as UTF-16 and remapped, when any), `audio` (Speech2text file name).
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Generator, Iterator, Sequence
from typing import Any

from annoconvert.errors import ShapeError, TaskError
from annoconvert.express import RawTask, Switch
from annoconvert.inputs import InputSource, open_input
from annoconvert.model import AnnotationSet, ImageRef, Reject, Source, Task, Warning_
from annoconvert.options import Options
from annoconvert.readers.doccano_detect import (
    PROJECT_TYPES,
    Detection,
    detect,
    normalize_project_type,
)
from annoconvert.readers.doccano_images import pillow_image_size
from annoconvert.readers.doccano_merge import Group, merge
from annoconvert.readers.doccano_records import Record, iter_member, member_format
from annoconvert.readers.doccano_regions import Context, ImageSize, convert, legacy_sets
from annoconvert.registry import ReaderOption

log = logging.getLogger(__name__)

WarningSink = Callable[[Warning_], None]

KNOWN_KEYS = frozenset(
    {
        "id",
        "text",
        "data",
        "filename",
        "label",
        "labels",
        "cats",
        "entities",
        "relations",
        "bbox",
        "segmentation",
        "annotations",
        "Comments",
    }
)
IMAGE_TYPES = frozenset({"ImageClassification", "BoundingBox", "Segmentation", "ImageCaptioning"})
CONTROLS: dict[str, dict[str, str]] = {
    "DocumentClassification": {"label": "choices"},
    "SequenceLabeling": {"label": "labels"},
    "RelationExtraction": {"entities": "labels", "relations": "relations"},
    "Seq2seq": {"label": "textarea"},
    "IntentDetectionAndSlotFilling": {"cats": "choices", "entities": "labels"},
    "ImageClassification": {"label": "choices"},
    "BoundingBox": {"bbox": "rectanglelabels"},
    "Segmentation": {"segmentation": "polygonlabels"},
    "ImageCaptioning": {"caption": "textarea"},
    "Speech2text": {"transcript": "textarea"},
}
COLLABORATIVE_STEM = "all"


def _log_warning(warning: Warning_) -> None:
    log.warning("%s", warning.message)


def export_members(source: InputSource) -> list[str]:
    """The export files of an input, sorted by name (one format; ShapeError otherwise)."""
    if source.kind == "file":
        return source.members()
    members = sorted(m for m in source.members() if member_format(m) is not None)
    if not members:
        raise ShapeError(
            "holds no Doccano export file (.jsonl, .json, .csv or fastText .txt)", file=source.path
        )
    formats = {os.path.splitext(m)[1].lower() for m in members}
    if len(formats) > 1:
        raise ShapeError(
            f"mixes export formats ({', '.join(sorted(formats))}): give the folder or zip of one "
            f"export ({', '.join(members[:4])}...)",
            file=source.path,
        )
    return members


def member_annotator(member: str) -> str | None:
    """The user a member file belongs to: its stem; None for the collaborative `all` file."""
    stem = os.path.splitext(os.path.basename(member))[0]
    return None if stem == COLLABORATIVE_STEM else stem


class DoccanoReader:
    """Reads Doccano exports (see the module docstring)."""

    name = "doccano"
    title = "Doccano 1.7+ and legacy exports (JSONL, JSON, CSV, fastText; file, folder or zip)"
    options = (
        ReaderOption(
            "project-type",
            "the Doccano project type, when detection from the keys is wrong",
            choices=PROJECT_TYPES,
        ),
        ReaderOption(
            "offsets",
            "span offset unit: auto tells UTF-16 (web UI) from code points (imports) per span",
            choices=("auto", "codepoint", "utf16"),
            default="auto",
        ),
        ReaderOption(
            "targets",
            "seq2seq: train on all target texts of an example or only the first",
            choices=("all", "first"),
            default="all",
        ),
    )

    def default_image_roots(self, inputs: Sequence[str]) -> list[str]:
        """Doccano exports hold no images: look beside the export (its folder)."""
        roots: list[str] = []
        for path in inputs:
            root = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
            if root not in roots:
                roots.append(root)
        return roots

    def read(
        self,
        inputs: Sequence[str],
        options: Options,
        *,
        image_size: ImageSize | None = None,
        on_warning: WarningSink | None = None,
        express: Switch | None = None,
    ) -> Iterator[Task | Reject | RawTask]:
        """Yield every task of every input in order; rejects for bad lines and bad examples.
        `express` gets the lane's test for the first input's examples when it is a document
        classification export (see `doccano_express`)."""
        warn = on_warning or _log_warning
        if image_size is None:
            roots = list(options.images_root) or self.default_image_roots(inputs)
            image_size = pillow_image_size(roots)
        forced = normalize_project_type(options.project_type) if options.project_type else None
        for group in _input_groups(inputs):
            pairs = [(source, m) for source in group for m in export_members(source)]
            label = ", ".join(source.path for source in group)
            detection = self._detection(pairs, forced)
            warn(
                Warning_(
                    "detected_project_type",
                    f"doccano: detected project type {detection.project_type} ({detection.reason})",
                    file=label,
                )
            )
            ctx = Context(detection.project_type, options.offsets, image_size)
            lane = None
            if express is not None:  # the first input only: its project type is the lane's
                from annoconvert.readers.doccano_express import text_classification

                express.extract = text_classification(detection.project_type, options)
                lane, express = express, None
            yield from _Builder(ctx, warn, label).tasks(pairs, lane)

    def _detection(self, pairs: list[tuple[InputSource, str]], forced: str | None) -> Detection:
        if forced:
            return Detection(forced, False, "from --project-type")

        def records() -> Generator[tuple[dict[str, Any], str, str], None, None]:
            for source, member in pairs:
                for item in iter_member(source, member):
                    if isinstance(item, Record):
                        yield item.data, item.file, item.locator

        stream = records()
        try:
            return detect(stream)
        finally:
            stream.close()


def _input_groups(inputs: Sequence[str]) -> list[list[InputSource]]:
    """Inputs read together: consecutive single user files (`alice.jsonl bob.jsonl`) are one
    project's annotation sets and merge by example id, like the zip; a folder or zip is one."""
    groups: list[list[InputSource]] = []
    previous_was_file = False
    for path in inputs:
        source = open_input(path)
        is_user_file = source.kind == "file" and member_annotator(path) is not None
        if is_user_file and previous_was_file:
            groups[-1].append(source)
        else:
            groups.append([source])
        previous_was_file = is_user_file
    return groups


class _Builder:
    """Turns merged record groups of one input into Tasks (state: duplicate image names)."""

    def __init__(self, ctx: Context, warn: WarningSink, path: str):
        self.ctx = ctx
        self.warn = warn
        self.path = path
        self.image_ids: dict[str, Any] = {}
        self.controls = CONTROLS[ctx.project_type]

    def tasks(
        self, pairs: list[tuple[InputSource, str]], express: Switch | None = None
    ) -> Iterator[Task | Reject | RawTask]:
        """The input's tasks (handed over unbuilt once `express` is on)."""
        streams = [(member_annotator(m), iter_member(source, m)) for source, m in pairs]
        count = 0
        for group in merge(streams):
            if isinstance(group, Reject):
                yield group
                continue
            count += 1
            if express is not None and express.on:
                first = group[0][1]
                where = Source("doccano", first.file, first.locator)
                yield RawTask(group, where, functools.partial(self.task, group))
            else:
                yield self.task(group)
        if count == 0:
            self.warn(
                Warning_("empty_export", "doccano: the export holds no examples", file=self.path)
            )

    def task(self, group: Group) -> Task | Reject:
        first = group[0][1]
        data = first.data
        task_id = data.get("id", first.index)
        if not isinstance(task_id, int | str) or isinstance(task_id, bool):
            task_id = first.index
        text = data.get("text", data.get("data"))
        filename = data.get("filename")
        pt = self.ctx.project_type
        try:
            text, filename = _check_inputs(pt, text, filename)
        except TaskError as err:
            return Reject(
                task_id, first.file, f"{first.locator}.{err.locator}", err.code, err.message
            )
        sets: list[AnnotationSet] = []
        comments: list[dict[str, Any]] = []
        remapped = 0
        collaborative = False
        for annotator, record in group:
            rd = record.data
            if record is not first and _differs(rd, text, filename):
                return Reject(
                    task_id,
                    record.file,
                    record.locator,
                    "example_mismatch",
                    f"example {task_id} has a different text or file name here than in "
                    f"{first.file}: are these files from one export?",
                )
            try:
                if "annotations" in rd and isinstance(rd["annotations"], list):
                    for user, (regions, n) in legacy_sets(rd, text, self.ctx):
                        sets.append(AnnotationSet(regions=regions, annotator=user))
                        remapped += n
                else:
                    collaborative = collaborative or annotator is None
                    converted = convert(rd, text, filename, self.ctx)
                    if converted is not None:
                        sets.append(AnnotationSet(regions=converted[0], annotator=annotator))
                        remapped += converted[1]
            except TaskError as err:
                return Reject(
                    task_id, record.file, f"{record.locator}.{err.locator}", err.code, err.message
                )
            if rd.get("Comments"):
                comments.extend(_comments(rd["Comments"], annotator))
        fields = {k: v for k, v in data.items() if k not in KNOWN_KEYS}
        fields["__project_type__"] = pt
        fields["__controls__"] = dict(self.controls)
        if collaborative:
            fields["__collaborative__"] = True
        if comments:
            fields["__comments__"] = comments
        if remapped:
            fields["__remapped_offsets__"] = remapped
        images: tuple[ImageRef, ...] = ()
        if filename is not None:
            if pt == "Speech2text":
                fields["audio"] = filename
            else:
                images = (ImageRef(uri=filename),)
                self._check_duplicate(filename, task_id, first)
        return Task(
            id=task_id,
            source=Source("doccano", first.file, first.locator),
            text=text,
            images=images,
            fields=fields,
            annotations=tuple(sets),
        )

    def _check_duplicate(self, filename: str, task_id: Any, record: Record) -> None:
        seen = self.image_ids.setdefault(filename, task_id)
        if seen != task_id:
            self.warn(
                Warning_(
                    "duplicate_image_name",
                    f"doccano: examples {seen} and {task_id} both name the image {filename!r}; "
                    "Doccano exports only upload names, so the file under the image roots "
                    "may belong to either: check their boxes",
                    task=task_id,
                    file=record.file,
                )
            )


def _differs(data: dict[str, Any], text: str | None, filename: str | None) -> bool:
    """True when another user's record of the same example shows other input data."""
    other = data.get("text", data.get("data"))
    return (text is not None and other != text) or data.get("filename") != filename


def _check_inputs(pt: str, text: Any, filename: Any) -> tuple[str | None, str | None]:
    if pt in IMAGE_TYPES or pt == "Speech2text":
        if not isinstance(filename, str) or not filename:
            raise TaskError("bad_record", f"a {pt} example has a 'filename'", locator="filename")
        return None, filename
    if not isinstance(text, str):
        raise TaskError("bad_record", f"a {pt} example has a 'text' string", locator="text")
    return text, None


def _comments(value: Any, annotator: str | None) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        return []
    out: list[dict[str, Any]] = []
    for item in value:
        body = item.get("comment") if isinstance(item, dict) else item
        if isinstance(body, str):
            out.append({"annotator": annotator, "text": body})
    return out


READER = DoccanoReader()
