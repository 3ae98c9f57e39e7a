"""The conversion pipeline: reader -> policy -> media -> recipe -> dialect -> sink (DESIGN.md §1).

Every task read is either written (one or more examples) or rejected with a code; the counts
always add up: read = rejected + tasks written, examples = tasks written + extra examples.
"""

from __future__ import annotations

import inspect
import itertools
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from annoconvert import registry
from annoconvert.errors import (
    AnnoconvertError,
    ConfigError,
    MediaError,
    RecipeError,
    StopRun,
    TaskError,
)
from annoconvert.model import AnnotationSet, Example, PreparedImage, Reject, Task, Warning_
from annoconvert.options import BUILTIN_PLACEHOLDERS, TEMPLATE_OPTIONS, Options, template_fields
from annoconvert.policy import disagreement, select
from annoconvert.recipes.auto import choose_recipe
from annoconvert.registry import Recipe

AUTO_SAMPLE = 200
"""Tasks looked at before choosing a recipe for `--recipe auto` and checking templates."""
RECIPE_PLACEHOLDERS = frozenset({"entities", "answer", "reply"})


@dataclass
class RunStats:
    """Counts and findings of one run; `rejects` in input order."""

    read: int = 0
    tasks_written: int = 0
    written: int = 0
    rejects: list[Reject] = field(default_factory=list)
    warnings: list[Warning_] = field(default_factory=list)
    disagreed: int = 0
    recipe: str | None = None
    recipe_reason: str | None = None
    files: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rejected(self) -> int:
        """Tasks rejected (a task is counted once even if several of its examples failed)."""
        return len(
            {(r.file, r.locator, r.task) for r in self.rejects if r.code != "bad_line"}
        ) + sum(1 for r in self.rejects if r.code == "bad_line")

    def codes(self) -> Counter[str]:
        """Rejects counted by code."""
        return Counter(r.code for r in self.rejects)


@dataclass(frozen=True, slots=True)
class Converted:
    """One task's output: its examples (possibly several) and the task it came from."""

    task: Task
    examples: list[Example]


def _reject(task: Task, code: str, reason: str, locator: str | None = None) -> Reject:
    return Reject(task.id, task.source.file, locator or task.source.locator, code, reason)


def check_templates(options: Options, sample: Sequence[Task]) -> None:
    """A template naming a field no task has fails now, before any line is written."""
    known = set(BUILTIN_PLACEHOLDERS) | RECIPE_PLACEHOLDERS
    for task in sample:
        known.update(k for k in task.fields if not k.startswith("__"))
        controls = task.fields.get("__controls__")
        if isinstance(controls, dict):
            known.update(controls)
        for annotation in task.annotations:
            known.update(getattr(r, "field", "") for r in annotation.regions)
    for name in TEMPLATE_OPTIONS:
        template = getattr(options, name)
        if template is None:
            continue
        unknown = [f for f in template_fields(template) if f not in known]
        if unknown and sample:
            raise ConfigError(
                f"--{name.replace('_', '-')} names {', '.join('{' + u + '}' for u in unknown)}, "
                f"which no task has; available: {', '.join(sorted(known))}"
            )


class Converter:
    """Runs tasks through policy, media, recipe and dialect; collects stats and rejects."""

    def __init__(self, options: Options, roots: Sequence[str], stats: RunStats):
        self.options = options
        self.roots = list(roots)
        self.stats = stats
        self.recipe: Recipe | None = None
        self._media: Any = None

    def choose(self, sample: Sequence[Task]) -> Recipe:
        """Resolve the recipe (auto looks at a sample of tasks) and check the templates."""
        name = self.options.recipe
        if name == "auto":
            name, reason = choose_recipe(sample)
            self.stats.recipe_reason = reason
        self.stats.recipe = name
        self.recipe = registry.recipe(name)
        check_templates(self.options, sample)
        return self.recipe

    @property
    def media(self) -> Any:
        """The media pipeline, created on first use (Pillow is imported only then)."""
        if self._media is None:
            from annoconvert.media import MediaPipeline

            self._media = MediaPipeline(self.options, self.roots)
        return self._media

    def close(self) -> None:
        """Stop the media worker pool, if one was started."""
        if self._media is not None:
            self._media.close()

    def _selected(
        self, tasks: Iterable[Task | Reject]
    ) -> Iterator[tuple[Task, tuple[AnnotationSet, ...]]]:
        for item in tasks:
            if isinstance(item, Reject):
                self.stats.read += 1
                self.record(item)
                continue
            self.stats.read += 1
            if disagreement(item):
                self.stats.disagreed += 1
            try:
                selection = select(item, self.options.annotators)
            except TaskError as err:
                self.record(_reject(item, err.code, err.message))
                continue
            yield item, selection.chosen

    def record(self, reject: Reject) -> None:
        """Keep a reject; stop the run when the error policy says so."""
        task = reject.task
        if not (task is None or isinstance(task, int | str)) or isinstance(task, bool):
            reject = replace(reject, task=repr(task))  # a hostile id (a list): keep it readable
        self.stats.rejects.append(reject)
        if self.options.on_error == "fail":
            raise StopRun(
                f"{reject.file} at {reject.locator}: task {reject.task}: {reject.reason} "
                f"[{reject.code}] (--on-error fail)"
            )
        if (
            self.options.max_errors is not None
            and len(self.stats.rejects) >= self.options.max_errors
        ):
            raise StopRun(
                f"stopped after {len(self.stats.rejects)} rejected tasks (--max-errors "
                f"{self.options.max_errors}); last: {reject.file} at {reject.locator}: "
                f"{reject.reason} [{reject.code}]"
            )

    def _build(
        self, task: Task, chosen: tuple[AnnotationSet, ...], images: Sequence[PreparedImage]
    ) -> Converted | None:
        assert self.recipe is not None
        examples: list[Example] = []
        for annotation in chosen:
            try:
                examples.extend(self.recipe.build(task, annotation, images, self.options))
            except RecipeError as err:
                self.record(_reject(task, err.code, str(err), err.locator))
                return None
            except TaskError as err:
                self.record(_reject(task, err.code, err.message, err.locator))
                return None
        return Converted(task, examples)

    def convert(self, tasks: Iterable[Task | Reject]) -> Iterator[Converted]:
        """Converted tasks in input order; rejected ones are recorded, not yielded."""
        assert self.recipe is not None
        selected = self._selected(tasks)
        if not self.recipe.needs_images:
            for task, chosen in selected:
                done = self._build(task, chosen, ())
                if done is not None:
                    yield done
            return
        prepared = self.media.prepare_ordered(selected, lambda item: item[0].images)
        for (task, chosen), images, warnings in prepared:
            for message in warnings:
                code = getattr(message, "code", "image")
                self.stats.warnings.append(Warning_(code, str(message), task.id, task.source.file))
            if isinstance(images, MediaError):
                self.record(_reject(task, images.code, str(images)))
                continue
            done = self._build(task, chosen, images)
            if done is not None:
                yield done


def peek(items: Iterator[Task | Reject], size: int) -> tuple[list[Task], Iterator[Task | Reject]]:
    """The first `size` tasks (for auto and template checks) and the stream, unchanged."""
    head = list(itertools.islice(items, size))
    tasks = [t for t in head if isinstance(t, Task)]
    return tasks, itertools.chain(head, items)


def run(
    source: str,
    inputs: Sequence[str],
    options: Options,
    output: str | None,
    *,
    progress: Callable[[int], None] | None = None,
) -> RunStats:
    """Convert `inputs` with the `source` reader into `output`: the whole run the CLI runs."""
    from annoconvert.writers.sink import JsonlSink, LineMeta

    started = time.perf_counter()
    stats = RunStats()
    reader = registry.reader(source)
    dialect = registry.dialect(options.dialect)
    if (options.split and not output) or (options.split and output == "-"):
        raise ConfigError("--split needs -o FILE: the split files are written beside it")
    roots = list(options.images_root) or reader.default_image_roots(inputs)
    sample, stream = peek(iter(_read(reader, inputs, options, stats)), AUTO_SAMPLE)
    converter = Converter(options, roots, stats)
    converter.choose(sample)
    sink = JsonlSink(output, _split_assigner(options) if options.split else None)
    validator = _validator(options)
    consistency = Consistency(options, stats)
    try:
        for done in converter.convert(stream):
            rendered = _render(dialect, done, options, consistency, converter)
            for example, line in rendered or ():
                if validator is not None:
                    validator.check_line(stats.written + 1, line)
                sink.write(line, LineMeta(example.group, example.label, done.task.subset))
                stats.written += 1
            if rendered:
                stats.tasks_written += 1
            elif rendered is not None and done.examples:
                converter.record(consistency.duplicate_reject(done.task))
            if progress is not None:
                progress(stats.read)
        dropped = consistency.finish()
        if validator is not None:
            stats.warnings.extend(_validation_warnings(validator))
        if stats.read == 0:
            stats.warnings.append(Warning_("empty_input", "the input holds no tasks"))
        stats.files = sink.commit(drop=dropped)
        stats.written -= len(dropped)
    except BaseException:
        sink.abort()
        raise
    finally:
        converter.close()
        consistency.close()
        stats.seconds = time.perf_counter() - started
    return stats


def _render(
    dialect: registry.Dialect,
    done: Converted,
    options: Options,
    consistency: Consistency,
    converter: Converter,
) -> list[tuple[Example, bytes]] | None:
    """A task's lines, all or none: a dialect that cannot write one example rejects the task.

    None when rejected; an empty list when every example was an exact duplicate (--dedupe).
    """
    lines: list[tuple[Example, bytes]] = []
    for example in done.examples:
        if not consistency.admit(example, done.task):
            continue
        try:
            lines.append((example, dialect.render(example, options)))
        except (RecipeError, MediaError) as err:
            converter.record(_reject(done.task, err.code, str(err)))
            return None
    return lines


def _read(
    reader: registry.Reader, inputs: Sequence[str], options: Options, stats: RunStats
) -> Iterator[Task | Reject]:
    """The reader's stream; readers that can tell more (detected types) report warnings."""
    if "on_warning" in inspect.signature(reader.read).parameters:
        return reader.read(inputs, options, on_warning=stats.warnings.append)  # type: ignore[call-arg]
    return iter(reader.read(inputs, options))


class Consistency:
    """Same input with different answers (`--conflicts`) and exact duplicates (`--dedupe`).

    The checker keeps three hashes per written line; what to leave out is known only at the
    end, so `finish` returns the line indexes and the sink leaves them out. When lines may be
    dropped, each line's task reference (id, file, locator) is spilled to a temporary file, so
    a task all of whose lines are dropped is rejected with its locator and the counts still add
    up, without holding every task in memory.
    """

    def __init__(self, options: Options, stats: RunStats):
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
        return _reject(
            task, "duplicate_example", "every example of this task repeats an earlier one"
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


def _split_assigner(options: Options) -> Callable[[Sequence[Any]], list[str]]:
    from annoconvert.quality.splits import assign_splits

    spec = options.split
    assert spec is not None

    def assign(metas: Sequence[Any]) -> list[str]:
        if spec == "by-subset":
            return [m.subset or "default" for m in metas]
        return assign_splits([(m.group, m.label) for m in metas], spec, options.seed)

    return assign


def _validator(options: Options) -> Any:
    if not options.validate_output:
        return None
    from annoconvert.quality.validate import Validator

    # the media layer made and checked every embedded image: no need to decode them again
    return Validator(options.effective_preset, decode_images=False)


def _validation_warnings(validator: Any) -> list[Warning_]:
    """One warning per finding code: how many lines, and the first one's message."""
    report = validator.finish()
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


__all__ = ["AnnoconvertError", "Converter", "RunStats", "run"]
