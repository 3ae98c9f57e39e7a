"""Consistency: one input with different answers, exact duplicates, the three policies."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from annoconvert.model import (
    Example,
    ImagePart,
    Message,
    PreparedImage,
    Source,
    TextPart,
)
from annoconvert.quality.consistency import ConsistencyChecker, Policy, check_consistency

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


@pytest.mark.parametrize("grouping", ["_group_plain", "_group_sorted"])
def test_grouping_equals_a_brute_force_count(grouping: str) -> None:
    """Both groupings (dicts for small runs, numpy sorts for large) against the obvious loops,
    on random keys with collisions."""
    import random
    from array import array

    from annoconvert.quality import consistency

    rng = random.Random(11)
    n = 5000
    inputs = array("Q", (rng.randrange(600) * 2**40 for _ in range(n)))
    answers = array("Q", (rng.randrange(3) for _ in range(n)))
    wholes = array("Q", (rng.randrange(4000) for _ in range(n)))
    group = getattr(consistency, grouping)
    found = group(inputs, answers, wholes, ConsistencyChecker("drop", dedupe=True))
    by_input: dict[int, list[int]] = {}
    for line, key in enumerate(inputs):
        by_input.setdefault(key, []).append(line)
    expected_groups = sorted(
        (lines for lines in by_input.values() if len({answers[i] for i in lines}) > 1),
        key=lambda v: v[0],
    )
    assert [list(g) for g in found.conflict_groups] == expected_groups
    assert found.answers == [len({answers[i] for i in g}) for g in expected_groups]
    assert found.conflicting_inputs == {inputs[g[0]] for g in expected_groups}
    first: dict[int, int] = {}
    expected_repeats = []
    for line, key in enumerate(wholes):
        if key in first:
            expected_repeats.append((line, first[key]))
        else:
            first[key] = line
    assert found.duplicates.pairs() == expected_repeats
    assert found.dropped == frozenset(
        {i for g in expected_groups for i in g} | {line for line, _ in expected_repeats}
    )


@settings(max_examples=300, derandomize=True, deadline=None)
@given(
    keys=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 2), st.integers(0, 6)), max_size=60),
    spread=st.sampled_from([1, 2**40, 2**63 + 1]),
    policy=st.sampled_from(["report", "drop", "keep"]),
    dedupe=st.booleans(),
)
def test_the_two_groupings_agree(
    keys: list[tuple[int, int, int]], spread: int, policy: Policy, dedupe: bool
) -> None:
    """The dict grouping of small runs finds exactly what the numpy one does (0 to 60 lines,
    with collisions, keys up to 2**64 - 1)."""
    from array import array

    from annoconvert.quality.consistency import _group_plain, _group_sorted

    def column(i: int) -> array[int]:
        return array("Q", ((k[i] * spread) % 2**64 for k in keys))

    checker = ConsistencyChecker(policy, dedupe)
    plain = _group_plain(column(0), column(1), column(2), checker)
    assert plain == _group_sorted(column(0), column(1), column(2), checker)


def test_runs_past_the_plain_limit_are_grouped_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whichever grouping a run's size picks, the report and the kept examples are the same."""
    from annoconvert.quality import consistency

    kept_small, report_small = check_consistency(DATA, "drop", dedupe=True)
    monkeypatch.setattr(consistency, "PLAIN_GROUPING", 0)
    kept_large, report_large = check_consistency(DATA, "drop", dedupe=True)
    assert [e.task_id for e in kept_small] == [e.task_id for e in kept_large]
    assert report_small == report_large
