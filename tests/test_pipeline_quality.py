"""Conversion-time quality: conflicts, duplicates and splits, with counts that add up."""

from __future__ import annotations

import json
from pathlib import Path

import annoconvert
from tests.conftest import corpus_path


def _task(tid: int, text: str, label: str) -> dict[str, object]:
    return {
        "id": tid,
        "data": {"text": text},
        "annotations": [
            {
                "id": tid,
                "completed_by": 1,
                "was_cancelled": False,
                "ground_truth": False,
                "updated_at": "2026-01-01T00:00:00Z",
                "result": [
                    {
                        "value": {"choices": [label]},
                        "id": f"r{tid}",
                        "from_name": "c",
                        "to_name": "text",
                        "type": "choices",
                    }
                ],
            }
        ],
    }


TASKS = [
    _task(1, "Where is my order?", "SUPPORT"),
    _task(2, "where is  my ORDER?", "SALES"),  # same input once normalized, another answer
    _task(3, "Pricing please", "SALES"),
    _task(4, "Pricing please", "SALES"),  # an exact duplicate of task 3
    _task(5, "Thanks, great product", "FEEDBACK"),
]


def _run(tmp_path: Path, **options: object) -> tuple[annoconvert.ConvertResult, list[str]]:
    src = tmp_path / "export.json"
    src.write_text(json.dumps(TASKS))
    out = tmp_path / "out.jsonl"
    result = annoconvert.convert("labelstudio", src, out, recipe="classification", **options)
    texts = [json.loads(x)["messages"][1]["content"] for x in out.read_text().splitlines()]
    assert result.tasks_written + result.rejected == result.read  # nothing silently lost
    assert result.written == len(texts)
    return result, texts


def test_conflicts_are_reported_with_task_ids_and_kept(tmp_path: Path) -> None:
    result, texts = _run(tmp_path)
    assert len(texts) == 5
    conflicts = [w for w in result.warnings if "different answers in tasks 1, 2" in w]
    assert len(conflicts) == 1
    assert any("task 4 repeats task 3" in w for w in result.warnings)


def test_conflicts_drop_rejects_both_tasks(tmp_path: Path) -> None:
    result, texts = _run(tmp_path, conflicts="drop")
    assert texts == ["Pricing please", "Pricing please", "Thanks, great product"]
    assert sorted((r.task, r.code) for r in result.rejects) == [
        (1, "conflicting_answers"),
        (2, "conflicting_answers"),
    ]


def test_dedupe_drops_the_repeat(tmp_path: Path) -> None:
    result, texts = _run(tmp_path, dedupe=True, conflicts="keep")
    assert texts.count("Pricing please") == 1
    assert [(r.task, r.code) for r in result.rejects] == [(4, "duplicate_example")]


def test_split_keeps_groups_together_and_is_deterministic(tmp_path: Path) -> None:
    export = corpus_path("labelstudio", "a_text_classification", "JSON.json")
    out = tmp_path / "data.jsonl"
    first = annoconvert.convert(
        "labelstudio", export, out, annotators="all", split="train=0.5,val=0.5", seed=3
    )
    assert sorted(Path(f).name for f in first.files) == ["data.train.jsonl", "data.val.jsonl"]
    assert not out.exists()
    parts = {Path(f).name: Path(f).read_text() for f in first.files}
    users = {
        name: {json.loads(x)["messages"][1]["content"] for x in text.splitlines()}
        for name, text in parts.items()
    }
    # three annotators of one email never land in two splits
    assert not users["data.train.jsonl"] & users["data.val.jsonl"]
    assert sum(len(t.splitlines()) for t in parts.values()) == first.written == 23
    again = annoconvert.convert(
        "labelstudio", export, out, annotators="all", split="train=0.5,val=0.5", seed=3
    )
    assert {Path(f).name: Path(f).read_text() for f in again.files} == parts


def test_dedupe_keeps_a_task_that_still_wrote_a_line(tmp_path: Path) -> None:
    """Two annotators gave one task the same answer: --annotators all writes it twice,
    --dedupe keeps one line, and the task counts as written (not rejected)."""
    task = _task(1, "Where is my order?", "SUPPORT")
    second = dict(task["annotations"][0])  # type: ignore[index]
    second["id"], second["completed_by"] = 2, 2
    task["annotations"] = [task["annotations"][0], second]  # type: ignore[index]
    other = _task(2, "Pricing please", "SALES")
    src = tmp_path / "export.json"
    src.write_text(json.dumps([task, other]))
    out = tmp_path / "out.jsonl"
    result = annoconvert.convert(
        "labelstudio", src, out, recipe="classification", annotators="all", dedupe=True
    )
    assert (result.read, result.written, result.rejected) == (2, 2, 0)
    assert result.tasks_written == 2
    assert len(out.read_text().splitlines()) == 2
