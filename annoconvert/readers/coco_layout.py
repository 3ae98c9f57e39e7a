"""Where COCO exports keep their annotation files and images.

Layouts recognised in a folder or zip (and for a single JSON file, by its name and neighbours):
- CVAT COCO 1.0 / Datumaro: `annotations/<kind>_<subset>.json` + `images/<subset>/` (older CVAT:
  flat `images/`);
- MMDetection: `annotations/instances_<subset>.json` + `<subset>/`;
- Roboflow: `<subset>/_annotations.coco.json` beside its images;
- plain: any other `*.json` (read only when no file of the forms above is present), images
  beside it or in `images/`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from annoconvert.inputs import InputSource

KINDS = ("instances", "stuff", "person_keypoints", "labels", "captions", "image_info", "panoptic")
"""Task files in the order their annotations are merged into one image's regions."""
_KIND_RE = re.compile(r"^(" + "|".join(KINDS) + r")_(.+)\.json$")
ROBOFLOW_NAME = "_annotations.coco.json"


@dataclass(frozen=True)
class CocoFile:
    """One annotation file of an input: its member path, task kind, subset and layout folder."""

    member: str
    kind: str
    subset: str | None
    layout: str
    """'cvat' (annotations/ + images/), 'roboflow' or 'plain'."""

    @property
    def folder(self) -> str:
        """The export's top folder (relative to the input), '' for its root."""
        parent = PurePosixPath(self.member).parent
        if self.layout == "cvat":
            parent = parent.parent
        return "" if str(parent) == "." else str(parent)


def classify(member: str, parent_name: str | None = None) -> CocoFile:
    """Kind, subset and layout of one JSON member from its name and place.

    `parent_name` names the member's folder when the member path does not (a single file).
    """
    path = PurePosixPath(member)
    parent = path.parent.name if parent_name is None else parent_name
    match = _KIND_RE.match(path.name)
    if match:
        layout = "cvat" if parent == "annotations" else "plain"
        return CocoFile(member, match.group(1), match.group(2), layout)
    if path.name == ROBOFLOW_NAME:
        subset = parent or None
        return CocoFile(member, "instances", subset, "roboflow")
    return CocoFile(member, "instances", None, "plain")


def annotation_files(source: InputSource) -> list[CocoFile]:
    """The COCO files of one input; plain JSON files only when no named one exists."""
    if source.kind == "file":
        parent = os.path.basename(os.path.dirname(os.path.abspath(source.path)))
        return [classify(source.members()[0], parent)]
    members = [m for m in source.members() if m.lower().endswith(".json")]
    files = [classify(m) for m in members]
    named = [
        f for f in files if f.layout != "plain" or _KIND_RE.match(PurePosixPath(f.member).name)
    ]
    chosen = named or files
    return sorted(chosen, key=lambda f: (f.folder, f.subset or "", KINDS.index(f.kind), f.member))


def _join(*parts: str) -> str:
    return "/".join(p for p in parts if p)


def has_dir(source: InputSource, rel: str) -> bool:
    """True when the folder `rel` (relative to the input's root) exists in the input."""
    if source.kind == "file":
        return os.path.isdir(os.path.join(os.path.dirname(os.path.abspath(source.path)), rel))
    if source.kind == "dir":
        return os.path.isdir(os.path.join(source.path, rel))
    return any(m.startswith(rel + "/") for m in source.members())


def root_string(source: InputSource, rel: str) -> str:
    """How a root is handed to the media layer: a directory path, or `<zip>!<prefix>`."""
    if source.kind == "file":
        base = os.path.dirname(os.path.abspath(source.path))
        return os.path.normpath(os.path.join(base, rel)) if rel else base
    if source.kind == "dir":
        return os.path.normpath(os.path.join(source.path, rel)) if rel else source.path
    return f"{source.path}!{rel}"


def image_roots(source: InputSource, f: CocoFile) -> list[str]:
    """Image folders for one annotation file, most specific first."""
    folder = "" if source.kind == "file" and f.layout != "cvat" else f.folder
    if source.kind == "file" and f.layout == "cvat":
        folder = ".."
    candidates: list[str] = []
    if f.layout == "cvat":
        if f.subset:
            candidates += [_join(folder, "images", f.subset), _join(folder, f.subset)]
        candidates.append(_join(folder, "images"))
    elif f.layout == "plain":
        candidates.append(_join(folder, "images"))
    found = [c for c in candidates if has_dir(source, c)]
    if not found:
        found = [folder if f.layout != "cvat" else _join(folder, "images")]
        if f.layout == "cvat" and not has_dir(source, found[0]):
            found = [folder]
    return [root_string(source, c) for c in found]
