"""COCO files are read in slices (plain files) or by the general loaders: the same tasks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from annoconvert.model import TASK_ADAPTER, Reject
from annoconvert.options import Options
from annoconvert.readers import coco
from annoconvert.registry import reader
from tests.conftest import corpus_path


def _tasks(path: Path) -> list[object]:
    """Tasks as JSON, rejects as their dict: a comparable picture of a read."""
    return [
        t.as_dict() if isinstance(t, Reject) else TASK_ADAPTER.dump_json(t)
        for t in reader("coco").read([str(path)], Options())
    ]


def _never_plain(raw: object, start: int = 0) -> coco._Parsed:
    raise coco._NotPlain


CORPUS = [
    "coco/datumaro/export_coco_instances",
    "coco/datumaro/export_coco_all_tasks",
    "coco/upstream/cocodataset-panopticapi/sample_data/panoptic_coco_detection_format.json",
]


@pytest.mark.parametrize("rel", CORPUS)
@pytest.mark.parametrize("stream_from", [0, 1 << 40], ids=["ijson", "full-load"])
def test_sliced_read_equals_the_general_loaders(
    rel: str, stream_from: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = corpus_path(*rel.split("/"))
    with monkeypatch.context() as m:
        m.setattr(coco, "CHUNK", 64)  # many slices, many cuts to check
        sliced = _tasks(source)
    monkeypatch.setattr(coco, "_load_plain", _never_plain)
    monkeypatch.setattr(coco, "STREAM_FROM", stream_from)
    assert _tasks(source) == sliced
    assert sliced


def _doc(anns: list[dict[str, object]], **extra: object) -> dict[str, object]:
    return {
        "info": {"description": "a },{ brace pair", "note": "é€ 😀"},
        "licenses": [{"id": 0, "name": "x"}],
        "categories": [{"id": 1, "name": "car"}],
        "images": [
            {"id": i, "file_name": f"{i}.jpg", "width": 100, "height": 50} for i in (1, 2, 3)
        ],
        "annotations": anns,
        **extra,
    }


TRICKY = [
    # cut candidates `},{` inside strings and nested lists of objects, non-ASCII text
    {"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], "attributes": {"n": "},{"}},
    {"id": 2, "image_id": 2, "category_id": 1, "bbox": [1, 2, 3, 4], "extra": [{"a": 1}, {"b": 2}]},
    {"id": 3, "image_id": 1, "category_id": 1, "bbox": [5, 5, 3, 4], "attributes": {"t": "é😀"}},
    {"id": 4, "image_id": 9, "category_id": 1, "bbox": [1, 2, 3, 4]},
]


def _shifted(doc: dict[str, object], base: int) -> dict[str, object]:
    """The same export with every image id moved by `base` (sparse or negative ids)."""
    for img in doc["images"]:  # type: ignore[attr-defined]
        img["id"] += base
    for ann in doc["annotations"]:  # type: ignore[attr-defined]
        ann["image_id"] += base
    return doc


@pytest.mark.parametrize("chunk", [1, 40, 1 << 20])
@pytest.mark.parametrize("indent", [None, 2])
@pytest.mark.parametrize(
    "base",
    [0, -7, 10**12, -(2**63) - 1],
    ids=["ids-1-n", "negative", "sparse", "int64-min"],  # image 1's id is then -2**63
)
def test_tricky_plain_file_reads_like_a_full_load(
    chunk: int, indent: int | None, base: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "instances_default.json"
    doc = _shifted(_doc(json.loads(json.dumps(TRICKY)), trailer={"k": [1, {"x": "]"}]}), base)
    text = json.dumps(doc, indent=indent)
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())  # with a byte order mark
    with monkeypatch.context() as m:
        m.setattr(coco, "CHUNK", chunk)
        m.setattr(coco, "_load_plain", _never_plain)
        expected = _tasks(path)
    monkeypatch.setattr(coco, "CHUNK", chunk)
    assert len(coco._load_plain(path.read_bytes(), 3).images) == 3  # the sliced loader takes it
    assert _tasks(path) == expected
    # image 1 holds records 1 and 3 (not adjacent in the file); 9 is an orphan
    first = json.loads(expected[0])  # type: ignore[arg-type]
    assert len(first["annotations"][0]["regions"]) == 2
    assert isinstance(expected[-1], dict) and expected[-1]["code"] == "unknown_image"


def test_plain_loader_takes_plain_files_and_leaves_the_rest(tmp_path: Path) -> None:
    plain = json.dumps(_doc(TRICKY)).encode()
    assert len(coco._load_plain(plain).images) == 3
    for odd in (
        b"[]",
        plain[:-1],  # truncated
        plain + b" x",  # trailing text
        plain.replace(b'"licenses"', b'"images"'),  # a repeated key
        json.dumps({"images": {}, "annotations": []}).encode(),
        json.dumps({"images": [], "annotations": None}).encode(),
        json.dumps({"annotations": []}).encode(),
    ):
        with pytest.raises(coco._NotPlain):
            coco._load_plain(odd)


def test_streamed_results_list_is_still_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from annoconvert.errors import ShapeError

    results = corpus_path("coco", "upstream", "cocodataset-cocoapi", "results")
    first = sorted(results.glob("*.json"))[0]
    shutil.copy(first, tmp_path / "results.json")
    monkeypatch.setattr(coco, "STREAM_FROM", 0)
    with pytest.raises(ShapeError) as err:
        list(reader("coco").read([str(tmp_path / "results.json")], Options()))
    assert "results" in str(err.value)
