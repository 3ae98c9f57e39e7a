"""The validator's box check: 4 numbers, within the grid, min below max on each axis."""

from __future__ import annotations

import math
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from annoconvert.quality.validate import Validator, box_problem

_numbers = st.one_of(
    st.integers(min_value=-3, max_value=1003),
    st.floats(min_value=-3, max_value=1003),
    st.sampled_from([math.nan, math.inf, -math.inf]),
    st.booleans(),
    st.just("5"),
)


def _fine(value: list[Any], upper: int | None) -> bool:
    if any(isinstance(v, bool) or not isinstance(v, int | float) for v in value):
        return False
    if not all(math.isfinite(v) for v in value):
        return False
    if any(v < 0 or (upper is not None and v > upper) for v in value):
        return False
    return value[0] < value[2] and value[1] < value[3]


@settings(max_examples=1000, deadline=None)
@given(value=st.lists(_numbers, min_size=4, max_size=4), upper=st.sampled_from([1000, None]))
def test_a_box_is_fine_exactly_when_its_numbers_are(value: list[Any], upper: int | None) -> None:
    problem = box_problem(value, xy_first=False, upper=upper)
    assert (problem is None) == _fine(value, upper), (value, problem)


def test_what_the_messages_say() -> None:
    assert box_problem([1, 2, 3], xy_first=False, upper=1000) == "must be a list of 4 numbers"
    assert box_problem([0, 0, 1000, 1000], xy_first=False, upper=1000) is None
    assert box_problem([0, 0, 1001, 10], xy_first=False, upper=1000) == (
        "values must lie in 0..1000, got [0, 0, 1001, 10]"
    )
    assert box_problem([5, 0, 5, 10], xy_first=False, upper=1000) == "ymin 5 must be below ymax 5"
    assert box_problem([0, 7, 3, 2], xy_first=True, upper=None) == "ymin 7 must be below ymax 2"
    assert box_problem([0, True, 3, 4], xy_first=False, upper=1000) == "must hold numbers only"
    assert box_problem([0, 1, math.nan, 10], xy_first=False, upper=None) == (
        "values must be finite numbers, got [0, 1, nan, 10]"
    )


def _answer_findings(answer: str) -> list[str]:
    line = orjson.dumps(
        {
            "messages": [
                {"role": "system", "content": "s"},
                {"role": "user", "content": "u"},
                {"role": "assistant", "content": [{"type": "text", "text": answer}]},
            ]
        }
    )
    return [f.message for f in Validator("openai").check_line(1, line) if f.code == "invalid_box"]


def test_answers_are_read_as_json_reads_them() -> None:
    """NaN, infinity and integers past 64 bits, which the fast reading refuses or changes,
    are named as the answer writes them."""
    where = "messages[2] answer[0].box_2d"
    assert _answer_findings('[{"box_2d": [NaN, 1, 2, 3]}]') == [
        f"{where}: values must be finite numbers, got [nan, 1, 2, 3]"
    ]
    assert _answer_findings('[{"box_2d": [1, 2, 3, Infinity]}]') == [
        f"{where}: values must be finite numbers, got [1, 2, 3, inf]"
    ]
    assert _answer_findings('[{"box_2d": [1, 2, 3, 100000000000000000000000]}]') == [
        f"{where}: values must lie in 0..1000, got [1, 2, 3, 100000000000000000000000]"
    ]
    assert _answer_findings('[{"box_2d": [1, 2, 3, 4]}, {"box_2d": [5, 2, 3, 4]}]') == [
        "messages[2] answer[1].box_2d: ymin 5 must be below ymax 3"
    ]
    assert _answer_findings('[{"box_2d": [1, 2, 3, 4]}]') == []


def test_an_answer_nested_past_the_readers_depth_is_no_box_list() -> None:
    assert _answer_findings("[" * 100_000 + "]" * 100_000) == []
