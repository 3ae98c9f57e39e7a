"""Every pixel box of the real exports maps back to its source box, in every box format.

The expected boxes are read here from the raw files (Label Studio JSON, CVAT XML, COCO JSON)
with the tool's own convention, independently of the readers: Label Studio percent of the
recorded size, rotated about the stored corner; CVAT corners, rotated about the centre; COCO
`[x, y, w, h]`. A rotated box is compared through its axis-aligned envelope, computed here from
its four corners. Each emitted box is decoded back to pixels of the image and must lie within
one unit of the output grid of the source box on every side.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

import annoconvert
from annoconvert import boxes
from annoconvert.options import Options
from tests.conftest import corpus_path

FORMATS = ["box_2d", "qwen2.5-vl", "qwen3-vl", "xyxy-px", "xywh-px"]
PixelBox = tuple[str, float, float, float, float]  # label, x0, y0, x1, y1


def _envelope(corners: list[tuple[float, float]]) -> tuple[float, float, float, float]:
    xs, ys = [c[0] for c in corners], [c[1] for c in corners]
    return min(xs), min(ys), max(xs), max(ys)


def _turn(px: float, py: float, cx: float, cy: float, degrees: float) -> tuple[float, float]:
    """Clockwise on screen (y down) about (cx, cy)."""
    r = math.radians(degrees)
    dx, dy = px - cx, py - cy
    return cx + dx * math.cos(r) - dy * math.sin(r), cy + dx * math.sin(r) + dy * math.cos(r)


def _ls_expected(export: Path) -> list[tuple[tuple[int, int], list[PixelBox]]]:
    """Per annotation (in the order --annotators all writes them): the image size, boxes."""
    out = []
    for task in json.loads(export.read_text()):
        for ann in task["annotations"]:
            if ann["was_cancelled"]:
                continue
            found: list[PixelBox] = []
            size = None
            for r in ann["result"]:
                if r["type"] != "rectanglelabels":
                    continue
                w_img, h_img = r["original_width"], r["original_height"]
                size = (w_img, h_img)
                v = r["value"]
                x, y = v["x"] / 100 * w_img, v["y"] / 100 * h_img
                w, h = v["width"] / 100 * w_img, v["height"] / 100 * h_img
                rot = v.get("rotation", 0)
                # Label Studio turns the box about its stored (x, y) corner
                corners = [
                    _turn(x + dx, y + dy, x, y, rot) for dx, dy in ((0, 0), (w, 0), (w, h), (0, h))
                ]
                found.append((v["rectanglelabels"][0], *_envelope(corners)))
            out.append((size or (0, 0), found))
    return out


def _cvat_expected(xml: Path) -> list[tuple[tuple[int, int], list[PixelBox]]]:
    out = []
    for image in etree.parse(str(xml)).getroot().iter("image"):
        w_img, h_img = int(image.get("width")), int(image.get("height"))
        found: list[PixelBox] = []
        for shape in image:
            label = shape.get("label")
            if shape.tag == "box":
                x0, y0 = float(shape.get("xtl")), float(shape.get("ytl"))
                x1, y1 = float(shape.get("xbr")), float(shape.get("ybr"))
                rot = float(shape.get("rotation") or 0)
                cx, cy = (x0 + x1) / 2, (y0 + y1) / 2  # CVAT turns about the centre
                corners = [
                    _turn(px, py, cx, cy, rot)
                    for px, py in ((x0, y0), (x1, y0), (x1, y1), (x0, y1))
                ]
                found.append((label, *_envelope(corners)))
            elif shape.tag in ("polygon", "polyline"):
                pts = [tuple(map(float, p.split(","))) for p in shape.get("points").split(";")]
                found.append((label, *_envelope(pts)))  # type: ignore[arg-type]
        out.append(((w_img, h_img), found))
    return out


def _coco_expected(annotations: Path) -> list[tuple[tuple[int, int], list[PixelBox]]]:
    doc = json.loads(annotations.read_text())
    names = {c["id"]: c["name"] for c in doc["categories"]}
    by_image: dict[Any, list[PixelBox]] = {}
    for a in doc["annotations"]:
        x, y, w, h = a["bbox"]
        rot = float((a.get("attributes") or {}).get("rotation", 0) or 0)
        cx, cy = x + w / 2, y + h / 2
        corners = [
            _turn(px, py, cx, cy, rot)
            for px, py in ((x, y), (x + w, y), (x + w, y + h), (x, y + h))
        ]
        by_image.setdefault(a["image_id"], []).append(
            (names[a["category_id"]], *_envelope(corners))
        )
    return [((im["width"], im["height"]), by_image.get(im["id"], [])) for im in doc["images"]]


def _unit(box_format: str, size: tuple[int, int]) -> tuple[float, float]:
    """One unit of the output grid, in source pixels (x, y)."""
    w, h = size
    if box_format in ("box_2d", "qwen3-vl"):
        return w / 1000, h / 1000
    if box_format == "qwen2.5-vl":
        rw, rh = boxes.qwen25_size(w, h, Options().qwen_min_pixels, Options().qwen_max_pixels)
        return w / rw, h / rh
    return 1.0, 1.0


def _emitted(line: dict[str, Any], box_format: str, size: tuple[int, int]) -> list[PixelBox]:
    answer = line["messages"][-1]["content"]
    text = answer if isinstance(answer, str) else answer[0]["text"]
    w, h = size
    out = []
    key = boxes.BOX_KEYS[box_format]
    for obj in json.loads(text):
        if key not in obj:
            continue  # a keypoint
        env = boxes.decode_box(box_format, obj[key], w, h)
        out.append((obj["label"], env[0] * w, env[1] * h, env[2] * w, env[3] * h))
    return out


CASES = {
    "labelstudio-g": ("labelstudio", "labelstudio/g_object_detection/JSON.json", _ls_expected),
    "labelstudio-ui": (
        "labelstudio",
        "labelstudio/z_ui_check/z_ui_bbox/JSON.json",
        _ls_expected,
    ),
    "cvat-datumaro": (
        "cvat",
        "cvat/datumaro/export_cvat_images_1.1/default.xml",
        _cvat_expected,
    ),
    "cvat-project": (
        "cvat",
        "cvat/upstream/datumaro/cvat_dataset/for_images/export_project/annotations.xml",
        _cvat_expected,
    ),
    "coco-datumaro": (
        "coco",
        "coco/datumaro/export_coco_instances/annotations/instances_default.json",
        _coco_expected,
    ),
    "coco-upstream": (
        "coco",
        "coco/upstream/datumaro/coco_dataset/coco_instances/annotations/instances_train.json",
        _coco_expected,
    ),
}


@pytest.mark.parametrize("box_format", FORMATS)
@pytest.mark.parametrize("case", list(CASES))
def test_emitted_boxes_map_back_to_the_source(case: str, box_format: str, tmp_path: Path) -> None:
    reader, rel, expected_of = CASES[case]
    source = corpus_path(*rel.split("/"))
    expected = expected_of(source)
    out = tmp_path / "out.jsonl"
    result = annoconvert.convert(
        reader,
        source,
        out,
        recipe="detection",
        box_format=box_format,
        annotators="all",
        image_mode="reference",
        box_order="source",
    )
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    # every image (CVAT, COCO) or non-cancelled annotation (Label Studio) is one line
    assert result.written == len(lines) == len(expected), result.rejects
    checked = 0
    for line, (size, found) in zip(lines, expected, strict=True):
        if not found:
            continue  # an image annotated with no box: '[]' or other shapes only
        boxes_only = _emitted(line, box_format, size)
        ux, uy = _unit(box_format, size)
        assert len(boxes_only) >= len(found)
        for label, x0, y0, x1, y1 in found:
            # clamp the source to the image, as the writer does
            w, h = size
            src = (max(0, x0), max(0, y0), min(w, x1), min(h, y1))
            match = [
                e
                for e in boxes_only
                if e[0] == label
                and abs(e[1] - src[0]) <= ux + 1e-6
                and abs(e[3] - src[2]) <= ux + 1e-6
                and abs(e[2] - src[1]) <= uy + 1e-6
                and abs(e[4] - src[3]) <= uy + 1e-6
            ]
            assert match, (case, box_format, label, src, boxes_only)
            checked += 1
    assert checked > 0
