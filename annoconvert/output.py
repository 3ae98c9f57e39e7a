"""Everything after an example is rendered: the sink, the checks on what is written, and the
counts. Both engines (`pipeline.run` and `annoconvert.dask`) write through `Output`.

- The line checks (`quality.linechecks`: validation, which `--no-validate` turns off, and
  consistency: `--conflicts`, `--dedupe`) run in a second process that follows the sink's
  temporary file (`quality.background`), or reads a copy of what a stream output (stdout, a
  pipe) is sent; inline when writing to shards, or where no child can start.
- What consistency leaves out is known at the end; the sink leaves those lines out when it
  commits.
- A task whose every line is left out is rejected, so read = written tasks + rejected.
"""

from __future__ import annotations

import bisect
import contextlib
import mmap
import multiprocessing
import os
from array import array
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import orjson

from annoconvert.children import why_no_children
from annoconvert.model import Reject, Source, Task, Warning_
from annoconvert.options import Options
from annoconvert.quality.background import BackgroundChecks, LinePipe
from annoconvert.quality.consistency import Policy
from annoconvert.quality.linechecks import LineChecks, LineFindings
from annoconvert.reject_log import RejectLog
from annoconvert.spill import SpillFile
from annoconvert.warning_log import WarningLog
from annoconvert.writers.sink import LineMeta, SplitAssigner


class RunCounts(Protocol):
    """What Output updates: the run's counters, rejects and warnings (pipeline.RunStats)."""

    read: int
    written: int
    tasks_written: int
    rejects: RejectLog
    warnings: WarningLog
    files: list[str]


class Sink(Protocol):
    """A JSONL sink: JsonlSink or the Dask engine's sharded sink."""

    def write(self, line: bytes, meta: LineMeta | None = None) -> None: ...
    def commit(self, drop: set[int] | None = None) -> list[str]: ...
    def abort(self) -> None: ...


class Output:
    """Writes rendered lines through the sink and its checks; keeps the counts honest."""

    def __init__(
        self,
        sink: Sink,
        options: Options,
        stats: RunCounts,
        record: Callable[[Reject], None],
    ):
        self.sink = sink
        self.stats = stats
        self.record = record
        self.policy = options.conflicts
        self.dedupe = options.dedupe
        # each written line's task, spilled to disk: reports and rejects name a few of them
        self.refs = _LineRefs()
        preset = options.effective_preset if options.validate_output else None
        self.checks: LineChecks | BackgroundChecks = _background_checks(
            sink, preset, self.policy, self.dedupe
        ) or LineChecks(preset, self.policy, self.dedupe)

    def write_task(self, task: Task, lines: Sequence[tuple[bytes, LineMeta]]) -> None:
        """Write a task's lines (all of them)."""
        for line, meta in lines:
            self.checks.check_line(line)
            self.sink.write(line, meta)
            self.refs.append(task)
            self.stats.written += 1
        if lines:
            self.stats.tasks_written += 1

    def write_line(self, task_id: int | str, source: Source, line: bytes, meta: LineMeta) -> None:
        """`write_task` of a task with one line, named by its id and source (the express
        lane's: it builds no Task)."""
        self.checks.check_line(line)
        self.sink.write(line, meta)
        self.refs.add(task_id, source)
        self.stats.written += 1
        self.stats.tasks_written += 1

    def finish(self) -> None:
        """The checks' findings, the empty-input warning, then commit without dropped lines."""
        flush = getattr(self.sink, "flush", None)
        if flush is not None:
            flush()
        findings = self.checks.finish()
        self.stats.warnings.extend(_consistency_warnings(findings, self.refs, self))
        self.stats.warnings.extend(_validation_warnings(findings.validation))
        dropped = set(findings.dropped)
        if dropped:
            self._reject_emptied_tasks(dropped, findings)
        if self.stats.read == 0:
            self.stats.warnings.append(Warning_("empty_input", "the input holds no tasks"))
        self.stats.files = self.sink.commit(drop=dropped)
        self.stats.written -= len(dropped)

    def _reject_emptied_tasks(self, dropped: set[int], findings: LineFindings) -> None:
        """A task all of whose lines are left out is rejected, with its locator."""
        conflicting = {line for c in findings.consistency.conflicts for line in c.tasks}
        done: set[int] = set()
        for line in sorted(dropped):
            siblings = self.refs.lines_of_task(line)
            if siblings.start in done or not set(siblings) <= dropped:
                continue  # handled, or the task still wrote another example
            done.add(siblings.start)
            task_id, file, locator = self.refs.get(line)
            if self.policy == "drop" and any(i in conflicting for i in siblings):
                code, reason = (
                    "conflicting_answers",
                    "the same input got different answers elsewhere",
                )
            else:
                code, reason = "duplicate_example", "the example repeats an earlier one exactly"
            self.stats.rejects.append(Reject(task_id, file, locator, code, reason))
            self.stats.tasks_written -= 1

    def abort(self) -> None:
        """Drop what was written; the output path keeps what it had."""
        abort = getattr(self.checks, "abort", None)
        if abort is not None:
            with contextlib.suppress(Exception):
                abort()
        self.sink.abort()

    def close(self) -> None:
        """Remove the spill file."""
        self.refs.close()


def _background_checks(
    sink: Sink, preset: str | None, policy: Policy, dedupe: bool
) -> BackgroundChecks | None:
    """The checks in a second process: following the sink's temporary file, or reading a copy
    of a stream's bytes from a pipe (fork only). None where they run in this process: a
    daemon has no children, and the Dask engine's shards have no single file to follow."""
    if why_no_children() is not None:
        return None
    path = getattr(sink, "follow_path", None)
    if path is not None:
        return BackgroundChecks(path, preset, policy, dedupe)
    copy_to = getattr(sink, "copy_to", None)
    if copy_to is None or "fork" not in multiprocessing.get_all_start_methods():
        return None
    read_end, write_end = os.pipe()
    sent = copy_to(write_end)
    if sent is None:
        os.close(read_end)
        os.close(write_end)
        return None
    try:
        return BackgroundChecks(LinePipe(read_end, sent), preset, policy, dedupe)
    except BaseException:  # no checker: a pipe nobody reads would hold the stream's writes
        with contextlib.suppress(OSError):
            os.close(read_end)
        raise


def _consistency_warnings(findings: LineFindings, refs: _LineRefs, out: Output) -> list[Warning_]:
    """Conflicts and duplicates as warnings, lines mapped back to task ids."""
    report = findings.consistency
    warnings = []
    if report.duplicates:
        first = report.duplicates[0]
        action = "dropped (--dedupe)" if out.dedupe else "kept; --dedupe drops them"
        warnings.append(
            Warning_(
                "duplicate_examples",
                f"{report.duplicate_count} examples repeat an earlier one exactly (first: task "
                f"{refs.get(int(first.task))[0]} repeats task "
                f"{refs.get(int(first.first_task))[0]}); {action}",
            )
        )
    for conflict in report.conflicts:
        ids = ", ".join(str(refs.get(int(line))[0]) for line in conflict.tasks[:10])
        if conflict.examples > 10:
            ids += f", ... ({conflict.examples} examples in all)"
        action = "; dropped (--conflicts drop)" if out.policy == "drop" else ""
        warnings.append(
            Warning_(
                "conflicting_answers",
                f"the same input got {conflict.answers} different answers in tasks {ids}"
                + (f": {conflict.input!r}" if conflict.input else "")
                + action,
            )
        )
    return warnings


class _LineRefs:
    """Each written line's task (id, file, locator), kept on disk so that a run's memory does
    not grow with its tasks: one record per task in a temporary file, and per task its first
    line and its record's offset (two int64) in an index file. Lookups binary-search the index
    through a read-only map, whose pages the system may drop and read again."""

    def __init__(self) -> None:
        self._records = SpillFile()
        self._index = SpillFile()
        self._tasks = 0
        self._lines = 0
        self._position = 0  # where the next record starts in the records file
        self._last: Task | None = None
        # records and index pairs not yet in the files (written in batches)
        self._pending: list[bytes] = []
        self._pending_pairs = array("q")
        self._map: _IndexMap | None = None

    def append(self, task: Task) -> None:
        """Note that the next line was written for `task`."""
        if task is not self._last:
            self._last = task
            self._task(task.id, task.source)
        self._lines += 1

    def add(self, task_id: int | str, source: Source) -> None:
        """Note that the next line was written for a task of its own."""
        self._last = None
        self._task(task_id, source)
        self._lines += 1

    def _task(self, task_id: int | str, source: Source) -> None:
        record = orjson.dumps((task_id, source.file, source.locator)) + b"\n"
        self._pending_pairs.append(self._lines)
        self._pending_pairs.append(self._position)
        self._pending.append(record)
        self._position += len(record)
        self._tasks += 1
        if len(self._pending) >= 1024:
            self._flush()

    def _flush(self) -> None:
        """Write the pending batch; a map of the index is dropped first (Windows does not let a
        mapped file grow), and made again at the next lookup."""
        if not self._pending:
            return
        self._unmap()
        self._records.append(b"".join(self._pending))
        self._index.append(self._pending_pairs.tobytes())
        self._pending.clear()
        del self._pending_pairs[:]

    def _mapped(self) -> _IndexMap:
        """The index, mapped with every task noted so far."""
        self._flush()
        if self._map is None:
            if self._tasks == 0:
                raise IndexError("no line was written")
            self._map = _IndexMap(self._index.fileno())
        return self._map

    def _unmap(self) -> None:
        if self._map is not None:
            self._map.close()
            self._map = None

    def get(self, line: int) -> tuple[int | str, str, str]:
        """The (task id, file, locator) of a written line."""
        index = self._mapped()
        record = self._records.readline(index.record_offset(index.task_of(line)))
        task_id, file, locator = orjson.loads(record)
        return task_id, file, locator

    def lines_of_task(self, line: int) -> range:
        """Every line written for the task that wrote `line`."""
        index = self._mapped()
        i = index.task_of(line)
        end = index.first_line(i + 1) if i + 1 < len(index) else self._lines
        return range(index.first_line(i), end)

    def close(self) -> None:
        self._unmap()
        self._records.close()
        self._index.close()


class _IndexMap:
    """_LineRefs' index file mapped read-only: per task (first line, record offset) as int64,
    first lines ascending, so a task is found by bisecting them (22 probes for 4M tasks)."""

    def __init__(self, fd: int) -> None:
        self._mmap = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
        self._pairs = memoryview(self._mmap).cast("q")
        self._first_lines = self._pairs[::2]

    def __len__(self) -> int:
        return len(self._first_lines)

    def task_of(self, line: int) -> int:
        return bisect.bisect_right(self._first_lines, line) - 1

    def first_line(self, task: int) -> int:
        return int(self._first_lines[task])

    def record_offset(self, task: int) -> int:
        return int(self._pairs[2 * task + 1])

    def close(self) -> None:
        """Release the views before the map: a map with views on it cannot be closed."""
        self._first_lines.release()
        self._pairs.release()
        self._mmap.close()


def split_assigner(options: Options) -> SplitAssigner:
    """What the sink keeps of each line for `--split`: its subset, or its group and label."""
    spec = options.split
    assert spec is not None
    if spec == "by-subset":
        return _SubsetSplits()
    return _FractionSplits(spec, options.seed)


class _SubsetSplits:
    """`--split by-subset`: each line's subset (the tool's), as the index of its name."""

    def __init__(self) -> None:
        self._names: dict[str, int] = {}
        self._which = array("i")

    def add(self, meta: LineMeta) -> None:
        name = meta.subset or "default"
        self._which.append(self._names.setdefault(name, len(self._names)))

    def assign(self) -> tuple[Sequence[str], Sequence[int]]:
        return list(self._names), self._which


class _FractionSplits:
    """`--split train=0.8,...`: each line's group and label as numbers (`SplitItems`)."""

    def __init__(self, spec: str, seed: int) -> None:
        from annoconvert.quality.splits import SplitItems, parse_split

        self._spec = parse_split(spec)
        self._seed = seed
        self._items = SplitItems()

    def add(self, meta: LineMeta) -> None:
        self._items.add(meta.group, meta.label)

    def assign(self) -> tuple[Sequence[str], Sequence[int]]:
        from annoconvert.quality.splits import split_indexes

        return self._spec.names, split_indexes(self._items, self._spec, self._seed)


def _validation_warnings(report: Any) -> list[Warning_]:
    """One warning per finding code: how many lines, and the first one's message."""
    if report is None:
        return []
    out = []
    for counts, findings in (
        (report.error_counts, report.errors),
        (report.warning_counts, report.warnings),
    ):
        for code, count in counts.items():
            first = next((f for f in findings if f.code == code), None)
            where = f"line {first.line}: " if first is not None and first.line else ""
            message = first.message if first is not None else code
            if count > 1:
                message = f"{count} lines; first at {where}{message}"
            else:
                message = f"{where}{message}"
            out.append(Warning_(f"validate:{code}", message))
    return out
