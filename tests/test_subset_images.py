"""A project export keeps `img0.jpg` of each subset in its own folder: each task embeds its own."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

from PIL import Image

import annoconvert
from tests.conftest import corpus_path


def test_same_name_in_several_subsets_resolves_per_subset(tmp_path: Path) -> None:
    source = corpus_path("cvat", "upstream/datumaro/cvat_dataset/for_images/export_project")
    export = tmp_path / "export_project"
    shutil.copytree(source, export)
    # make the three img0.jpg differ (in the corpus they happen to be identical)
    colours = {"Test": (255, 0, 0), "Train": (0, 255, 0), "Validation": (0, 0, 255)}
    for subset, colour in colours.items():
        Image.new("RGB", (8, 8), colour).save(export / "images" / subset / "img0.jpg")
    out = tmp_path / "out.jsonl"
    result = annoconvert.convert("cvat", export, out, recipe="detection", split="by-subset")
    assert result.rejected == 0
    for subset, colour in colours.items():
        lines = (tmp_path / f"out.{subset}.jsonl").read_text().splitlines()
        first = json.loads(lines[0])["messages"][1]["content"][1]["image_url"]["url"]
        data = base64.b64decode(first.split(",", 1)[1])
        assert data == (export / "images" / subset / "img0.jpg").read_bytes()
        pixel = Image.open(export / "images" / subset / "img0.jpg").convert("RGB").getpixel((4, 4))
        assert max(abs(a - b) for a, b in zip(pixel, colour, strict=True)) < 40
