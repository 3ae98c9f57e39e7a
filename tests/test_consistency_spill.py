"""Consistency past `SPILL_LINES`: the hashes go to disk in buckets and come back one bucket at
a time, with the same findings as in memory, and the checker's memory stays flat."""

from __future__ import annotations

from unittest import mock

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from annoconvert.quality import consistency, key_store
from annoconvert.quality.consistency import ConsistencyChecker, Policy, TaskIds
from annoconvert.quality.linechecks import LineChecks
from tests.conftest import PRINT_OWN_PEAK_KIB, own_peak_kib

MASK = (1 << 64) - 1


def _mix(*values: int) -> int:
    """A 64-bit key whose top bits (the bucket) vary with every value."""
    key = 0x243F6A8885A308D3
    for value in values:
        key = ((key ^ value) * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) & MASK
    return key


def _observed(
    lines: list[tuple[int, int, int]], tasks: str, policy: Policy, dedupe: bool
) -> tuple[object, frozenset[int]]:
    """The report and dropped lines of a checker fed `lines` as (input, answer, variant):
    a line's whole-line key follows from all three, as a written line's does from its bytes."""
    checker = ConsistencyChecker(policy, dedupe)
    for n, (inp, ans, variant) in enumerate(lines):
        task: int | str = {"index": n, "int": 1000 + n, "str": f"t{n}"}[tasks]
        preview = f"input {inp}"
        checker.observe_keys(task, _mix(inp), _mix(100 + ans), _mix(inp, ans, variant), preview)
    found = checker.report(), checker.dropped_lines()
    checker.close()
    return found


@settings(max_examples=150, deadline=None)
@given(
    lines=st.lists(st.tuples(st.integers(0, 6), st.integers(0, 2), st.integers(0, 2)), max_size=80),
    spill=st.sampled_from([1, 2, 7, 32]),
    numpy_buckets=st.booleans(),
    tasks=st.sampled_from(["index", "int", "str"]),
    policy=st.sampled_from(["report", "drop", "keep"]),
    dedupe=st.booleans(),
)
def test_spilled_hashes_give_the_findings_of_hashes_in_memory(
    lines: list[tuple[int, int, int]],
    spill: int,
    numpy_buckets: bool,
    tasks: str,
    policy: Policy,
    dedupe: bool,
) -> None:
    in_memory = _observed(lines, tasks, policy, dedupe)
    grouping = 0 if numpy_buckets else consistency.PLAIN_GROUPING
    with (
        mock.patch.object(key_store, "SPILL_LINES", spill),
        mock.patch.object(consistency, "PLAIN_GROUPING", grouping),
    ):
        spilled = _observed(lines, tasks, policy, dedupe)
    assert spilled == in_memory


def _chat(user: str, answer: str) -> bytes:
    return orjson.dumps(
        {
            "messages": [
                {"role": "system", "content": "Classify."},
                {"role": "user", "content": user},
                {"role": "assistant", "content": answer},
            ]
        }
    )


def test_a_run_of_written_lines_finds_the_same_with_its_hashes_on_disk() -> None:
    """Written lines (with repeats, conflicts and a line that is not JSON) through the line
    checks, once in memory and once spilled every 16 lines: the same findings."""
    lines = [_chat(f"Question {i % 40}", "YES" if i % 7 else "NO") for i in range(300)]
    lines[150] = b"not json"
    lines.append(lines[3])

    def findings(policy: Policy, dedupe: bool) -> object:
        checks = LineChecks("openai", policy, dedupe)
        for line in lines:
            checks.check_line(line)
        return checks.finish()

    for policy, dedupe in (("report", False), ("drop", True)):
        in_memory = findings(policy, dedupe)
        with mock.patch.object(key_store, "SPILL_LINES", 16):
            spilled = findings(policy, dedupe)
        assert spilled == in_memory
        assert in_memory.consistency.conflicts and in_memory.consistency.duplicates  # type: ignore[attr-defined]


def test_task_ids_keep_nothing_while_each_is_its_line_index() -> None:
    ids = TaskIds()
    for n in range(5):
        ids.append(n)
    assert (ids._ints, ids._any) == (None, None)
    assert [ids[n] for n in range(5)] == [0, 1, 2, 3, 4]
    with pytest.raises(IndexError):
        ids[5]
    ids.append(42)  # not its index: the ids are kept from here on
    ids.append(True)  # a bool is not the index 6
    ids.append("t7")
    assert [ids[n] for n in range(8)] == [0, 1, 2, 3, 4, 42, True, "t7"]


MEMORY = (
    """
import random, sys
from annoconvert.quality.consistency import ConsistencyChecker
lines = int(sys.argv[1])
checker = ConsistencyChecker("drop", True)
bits = random.Random(7).getrandbits
for n in range(lines):
    key = bits(64)
    checker.observe_keys(n, key, bits(64), key ^ 1, "")
report = checker.report()
assert report.examples == lines and not report.conflicts and not report.duplicates
"""
    + PRINT_OWN_PEAK_KIB
)


def test_the_checkers_memory_does_not_grow_with_the_lines() -> None:
    """3M lines peak within 8 MiB of 300k (in memory they took 32 bytes a line more: 80 MiB)."""
    small, large = own_peak_kib(MEMORY, "300000"), own_peak_kib(MEMORY, "3000000")
    assert large - small < 8 * 1024, (small, large)
