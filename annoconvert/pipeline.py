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

import orjson

from annoconvert import express, registry
from annoconvert.errors import (
    ConfigError,
    MediaError,
    RecipeError,
    StopRun,
    TaskError,
)
from annoconvert.model import AnnotationSet, Example, PreparedImage, Reject, Task, Warning_
from annoconvert.options import BUILTIN_PLACEHOLDERS, TEMPLATE_OPTIONS, Options, template_fields
from annoconvert.output import Output, split_assigner
from annoconvert.policy import PolicyReject, select
from annoconvert.recipes.auto import choose_recipe
from annoconvert.registry import Recipe
from annoconvert.reject_log import RejectLog
from annoconvert.warning_log import WarningLog
from annoconvert.writers.sink import NO_META, JsonlSink, LineMeta, is_stream

AUTO_SAMPLE = 200
"""Tasks looked at before choosing a recipe for `--recipe auto` and checking templates."""
RECIPE_PLACEHOLDERS = frozenset({"entities", "answer", "reply"})


@dataclass
class RunStats:
    """Counts and findings of one run; `rejects` and `warnings` in order (past the first ones
    on disk: `record_log`)."""

    read: int = 0
    tasks_written: int = 0
    written: int = 0
    rejects: RejectLog = field(default_factory=RejectLog)
    warnings: WarningLog = field(default_factory=WarningLog)
    disagreed: int = 0
    recipe: str | None = None
    recipe_reason: str | None = None
    files: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rejected(self) -> int:
        """Tasks rejected (a task is counted once even if several of its examples failed)."""
        return self.rejects.tasks

    def codes(self) -> Counter[str]:
        """Rejects counted by code."""
        return self.rejects.codes()


@dataclass(slots=True)
class Converted:
    """One task's output: its examples (possibly several) and the task it came from, or the
    line the express lane made for it (`line`, no examples)."""

    task: Task
    examples: list[Example]
    line: bytes | None = None
    meta: LineMeta | None = None
    """The lane line's meta (`--split`)."""


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
        self, tasks: Iterable[Task | Reject | express.Written]
    ) -> Iterator[tuple[Task | express.Written, tuple[AnnotationSet, ...]]]:
        for item in tasks:
            if isinstance(item, express.Written):
                yield item, ()  # the lane counted it
                continue
            if isinstance(item, Reject):
                self.stats.read += 1
                self.record(item)
                continue
            self.stats.read += 1
            try:
                selection = select(item, self.options.annotators)
            except TaskError as err:
                if isinstance(err, PolicyReject) and err.disagreed:
                    self.stats.disagreed += 1
                self.record(_reject(item, err.code, err.message))
                continue
            if selection.disagreed:
                self.stats.disagreed += 1
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

    def convert(self, tasks: Iterable[Task | Reject | express.Written]) -> Iterator[Converted]:
        """Converted tasks in input order; rejected ones are recorded, not yielded. A lane
        line handed on (`express.Written`) comes out in its turn."""
        assert self.recipe is not None
        selected = self._selected(tasks)
        prepared: Iterable[
            tuple[
                tuple[Task | express.Written, tuple[AnnotationSet, ...]],
                list[PreparedImage] | MediaError,
                Sequence[object],
            ]
        ]
        if self.recipe.needs_images:
            prepared = self.media.prepare_ordered(selected, lambda item: item[0].images)
        else:
            prepared = ((item, [], ()) for item in selected)
        for (task, chosen), images, warnings in prepared:
            if isinstance(task, express.Written):
                yield Converted(task.task, [], task.line, task.meta)
                continue
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

    started = time.perf_counter()
    stats = RunStats()
    reader = registry.reader(source)
    dialect = registry.dialect(options.dialect)
    if options.split and is_stream(output):
        raise ConfigError("--split needs -o FILE: the split files are written beside it")
    roots = list(options.images_root) or reader.default_image_roots(inputs)
    switch = express.Switch() if "express" in inspect.signature(reader.read).parameters else None
    converter = Converter(options, roots, stats)
    try:
        sample, stream = peek(iter(_read(reader, inputs, options, stats, switch)), AUTO_SAMPLE)
        converter.choose(sample)
        _write(stream, dialect, options, converter, switch, output, stats, progress)
    finally:
        converter.close()
        stats.seconds = time.perf_counter() - started
    return stats


def _write(
    stream: Iterator[Task | Reject],
    dialect: registry.Dialect,
    options: Options,
    converter: Converter,
    switch: express.Switch | None,
    output: str | None,
    stats: RunStats,
    progress: Callable[[int], None] | None,
) -> None:
    """Convert the stream into the output: all of it committed, or none of it on an error."""
    sink = JsonlSink(
        output,
        split_assigner(options) if options.split else None,
        hold=options.dedupe or options.conflicts == "drop",  # lines may be left out at the end
    )
    out = Output(sink, options, stats, converter.record)
    if options.asks_pixel_work:
        # pixel work asked for: the pool starts now and its workers load Pillow while the
        # first tasks are converted; after the checker, which must fork while this process
        # has one thread (the pool's threads held at a fork may deadlock the child, and
        # Python 3.12 warns of it)
        converter.media.start_workers()
    lane = _express_lane(switch, options, converter, dialect)
    items: Iterator[Task | Reject | express.Written] = stream
    if lane is not None and switch is not None:
        switch.on = True
        items = express.through(stream, lane, out, stats, progress)
    try:
        for done in converter.convert(items):
            if done.line is not None:  # the express lane's, handed on to keep its place
                out.write_line(done.task.id, done.task.source, done.line, done.meta or NO_META)
            else:
                rendered = _render(dialect, done, options, converter)
                if rendered is not None:  # None: the dialect rejected the task
                    out.write_task(done.task, rendered)
            if progress is not None:
                progress(stats.read)
        out.finish()
    except BaseException:
        out.abort()
        raise
    finally:
        out.close()


def _render(
    dialect: registry.Dialect, done: Converted, options: Options, converter: Converter
) -> list[tuple[bytes, LineMeta]] | None:
    """A task's lines, all or none: a dialect that cannot write one example rejects the task
    (None)."""
    lines: list[tuple[bytes, LineMeta]] = []
    subset = done.task.subset
    for example in done.examples:
        try:
            line = dialect.render(example, options)
        except (RecipeError, MediaError) as err:
            converter.record(_reject(done.task, err.code, str(err)))
            return None
        except orjson.JSONEncodeError as err:  # a lone surrogate (`"\\ud800"` in the export)
            converter.record(_reject(done.task, "bad_text", _unwritable(done.task, err)))
            return None
        lines.append((line, LineMeta(example.group, example.label, subset)))
    return lines


def _unwritable(task: Task, err: Exception) -> str:
    """Why a task's line cannot be written, naming the field that holds the bad text."""
    if task.text is not None and _bad_text(task.text):
        where: str | None = "the task's text"
    else:
        where = next((f"field {k!r}" for k, value in task.fields.items() if _bad_text(value)), None)
    return (
        f"{where or 'an annotation'} is not Unicode text (it holds a lone UTF-16 surrogate, "
        f"such as \\ud800 in the export), which no JSON line can carry: {err}"
    )


def _bad_text(value: Any) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_bad_text(v) for v in value.values())
    if isinstance(value, list):
        return any(_bad_text(v) for v in value)
    return False


def _read(
    reader: registry.Reader,
    inputs: Sequence[str],
    options: Options,
    stats: RunStats,
    switch: express.Switch | None = None,
) -> Iterator[Task | Reject]:
    """The reader's stream; readers that can tell more (detected types) report warnings;
    readers with an express lane take its switch."""
    extra: dict[str, Any] = {}
    if "on_warning" in inspect.signature(reader.read).parameters:
        extra["on_warning"] = stats.warnings.append
    if switch is not None:  # made only for a reader whose `read` takes one
        extra["express"] = switch
    return iter(reader.read(inputs, options, **extra))


def _express_lane(
    switch: express.Switch | None, options: Options, converter: Converter, dialect: registry.Dialect
) -> express.Lane | None:
    """The express lane for this run, when the reader put a test for its tasks in the switch
    and the recipe and options are the lane's (see `annoconvert.express`)."""
    recipe = converter.recipe
    if switch is None or switch.extract is None or recipe is None:
        return None
    if not express.options_allow(options, converter.stats.recipe or ""):
        return None
    images: Callable[[Task], Sequence[PreparedImage]] = _no_images
    busy: Callable[[], bool] | None = None
    if recipe.needs_images:
        images = _lane_images(converter)
        if (
            options.image_uri_prefix
            or options.image_mode == "embed"
            or converter.media.need_size  # a pixel box format: a size the export lacks is read
        ):
            switch.prepare = converter.media.prepare_as_is
        busy = converter.media.busy
    lines = express.general_lines(recipe, dialect, options, select, images)
    return express.Lane(express.dialect_extract(switch.extract, options.dialect), lines, busy)


def _no_images(task: Task) -> tuple[()]:
    return ()


def _lane_images(converter: Converter) -> Callable[[Task], list[PreparedImage]]:
    """The task's images as the general path prepares them, in this process (the lane's
    images need no pixel work)."""
    media = converter.media

    def images(task: Task) -> list[PreparedImage]:
        prepared: list[PreparedImage] = media.prepare(task.images)
        return prepared

    return images


__all__ = ["Converter", "RunStats", "peek", "run"]
