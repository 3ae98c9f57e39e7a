"""The express lane for COCO detection writes what the general path writes, or stands aside.

As in test_express_lane.py, every export is converted with the lane and without it, and the
bytes, counts, rejects and warnings must match. Here the lane runs in `--image-mode reference`
(test_express_lane_embed.py has it embed the images) and takes the images of the first
annotation file only.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from annoconvert import express
from annoconvert.options import Options
from annoconvert.readers import coco_express
from tests.conftest import corpus_path
from tests.test_express_lane import _both, both_split
from tests.test_express_lane_boxes import BOX_OPTIONS, LANE_CLOSERS

REFERENCE = {"image_mode": "reference"}
SAMPLE = 200
"""Tasks read before the recipe is chosen and the lane opens (pipeline.AUTO_SAMPLE)."""
CATEGORIES = [
    {"id": 1, "name": "scratch", "supercategory": "defect"},
    {"id": 2, "name": "dent", "supercategory": "defect"},
    {"id": 3, "name": "paint chip", "supercategory": "defect"},
    {"id": 4, "name": "person", "supercategory": "", "keypoints": ["head", "hand"]},
]


def _box(i: int, k: int) -> list[float]:
    return [
        (i * 7 + k * 13) % 500 + 0.25,
        (i * 11 + k * 5) % 400 + 1 / 3,
        10 + (i + k) % 90 + 0.5,
        8 + (i * k) % 60,
    ]


def _image(i: int, annotations: list[dict[str, Any]]) -> dict[str, Any]:
    """Image record i and its annotations (appended to `annotations`); every 40 images a run
    of odd ones: outlines, masks, turned boxes, bad records the reader rejects."""
    image: dict[str, Any] = {"id": i, "width": 640, "height": 480, "file_name": f"img_{i}.jpg"}
    anns = [
        {
            "id": i * 10 + k,
            "image_id": i,
            "category_id": 1 + (i + k) % 3,
            "segmentation": [],
            "area": 1.0,
            "bbox": _box(i, k),
            "iscrowd": 0,
            "attributes": {"occluded": bool(k % 2)},
        }
        for k in range(1 + i % 4)
    ]
    first = anns[0]
    odd = i % 40
    if odd == 3:  # the object outlined too: its box is written once
        x, y, w, h = first["bbox"]
        first["segmentation"] = [[x, y, x + w, y, x + w, y + h]]
    elif odd == 5:  # an outline without a box: its envelope
        del first["bbox"]
        first["segmentation"] = [[10, 10, 60, 12, 40, 70, 5, 50]]
    elif odd == 7:
        first["bbox"][2] = 0  # no width: rejected
    elif odd == 9:
        first["category_id"] = 99  # rejected
    elif odd == 11:
        del image["width"]  # no size to normalize by: rejected
    elif odd == 13:
        image["id"] = f"img-{i}"
        for ann in anns:
            ann["image_id"] = image["id"]
    elif odd == 15:
        first["attributes"]["rotation"] = 30
    elif odd == 17:
        first["bbox"] = [600.5, 450.25, 100, 100]  # past the right and bottom edges
    elif odd == 19:
        first["iscrowd"] = 1
        first["segmentation"] = {"counts": [0, 4, 636, 4, 480 * 640 - 644], "size": [480, 640]}
    elif odd == 21:
        first["category_id"] = 4
        first["keypoints"] = [100, 120, 2, 300.5, 200, 1]
    elif odd == 23:
        first["bbox"] = ["10", 10, 20, 20]  # rejected
    elif odd == 25:
        anns = []  # nothing to find in this image
    elif odd == 27:
        anns.append(dict(first))  # the same annotation id again: added once
    elif odd == 29:
        first["bbox"] = [1, 2, 30, 40]  # ints
    elif odd == 31:
        first["bbox"] = [1e308, 1e308, 1e308, 1e308]  # rejected, not a NaN box
    elif odd == 33:
        image["file_name"] = f"sub dir/ünï {i}.jpg"
    elif odd == 35:
        image["width"] = 640.0  # rejected: not an integer size
    elif odd == 37:
        first["segmentation"] = [[1, 2, 3]]  # not a polygon: rejected
    elif odd == 39:  # named an outline of another box of the image: left out
        first["attributes"]["part_of"] = str(anns[1]["id"])
    elif odd == 1:
        first["attributes"]["rotation"] = 0  # unturned, as an int
    elif odd == 0:
        first["attributes"]["rotation"] = False  # not a number: rejected
    annotations.extend(anns)
    return image


def _export(folder: Path, images: range, categories: list[dict[str, Any]] = CATEGORIES) -> Path:
    annotations: list[dict[str, Any]] = []
    records = [_image(i, annotations) for i in images]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "instances_default.json"
    doc = {"images": records, "annotations": annotations, "categories": categories}
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def _url(line: str) -> str:
    url: str = json.loads(line)["messages"][1]["content"][1]["image_url"]["url"]
    return url


def _number(url: str) -> int:
    return int(url.rsplit("_", 1)[-1].rsplit(" ", 1)[-1].removesuffix(".jpg"))


def test_the_coco_lane_writes_the_general_paths_bytes_counts_and_rejects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    export = _export(tmp_path / "export" / "annotations", range(1, 1201))
    lanes, out = _both(tmp_path, monkeypatch, export, "coco", **REFERENCE)
    (lane,) = lanes
    assert lane is not None and lane.open and lane.verified == express.VERIFY
    lines = out.decode().splitlines()
    # every image written after the sample went through the lane, the odd ones included
    assert lane.lines == sum(1 for line in lines if _number(_url(line)) > SAMPLE)
    written = {_number(_url(line)) % 40 for line in lines}
    assert {1, 3, 5, 13, 15, 17, 19, 21, 25, 27, 29, 33, 39} <= written
    assert not written & {7, 9, 11, 23, 31, 35, 37}


def test_the_lane_takes_the_first_file_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two subsets with other categories, image ids listed twice and annotations of no
    image: the second file's system message names its own labels."""
    annotations = tmp_path / "export" / "annotations"
    _export(annotations, range(1, 601)).rename(annotations / "instances_a.json")
    other = [{**c, "name": c["name"].upper()} for c in CATEGORIES]
    second = _export(annotations, range(601, 1201), other)
    doc = json.loads(second.read_text(encoding="utf-8"))
    doc["images"].append({**doc["images"][5], "file_name": "again.jpg"})  # a repeated id
    doc["annotations"].append({**doc["annotations"][0], "id": 1, "image_id": 5000})
    second.write_text(json.dumps(doc), encoding="utf-8")
    second.rename(annotations / "instances_b.json")
    lanes, out = _both(tmp_path, monkeypatch, tmp_path / "export", "coco", **REFERENCE)
    (lane,) = lanes
    assert lane is not None and lane.open
    lines = out.decode().splitlines()
    assert lane.lines == sum(1 for line in lines if SAMPLE < _number(_url(line)) <= 600)
    systems = {json.loads(line)["messages"][0]["content"][0]["text"] for line in lines}
    assert len(systems) == 2 and any("'PAINT CHIP'" in s for s in systems)


@pytest.mark.parametrize("split", ["by-subset", "train=0.8,test=0.2"])
def test_under_split_the_coco_lane_tells_each_line_s_image_and_subset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, split: str
) -> None:
    """Two annotation files, two subsets (`a`, `b`): by subset, or by fractions with each
    image in one split."""
    annotations = tmp_path / "export" / "annotations"
    _export(annotations, range(1, 601)).rename(annotations / "instances_a.json")
    _export(annotations, range(601, 1001)).rename(annotations / "instances_b.json")
    lanes = both_split(tmp_path, monkeypatch, tmp_path / "export", "coco", split=split, **REFERENCE)
    (lane,) = lanes
    assert lane is not None and lane.open and lane.lines > 300


def test_under_a_uri_prefix_the_coco_lane_writes_the_general_paths_uris_and_rejects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    export = _export(tmp_path / "export" / "annotations", range(1, 601))
    images = tmp_path / "export" / "images"
    (images / "sub dir").mkdir(parents=True)
    for i in range(1, 601):
        if i % 7:
            name = f"sub dir/ünï {i}.jpg" if i % 40 == 33 else f"img_{i}.jpg"
            (images / name).write_bytes(b"not read in reference mode")
    lanes, out = _both(
        tmp_path,
        monkeypatch,
        export.parent.parent,
        "coco",
        image_uri_prefix="gs://bucket/data",
        **REFERENCE,
    )
    (lane,) = lanes
    assert lane is not None and lane.open and lane.lines > 250
    urls = [_url(line) for line in out.decode().splitlines()]
    assert "gs://bucket/data/img_1.jpg" in urls
    assert "gs://bucket/data/sub dir/ünï 73.jpg" in urls
    assert not [u for u in urls if _number(u) % 7 == 0]  # not there: rejected


@pytest.mark.parametrize("options", [*LANE_CLOSERS, *BOX_OPTIONS])
def test_the_coco_lane_runs_under_the_options_it_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, options: dict[str, Any]
) -> None:
    """The box options (other box formats than box_2d leave the plain answer for
    `regions_of` and `format_boxes`) keep it open; the others keep the general path."""
    export = _export(tmp_path / "export" / "annotations", range(1, 601))
    lanes, _ = _both(tmp_path, monkeypatch, export, "coco", **options)
    if options in LANE_CLOSERS:
        assert lanes == [None]
    else:
        (lane,) = lanes
        assert lane is not None and lane.open and lane.lines > 300


CORPUS_INSTANCES = [
    "datumaro/export_coco_instances/annotations/instances_default.json",
    "datumaro/export_coco_instances_segmode_mask/annotations/instances_default.json",
    "datumaro/export_coco_instances_segmode_polygons/annotations/instances_default.json",
    "datumaro/converted_from_upstream_cvat_for_video/annotations/instances_annotations.json",
    "datumaro/converted_from_upstream_cvat_export_project/annotations/instances_Train.json",
    "upstream/datumaro/coco_dataset/coco_instances/annotations/instances_train.json",
    "upstream/datumaro/coco_dataset/mmdet_coco/annotations/instances_val.json",
    "upstream/datumaro/coco_dataset/coco_roboflow/train/_annotations.coco.json",
]
"""Instances files as Datumaro, CVAT (through Datumaro), MMDetection and Roboflow write them:
boxes with attributes, polygons, RLE masks, crowd regions, non-contiguous ids."""


@pytest.mark.parametrize("rel", CORPUS_INSTANCES)
def test_a_real_coco_export_takes_the_lane(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rel: str
) -> None:
    """A corpus instances file, its images repeated to 420 or more under new ids and names:
    every image written after the sample goes through the lane, with the general path's
    bytes."""
    doc = json.loads(corpus_path("coco", *rel.split("/")).read_text(encoding="utf-8"))
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    repeats = -(-420 // len(doc["images"]))
    for n in range(repeats):
        for image in doc["images"]:
            new_id = n * 1000 + image["id"]
            images.append({**image, "id": new_id, "file_name": f"{n}/{image['file_name']}"})
            for ann in doc["annotations"]:
                if ann["image_id"] == image["id"]:
                    annotations.append({**ann, "id": n * 1000 + ann["id"], "image_id": new_id})
    folder = tmp_path / "export" / "annotations"
    folder.mkdir(parents=True)
    repeated = {**doc, "images": images, "annotations": annotations}
    (folder / "instances_default.json").write_text(json.dumps(repeated), encoding="utf-8")
    lanes, out = _both(tmp_path, monkeypatch, folder.parent, "coco", **REFERENCE)
    (lane,) = lanes
    assert lane is not None and lane.open
    position = {image["file_name"]: k for k, image in enumerate(images)}
    lines = out.decode().splitlines()
    assert lane.lines == sum(1 for line in lines if position[_url(line)] >= SAMPLE) > 200


def test_a_coco_lane_that_disagrees_with_the_general_path_closes_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = coco_express.box_detection

    def wrong(options: Options, switch: express.Switch) -> express.Extract:
        extract = real(options, switch)

        def lying(item: Any) -> tuple[int | str, tuple[str, ...], Any] | None:
            found = extract(item)
            return None if found is None else (found[0], (found[1][0], "[]"), found[2])

        return lying

    monkeypatch.setattr(coco_express, "box_detection", wrong)
    export = _export(tmp_path / "export" / "annotations", range(1, 601))
    lanes, _ = _both(tmp_path, monkeypatch, export, "coco", **REFERENCE)
    (lane,) = lanes
    assert lane is not None and not lane.open
    assert lane.lines <= 1  # an image with nothing to find may pass the check


HOSTILE: list[Any] = [
    None, True, "x", [], {}, [1, 2], -1, 0, 1e308, -1e308, 10**20, "1", [1, 2, 3, 4],
    [0, 0, 0, 0], [[1, 2, 3, 4, 5, 6]], {"counts": [0, 4], "size": [2, 2]},
    {"counts": "abc", "size": [2, 2]}, {"rotation": 45}, {"rotation": "x"}, [1e-300] * 4,
    {"rotation": 0}, {"rotation": False}, {"rotation": -0.0}, {"rotation": ""}, [True, 1, 2, 3],
    [2, 3, 10**20, 4], [-5, -5, 10, 10], {"part_of": "11"}, 1.5, -0.0,
]  # fmt: skip
"""Values put where a record's field belongs."""


def _hostile_export(folder: Path, seed: int) -> Path:
    """400 small images with boxes in and around the frame; one field in ten of the
    annotations and one in twenty of the images replaced by a value of another kind."""
    pick = random.Random(seed)
    images, annotations = [], []
    for i in range(1, 401):
        image: dict[str, Any] = {"id": i, "width": 64, "height": 48, "file_name": f"i{i}.jpg"}
        if pick.random() < 0.05:
            image[pick.choice(["id", "width", "height", "file_name"])] = pick.choice(HOSTILE)
        images.append(image)
        for k in range(pick.randint(0, 3)):
            ann: dict[str, Any] = {
                "id": i * 10 + k,
                "image_id": i,
                "category_id": pick.choice([1, 2]),
                "bbox": [
                    pick.uniform(-10, 70),
                    pick.uniform(-10, 50),
                    pick.uniform(0.1, 30),
                    pick.uniform(0.1, 30),
                ],
                "iscrowd": 0,
                "segmentation": [],
            }
            if pick.random() < 0.1:
                field = pick.choice(["bbox", "category_id", "segmentation", "attributes", "id"])
                ann[field] = pick.choice(HOSTILE)
            annotations.append(ann)
    categories = [{"id": 1, "name": "a"}, {"id": 2, "name": "b", "keypoints": ["p", "q"]}]
    doc = {"images": images, "annotations": annotations, "categories": categories}
    folder.mkdir(parents=True)
    path = folder / "instances_default.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_records_of_any_kind_get_the_same_lines_and_rejects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    export = _hostile_export(tmp_path / "export" / "annotations", seed)
    lanes, _ = _both(tmp_path, monkeypatch, export, "coco", **REFERENCE)
    (lane,) = lanes
    assert lane is not None and lane.open and lane.lines > 100


def test_plain_box_records_are_answered_without_region_objects() -> None:
    """Boxes as box tools export them go the short way; an outline or keypoints do not."""
    labels: coco_express.Labels = {1: ("scratch", None), 2: ("dent", None)}
    records: list[dict[str, Any]] = [
        {"id": 2, "category_id": 2, "bbox": [320, 240, 320, 240], "iscrowd": 0},
        {"id": 1, "category_id": 1, "bbox": [64.0, 48.0, 64.0, 48.0], "attributes": {}},
        {"id": 1, "category_id": 1, "bbox": [0.0, 0.0, 1.0, 1.0]},  # the same object again
        {"id": 3, "category_id": 1},  # no bbox: nothing to write
    ]
    names = coco_express.written_names(labels, Options())
    answer = coco_express.plain_answer(records, names, 640, 480, Options())
    assert answer == (
        '[{"box_2d": [100, 100, 200, 200], "label": "scratch"}, '
        '{"box_2d": [500, 500, 1000, 1000], "label": "dent"}]'
    )
    outlined = [{**records[0], "segmentation": [[320, 240, 640, 240, 640, 480]]}]
    pointed = [{**records[0], "keypoints": [330, 250, 2]}]
    turned = [{**records[0], "attributes": {"rotation": 15.0}}]
    for other in (outlined, pointed, turned):
        assert coco_express.plain_answer(other, names, 640, 480, Options()) is None


def test_the_lane_answers_plain_images_the_short_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    answered: list[bool] = []
    plain = coco_express.plain_answer

    def counted(*args: Any) -> str | None:
        found = plain(*args)
        answered.append(found is not None)
        return found

    monkeypatch.setattr(coco_express, "plain_answer", counted)
    export = _export(tmp_path / "export" / "annotations", range(1, 401))
    lanes, _ = _both(tmp_path, monkeypatch, export, "coco", **REFERENCE)
    assert lanes[0] is not None and lanes[0].open
    # the export's odd records (outlines, keypoints, turned boxes, bad values) are in about
    # one image in three; all others take the short way
    assert answered.count(True) > 0.6 * len(answered) > 100
