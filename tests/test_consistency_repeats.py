"""Exact repeats: all counted, the first ones named, and memory a few bytes a repeat (an export
of a few thousand short texts repeated over a million lines has a million repeats)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from annoconvert.cli import main
from annoconvert.quality import key_store, linechecks
from annoconvert.quality.consistency import ConsistencyChecker
from tests.conftest import PRINT_OWN_PEAK_KIB, own_peak_kib


@pytest.mark.parametrize("spill_lines", [None, 8])
def test_the_report_names_the_first_repeats_and_counts_them_all(
    spill_lines: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """60 lines of 4 distinct examples: 56 repeats, in line order, in memory or spilled."""
    if spill_lines is not None:
        monkeypatch.setattr(key_store, "SPILL_LINES", spill_lines)
    checker = ConsistencyChecker("report")
    for line in range(60):
        key = line % 4
        checker.observe_keys(f"t{line}", key, key, 100 + key, "")
    everything = checker.report()
    assert everything.duplicate_count == 56
    assert [(d.task, d.first_task) for d in everything.duplicates] == [
        (f"t{line}", f"t{line % 4}") for line in range(4, 60)
    ]
    first = checker.report(listed=3)
    assert first.duplicate_count == 56
    assert [(d.task, d.first_task) for d in first.duplicates] == [
        ("t4", "t0"),
        ("t5", "t1"),
        ("t6", "t2"),
    ]
    checker.close()


def test_a_run_counts_every_repeat_past_those_it_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The summary's count is every repeat, not the named ones; --dedupe drops them all."""
    monkeypatch.setattr(linechecks, "LISTED_DUPLICATES", 2)
    export = tmp_path / "all.jsonl"
    rows = [{"id": i, "text": f"message {i % 3}", "label": [f"c{i % 3}"]} for i in range(30)]
    export.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(main, ["doccano", str(export), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "27 examples repeat an earlier one exactly (first: task 3 repeats task 0)" in (
        result.output
    )
    result = CliRunner().invoke(main, ["doccano", str(export), "-o", str(out), "--dedupe"])
    assert result.exit_code == 0, result.output
    assert len(out.read_text().splitlines()) == 3


MEMORY = (
    """
import sys
from annoconvert.quality.consistency import ConsistencyChecker
from annoconvert.quality.linechecks import LISTED_DUPLICATES

lines = int(sys.argv[1])
checker = ConsistencyChecker("report")
for n in range(lines):
    key = (n % 1000 + 1) * 0x9E3779B97F4A7C15 % 2**64  # spread like real hashes
    checker.observe_keys(n, key, key, key, "")
report = checker.report(listed=LISTED_DUPLICATES)
assert report.duplicate_count == lines - 1000
assert len(report.duplicates) == LISTED_DUPLICATES
"""
    + PRINT_OWN_PEAK_KIB
)


def test_a_million_repeats_take_a_few_bytes_each() -> None:
    """A million repeats of 1,000 examples: the checker's peak within 48 MiB of 100k's (34
    measured; its repeats as pairs and report objects took ~900 MiB more, and their copy in
    the converting process as much)."""
    small, large = own_peak_kib(MEMORY, "100000"), own_peak_kib(MEMORY, "1000000")
    assert large - small < 48 * 1024, (small, large)


def test_a_run_names_the_first_tasks_of_a_conflict_and_counts_them_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One text labelled two ways in 30 tasks: the findings name 12 of them (patched), the
    summary 10 and the count; dropping the conflict rejects all 30, each with its reason."""
    monkeypatch.setattr(linechecks, "LISTED_TASKS", 12)
    export = tmp_path / "all.jsonl"
    rows = [{"id": i, "text": "the same text", "label": [f"c{i % 2}"]} for i in range(30)]
    rows.append({"id": 30, "text": "another text", "label": ["c0"]})
    export.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(main, ["doccano", str(export), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert (
        "the same input got 2 different answers in tasks 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, ... "
        "(30 examples in all)"
    ) in result.output
    rejects = tmp_path / "rejects.jsonl"
    args = ["doccano", str(export), "-o", str(out), "--conflicts", "drop"]
    result = CliRunner().invoke(main, [*args, "--rejects", str(rejects)])
    assert result.exit_code == 0, result.output
    assert len(out.read_text().splitlines()) == 1
    dropped = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert [r["task"] for r in dropped] == list(range(30))
    assert {r["code"] for r in dropped} == {"conflicting_answers"}


CONFLICTS = (
    """
import sys
from annoconvert.quality.consistency import ConsistencyChecker
from annoconvert.quality.linechecks import LISTED_TASKS

lines = int(sys.argv[1])
checker = ConsistencyChecker("report")
for n in range(lines):
    key = (n % 1000 + 1) * 0x9E3779B97F4A7C15 % 2**64  # spread like real hashes
    checker.observe_keys(n, key, n // 1000 % 2, n, "")
report = checker.report(listed_tasks=LISTED_TASKS)
assert len(report.conflicts) == 1000 and report.duplicate_count == 0
assert sum(c.examples for c in report.conflicts) == lines
"""
    + PRINT_OWN_PEAK_KIB
)


def test_a_million_conflicting_lines_take_a_few_bytes_each() -> None:
    """1,000 inputs each answered two ways over a million lines: the checker's peak within
    24 MiB of 100k's (12 measured; as lists of lines and report objects naming every task,
    39 MiB more)."""
    small, large = own_peak_kib(CONFLICTS, "100000"), own_peak_kib(CONFLICTS, "1000000")
    assert large - small < 24 * 1024, (small, large)
