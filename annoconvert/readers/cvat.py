"""CVAT for images 1.1 / CVAT for video 1.1 XML reader (task, job and project exports).

Streams each XML file with lxml iterparse, clearing every `<image>`/`<track>` when done, so memory
stays flat in images mode. Video mode must gather a frame's objects from every track before the
frame can be written, so it holds the regions (not the XML) until the end of the file.

Choices made here (see docs):
- every geometry region has field "label"; each `<tag>` is a `Choice(field="tags")`;
  `Task.fields["__labels__"] = {"label": meta labels, "tags": labels usable as tags}`;
- images mode: one Task per `<image>`, id = its `name`; an image with no shapes is a Task with an
  empty annotation set;
- video mode: one Task per frame that has an object (a frame where every track is `outside`
  has nothing on it and gives no task: a video lists no frames to annotate, so an empty frame
  is not a task left out); id = the frame number; image uri =
  the `frame_NNNNNN.<ext>` file found under the images folder (`.png` when none is found);
- shapes with `outside="1"` are not objects; track shapes are taken as written (no interpolation).
"""

from __future__ import annotations

import functools
import math
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from lxml import etree

from annoconvert.errors import ShapeError, TaskError, UnsupportedVersionError
from annoconvert.express import RawTask, Switch
from annoconvert.inputs import InputSource, open_input
from annoconvert.model import AnnotationSet, ImageRef, JsonValue, Region, Reject, Source, Task
from annoconvert.readers.cvat_meta import Meta, parse_meta
from annoconvert.readers.cvat_shapes import FIELD, SHAPES, TAG_FIELD, to_region
from annoconvert.registry import ReaderOption
from annoconvert.xmlsafe import iter_events, release

if TYPE_CHECKING:
    from annoconvert.options import Options

NAME = "cvat"
SUPPORTED_VERSIONS = ("1.1",)
_FRAME_RE = re.compile(r"^frame_(\d+)\.[A-Za-z0-9]+$")


def is_outside(elem: etree._Element) -> bool:
    """Whether a shape is marked `outside` (not an object on this image or frame)."""
    return (elem.get("outside") or "0").strip() in ("1", "true", "True")


@dataclass
class _FileState:
    """What one XML file has told so far."""

    display: str
    subset: str | None
    frame_names: dict[int, str]
    meta: Meta = field(default_factory=Meta)
    fields: dict[str, JsonValue] = field(default_factory=dict)
    version_seen: bool = False
    frames: dict[int, list[Region]] = field(default_factory=dict)
    frame_errors: dict[int, TaskError] = field(default_factory=dict)

    def set_meta(self, meta: Meta) -> None:
        self.meta = meta
        self.fields = {
            "__labels__": {FIELD: list(meta.labels), TAG_FIELD: list(meta.tag_labels)},
            "__controls__": {FIELD: "labels", TAG_FIELD: "choices"},
        }


def file_subset(member: str) -> str | None:
    """Subset named by the XML file: `train.xml` -> train; CVAT's own `annotations.xml` -> None."""
    stem = PurePosixPath(member).stem
    return None if stem == "annotations" else stem


def xml_members(source: InputSource) -> list[str]:
    """The CVAT XML files of one input, sorted."""
    if source.kind == "file":
        return source.members()
    return sorted(m for m in source.members() if m.lower().endswith(".xml"))


def _frame_names(source: InputSource, member: str) -> dict[int, str]:
    """frame number -> `frame_NNNNNN.ext` file name found in the export's images folder."""
    names: dict[int, str] = {}
    if source.kind == "file":
        folder = os.path.join(os.path.dirname(source.path), "images")
        found = os.listdir(folder) if os.path.isdir(folder) else []
    else:
        parent = str(PurePosixPath(member).parent)
        prefix = "images/" if parent == "." else f"{parent}/images/"
        found = [m[len(prefix) :] for m in source.members() if m.startswith(prefix)]
    for name in found:
        match = _FRAME_RE.match(name)
        if match:
            names.setdefault(int(match.group(1)), name)
    return names


def _image_task(
    elem: etree._Element, index: int, state: _FileState, file_label: str
) -> Task | Reject:
    """One `<image>` element to a Task (or a Reject when one of its shapes is bad)."""
    name = elem.get("name") or ""
    own_subset = elem.get("subset")
    task_id: str = name
    loc = f"image[{index}]"
    try:
        width = image_size(elem.get("width"), loc, "width")
        height = image_size(elem.get("height"), loc, "height")
        regions: list[Region] = []
        counts: dict[str, int] = {}
        for child in elem.iterchildren():
            tag = child.tag
            if not isinstance(tag, str):
                continue
            k = counts.get(tag, 0)
            counts[tag] = k + 1
            if tag not in SHAPES:
                raise TaskError(
                    "unknown_shape",
                    f"unknown CVAT element <{tag}> in an image",
                    locator=f"{loc}.{tag}[{k}]",
                )
            if is_outside(child):
                continue
            region = to_region(
                child, child.get("label") or "", width, height, state.meta, f"{loc}.{tag}[{k}]"
            )
            if region is not None:
                regions.append(region)
    except TaskError as err:
        return Reject(task_id, file_label, err.locator or loc, err.code, err.message)
    return Task(
        id=task_id,
        source=Source(NAME, file_label, loc),
        images=(
            ImageRef(
                uri=name,
                width=width,
                height=height,
                hint=f"{own_subset}/{name}" if own_subset else None,
            ),
        ),
        fields=state.fields,
        annotations=(AnnotationSet(regions=tuple(regions)),),
        subset=own_subset or state.subset,
    )


def image_size(raw: str | None, loc: str, key: str) -> int | None:
    """A pixel size attribute: a whole number >= 1, None when absent; TaskError otherwise."""
    if raw is not None and len(raw) < 10 and raw.isdecimal() and int(raw) >= 1:
        return int(raw)  # the usual "640": no float round trip (long digit runs: below)
    if raw is None or raw.strip() == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 1 and value == int(value)):
        raise TaskError(
            "bad_image_size",
            f"image size {raw!r} is not a whole number of pixels",
            locator=f"{loc}@{key}",
        )
    return int(value)


def _track(elem: etree._Element, index: int, state: _FileState) -> None:
    """Add a `<track>`'s visible shapes to their frames (outside shapes only mark the frame)."""
    label = elem.get("label") or ""
    track_id = elem.get("id")
    extra_base: dict[str, JsonValue] = {}
    if track_id is not None and track_id.strip().isdigit():
        extra_base["track_id"] = int(track_id)
    sub_points = _sub_track_points(elem)
    counts: dict[str, int] = {}
    for child in elem.iterchildren():
        if not isinstance(child.tag, str) or child.tag in ("attribute", "track"):
            continue
        if child.tag == "skeleton" and sub_points and child.find("points") is None:
            child = _with_children(child, sub_points.get(child.get("frame") or "", []))
        k = counts.get(child.tag, 0)
        counts[child.tag] = k + 1
        loc = f"track[{index}].{child.tag}[{k}]"
        try:
            frame = int(child.get("frame") or "")
        except ValueError:
            raise ShapeError(
                f"track shape <{child.tag}> has no integer frame", file=state.display, locator=loc
            ) from None
        regions = state.frames.setdefault(frame, [])
        if is_outside(child) or frame in state.frame_errors:
            continue
        extra = dict(extra_base)
        extra["keyframe"] = (child.get("keyframe") or "0").strip() in ("1", "true", "True")
        try:
            if child.tag not in SHAPES:
                raise TaskError(
                    "unknown_shape", f"unknown CVAT element <{child.tag}> in a track", locator=loc
                )
            region = to_region(
                child,
                label,
                state.meta.original_width,
                state.meta.original_height,
                state.meta,
                loc,
                extra,
            )
        except TaskError as err:
            state.frame_errors[frame] = err
            continue
        if region is not None:
            regions.append(region)


def _sub_track_points(elem: etree._Element) -> dict[str, list[etree._Element]]:
    """Skeleton tracks in CVAT's Datumaro fork nest one `<track>` per skeleton point:
    frame -> that frame's child `<points>`, each labelled with its sub-track's label."""
    out: dict[str, list[etree._Element]] = {}
    for sub in elem.iterchildren("track"):
        for pt in sub.iterchildren("points"):
            copy = etree.Element("points", attrib={str(k): str(v) for k, v in pt.attrib.items()})
            copy.set("label", sub.get("label") or "")
            out.setdefault(pt.get("frame") or "", []).append(copy)
    return out


def _with_children(skeleton: etree._Element, points: list[etree._Element]) -> etree._Element:
    """A detached copy of a childless skeleton shape holding the given points."""
    copy = etree.Element("skeleton", attrib={str(k): str(v) for k, v in skeleton.attrib.items()})
    for pt in points:
        copy.append(pt)
    return copy


def _frame_tasks(state: _FileState) -> Iterator[Task | Reject]:
    """One Task per frame with an object, in frame order."""
    width, height = state.meta.original_width, state.meta.original_height
    for frame in sorted(state.frames):
        loc = f"frame[{frame}]"
        err = state.frame_errors.get(frame)
        if err is not None:
            yield Reject(frame, state.display, err.locator or loc, err.code, err.message)
            continue
        if not state.frames[frame]:
            continue  # every track is outside here: no object on this frame
        uri = state.frame_names.get(frame, f"frame_{frame:06d}.png")
        yield Task(
            id=frame,
            source=Source(NAME, state.display, loc),
            images=(ImageRef(uri=uri, width=width, height=height),),
            fields={**state.fields, "frame": frame},
            annotations=(AnnotationSet(regions=tuple(state.frames[frame])),),
            subset=state.subset,
        )


def read_file(
    source: InputSource, member: str, express: Switch | None = None
) -> Iterator[Task | Reject | RawTask]:
    """Stream one CVAT XML file into tasks (its images handed over unbuilt once `express` is
    on: the lane reads each element before the next is parsed, and before it is released)."""
    display = source.display(member)
    state = _FileState(display, file_subset(member), {})
    images = 0
    tracks = 0
    with source.open(member) as stream:
        for _event, elem in iter_events(stream, display, ("end",)):
            parent = elem.getparent()
            if parent is None:
                if elem.tag != "annotations":
                    raise ShapeError(
                        f"root element is <{elem.tag}>, not CVAT's <annotations>", file=display
                    )
                continue
            if parent.getparent() is not None:
                continue
            if parent.tag != "annotations":
                raise ShapeError(
                    f"root element is <{parent.tag}>, not CVAT's <annotations>", file=display
                )
            tag = elem.tag
            if tag == "version":
                _check_version((elem.text or "").strip(), display)
                state.version_seen = True
            elif tag == "meta":
                state.set_meta(parse_meta(elem))
            elif tag == "image":
                if express is not None and express.on:
                    build = functools.partial(_image_task, elem, images, state, display)
                    where = Source(NAME, display, f"image[{images}]")
                    # taken at once
                    yield RawTask((elem, state.meta.labels, state.subset), where, build)
                else:
                    yield _image_task(elem, images, state, display)
                images += 1
            elif tag == "track":
                if not state.frame_names and not state.frames:
                    state.frame_names = _frame_names(source, member)
                _track(elem, tracks, state)
                tracks += 1
            elif tag == "tag" and elem.get("frame") is not None:
                _video_tag(elem, state)
            release(elem)
    yield from _frame_tasks(state)


def _video_tag(elem: etree._Element, state: _FileState) -> None:
    """A frame-level `<tag frame=..>` in a video export."""
    frame = int(elem.get("frame") or "0")
    region = to_region(elem, elem.get("label") or "", None, None, state.meta, f"frame[{frame}]")
    if region is not None:
        state.frames.setdefault(frame, []).append(region)


def _check_version(version: str, display: str) -> None:
    if version not in SUPPORTED_VERSIONS:
        raise UnsupportedVersionError(
            f"CVAT XML format version {version!r} is not supported; annoconvert reads "
            f"{', '.join(SUPPORTED_VERSIONS)} (re-export from CVAT as 'CVAT for images 1.1' or "
            "'CVAT for video 1.1')",
            file=display,
            locator="annotations.version",
        )


def _image_roots(source: InputSource) -> list[str]:
    """Folders the CVAT layout keeps images in: `images/` (and `images/<subset>/`)."""
    if source.kind == "file":
        folder = os.path.dirname(os.path.abspath(source.path))
        base = os.path.join(folder, "images")
        if not os.path.isdir(base):
            return [folder]
        subdirs = sorted(d.path for d in os.scandir(base) if d.is_dir())
        return [base, *subdirs]
    members = source.members()
    prefixes: list[str] = []
    for xml in xml_members(source):
        parent = PurePosixPath(xml).parent
        prefix = "images" if str(parent) == "." else f"{parent}/images"
        inside = [m[len(prefix) + 1 :] for m in members if m.startswith(prefix + "/")]
        if inside and prefix not in prefixes:
            prefixes.append(prefix)
            # project exports keep images/<subset>/<name>
            subs = sorted({m.split("/", 1)[0] for m in inside if "/" in m})
            prefixes.extend(f"{prefix}/{s}" for s in subs)
    if not prefixes:
        prefixes = [""]
    if source.kind == "dir":
        return [os.path.join(source.path, p) if p else source.path for p in prefixes]
    return [f"{source.path}!{p}" for p in prefixes]


@dataclass(frozen=True)
class CvatReader:
    """The `cvat` reader (see module docstring)."""

    name: str = NAME
    title: str = "CVAT for images / video 1.1 XML"
    options: tuple[ReaderOption, ...] = ()

    def read(
        self, inputs: Sequence[str], options: Options, express: Switch | None = None
    ) -> Iterator[Task | Reject | RawTask]:
        """Yield the tasks of every XML file of every input, in order (files sorted);
        `express` gets the lane's test for the first file's images (see `cvat_express`)."""
        if express is not None:
            from annoconvert.readers.cvat_express import box_detection  # it imports this module

            express.extract = box_detection(options, express)
        first = True
        for path in inputs:
            source = open_input(path)
            members = xml_members(source)
            if not members:
                raise ShapeError("no CVAT XML file (*.xml) found", file=path)
            for member in members:
                yield from read_file(source, member, express if first else None)
                first = False

    def default_image_roots(self, inputs: Sequence[str]) -> list[str]:
        """`images/` beside each XML; zip roots are written `<zip path>!<prefix in zip>`."""
        roots: list[str] = []
        for path in inputs:
            for root in _image_roots(open_input(path)):
                if root not in roots:
                    roots.append(root)
        return roots


READER = CvatReader()
