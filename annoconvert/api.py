"""The Python API notebooks and batch scripts call (DESIGN.md §6a).

Options are the CLI's long names as keyword arguments (`box_format="qwen3-vl"`); one pydantic
model (`annoconvert.options.Options`) validates both.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from annoconvert import registry
from annoconvert.errors import MediaError, RecipeError, TaskError
from annoconvert.model import Example, Reject, Task
from annoconvert.options import Options, build_options
from annoconvert.pipeline import AUTO_SAMPLE, Converter, RunStats, peek, run


class RejectRecord(BaseModel):
    """A rejected task as written to the rejects file."""

    model_config = ConfigDict(frozen=True)

    task: int | str | None
    file: str
    locator: str
    code: str
    reason: str


class ConvertResult(BaseModel):
    """What `convert` did: counts, rejects, warnings and the files written."""

    model_config = ConfigDict(frozen=True)

    read: int
    written: int
    tasks_written: int
    rejected: int
    rejects: list[RejectRecord]
    warnings: list[str]
    disagreed: int
    recipe: str | None
    files: list[str]
    seconds: float

    @classmethod
    def from_stats(cls, stats: RunStats) -> ConvertResult:
        """Freeze a run's stats into the result model."""
        return cls(
            read=stats.read,
            written=stats.written,
            tasks_written=stats.tasks_written,
            rejected=stats.rejected,
            rejects=[RejectRecord(**r.as_dict()) for r in stats.rejects],
            warnings=[w.message for w in stats.warnings],
            disagreed=stats.disagreed,
            recipe=stats.recipe,
            files=stats.files,
            seconds=stats.seconds,
        )


class RejectWarning(UserWarning):
    """A task that `read` or `to_examples` skipped; the message names the task and the reason."""


def _inputs(inputs: str | Path | Sequence[str | Path]) -> list[str]:
    if isinstance(inputs, str | Path):
        return [str(inputs)]
    return [str(i) for i in inputs]


def _options(options: Options | None, given: dict[str, Any]) -> Options:
    if options is not None:
        return options.model_copy(update=given) if given else options
    config = given.pop("config", None)
    return build_options(config, **given)


def _warn(reject: Reject, rejects: list[Reject] | None) -> None:
    if rejects is not None:
        rejects.append(reject)
    else:
        warnings.warn(
            f"{reject.file} at {reject.locator}: task {reject.task}: {reject.reason} "
            f"[{reject.code}]",
            RejectWarning,
            stacklevel=3,
        )


def read(
    source: str,
    inputs: str | Path | Sequence[str | Path],
    *,
    rejects: list[Reject] | None = None,
    options: Options | None = None,
    **given: Any,
) -> Iterator[Task]:
    """Stream the tasks of an export; rejected tasks go to `rejects` (or a RejectWarning)."""
    opts = _options(options, given)
    for item in registry.reader(source).read(_inputs(inputs), opts):
        if isinstance(item, Reject):
            _warn(item, rejects)
        else:
            yield item


def to_examples(
    tasks: Iterable[Task],
    *,
    rejects: list[Reject] | None = None,
    images_root: Sequence[str] | str = (),
    options: Options | None = None,
    **given: Any,
) -> Iterator[Example]:
    """Turn tasks into examples with a recipe (`recipe="auto"` by default)."""
    if images_root:
        given["images_root"] = images_root
    opts = _options(options, given)
    stats = RunStats()
    converter = Converter(opts, list(opts.images_root), stats)
    sample, stream = peek(iter(tasks), AUTO_SAMPLE)
    converter.choose(sample)
    seen = 0
    try:
        for done in converter.convert(stream):
            if len(stats.rejects) > seen:
                for reject in stats.rejects.since(seen):
                    _warn(reject, rejects)
                seen = len(stats.rejects)
            yield from done.examples
        for reject in stats.rejects.since(seen):
            _warn(reject, rejects)
    finally:
        converter.close()


def convert(
    source: str,
    inputs: str | Path | Sequence[str | Path],
    output: str | Path | None = None,
    *,
    options: Options | None = None,
    **given: Any,
) -> ConvertResult:
    """Convert exports into a JSONL file (stdout when output is None); returns what happened."""
    opts = _options(options, given)
    stats = run(source, _inputs(inputs), opts, str(output) if output is not None else None)
    if opts.rejects:
        write_rejects(opts.rejects, stats.rejects)
    return ConvertResult.from_stats(stats)


def write_rejects(path: str, rejects: Iterable[Reject]) -> None:
    """Write the rejects file: one JSON object per line (task, file, locator, code, reason)."""
    import orjson

    from annoconvert.writers.sink import JsonlSink

    sink = JsonlSink(path)
    try:
        for reject in rejects:
            sink.write(orjson.dumps(reject.as_dict()))
        sink.commit()
    except BaseException:
        sink.abort()
        raise


__all__ = [
    "ConvertResult",
    "MediaError",
    "RecipeError",
    "RejectRecord",
    "RejectWarning",
    "TaskError",
    "convert",
    "read",
    "to_examples",
    "write_rejects",
]
