"""COCO reader against the corpus, the CVAT-vs-COCO second route, RLE, layouts and refusals."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from annoconvert.errors import ShapeError
from annoconvert.model import Box, Choice, Mask, Points, Polygon, Reject, Task, TextAnswer
from annoconvert.options import Options
from annoconvert.readers.coco import READER
from annoconvert.readers.cvat import READER as CVAT
from tests.conftest import corpus_path
from tests.test_cvat_reader import mask_bitmap

REFUSED = [  # bare lists (COCO results, category list) and panoptic PNG-mask files
    "upstream/cocodataset-cocoapi/results/captions_val2014_fakecap_results.json",
    "upstream/cocodataset-cocoapi/results/instances_val2014_fakebbox100_results.json",
    "upstream/cocodataset-cocoapi/results/instances_val2014_fakesegm100_results.json",
    "upstream/cocodataset-cocoapi/results/person_keypoints_val2014_fakekeypoints100_results.json",
    "upstream/cocodataset-panopticapi/panoptic_coco_categories.json",
    "upstream/cocodataset-panopticapi/sample_data/panoptic_examples.json",
    "datumaro/export_coco_all_tasks/annotations/panoptic_default.json",
    "datumaro/converted_from_cvat_to_coco_all_tasks/annotations/panoptic_default.json",
    "upstream/datumaro/coco_dataset/coco/annotations/panoptic_train.json",
    "upstream/datumaro/coco_dataset/coco/annotations/panoptic_val.json",
    "upstream/datumaro/coco_dataset/coco_panoptic/annotations/panoptic_train.json",
    "upstream/datumaro/coco_dataset/coco_panoptic/annotations/panoptic_val.json",
]


def all_json() -> list[str]:
    root = corpus_path("coco")
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*.json"))


def read(path: Path | str) -> list[Task | Reject]:
    return list(READER.read([str(path)], Options()))


def tasks_of(path: Path | str) -> list[Task]:
    """Tasks of an input; a folder's panoptic files are reported (one Reject each), nothing else."""
    items = read(path)
    rejects = [i for i in items if isinstance(i, Reject)]
    assert all(r.code == "unsupported_panoptic" and "panoptic" in r.file for r in rejects), rejects
    return [i for i in items if isinstance(i, Task)]


def test_every_valid_corpus_file_converts() -> None:
    # one test over the listing (the corpus may be absent outside CI: corpus_path skips)
    valid = [rel for rel in all_json() if rel not in REFUSED]
    assert len(valid) >= 40
    for rel in valid:
        tasks = tasks_of(corpus_path("coco", rel))
        data = json.loads(corpus_path("coco", rel).read_text())
        assert len(tasks) == len(data["images"]), rel
        for t in tasks:
            assert len(t.annotations) == 1 and t.annotations[0].annotator is None
            assert t.images[0].uri and "label" in t.fields["__labels__"]


@pytest.mark.parametrize("rel", REFUSED)
def test_results_and_panoptic_files_are_refused_clearly(rel: str) -> None:
    path = corpus_path("coco", rel)
    with pytest.raises(ShapeError) as info:
        read(path)
    msg = str(info.value)
    assert str(path) in msg
    assert ("bare JSON list" in msg) or ("panoptic" in msg)


def test_compressed_rle_pixel_count_equals_pycocotools_area() -> None:
    from pycocotools import mask as mask_utils

    path = corpus_path(
        "coco", "upstream/cocodataset-panopticapi/sample_data/panoptic_coco_detection_format.json"
    )
    data = json.loads(path.read_text())
    masks = {
        r.id: r for t in tasks_of(path) for r in t.annotations[0].regions if isinstance(r, Mask)
    }
    assert len(masks) == len(data["annotations"]) == 50
    for ann in data["annotations"]:
        rle = dict(ann["segmentation"], counts=ann["segmentation"]["counts"].encode())
        mask = masks[f"{ann['id']}/mask"]
        assert sum(mask.counts[1::2]) == int(mask_utils.area(rle))


TWINS = [  # (CVAT export made by Datumaro, the same data through Datumaro's COCO writer)
    ("datumaro/export_cvat_images_1.1", "datumaro/converted_from_cvat_to_coco_instances"),
    ("datumaro/export_cvat_images_1.1", "datumaro/converted_from_cvat_to_coco_all_tasks"),
    ("datumaro/export_cvat_two_subsets", "datumaro/export_coco_instances_two_subsets"),
    ("datumaro/converted_from_coco_instances", "datumaro/export_coco_instances"),
]


def _boxes(
    tasks: list[Task], bbox_only_ids: set[tuple[str, str]] | None = None
) -> set[tuple[object, ...]]:
    out = set()
    for t in tasks:
        for r in t.annotations[0].regions:
            if isinstance(r, Box) and r.rotation == 0:
                if bbox_only_ids is not None and (t.images[0].uri, r.id) not in bbox_only_ids:
                    continue
                key = (t.images[0].uri, r.labels)
                out.add((*key, *(round(v * 1000) for v in (r.x, r.y, r.width, r.height))))
    return out


@pytest.mark.parametrize(("cvat_rel", "coco_rel"), TWINS)
def test_boxes_match_through_the_coco_route(cvat_rel: str, coco_rel: str) -> None:
    cvat_tasks = [t for t in CVAT.read([str(corpus_path("cvat", cvat_rel))], Options())]
    assert all(isinstance(t, Task) for t in cvat_tasks)
    coco_tasks = tasks_of(corpus_path("coco", coco_rel))
    cvat_boxes = _boxes(cvat_tasks)  # type: ignore[arg-type]
    coco_boxes = _boxes(coco_tasks)
    # Datumaro's COCO writer drops the rotated box (rotation 30, part_005) - excluded above by
    # rotation == 0 - and merges the grouped box + polygon (group_id 7) into one object that
    # keeps the box's bbox, so every unrotated CVAT box survives. COCO adds a bbox for every
    # polygon/mask object, so COCO's set may be larger: compare CVAT boxes against COCO, and
    # COCO's bbox-only objects (empty segmentation) against CVAT.
    assert cvat_boxes and cvat_boxes <= coco_boxes
    bbox_only: set[tuple[str, str]] = set()
    for ann_file in corpus_path("coco", coco_rel).glob("annotations/instances_*.json"):
        data = json.loads(ann_file.read_text())
        names = {i["id"]: i["file_name"] for i in data["images"]}
        bbox_only |= {
            (names[a["image_id"]], str(a["id"]))
            for a in data["annotations"]
            if not a.get("segmentation")
        }
    assert _boxes(coco_tasks, bbox_only) <= cvat_boxes


def test_masks_match_through_the_coco_route() -> None:
    cvat = {
        t.images[0].uri: t
        for t in CVAT.read([str(corpus_path("cvat", "datumaro/export_cvat_images_1.1"))], Options())
        if isinstance(t, Task)
    }
    coco = {
        t.images[0].uri: t
        for t in tasks_of(corpus_path("coco", "datumaro/converted_from_cvat_to_coco_instances"))
    }
    a = [r for r in cvat["part_003.png"].annotations[0].regions if isinstance(r, Mask)]
    b = [r for r in coco["part_003.png"].annotations[0].regions if isinstance(r, Mask)]
    # CVAT (Datumaro) writes full-image mask boxes, COCO gives tight boxes: compare bitmaps
    assert sorted(mask_bitmap(m).sum() for m in a) == sorted(mask_bitmap(m).sum() for m in b)
    assert all(m.left == 0 and m.mask_width == 256 for m in a)
    assert {(m.left, m.top, m.mask_width, m.mask_height) for m in b} == {
        (120, 100, 71, 61),
        (10, 200, 3, 4),
    }
    assert (mask_bitmap(a[0]) == mask_bitmap(b[0])).all()


def test_rotation_attribute_turns_the_box_like_cvat(tmp_path: Path) -> None:
    doc = {
        "images": [{"id": 9, "file_name": "a.jpg", "width": 800, "height": 600}],
        "categories": [{"id": 3, "name": "scratch"}],
        "annotations": [
            {
                "id": 1,
                "image_id": 9,
                "category_id": 3,
                "bbox": [140, 380, 120, 40],
                "segmentation": [],
                "iscrowd": 0,
                "attributes": {"rotation": 30.0, "occluded": False},
            }
        ],
    }
    path = tmp_path / "coco.json"
    path.write_text(json.dumps(doc))
    (task,) = tasks_of(path)
    box = task.annotations[0].regions[0]
    # the same rectangle as the CVAT rotated box (xtl=140..xbr=260, 30° about the centre)
    assert isinstance(box, Box) and box.rotation == 30.0
    assert (box.x, box.y, box.width, box.height) == pytest.approx(
        (0.175, 380 / 600, 0.15, 40 / 600)
    )
    assert task.id == 9 and task.fields["__labels__"] == {"label": ["scratch"]}


def test_keypoints_captions_labels_and_noncontiguous_ids() -> None:
    root = corpus_path("coco", "upstream/datumaro/coco_dataset/coco")
    tasks = {(t.subset, t.images[0].uri): t for t in tasks_of(root)}
    val = tasks[("val", "b.jpg")]
    regions = val.annotations[0].regions
    kinds = [type(r).__name__ for r in regions]
    assert kinds.count("Points") == 2 and kinds.count("TextAnswer") == 2
    assert kinds.count("Choice") == 2
    pts = next(r for r in regions if isinstance(r, Points))
    # keypoints [1,2,2, 3,4,2, 2,3,2] on a 5x10 image
    assert pts.points == ((0.2, 0.2), (0.6, 0.4), (0.4, 0.3)) and pts.visibility == (2, 2, 2)
    caps = [r.texts[0] for r in regions if isinstance(r, TextAnswer)]
    assert caps == ["world", "text"] and all(
        r.field == "caption" for r in regions if isinstance(r, TextAnswer)
    )
    assert {r.labels[0] for r in regions if isinstance(r, Choice)} == {"a", "b"}
    # instances categories have ids 1, 2, 4: names in id order
    assert val.fields["__labels__"]["label"] == ["a", "b", "c"]
    # the person_keypoints record with id 1 repeats instances id 1: its box is not doubled
    assert len([r for r in regions if isinstance(r, Box)]) == 2
    assert len([r for r in regions if isinstance(r, Polygon)]) == 1


@pytest.mark.parametrize(
    ("rel", "root_tail"),
    [
        ("upstream/datumaro/coco_dataset/coco_roboflow", "coco_roboflow/train"),
        ("upstream/datumaro/coco_dataset/mmdet_coco", "mmdet_coco/train"),
        ("datumaro/export_coco_instances", "export_coco_instances/images/default"),
        (
            "datumaro/export_coco_instances/annotations/instances_default.json",
            "export_coco_instances/images/default",
        ),
    ],
)
def test_layout_image_roots_hold_the_images(rel: str, root_tail: str) -> None:
    path = corpus_path("coco", rel)
    roots = READER.default_image_roots([str(path)])
    assert roots[0].endswith(root_tail)
    for t in tasks_of(path):
        assert any((Path(r) / t.images[0].uri).is_file() for r in roots), t.images[0].uri


def test_zip_input_roots_and_empty_image(tmp_path: Path) -> None:
    src = corpus_path("coco", "datumaro/export_coco_instances")
    zpath = tmp_path / "coco.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for p in sorted(src.rglob("*")):
            if p.is_file():
                zf.write(p, p.relative_to(src).as_posix())
    tasks = {t.images[0].uri: t for t in tasks_of(zpath)}
    assert len(tasks) == 7 and tasks["part_006_clean.jpg"].annotations[0].regions == ()
    assert tasks["part_001.jpg"].subset == "default"
    assert READER.default_image_roots([str(zpath)]) == [
        f"{zpath}!images/default",
        f"{zpath}!images",
    ]


def test_orphan_annotation_and_unknown_category_are_rejects(tmp_path: Path) -> None:
    doc = {
        "images": [{"id": 1, "file_name": "a.jpg", "width": 10, "height": 10}],
        "categories": [{"id": 1, "name": "x"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 5, "bbox": [0, 0, 1, 1]},
            {"id": 2, "image_id": 77, "category_id": 1, "bbox": [0, 0, 1, 1]},
        ],
    }
    path = tmp_path / "d.json"
    path.write_text(json.dumps(doc))
    codes = sorted(i.code for i in read(path) if isinstance(i, Reject))
    assert codes == ["unknown_category", "unknown_image"]


@pytest.mark.parametrize(
    ("images", "rejected"),
    [
        ([(1, "a.jpg"), (2, "b.jpg"), (3, "ü.jpg")], []),
        ([(1, "a.jpg"), (2, "b.jpg"), (1, "c.jpg")], [(1, "duplicate_image_id")] * 2),
        ([(1, "ü.jpg"), (2, "b.jpg"), (3, "ü.jpg")], [(3, "duplicate_image")]),
        ([(1, "a.jpg"), ("2", "b.jpg"), (3, "a.jpg")], [(3, "duplicate_image")]),
        ([(1, "a.jpg"), (2, None), (3, "c.jpg")], [(2, "bad_image")]),
    ],
)
def test_image_records_listed_twice_are_rejected(
    tmp_path: Path, images: list[tuple[object, object]], rejected: list[tuple[object, str]]
) -> None:
    """The usual file (every id and name once) is told from the columns at once; any other
    is read record by record, and its repeats are rejected."""
    records = [{"id": i, "file_name": n, "width": 10, "height": 10} for i, n in images]
    doc = {"images": records, "categories": [{"id": 1, "name": "x"}], "annotations": []}
    path = tmp_path / "d.json"
    path.write_text(json.dumps(doc))
    items = list(read(path))
    assert [(r.task, r.code) for r in items if isinstance(r, Reject)] == rejected
    written = [t.images[0].uri for t in items if isinstance(t, Task)]
    assert len(written) == len(images) - len(rejected)


def test_a_bad_record_is_rejected_at_its_own_locator(tmp_path: Path) -> None:
    """The records are read without locators first; the failing one is named all the same."""
    doc = {
        "images": [
            {"id": 1, "file_name": "a.jpg", "width": 10, "height": 10},
            {"id": 2, "file_name": "b.jpg", "width": 10, "height": 10},
        ],
        "categories": [{"id": 1, "name": "x"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1]},
            {"id": 2, "image_id": 2, "category_id": 1, "bbox": [0, 0, 1, 1]},
            {"id": 3, "image_id": 2, "category_id": 1, "bbox": [0, 0, 1, "1"]},
            {"id": 4, "image_id": 2, "category_id": 7, "bbox": [0, 0, 1, 1]},
        ],
    }
    path = tmp_path / "d.json"
    path.write_text(json.dumps(doc))
    items = read(path)
    assert isinstance(items[0], Task) and len(items[0].annotations[0].regions) == 1
    reject = items[1]
    assert isinstance(reject, Reject)
    assert (reject.task, reject.code, reject.locator) == (
        2,
        "bad_geometry",
        "annotations[image_id=2][1].bbox",
    )


def test_annotation_ids_of_any_json_kind_are_read(tmp_path: Path) -> None:
    """An id that is a list or an object (a hand-edited or generated file) does not stop the
    reader; two annotations without an id are two objects, not a repeat."""
    ann = {"image_id": 1, "category_id": 1, "bbox": [1, 1, 2, 2]}
    doc = {
        "images": [{"id": 1, "file_name": "a.jpg", "width": 10, "height": 10}],
        "categories": [{"id": 1, "name": "x"}],
        "annotations": [
            {**ann, "id": [1, 2]},
            {**ann, "id": {"n": 1}},
            {**ann, "id": [1, 2]},  # the same id again: added once
            {**ann},
            {**ann},
        ],
    }
    path = tmp_path / "d.json"
    path.write_text(json.dumps(doc))
    (task,) = tasks_of(path)
    assert len(task.annotations[0].regions) == 4
