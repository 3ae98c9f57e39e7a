"""Consistency: one input with different answers, exact duplicates, the three policies."""

from __future__ import annotations

from annoconvert.model import (
    Example,
    ImagePart,
    Message,
    PreparedImage,
    Source,
    TextPart,
)
from annoconvert.quality.consistency import ConsistencyChecker, check_consistency

SRC = Source("test", "x.json", "tasks[0]")


def ex(task: int, user: str, answer: str, image: bytes | None = None) -> Example:
    parts: tuple[TextPart | ImagePart, ...] = (TextPart(user),)
    if image is not None:
        img = PreparedImage("a.png", "a.png", 4, 4, "image/png", data=image)
        parts = (*parts, ImagePart(img))
    return Example(
        task_id=task,
        source=SRC,
        messages=(
            Message("system", (TextPart("Classify."),)),
            Message("user", parts),
            Message("assistant", (TextPart(answer),)),
        ),
    )


DATA = [
    ex(1, "Where is my order?", "SUPPORT"),
    ex(2, "where is  my ORDER?", "SALES"),  # same input once normalized, other answer
    ex(3, "Pricing please", "SALES"),
    ex(4, "Pricing please", "SALES"),  # exact duplicate of 3
    ex(5, "Look", "PASS", image=b"\x89PNG-one"),
    ex(6, "Look", "DEFECT", image=b"\x89PNG-one"),  # same image bytes, other answer
    ex(7, "Look", "PASS", image=b"\x89PNG-two"),  # other image: no conflict
]


def test_report_lists_conflicts_with_task_ids_and_keeps_everything() -> None:
    kept, report = check_consistency(DATA, "report")
    assert kept == DATA
    assert sorted(sorted(c.tasks) for c in report.conflicts) == [[1, 2], [5, 6]]
    assert all(c.answers == 2 for c in report.conflicts)
    assert any("where is my order?" in c.input for c in report.conflicts)
    assert [(d.task, d.first_task) for d in report.duplicates] == [(4, 3)]
    assert report.dropped == 0


def test_drop_removes_every_conflicting_example() -> None:
    kept, report = check_consistency(DATA, "drop")
    assert [e.task_id for e in kept] == [3, 4, 7]
    assert report.dropped == 4


def test_dedupe_keeps_the_first_duplicate() -> None:
    kept, report = check_consistency(DATA, "keep", dedupe=True)
    assert [e.task_id for e in kept] == [1, 2, 3, 5, 6, 7]
    assert report.conflicts == []  # keep: conflicts are not reported
    assert report.dropped == 1


def test_two_pass_api_streams() -> None:
    checker = ConsistencyChecker("drop", dedupe=True)
    for e in iter(DATA):
        checker.observe(e)
    assert checker.conflicting(DATA[0]) and not checker.conflicting(DATA[2])
    assert [e.task_id for e in DATA if checker.keep(e)] == [3, 7]


def test_grouping_equals_a_brute_force_count() -> None:
    """The vectorized grouping against the obvious loops, on random keys with collisions."""
    import random
    from array import array

    from annoconvert.quality.consistency import _group

    rng = random.Random(11)
    n = 5000
    inputs = array("Q", (rng.randrange(600) * 2**40 for _ in range(n)))
    answers = array("Q", (rng.randrange(3) for _ in range(n)))
    wholes = array("Q", (rng.randrange(4000) for _ in range(n)))
    found = _group(inputs, answers, wholes, ConsistencyChecker("drop", dedupe=True))
    by_input: dict[int, list[int]] = {}
    for line, key in enumerate(inputs):
        by_input.setdefault(key, []).append(line)
    expected_groups = sorted(
        (lines for lines in by_input.values() if len({answers[i] for i in lines}) > 1),
        key=lambda v: v[0],
    )
    assert found.conflict_groups == expected_groups
    assert found.answers == [len({answers[i] for i in g}) for g in expected_groups]
    first: dict[int, int] = {}
    expected_repeats = []
    for line, key in enumerate(wholes):
        if key in first:
            expected_repeats.append((line, first[key]))
        else:
            first[key] = line
    assert found.duplicates == expected_repeats
    assert found.dropped == frozenset(
        {i for g in expected_groups for i in g} | {line for line, _ in expected_repeats}
    )
