"""Which Doccano project type an export holds, told from its keys (and said, with the reason).

Keys decide most types at the first record: `entities`+`relations` (relations), `cats`
(intent), `bbox`, `segmentation`, `label` holding `[start, end, TYPE]` lists (sequence
labeling), `labels` or `annotations` (the legacy <=1.6 shape), an audio `filename` (speech).
Two pairs share a shape, a `label` list of strings: DocumentClassification vs Seq2seq (with
`text`) and ImageClassification vs ImageCaptioning (with `filename`). The export does not say
which; the rule is: a value that reads as a sentence (ends with . ! ? 。 ！ ？ or has three or
more words) makes it Seq2seq/ImageCaptioning, otherwise class names are assumed. The reason
given says so, and `--project-type` overrides.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from annoconvert.errors import ConfigError, ShapeError

PROJECT_TYPES = (
    "DocumentClassification",
    "SequenceLabeling",
    "RelationExtraction",
    "Seq2seq",
    "IntentDetectionAndSlotFilling",
    "ImageClassification",
    "BoundingBox",
    "Segmentation",
    "ImageCaptioning",
    "Speech2text",
)
AUDIO_EXTENSIONS = frozenset(
    {".wav", ".mp3", ".flac", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".webm", ".wma", ".aif"}
)
SENTENCE_ENDS = tuple(".!?。！？…")
LOOKAHEAD = 1000
"""Records examined before a `label` list of short strings is taken for class names."""

LABEL_KEYS = ("label", "labels", "cats", "entities", "relations", "bbox", "segmentation")


@dataclass(frozen=True, slots=True)
class Detection:
    """The project type, whether the export is the legacy (<=1.6) shape, and why."""

    project_type: str
    legacy: bool
    reason: str


def normalize_project_type(name: str) -> str:
    """A `--project-type` value as its canonical name (case and `_`/`-` ignored)."""
    wanted = name.replace("_", "").replace("-", "").lower()
    for known in PROJECT_TYPES:
        if known.lower() == wanted:
            return known
    raise ConfigError(
        f"unknown Doccano project type {name!r}; choose one of: {', '.join(PROJECT_TYPES)}"
    )


def looks_like_sentence(value: str) -> bool:
    """True for a target text or caption rather than a class name."""
    stripped = value.strip()
    return stripped.endswith(SENTENCE_ENDS) or len(stripped.split()) >= 3


def is_audio(filename: str) -> bool:
    """True when an upload name is an audio file (Speech2text)."""
    return os.path.splitext(filename)[1].lower() in AUDIO_EXTENSIONS


def _legacy_type(data: dict[str, Any]) -> str | None:
    for ann in data.get("annotations") or ():
        if isinstance(ann, dict):
            if "start_offset" in ann:
                return "SequenceLabeling"
            if "text" in ann:
                return "Seq2seq"
            if "label" in ann:
                return "ImageClassification" if "filename" in data else "DocumentClassification"
    return None


@dataclass
class _Scan:
    family: str | None = None  # "text-strings", "image-strings" or a final type
    legacy: bool = False
    seen: int = 0


def _decide(data: dict[str, Any], file: str, locator: str) -> tuple[str, bool, bool]:
    """(type or family, legacy, decisive) for one record; ShapeError for an unknown shape."""
    if "annotations" in data and isinstance(data["annotations"], list):
        found = _legacy_type(data)
        return (found or "legacy", True, found is not None)
    if "labels" in data and "label" not in data:
        return ("SequenceLabeling", True, True)
    if "relations" in data and "entities" in data:
        return ("RelationExtraction", False, True)
    if "cats" in data or "entities" in data:
        return ("IntentDetectionAndSlotFilling", False, True)
    if "bbox" in data:
        return ("BoundingBox", False, True)
    if "segmentation" in data:
        return ("Segmentation", False, True)
    if "label" in data:
        labels = data["label"]
        has_file = isinstance(data.get("filename"), str)
        if has_file and is_audio(data["filename"]):
            return ("Speech2text", False, True)
        family = "image-strings" if has_file else "text-strings"
        if isinstance(labels, list):
            if any(isinstance(v, list) for v in labels):
                if has_file:
                    raise ShapeError(
                        "an image example with span-like labels is not a Doccano shape",
                        file=file,
                        locator=locator,
                    )
                return ("SequenceLabeling", False, True)
            if any(isinstance(v, str) and looks_like_sentence(v) for v in labels):
                return ("ImageCaptioning" if has_file else "Seq2seq", False, True)
        return (family, False, False)
    present = ", ".join(sorted(data)[:8]) or "no keys"
    raise ShapeError(
        f"not a Doccano example: no label key ({', '.join(LABEL_KEYS)}, annotations); "
        f"found {present}",
        file=file,
        locator=locator,
    )


_REASONS = {
    "RelationExtraction": "'entities' and 'relations' lists of dicts",
    "IntentDetectionAndSlotFilling": "'cats' and 'entities' keys",
    "BoundingBox": "a 'bbox' key",
    "Segmentation": "a 'segmentation' key",
    "SequenceLabeling": "'label' lists of [start, end, TYPE]",
    "Speech2text": "audio file names with a 'label' list",
    "Seq2seq": "'label' strings that read as sentences",
    "ImageCaptioning": "image file names with 'label' strings that read as sentences",
}


def detect(records: Iterable[tuple[dict[str, Any], str, str]]) -> Detection:
    """The project type of an export from its records (data, file, locator)."""
    scan = _Scan()
    for data, file, locator in records:
        kind, legacy, decisive = _decide(data, file, locator)
        scan.legacy = scan.legacy or legacy
        if decisive:
            reason = _REASONS.get(kind, "")
            if legacy:
                reason = "legacy (<=1.6) 'annotations'/'labels' records"
            return Detection(kind, scan.legacy, f"{reason}, first seen at {file} {locator}")
        if scan.family is None or scan.family == "legacy":
            scan.family = kind
        scan.seen += 1
        if scan.seen >= LOOKAHEAD:
            break
    if scan.family is None:
        return Detection("DocumentClassification", False, "no examples to tell it from")
    if scan.family == "image-strings":
        return Detection(
            "ImageClassification",
            scan.legacy,
            "image file names with short 'label' strings (class names; give --project-type "
            "ImageCaptioning if they are captions)",
        )
    return Detection(
        "DocumentClassification",
        scan.legacy,
        "'label' lists of short strings (class names; give --project-type Seq2seq if they are "
        "target texts)"
        if not scan.legacy
        else "legacy (<=1.6) records with no annotation",
    )
