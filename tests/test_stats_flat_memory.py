"""`stats` counts text lengths in a histogram: its memory does not grow with the tasks."""

from __future__ import annotations

from annoconvert.model import Source, Task
from annoconvert.quality.stats import compute_stats
from annoconvert.quality.tokens import distribution
from tests.conftest import PRINT_OWN_PEAK_KIB, own_peak_kib

MEMORY = (
    """
import sys
from annoconvert.model import Source, Task
from annoconvert.quality.stats import compute_stats

count = int(sys.argv[1])
source = Source("labelstudio", "export.json", "tasks[0]")
texts = ["x" * (300 + n) for n in range(200)]  # lengths past the ints Python caches
report = compute_stats(Task(n, source, text=texts[n % 200]) for n in range(count))
assert report.tasks == count and report.text_chars["min"] == 300
"""
    + PRINT_OWN_PEAK_KIB
)


def test_a_million_tasks_take_the_memory_of_a_hundred_thousand() -> None:
    """A list of the lengths took 36 bytes a task here: 35 MiB more at a million."""
    small, large = own_peak_kib(MEMORY, "100000"), own_peak_kib(MEMORY, "1000000")
    assert large - small < 4 * 1024, (small, large)


def test_the_text_lengths_are_those_of_every_task() -> None:
    source = Source("labelstudio", "export.json", "tasks[0]")
    texts = ["a" * n for n in (5, 1, 9, 9, 300, 2, 0)]  # the empty text is not counted
    report = compute_stats(Task(n, source, text=t) for n, t in enumerate(texts))
    assert report.text_chars == distribution([5, 1, 9, 9, 300, 2])
    assert report.text_chars["median"] == 5 and report.text_chars["total"] == 326
