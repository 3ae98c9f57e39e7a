"""The validator's memory does not grow with the number of lines it checks.

It keeps the token counts as a histogram (count -> examples), whose distribution must be the
one the sorted list of counts gave, bit for bit, and the line numbers of at most
`max_findings` examples over the token limit (the warning counts count them all). The memory
test runs a validator over 100k and 1M lines in fresh processes and compares their peaks.
"""

from __future__ import annotations

import json
import math
import os
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from annoconvert.quality import validate as validate_mod
from annoconvert.quality.tokens import distribution, distribution_of_counts
from annoconvert.quality.validate import Validator
from tests.conftest import PRINT_OWN_PEAK_KIB, own_peak_kib


def list_distribution(values: Sequence[int]) -> dict[str, float]:
    """The distribution as `tokens.distribution` computed it from the sorted list of values
    before the histogram (the reference the histogram must match exactly)."""
    if not values:
        return {}
    ordered = sorted(values)
    n = len(ordered)

    def rank(p: float) -> float:
        return float(ordered[max(0, math.ceil(p * n) - 1)])

    return {
        "min": float(ordered[0]),
        "max": float(ordered[-1]),
        "mean": sum(ordered) / n,
        "median": rank(0.5),
        "p5": rank(0.05),
        "p95": rank(0.95),
        "total": float(sum(ordered)),
    }


def bits(d: dict[str, float]) -> dict[str, str]:
    """The floats' exact bits (`==` alone would take 0.0 for -0.0)."""
    return {key: value.hex() for key, value in d.items()}


value_lists = st.one_of(
    st.lists(st.integers(0, 2**128)),
    st.lists(st.integers(0, 5), max_size=300),  # many repeats
    st.lists(st.sampled_from([0, 1, 7, 2**53 + 1, 2**63 - 1, 10**30]), max_size=60),
    st.lists(st.integers(0, 70_000), min_size=1, max_size=2_000),
)


@given(value_lists)
@example([])
@example([0])
@example([2**63 - 1])
@example([5] * 1_000)
@example([1, 2] * 19 + [3])  # ranks that fall on the boundary between two values
@example(list(range(20)))
@example(list(range(21)))
def test_histogram_distribution_is_the_sorted_lists(values: list[int]) -> None:
    expected = list_distribution(values)
    counts = Counter(values)
    assert bits(distribution_of_counts(counts)) == bits(expected)
    assert bits(distribution_of_counts(dict(counts))) == bits(expected)
    assert bits(distribution(values)) == bits(expected)
    assert list(distribution_of_counts(counts)) == list(expected)  # the same keys, in order


def test_histogram_counts_of_zero_are_no_values_and_negative_ones_are_refused() -> None:
    assert distribution_of_counts({}) == {}
    assert distribution_of_counts({4: 0}) == {}
    assert distribution_of_counts({4: 0, 9: 2, 1: 0}) == list_distribution([9, 9])
    with pytest.raises(ValueError):
        distribution_of_counts({4: -1, 9: 2})


def chat_line(rng: random.Random) -> bytes:
    """A line of the common chat shape, or one that takes the general walk, with texts whose
    lengths (so token counts) vary."""
    words = " ".join("w" * rng.randint(1, 9) for _ in range(rng.randint(0, 60)))
    messages: list[dict[str, object]] = [
        {"role": "system", "content": "Label it." + "x" * rng.randint(0, 30)},
        {"role": "user", "content": "Text: " + words},
        {"role": "assistant", "content": rng.choice(["yes", "no", "maybe " * 9])},
    ]
    shape = rng.randrange(4)
    if shape == 1:
        messages[1]["name"] = "ann"  # not the common shape: the general walk counts it
    elif shape == 2:
        messages[1]["content"] = [{"type": "text", "text": words or "w"}]
    elif shape == 3:
        del messages[0]  # no system message: a warning, and still a token count
    return json.dumps({"messages": messages}).encode()


def test_validator_distribution_is_the_list_distribution_of_its_counts() -> None:
    rng = random.Random(20260509)
    validator = Validator("openai")
    counts: list[int] = []
    lines = [chat_line(rng) for _ in range(3_000)]
    lines[7] = b'{"messages": [broken'  # no example: no token count
    lines[8] = b"[1, 2]"
    for number, raw in enumerate(lines, 1):
        validator.check_line(number, raw)
        try:
            obj = json.loads(raw)
        except ValueError:
            continue
        if isinstance(obj, dict):
            counts.append(validator.counter.messages(obj["messages"]))
    report = validator.finish()
    assert len(counts) == report.examples == 2_998
    assert len(set(counts)) > 50
    assert bits(report.tokens.distribution) == bits(list_distribution(counts))


@pytest.fixture
def limit_40(monkeypatch: pytest.MonkeyPatch) -> None:
    """The openai preset with a token limit of 40: `LONG_LINE` is over it, `SHORT_LINE` not."""
    small = replace(validate_mod.PRESET_LIMITS["openai"], max_tokens_per_example=40)
    monkeypatch.setitem(validate_mod.PRESET_LIMITS, "openai", small)


LONG_LINE = json.dumps(
    {
        "messages": [
            {"role": "system", "content": "Label the text."},
            {"role": "user", "content": "Text: " + "word " * 40},
            {"role": "assistant", "content": "positive"},
        ]
    }
).encode()
SHORT_LINE = LONG_LINE.replace(b"word " * 40, b"word")


@pytest.mark.usefixtures("limit_40")
def test_over_limit_keeps_max_findings_line_numbers_and_the_count_has_all() -> None:
    validator = Validator("openai", max_findings=3)
    for number in range(1, 12):
        validator.check_line(number, LONG_LINE if number % 2 else SHORT_LINE)
    report = validator.finish()
    assert report.tokens.over_limit == [1, 3, 5]
    assert report.warning_counts == {"example_over_token_limit": 6}
    assert [f.line for f in report.warnings] == [1, 3, 5]


@pytest.mark.usefixtures("limit_40")
def test_over_limit_at_the_default_cap_lists_every_line_and_past_it_the_first() -> None:
    validator = Validator("openai")
    assert validator.max_findings == 1_000
    for number in range(1, 1_001):
        validator.observe_line(number, LONG_LINE)
    report = validator.finish()
    assert report.tokens.over_limit == list(range(1, 1_001))
    validator.observe_line(1_001, SHORT_LINE)
    for number in range(1_002, 1_502):
        validator.observe_line(number, LONG_LINE)
    report = validator.finish()
    assert report.tokens.over_limit == list(range(1, 1_001))
    assert report.warning_counts == {"example_over_token_limit": 1_500}
    assert report.examples == 1_501


PEAK = (
    """
import sys
from annoconvert.quality.validate import Validator

n = int(sys.argv[1])
system = b"Label the review. " * 64  # ~300 tokens: counts above the small ints Python caches
lines = [
    b'{"messages":[{"role":"system","content":"' + system + b'"},'
    b'{"role":"user","content":"Review %d: ' % k + b"good " * k + b'"},'
    b'{"role":"assistant","content":"positive"}]}'
    for k in range(64)
]
validator = Validator("openai")
observe = validator.observe_line
for i in range(n):
    observe(i + 1, lines[i & 63])
report = validator.finish()
assert report.ok and report.examples == n, report
assert report.tokens.distribution["max"] - report.tokens.distribution["min"] == 79
"""
    + PRINT_OWN_PEAK_KIB
)


def peak_kib(n: int) -> int:
    """Peak RSS (KiB) of a fresh process that validates n common chat lines."""
    env = {**os.environ, "TIKTOKEN_CACHE_DIR": ""}  # the estimate: a cached encoding is slower
    return own_peak_kib(PEAK, str(n), env=env)


def test_1m_lines_peak_like_100k() -> None:
    """Before the histogram the 1M run peaked ~44 MiB above the 100k one (an 8-byte array
    entry a line, and at `finish` a sorted list of int objects, ~36 bytes a line).

    The peak is the child's VmHWM where there is /proc: a child's `ru_maxrss` on Linux starts
    at its parent's RSS (kept across `execve`), so under a pytest worker of 100 MiB both runs
    would read 100 MiB and the test could not fail."""
    small = peak_kib(100_000)
    big = peak_kib(1_000_000)
    assert big - small < 4 * 1024, f"peak {big / 1024:.1f} MiB for 1M vs {small / 1024:.1f}"


@pytest.mark.usefixtures("limit_40")
def test_the_text_report_counts_every_example_over_the_limit_past_the_cap() -> None:
    from annoconvert.commands.validate import render_text

    validator = Validator("openai", max_findings=3)
    for number in range(1, 12):
        validator.observe_line(number, LONG_LINE)
    text = render_text(validator.finish(), max_shown=5)
    assert "; limit 40, 11 over" in text
