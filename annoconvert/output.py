"""Everything after an example is rendered: the sink, the checks on what is written, and the
counts. Both engines (`pipeline.run` and `annoconvert.dask`) write through `Output`.

- Validation (`--no-validate` turns it off) runs in a second process that follows the sink's
  temporary file (`quality.background`), or inline when writing to stdout or to shards.
- Consistency (`--conflicts`, `--dedupe`) hashes each written example; what to leave out is
  known at the end, and the sink leaves those lines out when it commits.
- A task whose every line is left out is rejected, so read = written tasks + rejected.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from annoconvert.model import Example, Reject, Task, Warning_
from annoconvert.options import Options
from annoconvert.writers.sink import LineMeta


class RunCounts(Protocol):
    """What Output updates: the run's counters, rejects and warnings (pipeline.RunStats)."""

    read: int
    written: int
    tasks_written: int
    rejects: list[Reject]
    warnings: list[Warning_]
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
        self.consistency = Consistency(options, stats)
        self.checker = _checker(options, sink)

    def admit(self, example: Example, task: Task) -> bool:
        """Observe an example before its line is written (see Consistency)."""
        return self.consistency.admit(example, task)

    def write_task(self, task: Task, lines: Sequence[tuple[bytes, LineMeta]]) -> None:
        """Write a task's lines (all of them); a task that built examples but has no line left
        (every one an exact duplicate) is rejected."""
        for line, meta in lines:
            self.checker.check_line(self.stats.written + 1, line)
            self.sink.write(line, meta)
            self.stats.written += 1
        if lines:
            self.stats.tasks_written += 1

    def reject_empty(self, task: Task) -> None:
        """A task whose examples were all dropped before writing."""
        self.record(self.consistency.duplicate_reject(task))

    def finish(self) -> None:
        """Consistency and validation findings, the empty-input warning, then commit."""
        dropped = self.consistency.finish()
        flush = getattr(self.sink, "flush", None)
        if flush is not None:
            flush()
        self.stats.warnings.extend(_validation_warnings(self.checker.finish()))
        if self.stats.read == 0:
            self.stats.warnings.append(Warning_("empty_input", "the input holds no tasks"))
        self.stats.files = self.sink.commit(drop=dropped)
        self.stats.written -= len(dropped)

    def abort(self) -> None:
        """Drop what was written; the output path keeps what it had."""
        self.checker.abort()
        self.sink.abort()

    def close(self) -> None:
        """Remove temporary files of the checks."""
        self.consistency.close()


class _Checker(Protocol):
    def check_line(self, line_no: int, raw: bytes) -> Any: ...
    def finish(self) -> Any: ...
    def abort(self) -> None: ...


class _NoChecks:
    """--no-validate."""

    def check_line(self, line_no: int, raw: bytes) -> None:
        return None

    def finish(self) -> None:
        return None

    def abort(self) -> None:
        return None


class _Inline:
    """Validation in this process (stdout and sharded outputs have no file to follow)."""

    def __init__(self, preset: str):
        from annoconvert.quality.validate import Validator

        self.validator = Validator(preset, decode_images=False)

    def check_line(self, line_no: int, raw: bytes) -> Any:
        return self.validator.check_line(line_no, raw)

    def finish(self) -> Any:
        return self.validator.finish()

    def abort(self) -> None:
        return None


class _Background:
    """Validation in a second process following the sink's temporary file."""

    def __init__(self, path: str, preset: str):
        from annoconvert.quality.background import BackgroundValidator

        self.worker = BackgroundValidator(path, preset)

    def check_line(self, line_no: int, raw: bytes) -> None:
        return None  # the other process reads the line from the file

    def finish(self) -> Any:
        return self.worker.finish()

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self.worker.abort()


def _checker(options: Options, sink: Sink) -> _Checker:
    """The media layer made and checked every embedded image: lines are checked without
    decoding them again."""
    if not options.validate_output:
        return _NoChecks()
    path = getattr(sink, "follow_path", None)
    if path is not None:
        return _Background(path, options.effective_preset)
    return _Inline(options.effective_preset)


class Consistency:
    """Same input with different answers (`--conflicts`) and exact duplicates (`--dedupe`).

    The checker keeps three hashes per written line; what to leave out is known only at the
    end, so `finish` returns the line indexes and the sink leaves them out. When lines may be
    dropped, each line's task reference (id, file, locator) is spilled to a temporary file, so
    a task all of whose lines are dropped is rejected with its locator and the counts still add
    up, without holding every task in memory.
    """

    def __init__(self, options: Options, stats: RunCounts):
        from annoconvert.quality.consistency import ConsistencyChecker

        self.policy = options.conflicts
        self.dedupe = options.dedupe
        self.stats = stats
        self.checker = ConsistencyChecker(self.policy, self.dedupe)
        self.refs = _LineRefs() if self.policy == "drop" or self.dedupe else None

    def admit(self, example: Example, task: Task) -> bool:
        """Observe an example that is about to be written (always written; see `finish`)."""
        self.checker.observe(example)
        if self.refs is not None:
            self.refs.append(task)
        return True

    def duplicate_reject(self, task: Task) -> Reject:
        """The reject for a task that wrote no line although it built examples."""
        return Reject(
            task.id,
            task.source.file,
            task.source.locator,
            "duplicate_example",
            "every example of this task repeats an earlier one",
        )

    def finish(self) -> set[int]:
        """Report conflicts and duplicates as warnings; the line indexes to leave out."""
        report = self.checker.report()
        if report.duplicates:
            first = report.duplicates[0]
            action = "dropped (--dedupe)" if self.dedupe else "kept; --dedupe drops them"
            self.stats.warnings.append(
                Warning_(
                    "duplicate_examples",
                    f"{len(report.duplicates)} examples repeat an earlier one exactly (first: "
                    f"task {first.task} repeats task {first.first_task}); {action}",
                )
            )
        for conflict in report.conflicts:
            ids = ", ".join(str(t) for t in conflict.tasks[:10])
            action = "; dropped (--conflicts drop)" if self.policy == "drop" else ""
            self.stats.warnings.append(
                Warning_(
                    "conflicting_answers",
                    f"the same input got {conflict.answers} different answers in tasks {ids}"
                    + (f": {conflict.input!r}" if conflict.input else "")
                    + action,
                )
            )
        dropped = set(self.checker.dropped_lines())
        if dropped and self.refs is not None:
            self._reject_emptied_tasks(dropped)
        return dropped

    def _reject_emptied_tasks(self, dropped: set[int]) -> None:
        assert self.refs is not None
        lines_of: dict[tuple[str, str], list[int]] = {}
        refs = {}
        for line in sorted(dropped):
            ref = self.refs.get(line)
            refs[line] = ref
            lines_of.setdefault((ref[1], ref[2]), []).append(line)
        for (file, locator), lines in lines_of.items():
            siblings = self.refs.lines_of_task(lines[0])
            if not set(siblings) <= dropped:
                continue  # the task still wrote another example
            task_id = refs[lines[0]][0]
            conflict = self.policy == "drop" and any(
                self.checker.conflicting_line(line) for line in lines
            )
            code, reason = (
                ("conflicting_answers", "the same input got different answers elsewhere")
                if conflict
                else ("duplicate_example", "the example repeats an earlier one exactly")
            )
            self.stats.rejects.append(Reject(task_id, file, locator, code, reason))
            self.stats.tasks_written -= 1

    def close(self) -> None:
        """Remove the spill file."""
        if self.refs is not None:
            self.refs.close()


class _LineRefs:
    """Per written line, its task's (id, file, locator), spilled to a temporary file."""

    def __init__(self) -> None:
        import tempfile
        from array import array

        self._fh = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the run
        self._offsets = array("q")
        self._task_start = array("q")
        self._last: Task | None = None

    def append(self, task: Task) -> None:
        import orjson

        if task is not self._last:
            self._last = task
            self._task_start.append(len(self._offsets))
        self._offsets.append(self._fh.tell())
        self._fh.write(orjson.dumps([task.id, task.source.file, task.source.locator]) + b"\n")

    def get(self, line: int) -> tuple[int | str, str, str]:
        import orjson

        self._fh.seek(self._offsets[line])
        task_id, file, locator = orjson.loads(self._fh.readline())
        self._fh.seek(0, 2)
        return task_id, file, locator

    def lines_of_task(self, line: int) -> range:
        """Every line written for the task that wrote `line`."""
        import bisect

        i = bisect.bisect_right(self._task_start, line) - 1
        start = self._task_start[i]
        end = self._task_start[i + 1] if i + 1 < len(self._task_start) else len(self._offsets)
        return range(start, end)

    def close(self) -> None:
        self._fh.close()


def split_assigner(options: Options) -> Callable[[Sequence[Any]], list[str]]:
    from annoconvert.quality.splits import assign_splits

    spec = options.split
    assert spec is not None

    def assign(metas: Sequence[Any]) -> list[str]:
        if spec == "by-subset":
            return [m.subset or "default" for m in metas]
        return assign_splits([(m.group, m.label) for m in metas], spec, options.seed)

    return assign


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
