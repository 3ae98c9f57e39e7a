"""A Doccano JSONL export is streamed: the reader keeps no per-line state for text projects,
and a user file's lines come out in file order however many there are."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import annoconvert
from annoconvert.model import Choice, Task


def _export(path: Path, lines: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for i in range(lines):
            row = {"id": i + 1, "text": f"review number {i}", "label": ["good" if i % 3 else "bad"]}
            fh.write(json.dumps(row) + "\n")
    return path


def _peak_bytes_reading(path: Path) -> tuple[int, int]:
    for _ in annoconvert.read("doccano", str(path)):  # warm up: lazy imports are not per line
        break
    tracemalloc.start()
    try:
        count = sum(1 for _ in annoconvert.read("doccano", str(path)))
        return count, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_stays_flat_as_lines_grow(tmp_path: Path) -> None:
    small_count, small = _peak_bytes_reading(_export(tmp_path / "s" / "all.jsonl", 2_000))
    big_count, big = _peak_bytes_reading(_export(tmp_path / "b" / "all.jsonl", 20_000))
    assert (small_count, big_count) == (2_000, 20_000)
    # a kept object per line (an id set, a list of tasks) would add well over 1 MB here
    assert big < 1.2 * small + 256 * 1024


def test_lines_come_out_in_order_with_their_labels(tmp_path: Path) -> None:
    tasks = list(annoconvert.read("doccano", str(_export(tmp_path / "all.jsonl", 3_000))))
    assert [t.id for t in tasks] == list(range(1, 3_001))
    first = tasks[0]
    assert isinstance(first, Task) and first.text == "review number 0"
    (answer,) = first.annotations
    assert answer.regions == (Choice(field="label", labels=("bad",)),)
    assert [t.source.locator for t in tasks[:2]] == ["line 1", "line 2"]
