"""CVAT XML `<meta>`: declared labels, their attribute types, video frame range and size."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml import etree

from annoconvert.model import JsonValue


@dataclass
class Meta:
    """What the reader needs from `<meta>` (task, job or project export)."""

    labels: list[str] = field(default_factory=list)
    """Top-level label names in declaration order (skeleton children left out)."""
    tag_labels: list[str] = field(default_factory=list)
    """Labels usable as image tags: those typed `tag`/`any`, or all when no type is given."""
    attr_types: dict[str, dict[str, str]] = field(default_factory=dict)
    """label -> attribute name -> input_type."""
    start_frame: int = 0
    stop_frame: int | None = None
    frame_step: int = 1
    size: int | None = None
    original_width: int | None = None
    original_height: int | None = None
    mode: str | None = None


def _text(elem: etree._Element | None) -> str:
    return (elem.text or "").strip() if elem is not None else ""


def _int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def parse_meta(meta: etree._Element) -> Meta:
    """Read labels from every `<labels>` list under meta (task, job or project) and the frames."""
    out = Meta()
    typed: dict[str, str] = {}
    for label in meta.iter("label"):
        parent = label.getparent()
        if parent is None or parent.tag != "labels":
            continue
        name = _text(label.find("name"))
        if name in out.attr_types:
            continue
        out.attr_types[name] = {
            _text(a.find("name")): _text(a.find("input_type")) or "text"
            for a in label.iter("attribute")
            if a.find("name") is not None
        }
        if label.find("parent") is None:
            out.labels.append(name)
            typed[name] = _text(label.find("type"))
    if any(typed.values()):
        out.tag_labels = [n for n in out.labels if typed[n] in ("tag", "any", "")]
    else:
        out.tag_labels = list(out.labels)
    task = meta.find("task")
    if task is None:
        task = meta.find("job")
    if task is not None:
        out.mode = _text(task.find("mode")) or None
        out.start_frame = _int(_text(task.find("start_frame"))) or 0
        out.stop_frame = _int(_text(task.find("stop_frame")))
        out.size = _int(_text(task.find("size")))
        step = re.search(r"step\s*=\s*(\d+)", _text(task.find("frame_filter")))
        out.frame_step = int(step.group(1)) if step else 1
        size = task.find("original_size")
        if size is not None:
            out.original_width = _int(_text(size.find("width")))
            out.original_height = _int(_text(size.find("height")))
    return out


def typed_value(input_type: str | None, text: str) -> JsonValue:
    """A CVAT attribute value (always text in XML) typed by its declared `input_type`.

    checkbox -> bool, number -> float; select/radio/text and undeclared -> str. A value that
    does not fit its type is kept as the text (never dropped).
    """
    if input_type == "checkbox":
        low = text.strip().lower()
        if low in ("true", "1"):
            return True
        if low in ("false", "0", ""):
            return False
        return text
    if input_type == "number":
        try:
            return float(text)
        except ValueError:
            return text
    return text
