"""The express lane on Label Studio's JSON-MIN export writes what the general path writes.

JSON-MIN has one row per annotation: the task's data columns, `id`, one column per control
and Label Studio's own (`annotator`, `annotation_id`, `created_at`, `updated_at`,
`lead_time`); a single class is a bare string, boxes a list of values with the image size
beside each. As in test_express_lane.py, every export is converted with the lane and
without it, and the bytes, counts, rejects and warnings must match.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import annoconvert
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


# --- hostile rows: the lane opened at the second task, against the general path -------------

_ANY = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from([2**63, -(2**63) - 1, -0.0, 0.5, "", "x", "positive", "dent"]),
    st.text(max_size=4),
)
_CLASS_COLUMN = st.one_of(
    _ANY,
    st.fixed_dictionaries({"choices": st.lists(st.sampled_from(CLASSES), max_size=2)}),
    st.lists(st.sampled_from(CLASSES), max_size=2),
)
"""A class column the lane must not take as a bare class."""
_NUMBER = st.one_of(st.floats(-20, 120), st.integers(-5, 700), _ANY)
_ODD_BOX = st.fixed_dictionaries(
    {},
    optional={
        "x": _NUMBER,
        "y": _NUMBER,
        "width": _NUMBER,
        "height": _NUMBER,
        "rotation": st.one_of(st.just(0), _NUMBER),
        "rectanglelabels": st.one_of(
            st.lists(st.sampled_from([*BOX_LABELS, "rust"]), max_size=2), _ANY
        ),
        "original_width": st.one_of(st.just(640), _NUMBER),
        "original_height": st.one_of(st.just(480), _NUMBER),
        "score": _ANY,
    },
)
_BOXES = st.lists(st.builds(_box_value, st.integers(0, 50), st.integers(0, 3)), max_size=3)
_BOX_COLUMN = st.one_of(
    _ANY,
    st.lists(
        st.one_of(_ODD_BOX, st.builds(_box_value, st.integers(0, 50), st.integers(0, 3))),
        min_size=1,
        max_size=3,
    ),
)
"""A box column that may hold values the lane must not take."""
_CHANGES = st.sampled_from(
    ["none", "none", "none", "value", "value", "order", "drop", "extra", "unannotated", "twice"]
)
"""What a task has of its own: nothing (the lane's shape), one value of any kind (the
control's of its own odd kinds), its columns in another order, one column fewer, one more
before or after `id`, no annotation (Label Studio's row of nulls), or a second annotator's
row."""


def _hostile_rows(
    draw: st.DrawFn,
    task: int,
    data_key: str,
    control: tuple[str, st.SearchStrategy[Any], st.SearchStrategy[Any]],
) -> list[dict[str, Any]]:
    """The rows of task `task`, with one change drawn (`_CHANGES`) to a plausible row;
    `control` is the control's name, its plausible column and its odd one."""
    name, plausible, odd = control
    row: dict[str, Any] = {
        data_key: draw(st.sampled_from(["/a.jpg", "a text", "b"])),
        "id": task,
        name: draw(plausible),
        "annotator": 1,
        "annotation_id": 7 + task,
        "updated_at": "2026-01-01",
    }
    change = draw(_CHANGES)
    keys = list(row)
    if change == "value":
        key = draw(st.sampled_from(keys))
        row[key] = draw(odd if key == name else _ANY)
    elif change == "order":
        row = {key: row[key] for key in draw(st.permutations(keys))}
    elif change == "drop":
        del row[draw(st.sampled_from(keys))]
    elif change == "extra":
        at = draw(st.integers(0, len(keys)))
        extra = (draw(st.sampled_from(["subject", "mood", "lead_time"])), draw(_ANY))
        items = list(row.items())
        row = dict([*items[:at], extra, *items[at:]])
    elif change == "unannotated":
        row.update(annotator=None, annotation_id=None)
    elif change == "twice":
        return [row, {**row, name: draw(plausible), "annotator": 2, "annotation_id": 1}]
    return [row]


@st.composite
def _text_export(draw: st.DrawFn) -> list[dict[str, Any]]:
    first = {"text": "a plain one", "id": 100, "sentiment": "positive", **_meta(100)}
    control = ("sentiment", st.sampled_from(CLASSES), _CLASS_COLUMN)
    count = draw(st.integers(4, 10))
    rows = [row for i in range(1, count + 1) for row in _hostile_rows(draw, i, "text", control)]
    return [first, *rows]


@st.composite
def _box_export(draw: st.DrawFn) -> list[dict[str, Any]]:
    first = {"image": "/a.jpg", "id": 100, "label": [_box_value(1, 1)], **_meta(100)}
    control = ("label", _BOXES, _BOX_COLUMN)
    count = draw(st.integers(4, 10))
    rows = [row for i in range(1, count + 1) for row in _hostile_rows(draw, i, "image", control)]
    return [first, *rows]


def _outcome(
    export: Path, config: str, enabled: bool, out: Path, **options: Any
) -> tuple[Any, ...]:
    """(bytes, facts) of a run, or the error it stopped with."""
    from annoconvert import errors

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(express, "ENABLED", enabled)
        try:
            result = annoconvert.convert(
                "labelstudio", export, out, label_config=config, workers=1, **options
            )
        except errors.AnnoconvertError as err:
            return ("error", type(err).__name__, str(err))
    facts = result.model_dump()
    facts.pop("seconds", None)
    facts.pop("files", None)
    return ("ok", out.read_bytes(), facts)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(rows=_text_export() | _box_export(), indent=st.sampled_from([None, 2]))
def test_hostile_json_min_rows_come_out_as_the_general_path_writes_them(
    rows: list[dict[str, Any]], indent: int | None
) -> None:
    """The lane opens at the second task and is trusted after one check; in 199 of the 200
    exports it writes two lines or more. Taking a column after `id` for data, a row of
    nulls for an annotation, or a task of two rows for one, fails here."""
    text = "sentiment" in rows[0]
    config, options = (TEXT_CONFIG, {}) if text else (BOX_CONFIG, REFERENCE)
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline, "AUTO_SAMPLE", 1)
        patch.setattr(express, "VERIFY", 1)
        folder = Path(tmp)
        export, cfg = _export(folder, rows, config, indent=indent)
        both = [
            _outcome(export, str(cfg), enabled, folder / f"{enabled}.jsonl", **options)
            for enabled in (True, False)
        ]
    assert both[0] == both[1]
