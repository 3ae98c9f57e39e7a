"""Annotator policies on the real multi-annotator Label Studio export (3 annotators).

a_text_classification (see ../shared/corpus/labelstudio/README.md): tasks 1-8 annotated by admin
(1), alice (2) and bob (3); bob disagrees on task 5, alice on task 6; admin's task-1 annotation
is ground truth; bob skipped task 8 (cancelled, empty result).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import annoconvert
from annoconvert.model import Reject
from tests.conftest import corpus_path


def _export() -> Path:
    return corpus_path("labelstudio", "a_text_classification", "JSON.json")


def _convert(
    tmp_path: Path, policy: str
) -> tuple[annoconvert.ConvertResult, list[dict[str, object]]]:
    out = tmp_path / f"{policy}.jsonl"
    result = annoconvert.convert("labelstudio", _export(), out, annotators=policy)
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    return result, lines


def _answers(lines: list[dict[str, object]]) -> list[str]:
    return [line["messages"][-1]["content"] for line in lines]  # type: ignore[index]


@pytest.mark.parametrize(
    ("policy", "written", "rejected", "codes"),
    [
        ("latest", 8, 0, {}),
        ("ground-truth", 1, 7, {"no_ground_truth": 7}),
        ("majority", 8, 0, {}),
        ("agreed", 6, 2, {"annotators_disagree": 2}),
        # 3 annotators x 8 tasks, less bob's skipped task 8
        ("all", 23, 0, {}),
    ],
)
def test_policy_counts(
    tmp_path: Path, policy: str, written: int, rejected: int, codes: dict[str, int]
) -> None:
    result, lines = _convert(tmp_path, policy)
    assert result.read == 8
    assert (result.written, result.rejected) == (written, rejected)
    assert len(lines) == written
    found: dict[str, int] = {}
    for r in result.rejects:
        found[r.code] = found.get(r.code, 0) + 1
    assert found == codes
    # counts add up: every task is written or rejected
    assert result.tasks_written + result.rejected == result.read
    assert result.disagreed == 2


def test_agreed_rejects_exactly_the_disputed_tasks(tmp_path: Path) -> None:
    result, _ = _convert(tmp_path, "agreed")
    assert sorted(r.task for r in result.rejects) == [5, 6]  # type: ignore[type-var]


def test_majority_takes_the_two_against_one_answer(tmp_path: Path) -> None:
    tasks = {t.id: t for t in annoconvert.read("labelstudio", _export())}
    _, majority = _convert(tmp_path, "majority")
    # bob alone differs on task 5: the majority answer is admin's (= alice's)
    admin_5 = next(a for a in tasks[5].annotations if a.annotator == "1")
    bob_5 = next(a for a in tasks[5].annotations if a.annotator == "3")
    admin_label = admin_5.regions[0].labels[0]  # type: ignore[union-attr]
    bob_label = bob_5.regions[0].labels[0]  # type: ignore[union-attr]
    assert admin_label != bob_label
    assert _answers(majority)[4] == admin_label


def test_latest_prefers_ground_truth(tmp_path: Path) -> None:
    tasks = {t.id: t for t in annoconvert.read("labelstudio", _export())}
    truth = next(a for a in tasks[1].annotations if a.ground_truth)
    assert truth.annotator == "1"
    _, lines = _convert(tmp_path, "latest")
    assert _answers(lines)[0] == truth.regions[0].labels[0]  # type: ignore[union-attr]


def test_majority_tie_is_rejected() -> None:
    """Two annotators, two answers: no majority -> annotator_tie."""
    from annoconvert.errors import TaskError
    from annoconvert.model import AnnotationSet, Choice, Source, Task
    from annoconvert.policy import select

    task = Task(
        id=7,
        source=Source("labelstudio", "x.json", "tasks[0]"),
        text="t",
        annotations=(
            AnnotationSet((Choice("c", ("A",)),), annotator="1"),
            AnnotationSet((Choice("c", ("B",)),), annotator="2"),
        ),
    )
    with pytest.raises(TaskError) as err:
        select(task, "majority")
    assert err.value.code == "annotator_tie"


def test_skipped_everywhere_is_not_annotated() -> None:
    from annoconvert.errors import TaskError
    from annoconvert.model import AnnotationSet, Source, Task
    from annoconvert.policy import select

    task = Task(
        id=8,
        source=Source("labelstudio", "x.json", "tasks[0]"),
        text="t",
        annotations=(AnnotationSet((), annotator="3", cancelled=True),),
    )
    with pytest.raises(TaskError) as err:
        select(task, "latest")
    assert err.value.code == "not_annotated"


def test_all_tasks_export_rejects_the_unannotated_task(tmp_path: Path) -> None:
    """Task 9 has only a prediction and a draft: it is rejected, not silently dropped."""
    export = corpus_path("labelstudio", "a_text_classification", "JSON_download_all_tasks.json")
    rejects: list[Reject] = []
    out = tmp_path / "o.jsonl"
    result = annoconvert.convert("labelstudio", export, out)
    assert result.read == 9
    assert [(r.task, r.code) for r in result.rejects] == [(9, "not_annotated")]
    assert result.written == 8
    assert not rejects


def test_geometry_answers_within_one_grid_unit_are_equal() -> None:
    from annoconvert.model import AnnotationSet, Box
    from annoconvert.policy import group_answers

    a = AnnotationSet((Box("b", ("dent",), 0.1000, 0.2, 0.3, 0.4),), annotator="1")
    b = AnnotationSet((Box("b", ("dent",), 0.1009, 0.2, 0.3, 0.4),), annotator="2")
    c = AnnotationSet((Box("b", ("dent",), 0.1200, 0.2, 0.3, 0.4),), annotator="3")
    assert [len(g) for g in group_answers([a, b, c])] == [2, 1]


def test_a_box_reaching_past_the_float_range_is_compared_not_a_crash() -> None:
    """A box whose far edge is past the float range (height 1e308 % of the image, in a real
    file) is an answer like any other: equal to itself, different from a small one."""
    from annoconvert.model import AnnotationSet, Box
    from annoconvert.policy import group_answers

    huge = [Box("b", ("dent",), 0.1, 0.2, 0.3, 1e306), Box("b", ("dent",), 0.5, 0.5, 1e306, 0.1)]
    a = AnnotationSet(tuple(huge), annotator="1")
    b = AnnotationSet(tuple(huge), annotator="2")
    c = AnnotationSet((Box("b", ("dent",), 0.1, 0.2, 0.3, 0.4),), annotator="3")
    assert [len(g) for g in group_answers([a, b, c])] == [2, 1]
