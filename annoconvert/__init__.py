"""annoconvert: annotation-tool exports to fine-tuning JSONL.

tasks = annoconvert.read("labelstudio", "export.json")
examples = annoconvert.to_examples(tasks, recipe="classification")
result = annoconvert.convert("labelstudio", "export.json", output="train.jsonl")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    **dict.fromkeys(
        ["ConvertResult", "RejectRecord", "RejectWarning", "convert", "read", "to_examples"],
        "annoconvert.api",
    ),
    **dict.fromkeys(
        [
            "AnnoconvertError",
            "ConfigError",
            "InputError",
            "MediaError",
            "ParseError",
            "RecipeError",
            "ShapeError",
            "StopRun",
            "TaskError",
            "UnsafeInputError",
            "UnsupportedVersionError",
            "ValidationFailed",
        ],
        "annoconvert.errors",
    ),
    **dict.fromkeys(
        [
            "AnnotationSet",
            "Box",
            "Choice",
            "Example",
            "ImageRef",
            "Message",
            "PreparedImage",
            "Reject",
            "Span",
            "Task",
            "TextAnswer",
        ],
        "annoconvert.model",
    ),
    **dict.fromkeys(["Options", "build_options"], "annoconvert.options"),
}

if TYPE_CHECKING:
    from annoconvert.api import (
        ConvertResult,
        RejectRecord,
        RejectWarning,
        convert,
        read,
        to_examples,
    )
    from annoconvert.errors import (
        AnnoconvertError,
        ConfigError,
        InputError,
        MediaError,
        ParseError,
        RecipeError,
        ShapeError,
        StopRun,
        TaskError,
        UnsafeInputError,
        UnsupportedVersionError,
        ValidationFailed,
    )
    from annoconvert.model import (
        AnnotationSet,
        Box,
        Choice,
        Example,
        ImageRef,
        Message,
        PreparedImage,
        Reject,
        Span,
        Task,
        TextAnswer,
    )
    from annoconvert.options import Options, build_options
    from annoconvert.quality.agreement import AgreementReport


def __getattr__(name: str) -> Any:
    """Import the public names on first use, so the command line starts fast."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'annoconvert' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def agreement(source: str, inputs: Any, **options: Any) -> AgreementReport:
    """Agreement between annotators over an export (see docs/agreement.md)."""
    from annoconvert.api import read
    from annoconvert.quality.agreement import agreement as measure

    return measure(read(source, inputs, **options))


__all__ = [
    "AnnoconvertError",
    "AnnotationSet",
    "Box",
    "Choice",
    "ConfigError",
    "ConvertResult",
    "Example",
    "ImageRef",
    "InputError",
    "MediaError",
    "Message",
    "Options",
    "ParseError",
    "PreparedImage",
    "RecipeError",
    "Reject",
    "RejectRecord",
    "RejectWarning",
    "ShapeError",
    "Span",
    "StopRun",
    "Task",
    "TaskError",
    "TextAnswer",
    "UnsafeInputError",
    "UnsupportedVersionError",
    "ValidationFailed",
    "__version__",
    "agreement",
    "build_options",
    "convert",
    "read",
    "to_examples",
]
