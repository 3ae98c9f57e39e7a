"""The run's warnings past `KEPT` go to disk: the same warnings in the same order, counted by
code, and memory that does not grow with them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import strategies as st
from PIL import Image

import annoconvert
from annoconvert import warning_log
from annoconvert.cli import main
from annoconvert.model import Warning_
from tests.conftest import PRINT_OWN_PEAK_KIB, own_peak_kib

WARNINGS = st.builds(
    Warning_,
    code=st.sampled_from(["image_size_mismatch", "alpha_dropped", "empty_input"]),
    message=st.text(max_size=8),
    task=st.one_of(st.integers(-(2**70), 2**70), st.text(max_size=4), st.none()),
    file=st.one_of(st.none(), st.just("a.json")),
)


def _export(tmp_path: Path, count: int) -> tuple[Path, Path]:
    """A COCO export of `count` 8x8 PNGs that records each at 16x16 (a size mismatch for every
    image); every third image is transparent (flattened, with a warning, for JPEG)."""
    images_root = tmp_path / "images"
    images_root.mkdir()
    for i in range(count):  # colors far apart: no two lines repeat an image, even as JPEG
        color = (8 * i % 256, 255 - 8 * i % 256, 67 * i % 256)
        if i % 3 == 0:
            Image.new("RGBA", (8, 8), (*color, 128)).save(images_root / f"i{i}.png")
        else:
            Image.new("RGB", (8, 8), color).save(images_root / f"i{i}.png")
    images = [{"id": i, "width": 16, "height": 16, "file_name": f"i{i}.png"} for i in range(count)]
    annotations = [
        {"id": i, "image_id": i, "category_id": 1, "bbox": [1, 1, 4, 4 + i % 5]}
        for i in range(count)
    ]
    doc = {"images": images, "annotations": annotations, "categories": [{"id": 1, "name": "a"}]}
    export = tmp_path / "instances.json"
    export.write_text(json.dumps(doc), encoding="utf-8")
    return export, images_root


def test_a_run_warning_past_the_kept_ones_shows_the_first_and_counts_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """30 images, each with a size mismatch and every third with its transparency flattened:
    40 warnings through a log that keeps 7 and writes batches of 4."""
    monkeypatch.setattr(warning_log, "KEPT", 7)
    monkeypatch.setattr(warning_log, "BATCH", 4)
    export, images_root = _export(tmp_path, 30)
    out = tmp_path / "out.jsonl"
    args = ["coco", str(export), "-o", str(out), "--images-root", str(images_root)]
    result = CliRunner().invoke(main, [*args, "--image-format", "jpeg"])
    assert result.exit_code == 0, result.output
    assert "read 30 tasks; wrote 30 examples; rejected 0; 40 warnings" in result.output
    shown = [line for line in result.output.splitlines() if "  warning " in line]
    # in order: task 0 mismatch, task 0 alpha, task 1, task 2, task 3 mismatch and alpha, ...
    expected = [
        ("image_size_mismatch", 0),
        ("alpha_dropped", 0),
        ("image_size_mismatch", 1),
        ("image_size_mismatch", 2),
        ("image_size_mismatch", 3),
        ("alpha_dropped", 3),
        ("image_size_mismatch", 4),
        ("image_size_mismatch", 5),
        ("image_size_mismatch", 6),
        ("alpha_dropped", 6),
    ]
    assert [line.split(": ")[1:3] for line in shown] == [  # "annoconvert:   warning ...
        [f"  warning {code}", f"task {task}"] for code, task in expected
    ]
    assert "... and 30 more warnings (23 image_size_mismatch, 7 alpha_dropped)" in result.output
    assert len(out.read_text().splitlines()) == 30


MISMATCH = "the image is 8x8 upright; boxes are placed relative to the image"


def test_the_api_gives_every_warning_past_the_kept_ones_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(warning_log, "KEPT", 3)
    monkeypatch.setattr(warning_log, "BATCH", 2)
    export, images_root = _export(tmp_path, 12)
    result = annoconvert.convert(
        "coco", export, tmp_path / "out.jsonl", images_root=[str(images_root)]
    )
    assert result.warnings == [
        f"i{i}.png: the export recorded 16x16, {MISMATCH}" for i in range(12)
    ]


MEMORY = (
    """
import sys
from annoconvert.model import Warning_
from annoconvert.warning_log import WarningLog

count = int(sys.argv[1])
log = WarningLog()
for n in range(count):
    log.append(Warning_("image_size_mismatch",
                        f"i{n}.jpg: the export recorded 640x480, the image is 480x640 upright; "
                        "boxes are placed relative to the image", n, "export.json"))
assert len(log) == count and log.codes()["image_size_mismatch"] == count
assert sum(1 for _ in log) == count
"""
    + PRINT_OWN_PEAK_KIB
)


def test_a_million_warnings_take_the_memory_of_a_hundred_thousand() -> None:
    """In a list, each warning took ~250 bytes: a million, ~220 MiB more than 100k."""
    small, large = own_peak_kib(MEMORY, "100000"), own_peak_kib(MEMORY, "1000000")
    assert large - small < 8 * 1024, (small, large)
