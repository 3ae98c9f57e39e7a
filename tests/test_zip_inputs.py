"""An export zipped as the tool downloads it converts like its unzipped folder, images read
from inside the zip (the reader's default root `export.zip!images/default`)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

import annoconvert
from tests.conftest import corpus_path


def _zip(folder: Path, target: Path) -> Path:
    with zipfile.ZipFile(target, "w") as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(folder).as_posix())
    return target


@pytest.mark.parametrize(
    ("reader", "rel"),
    [
        ("coco", "coco/datumaro/export_coco_instances"),
        ("coco", "coco/datumaro/export_coco_instances_two_subsets"),
        ("cvat", "cvat/datumaro/export_cvat_images_1.1"),
    ],
)
def test_zip_equals_folder(reader: str, rel: str, tmp_path: Path) -> None:
    folder = corpus_path(*rel.split("/"))
    zipped = _zip(folder, tmp_path / "export.zip")
    a, b = tmp_path / "folder.jsonl", tmp_path / "zip.jsonl"
    from_folder = annoconvert.convert(reader, folder, a, recipe="detection")
    from_zip = annoconvert.convert(reader, zipped, b, recipe="detection")
    assert from_zip.rejected == from_folder.rejected
    assert from_zip.written == from_folder.written > 0
    assert b.read_bytes() == a.read_bytes()  # same lines, same embedded image bytes


def test_zip_root_with_a_folder_inside(tmp_path: Path) -> None:
    """--images-root export.zip!images/default reads only under that folder of the zip."""
    folder = corpus_path("coco", "datumaro", "export_coco_instances")
    zipped = _zip(folder, tmp_path / "export.zip")
    out = tmp_path / "o.jsonl"
    result = annoconvert.convert(
        "coco",
        folder / "annotations" / "instances_default.json",
        out,
        recipe="detection",
        images_root=[f"{zipped}!images/default"],
    )
    assert result.rejected == 0 and result.written == 7
