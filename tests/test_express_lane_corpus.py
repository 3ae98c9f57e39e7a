"""Every golden corpus conversion writes the same bytes and rejects with the express lanes as
without them, with the lanes opened at the second task and trusted after one check.

The corpus exports are smaller than the 200 tasks a run reads before its lane opens, so the
golden tests never reach a lane. Here the sample is one task and the lane verifies one task
before it writes from its layout alone: whatever the real tools wrote goes through the
lanes' tests (`*_express.py`), and any task they take must come out as the general path
writes it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from annoconvert import express, pipeline
from annoconvert.cli import main
from tests.conftest import corpus_path
from tests.test_golden_corpus import CASES, DOCCANO, OTHER, _args

MORE: dict[str, list[str]] = {
    "cvat_from_coco": ["cvat", "cvat/datumaro/converted_from_coco_instances"],
    "cvat_project": ["cvat", "cvat/upstream/datumaro/cvat_dataset/for_images/export_project"],
    "coco_mask": ["coco", "coco/datumaro/export_coco_instances_segmode_mask"],
    "coco_mmdet": ["coco", "coco/upstream/datumaro/coco_dataset/mmdet_coco"],
}
"""More exports with boxes, beside the golden cases."""
MORE_LS: dict[str, tuple[str, str]] = {
    "ls_g_detection_json_min": ("g_object_detection", "JSON_MIN.json"),
}
"""Label Studio exports beside the golden cases (the JSON-MIN of a box project; its tasks,
each with several annotators' rows, are not the lane's: test_express_lane_json_min.py has it
take the rows one annotator a task)."""
LANE_WRITES = {
    "doccano_classification_single_collab",
    "cvat_images",
    "cvat_two_subsets",
    "coco_instances",
    "coco_mask",
}
"""Cases in which the lane writes lines (most corpus tasks are of other shapes: several
annotators, outlines, options no lane takes)."""


def _run(args: list[str], tmp_path: Path, enabled: bool, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(express, "ENABLED", enabled)
    name = "lane" if enabled else "general"
    out, rejects = tmp_path / f"{name}.jsonl", tmp_path / f"{name}.rejects.jsonl"
    made: list[express.Lane | None] = []
    real = pipeline._express_lane

    def recorded(*a: Any) -> express.Lane | None:
        made.append(real(*a))
        return made[-1]

    monkeypatch.setattr(pipeline, "_express_lane", recorded)
    result = CliRunner().invoke(main, [*args, "-o", str(out), "--rejects", str(rejects)])
    assert result.exit_code == 0, result.output
    return out.read_bytes(), rejects.read_bytes(), made


@pytest.mark.parametrize("name", [*CASES, *DOCCANO, *OTHER, *MORE, *MORE_LS])
def test_a_corpus_export_gives_the_same_lines_with_the_lane_open_from_the_start(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "AUTO_SAMPLE", 1)
    monkeypatch.setattr(express, "VERIFY", 1)
    if name in MORE_LS:
        project, export = MORE_LS[name]
        folder = corpus_path("labelstudio", project)  # skips the test without the corpus
        args = ["labelstudio", str(folder / export), "--label-config", str(folder / "config.xml")]
        args += ["--image-mode", "reference"]
    elif name in MORE:
        reader, path = MORE[name]
        args = [reader, str(corpus_path(*path.split("/"))), "--image-mode", "reference"]
    else:
        args = _args(name)
    lane_out, lane_rejects, lanes = _run(args, tmp_path, True, monkeypatch)
    general_out, general_rejects, _ = _run(args, tmp_path, False, monkeypatch)
    assert lane_out == general_out
    assert lane_rejects.replace(b"lane.jsonl", b"general.jsonl") == general_rejects
    for lane in lanes:
        assert lane is None or lane.open  # a lane that opened was never wrong
    if name in LANE_WRITES:
        assert sum(lane.lines for lane in lanes if lane is not None) > 0


@pytest.mark.parametrize("dialect", ["vertex", "trl", "sharegpt"])
def test_a_corpus_classification_gives_the_same_lines_through_the_lane_in_each_dialect(
    dialect: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real Doccano export whose classifications the lane writes, in the dialects whose
    lines hold the text and the class as they are."""
    monkeypatch.setattr(pipeline, "AUTO_SAMPLE", 1)
    monkeypatch.setattr(express, "VERIFY", 1)
    args = [*_args("doccano_classification_single_collab"), "--dialect", dialect]
    lane_out, lane_rejects, lanes = _run(args, tmp_path, True, monkeypatch)
    general_out, general_rejects, _ = _run(args, tmp_path, False, monkeypatch)
    assert lane_out == general_out
    assert lane_rejects.replace(b"lane.jsonl", b"general.jsonl") == general_rejects
    assert all(lane is None or lane.open for lane in lanes)
    assert sum(lane.lines for lane in lanes if lane is not None) > 0
