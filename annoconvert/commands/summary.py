"""What a conversion tells the user on stderr: a progress bar while it runs, a summary after."""

from __future__ import annotations

import sys
from collections import Counter
from types import TracebackType
from typing import Any

import click

from annoconvert.options import Options
from annoconvert.pipeline import RunStats

FIRST_IDS = 5
SHOWN_WARNINGS = 10


class Progress:
    """A tqdm bar of tasks read, on stderr, only when stderr is a terminal."""

    def __init__(self, enabled: bool):
        self._bar: Any = None
        self._last = 0
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm

            # no monitor thread: the checker and the image workers are forked from this
            # process, and a thread held at a fork may deadlock the child (Python 3.12
            # warns of it); the monitor only wakes bars that went quiet for 10 s
            tqdm.monitor_interval = 0
            self._bar = tqdm(unit=" tasks", file=sys.stderr, leave=False, mininterval=0.2)

    def update(self, read: int) -> None:
        """Move the bar to `read` tasks."""
        if self._bar is not None:
            self._bar.update(read - self._last)
            self._last = read

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.close()


def summary_lines(stats: RunStats, output: str | None) -> list[str]:
    """The end-of-run report: recipe, counts, rejects by code with first ids, warnings, time."""
    lines = []
    if stats.recipe:
        chosen = stats.recipe
        if stats.recipe_reason:
            chosen = f"auto -> {stats.recipe} ({stats.recipe_reason})"
        lines.append(f"recipe: {chosen}")
    extra = stats.written - stats.tasks_written
    counts = (
        f"read {stats.read} tasks; wrote {stats.written} examples"
        + (f" ({extra} extra from several annotations)" if extra > 0 else "")
        + f"; rejected {stats.rejected}; {len(stats.warnings)} warnings; "
        f"{stats.seconds:.2f} s"
    )
    lines.append(counts)
    if stats.disagreed:
        lines.append(f"annotators disagreed on {stats.disagreed} tasks")
    codes = stats.codes()
    first_ids: dict[str, list[str]] = {}  # the first few of each code: memory stays flat
    missing = sum(min(count, FIRST_IDS) for count in codes.values())
    for reject in stats.rejects:
        if not missing:
            break  # every code has its ids: the rejects on disk past them are not read back
        ids = first_ids.setdefault(reject.code, [])
        if len(ids) < FIRST_IDS:
            ids.append(str(reject.task))
            missing -= 1
    for code, count in codes.most_common():
        shown = ", ".join(first_ids[code]) + (", ..." if count > FIRST_IDS else "")
        lines.append(f"  rejected {count} {code}: tasks {shown}")
    first = stats.warnings.head(SHOWN_WARNINGS)
    for warning in first:
        where = f"task {warning.task}: " if warning.task is not None else ""
        lines.append(f"  warning {warning.code}: {where}{warning.message}")
    if len(stats.warnings) > len(first):
        rest = stats.warnings.codes() - Counter(w.code for w in first)
        by_code = ", ".join(f"{count} {code}" for code, count in rest.most_common())
        lines.append(f"  ... and {len(stats.warnings) - len(first)} more warnings ({by_code})")
    if stats.files and stats.files != ["-"]:
        lines.append("wrote " + ", ".join(stats.files))
    return lines


def print_summary(stats: RunStats, output: str | None, options: Options) -> None:
    """Print the summary on stderr."""
    for line in summary_lines(stats, output):
        click.echo(f"annoconvert: {line}", err=True)
