"""The express lane for Doccano document classification writes what the general path writes.

As in test_express_lane.py, every export is converted with the lane and without it, and the
bytes, counts, rejects and warnings must match. The lane takes examples of one record with
one class; several users' records of one example, and anything else, go the general way.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from annoconvert import express
from annoconvert.options import Options
from annoconvert.readers import doccano_express
from tests.conftest import corpus_path
from tests.test_express_lane import _both, both_split

SAMPLE = 200
"""Tasks read before the recipe is chosen and the lane opens (pipeline.AUTO_SAMPLE)."""
LABELS = ("positive", "negative", "neutral")
TEXTS = (
    "The room was clean and the staff friendly.",
    "Terrible service, waited two hours 😡",
    "Das Essen war okay, nichts Besonderes.",
    "  spaces around  ",
    'quotes " and \\ backslashes, a tab\tand a newline\n',
)


def _record(i: int) -> dict[str, Any]:
    """Example i; every 40 a run of odd ones (the key says what the general path does)."""
    record: dict[str, Any] = {
        "id": i,
        "text": f"{TEXTS[i % len(TEXTS)]} #{i}",
        "source": "review",
        "doc_id": 100 + i,
        "tags": ["hotel"],
        "label": [LABELS[i % 3]],
        "Comments": [],
    }
    odd = i % 40
    if odd == 1 and i > SAMPLE:  # (in the sample, it would make the run's recipe multilabel)
        record["label"] = [LABELS[0], LABELS[1]]  # two classes
    elif odd == 3:
        record["label"] = []  # no class: no annotation
    elif odd == 5:
        record["Comments"] = [{"comment": "check this"}]
    elif odd == 7:
        record["label"] = [3]  # not a string: rejected
    elif odd == 9:
        record["text"] = ""
    elif odd == 11:
        record["text"] = 42  # rejected
    elif odd == 13:
        record["id"] = f"doc-{i}"  # a string id
    elif odd == 15:
        record["id"] = True  # not an id: the record's number
    elif odd == 17:
        del record["id"]
    elif odd == 19:
        record["label"] = "positive"  # not a list: rejected
    elif odd == 21:
        record["label"] = [""]
    elif odd == 23:
        record["data"] = "the legacy key"
    elif odd == 25:
        record["text"] = TEXTS[0] + " #1"  # the text of example 1 again: the checks' business
    elif odd == 27:
        record["id"] = 10**20  # past 64 bits: read as a float, so the record's number
    elif odd == 29:
        record["label"] = ["ünïcödé 🏷"]
    return record


def _write(path: Path, records: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


ODD = set(range(1, 30, 2))
"""Examples i with i % 40 in ODD are odd ones (`_record`)."""
PLAIN_ODD = {13, 17, 25, 29}
"""Odd examples the lane takes."""


def test_the_doccano_lane_writes_the_general_paths_bytes_counts_and_rejects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    export = _write(tmp_path / "export" / "all.jsonl", [_record(i) for i in range(1, 1201)])
    lanes, out = _both(tmp_path, monkeypatch, export, "doccano")
    (lane,) = lanes
    assert lane is not None and lane.open and lane.verified == express.VERIFY
    expected = sum(1 for i in range(SAMPLE + 1, 1201) if i % 40 not in ODD or i % 40 in PLAIN_ODD)
    assert lane.lines == expected > 600
    assert len(out.splitlines()) > lane.lines


def test_examples_of_several_users_go_the_general_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Individual mode: two users' files, one example in three labelled by both (the policy
    chooses), the others by one of them."""
    folder = tmp_path / "export"
    alice = [_record(i) for i in range(1, 901) if i % 3 != 1]
    bob = [{**_record(i), "label": [LABELS[(i + 1) % 3]]} for i in range(1, 901) if i % 3 != 2]
    _write(folder / "alice.jsonl", alice)
    _write(folder / "bob.jsonl", bob)
    # (auto would choose multilabel: the users' classes of one example differ)
    lanes, out = _both(tmp_path, monkeypatch, folder, "doccano", recipe="classification")
    (lane,) = lanes
    assert lane is not None and lane.open and lane.lines > 200
    assert len(out.splitlines()) > lane.lines + 200


def test_the_lane_takes_the_first_input_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two exports in one run: the second one's examples go the general way."""
    first = _write(tmp_path / "a" / "all.jsonl", [_record(i) for i in range(1, 601)])
    second = _write(tmp_path / "b" / "all.jsonl", [_record(i) for i in range(601, 1201)])
    lanes, out = _both(tmp_path, monkeypatch, [first, second], "doccano")  # type: ignore[arg-type]
    (lane,) = lanes
    assert lane is not None and lane.open
    in_first = sum(1 for i in range(SAMPLE + 1, 601) if i % 40 not in ODD or i % 40 in PLAIN_ODD)
    assert lane.lines == in_first
    assert len(out.splitlines()) > 900


@pytest.mark.parametrize(
    "options",
    [
        {"system": "Answer a {source} with one word."},
        {"prompt": "Review from {source}: {text}"},
        {"answer_template": "Sentiment of doc {doc_id}: {label}"},
        {"annotators": "ground-truth"},
        {"project_type": "Seq2seq"},
    ],
)
def test_options_that_change_a_line_keep_the_general_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, options: dict[str, Any]
) -> None:
    export = _write(tmp_path / "export" / "all.jsonl", [_record(i) for i in range(1, 401)])
    lanes, _ = _both(tmp_path, monkeypatch, export, "doccano", **options)
    assert lanes == [None] or (lanes[0] is not None and lanes[0].lines == 0)


@pytest.mark.parametrize(
    "templates",
    [
        {"system": "Answer with one word."},
        {"prompt": "Review: {text}", "answer_template": "Sentiment: {label}"},
        {"labels": {"positive": "pos", "neutral": ""}, "answer_template": "Sentiment: {label}"},
        {"annotators": "majority"},
        {"annotators": "agreed"},
        {"dialect": "sharegpt"},  # a sharegpt line holds the text and class as they are
    ],
)
def test_renames_and_templates_of_the_text_and_class_keep_the_lane(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, templates: dict[str, Any]
) -> None:
    """A class renamed to nothing (`neutral`) is rejected by the general path."""
    records = [_record(i) for i in range(1, 601)]
    export = _write(tmp_path / "export" / "all.jsonl", records)
    lanes, out = _both(tmp_path, monkeypatch, export, "doccano", **templates)
    (lane,) = lanes
    assert lane is not None and lane.open
    emptied = templates.get("labels", {}).get("neutral") == ""
    neutral = {i for i, r in enumerate(records, 1) if r.get("label") == ["neutral"]}
    assert lane.lines == sum(
        1
        for i in range(SAMPLE + 1, 601)
        if (i % 40 not in ODD or i % 40 in PLAIN_ODD) and not (emptied and i in neutral)
    )
    assert (b"Sentiment: " in out) == ("answer_template" in templates)
    assert (b'"Sentiment: pos"' in out) == ("labels" in templates)


def test_under_split_the_doccano_lane_tells_each_line_s_group_and_class(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    export = _write(tmp_path / "export" / "all.jsonl", [_record(i) for i in range(1, 601)])
    lanes = both_split(tmp_path, monkeypatch, export, "doccano", split="train=0.8,test=0.2")
    (lane,) = lanes
    assert lane is not None and lane.open
    assert lane.lines == sum(
        1 for i in range(SAMPLE + 1, 601) if i % 40 not in ODD or i % 40 in PLAIN_ODD
    )


CORPUS = [
    "DocumentClassification_single/collaborative/JSONL/all.jsonl",
    "DocumentClassification_single/individual/JSONL",
    "DocumentClassification_multi/collaborative/JSONL/all.jsonl",
    "DocumentClassification_multi/individual/JSONL",
]
"""Doccano 1.8's own exports of classification projects, collaborative and per user."""


@pytest.mark.parametrize("rel", CORPUS)
def test_a_real_doccano_export_gives_the_general_paths_lines_with_the_lane(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rel: str
) -> None:
    """A corpus export, its examples repeated to 420 or more under new ids."""
    source = corpus_path("doccano", *rel.split("/"))
    files = sorted(source.glob("*.jsonl")) if source.is_dir() else [source]
    folder = tmp_path / "export"
    for path in files:
        lines = path.read_text(encoding="utf-8").split("\n")
        records = [json.loads(line) for line in lines if line]
        repeats = -(-420 // len(records))
        copies = [
            {**r, "id": n * 1000 + r["id"], "text": f"{r['text']} ({n})"}
            for n in range(repeats)
            for r in records
        ]
        _write(folder / path.name, copies)
    export = folder if source.is_dir() else folder / files[0].name
    lanes, _ = _both(tmp_path, monkeypatch, export, "doccano")
    (lane,) = lanes
    if "multi" in rel:  # examples with several classes: the multilabel recipe has no lane
        assert lane is None
    else:  # (individual: every example is labelled by several users, so none is the lane's)
        assert lane is not None and lane.open
        assert lane.lines > 100 or "individual" in rel


def test_a_doccano_lane_that_disagrees_with_the_general_path_closes_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = doccano_express.text_classification

    def wrong(project_type: str, options: Options) -> express.Extract | None:
        extract = real(project_type, options)
        assert extract is not None

        def lying(item: Any) -> tuple[int | str, tuple[str, ...], Any] | None:
            found = extract(item)
            return None if found is None else (found[0], (str(found[1][0]), "neutral"), found[2])

        return lying

    monkeypatch.setattr(doccano_express, "text_classification", wrong)
    export = _write(tmp_path / "export" / "all.jsonl", [_record(i) for i in range(1, 601)])
    lanes, _ = _both(tmp_path, monkeypatch, export, "doccano")
    (lane,) = lanes
    assert lane is not None and not lane.open
    assert lane.lines <= 1  # an example whose class was "neutral" anyway may pass the check


HOSTILE: list[Any] = [
    None, True, False, 0, -1, 1.5, 10**20, "", " ", "x", [], [""], ["a", "b"], [1], {}, {"a": 1},
    [[]], ["\ud800"], "\ud800", "\x00", "é", [None],
]  # fmt: skip
"""Values put where an example's field belongs."""


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_records_of_any_kind_get_the_same_lines_and_rejects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    pick = random.Random(seed)
    records = []
    for i in range(1, 501):
        record = _record(i if i % 40 not in ODD else i + 1)
        record["id"] = i
        if i > SAMPLE and pick.random() < 0.1:  # after the sample, which detects the type
            record[pick.choice(["id", "text", "label", "Comments", "meta"])] = pick.choice(HOSTILE)
        records.append(record)
    export = tmp_path / "export" / "all.jsonl"
    export.parent.mkdir(parents=True)
    with export.open("w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record) + "\n")
    lanes, _ = _both(tmp_path, monkeypatch, export, "doccano")
    (lane,) = lanes
    assert lane is not None and lane.open and lane.lines > 200
