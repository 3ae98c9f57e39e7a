"""The express lane on Label Studio's JSON-MIN export writes what the general path writes.

JSON-MIN has one row per annotation: the task's data columns, `id`, one column per control
and Label Studio's own (`annotator`, `annotation_id`, `created_at`, `updated_at`,
`lead_time`); a single class is a bare string, boxes a list of values with the image size
beside each. As in test_express_lane.py, every export is converted with the lane and
without it, and the bytes, counts, rejects and warnings must match.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from annoconvert import express, pipeline
from tests.conftest import corpus_path
from tests.test_express_lane import CONFIG as TEXT_CONFIG
from tests.test_express_lane import LABELS as CLASSES
from tests.test_express_lane import TEXTS, _both, _export, both_split
from tests.test_express_lane_boxes import CONFIG as BOX_CONFIG
from tests.test_express_lane_boxes import LABELS as BOX_LABELS
from tests.test_express_lane_boxes import _box, uploads
from tests.test_express_lane_embed import _jpeg

SAMPLE = 200
"""Tasks read before the recipe is chosen and the lane opens (pipeline.AUTO_SAMPLE)."""
REFERENCE = {"image_mode": "reference"}


def _meta(i: int, by: int = 1) -> dict[str, Any]:
    return {
        "annotator": by,
        "annotation_id": i * 10 + by,
        "created_at": "2026-01-05T10:00:00.000000Z",
        "updated_at": f"2026-01-05T10:00:{by:02d}.000000Z",
        "lead_time": 4.5,
    }


def _text_rows(i: int) -> list[dict[str, Any]]:
    """The rows of task i: mostly one annotator's bare class, with every 40 a run of odd ones."""
    text = TEXTS[i % len(TEXTS)] + f" #{i % 97}"
    label = CLASSES[i % 3]
    row: dict[str, Any] = {"text": text, "id": i, "sentiment": label, **_meta(i)}
    odd = i % 40
    if odd == 3:  # two annotators: two rows
        return [row, {**row, "sentiment": CLASSES[(i + 1) % 3], **_meta(i, 2)}]
    if odd == 5:  # no annotation (a snapshot of all tasks)
        return [{**row, "annotator": None, "annotation_id": None}]
    if odd == 7 and i > SAMPLE:  # two classes: an object (after the sample: auto stays single)
        row["sentiment"] = {"choices": CLASSES[:2]}
    elif odd == 9:  # a class the config does not declare
        row["sentiment"] = "mixed"
    elif odd == 11:  # a string id
        row["id"] = f"t-{i}"
    elif odd == 13:  # no text column
        del row["text"]
    elif odd == 15:  # empty text
        row["text"] = ""
    elif odd == 17:  # a class that is not a string
        row["sentiment"] = 3
    elif odd == 19:  # a column after id that is no control of the config
        row = {"text": text, "id": i, "mood": "calm", "sentiment": label, **_meta(i)}
    elif odd == 21:  # a data column before id: the general path keeps it as a field
        row = {"text": text, "subject": "Re: order", "id": i, "sentiment": label, **_meta(i)}
    elif odd == 23:  # the annotator alone (no annotation id)
        row["annotation_id"] = None
    elif odd == 25:  # no class chosen: no column
        del row["sentiment"]
    elif odd == 27:  # the text after the id column (an object's key: data all the same)
        row = {"id": i, "text": text, "sentiment": label, **_meta(i)}
    return [row]


TEXT_COMMON = {0, 1, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 21, 22, 23, 24, 26, 27, 28, 29}
"""The cases of `_text_rows` (i % 40) the lane takes, with every i % 40 from 28 on."""


def _text_common(i: int) -> bool:
    return i % 40 in TEXT_COMMON or i % 40 >= 28 or (i % 40 == 7 and i <= SAMPLE)


def _min_export(tmp_path: Path, rows: list[dict[str, Any]], config: str) -> tuple[Path, Path]:
    """The rows as Label Studio writes JSON-MIN (indented), and the config."""
    return _export(tmp_path, rows, config, indent=2)


def test_a_json_min_text_export_takes_the_lane(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [row for i in range(1, 801) for row in _text_rows(i)]
    export, cfg = _min_export(tmp_path, rows, TEXT_CONFIG)
    lanes, out = _both(tmp_path, monkeypatch, export, label_config=str(cfg))
    (lane,) = lanes
    assert lane is not None and lane.open
    assert lane.lines == sum(1 for i in range(SAMPLE + 1, 801) if _text_common(i))
    assert len(out.splitlines()) > lane.lines


@pytest.mark.parametrize(
    "options",
    [
        {"system": "Classify the review.", "answer_template": "Sentiment: {label}"},
        {"split": "train=0.5,val=0.5"},
        {"dialect": "vertex"},
    ],
)
def test_a_json_min_text_export_under_options_the_lane_takes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, options: dict[str, Any]
) -> None:
    rows = [row for i in range(1, 601) for row in _text_rows(i)]
    export, cfg = _min_export(tmp_path, rows, TEXT_CONFIG)
    if "split" in options:
        lanes = both_split(tmp_path, monkeypatch, export, label_config=str(cfg), **options)
    else:
        lanes, _ = _both(tmp_path, monkeypatch, export, label_config=str(cfg), **options)
    (lane,) = lanes
    assert lane is not None and lane.open
    assert lane.lines == sum(1 for i in range(SAMPLE + 1, 601) if _text_common(i))


def _box_value(i: int, k: int, **extra: Any) -> dict[str, Any]:
    """JSON-MIN's shape of `_box(i, k)`: its value with the image size beside it."""
    result = _box(i, k)
    size = {key: result[key] for key in ("original_width", "original_height")}
    return {**result["value"], **size, **extra}


def _box_rows(i: int) -> list[dict[str, Any]]:
    values = [_box_value(i, k) for k in range(1 + i % 4)]
    row: dict[str, Any] = {"image": f"/data/upload/1/{i:08x}-img_{i}.jpg", "id": i}
    row["label"] = values
    row.update(_meta(i))
    odd = i % 40
    if odd == 3:  # two annotators
        return [row, {**row, "label": [_box_value(i, 9)], **_meta(i, 2)}]
    if odd == 5:  # a box without the image size
        del values[0]["original_width"], values[0]["original_height"]
    elif odd == 7:  # two sizes in one row
        values.append(_box_value(i, 5, original_width=1024, original_height=768))
    elif odd == 9:  # a box with two labels
        values[0]["rectanglelabels"] = BOX_LABELS[:2]
    elif odd == 11:  # an undeclared label
        values[0]["rectanglelabels"] = ["rust"]
    elif odd == 13:  # a turned box (its envelope is the general path's)
        values[0]["rotation"] = 30
    elif odd == 15:  # a value key the lane does not know
        values[0]["score"] = 0.5
    elif odd == 17:  # a clean image: no column
        del row["label"]
    elif odd == 19:  # off the image
        values[0]["x"] = 150.0
    elif odd == 21:  # the column is not a list
        row["label"] = values[0]
    elif odd == 23:  # a remote image, kept as its URI in reference mode
        row["image"] = f"https://cdn.example/a b/{i}.jpg"
    return [row]


BOX_COMMON = {0, 1, 2, 4, 6, 8, 10, 12, 13, 14, 16, 17, 18, 20, 22, 23}
"""The cases of `_box_rows` (i % 40) the lane takes, with every i % 40 from 24 on (13: a
turned box, read by the reader's own `parse_rectangle`; 17: an image with no box; 19: a box
the general path rejects as off the image, so the lane does not take it either)."""


def _box_common(i: int) -> bool:
    return i % 40 in BOX_COMMON or i % 40 >= 24


def test_a_json_min_box_export_takes_the_lane(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [row for i in range(1, 801) for row in _box_rows(i)]
    export, cfg = _min_export(tmp_path, rows, BOX_CONFIG)
    lanes, out = _both(tmp_path, monkeypatch, export, label_config=str(cfg), **REFERENCE)
    (lane,) = lanes
    assert lane is not None and lane.open
    assert lane.lines == sum(1 for i in range(SAMPLE + 1, 801) if _box_common(i))
    assert len(out.splitlines()) > lane.lines


@pytest.mark.parametrize(
    ("project", "options"),
    [("a_text_classification", {}), ("g_object_detection", REFERENCE)],
)
def test_real_json_min_rows_take_the_lane(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, project: str, options: dict[str, Any]
) -> None:
    """Label Studio's own JSON-MIN rows, one annotator's a task (the project's export holds
    two or three a task, which the lane leaves to the general path), with the lane opened at
    the second task and trusted after one check."""
    folder = corpus_path("labelstudio", project)
    rows = json.loads((folder / "JSON_MIN.json").read_text("utf-8"))
    first: dict[Any, dict[str, Any]] = {}
    for row in rows:
        first.setdefault(row["id"], row)
    export = tmp_path / "JSON_MIN.json"
    export.write_text(json.dumps(list(first.values()), indent=2), encoding="utf-8")
    monkeypatch.setattr(pipeline, "AUTO_SAMPLE", 1)
    monkeypatch.setattr(express, "VERIFY", 1)
    config = str(folder / "config.xml")
    lanes, out = _both(tmp_path, monkeypatch, export, label_config=config, **options)
    (lane,) = lanes
    assert lane is not None and lane.open
    assert lane.lines == len(first) - 1  # every task after the one-task sample
    assert len(out.splitlines()) == len(first)


def test_a_json_min_box_export_embeds_its_images_as_the_general_path_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The images of the odd tasks are there (every seventh left out), the even ones not:
    those are rejected both ways."""
    rows = [row for i in range(1, 701) for row in _box_rows(i)]
    export, cfg = _min_export(tmp_path, rows, BOX_CONFIG)
    uploads(tmp_path / "media" / "upload" / "1", lambda i: _jpeg((640, 480), i % 256))
    lanes, out = _both(
        tmp_path,
        monkeypatch,
        export,
        label_config=str(cfg),
        images_root=[str(tmp_path / "media")],
        workers=1,
    )
    (lane,) = lanes
    assert lane is not None and lane.open
    found = [i for i in range(SAMPLE + 1, 701) if i % 2 and i % 7]
    assert lane.lines == sum(1 for i in found if _box_common(i) and i % 40 != 23) > 100
    assert all(b'"url":"data:image/jpeg;base64,' in line for line in out.splitlines())
