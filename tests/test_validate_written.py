"""`validate` passes what annoconvert writes: every real export, every dialect with its preset.

The corpus projects are small, so the only finding allowed is the file-level minimum count
(`too_few_examples`, a warning during conversion, an error for `validate`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

import annoconvert
from annoconvert.quality.validate import validate_file
from tests.conftest import LABELSTUDIO_PROJECTS, corpus_path

LS = LABELSTUDIO_PROJECTS
ALLOWED = {"too_few_examples"}


@pytest.mark.parametrize("project", LS)
def test_labelstudio_output_validates(project: str, tmp_path: Path) -> None:
    folder = corpus_path("labelstudio", project)
    out = tmp_path / "out.jsonl"
    result = annoconvert.convert(
        "labelstudio", folder / "JSON.json", out, label_config=str(folder / "config.xml")
    )
    assert result.written > 0
    report = validate_file(out, "openai")
    assert set(report.error_counts) <= ALLOWED, report.errors[:3]
    assert not report.warnings, report.warnings[:3]


@pytest.mark.parametrize(
    ("reader", "rel"),
    [
        ("cvat", "cvat/datumaro/export_cvat_images_1.1"),
        ("coco", "coco/datumaro/export_coco_all_tasks"),
        ("doccano", "doccano/SequenceLabeling_relations/individual/JSONL.zip"),
        ("doccano", "doccano/Seq2seq/collaborative/JSONL.zip"),
    ],
)
def test_other_readers_output_validates(reader: str, rel: str, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    result = annoconvert.convert(reader, corpus_path(*rel.split("/")), out)
    assert result.written > 0
    report = validate_file(out, "openai")
    assert set(report.error_counts) <= ALLOWED, report.errors[:3]


@pytest.mark.parametrize(("dialect", "extra"), [("vertex", {}), ("trl", {}), ("sharegpt", "copy")])
def test_dialects_validate_with_their_preset(dialect: str, extra: object, tmp_path: Path) -> None:
    folder = corpus_path("labelstudio", "g_object_detection")
    out = tmp_path / "out.jsonl"
    options: dict[str, object] = {"dialect": dialect}
    if extra == "copy":
        options["copy_images"] = str(tmp_path / "images")
    result = annoconvert.convert("labelstudio", folder / "JSON.json", out, **options)
    assert result.written == 6
    report = validate_file(out, dialect)
    assert set(report.error_counts) <= ALLOWED, report.errors[:3]
