"""Large COCO files are read in passes, annotations kept as compact bytes: same tasks."""

from __future__ import annotations

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


@pytest.mark.parametrize(
    "rel",
    [
        "coco/datumaro/export_coco_instances",
        "coco/datumaro/export_coco_all_tasks",
        "coco/upstream/cocodataset-panopticapi/sample_data/panoptic_coco_detection_format.json",
    ],
)
def test_streamed_read_equals_the_full_load(
    rel: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = corpus_path(*rel.split("/"))
    full = _tasks(source)
    monkeypatch.setattr(coco, "STREAM_FROM", 0)  # every file counts as large
    assert _tasks(source) == full
    assert full


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
