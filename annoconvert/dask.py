"""Scale-out on Dask: the per-task conversion over batches of the input (extra `dask`).

The driver reads the export (readers stream, so its memory stays flat), chooses the recipe
once on a sample exactly as the local engine does, and ships batches of tasks to the Dask
workers. Each worker runs `pipeline.Converter` over its batch with the recipe fixed and
returns the rendered lines, their split metadata and the rejects. The driver takes the
results back in input order, applies the error policy (`--on-error`, `--max-errors`) to the
rejects in that order, validates the lines and writes them through `JsonlSink` (atomic), into
one file or into shards of `--shard-size` lines (`OUT-00000.jsonl`, `OUT-00001.jsonl`, ...).
So the output and the rejects are line for line those of the local engine.

Batches are submitted as futures with a bounded window (twice the worker threads) rather
than as one `dask.bag` built from the whole input: a bag needs every partition up front, so
the driver would hold the whole export in memory. The workers resolve images under the
same roots as the driver (paths as given, from the same working directory on a local
cluster); on a remote cluster they must see the same files at the same paths.
"""

from __future__ import annotations

import importlib
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from annoconvert import registry
from annoconvert.errors import ConfigError, MediaError, RecipeError
from annoconvert.model import Reject, Task, Warning_
from annoconvert.options import Options
from annoconvert.output import Output, split_assigner
from annoconvert.pipeline import (
    AUTO_SAMPLE,
    Converter,
    RunStats,
    _read,
    peek,
)
from annoconvert.writers.sink import JsonlSink, LineMeta

TEXT_BATCH = 2000
"""Tasks per batch when the recipe needs no images (a batch costs a few ms to ship)."""
IMAGE_BATCH = 100
"""Tasks per batch when images are embedded (~60 KB per line: ~6 MB per batch result)."""
PIXEL_BATCH = 8
"""Tasks per batch when the options ask for pixel work (`Options.asks_pixel_work`): a 12 MP
photo takes 50-190 ms, and batches of 100 left workers idle (150 photos on two workers went
as one batch of 100 and one of 50: 11.5 s; in batches of 8, 10.2 s, against 7.3-7.8 s for
the local engine's pool on the same two cores)."""
LOG_LENGTH = 4
"""Messages and events Dask keeps for its developers in each comm, scheduler and worker
while this run's client and local cluster are made (`distributed.admin.low-level-log-length`,
1000 by default). A message under 1 MB is kept whole, and a batch of tasks is one message: the
driver's client, the local cluster's scheduler (in the driver's process) and its workers each
kept the last 1,000 batches, so the driver grew by about 1.5 KB a text task (10k tasks: 112
MiB, 100k: 259 MiB; now 111 and 119). Four is the driver's window of batches in flight with
two workers."""


@dataclass(frozen=True, slots=True)
class Line:
    """One example as the worker rendered it: its line (or the dialect's error, which rejects
    the task) and its split metadata. The driver's checks read the line itself."""

    line: bytes | None
    meta: LineMeta
    error: tuple[str, str] | None = None


@dataclass
class BatchResult:
    """What one worker sends back for one batch, in input order.

    `events` interleaves the rejects recorded while converting and the converted tasks
    (`(index in the batch, lines)`), so the driver sees them in the local engine's order.
    """

    events: list[list[Reject] | tuple[int, list[Line]]] = field(default_factory=list)
    warnings: list[Warning_] = field(default_factory=list)
    read: int = 0
    disagreed: int = 0


def convert_batch(batch: list[Task | Reject], options: Options, recipe: str) -> BatchResult:
    """Run one batch through the pipeline with the recipe fixed (runs on a Dask worker).

    The worker never stops the run itself: it records every reject, and the driver applies
    the error policy to the rejects in input order.
    """
    local = options.model_copy(
        update={"recipe": recipe, "on_error": "skip", "max_errors": None, "workers": 1}
    )
    stats = RunStats(recipe=recipe)
    converter = Converter(local, list(local.images_root), stats)
    converter.recipe = registry.recipe(recipe)
    dialect = registry.dialect(local.dialect)
    index = {id(item): i for i, item in enumerate(batch)}
    out = BatchResult()
    seen = 0
    try:
        for done in converter.convert(batch):
            if len(stats.rejects) > seen:
                out.events.append(stats.rejects.since(seen))
                seen = len(stats.rejects)
            lines = []
            for example in done.examples:
                meta = LineMeta(example.group, example.label, done.task.subset)
                try:
                    lines.append(Line(dialect.render(example, local), meta))
                except (RecipeError, MediaError) as err:
                    lines.append(Line(None, meta, (err.code, str(err))))
                    break
            out.events.append((index[id(done.task)], lines))
    finally:
        converter.close()
    if len(stats.rejects) > seen:
        out.events.append(stats.rejects.since(seen))
    out.warnings = list(stats.warnings)  # a batch's few: sent back whole
    out.read = stats.read
    out.disagreed = stats.disagreed
    return out


def shard_path(output: str, index: int) -> str:
    """`out.jsonl` + 3 -> `out-00003.jsonl` (beside the output)."""
    p = Path(output)
    suffix = p.suffix or ".jsonl"
    stem = p.stem if p.suffix else p.name
    return str(p.with_name(f"{stem}-{index:05d}{suffix}"))


class ShardedSink:
    """Lines into files of at most `size` lines each; every shard is renamed into place only
    when the whole run commits, so a failed run leaves no shard behind."""

    def __init__(self, output: str, size: int):
        self.output = output
        self.size = size
        self.count = 0
        self._sinks: list[JsonlSink] = []

    def write(self, line: bytes, meta: LineMeta | None = None) -> None:
        """Append one line, opening the next shard when the current one is full."""
        if self.count % self.size == 0:
            self._sinks.append(JsonlSink(shard_path(self.output, len(self._sinks))))
        self._sinks[-1].write(line, meta)
        self.count += 1

    def commit(self, drop: set[int] | None = None) -> list[str]:
        """Rename every shard into place (leaving out the `drop` line indexes, counted over
        all shards); an empty run writes one empty shard."""
        if not self._sinks:
            self._sinks.append(JsonlSink(shard_path(self.output, 0)))
        written: list[str] = []
        for number, sink in enumerate(self._sinks):
            first = number * self.size
            local = {i - first for i in drop or () if first <= i < first + self.size}
            written.extend(sink.commit(drop=local or None))
        return written

    def abort(self) -> None:
        """Drop every shard written so far."""
        for sink in self._sinks:
            sink.abort()


def batch_size_for(options: Options, needs_images: bool) -> int:
    """Tasks per batch: many cheap ones a batch, few costly ones, so that every worker has
    work while a batch's result stays a few MB."""
    if not needs_images:
        return TEXT_BATCH
    return PIXEL_BATCH if options.asks_pixel_work else IMAGE_BATCH


def batches(items: Iterator[Task | Reject], size: int) -> Iterator[list[Task | Reject]]:
    """The stream cut into lists of `size` items (the last one shorter)."""
    batch: list[Task | Reject] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def ordered_results(
    submit: Callable[[list[Task | Reject]], Any],
    parts: Iterator[list[Task | Reject]],
    window: int,
) -> Iterator[tuple[list[Task | Reject], BatchResult]]:
    """Submit batches keeping at most `window` in flight; (batch, result) in input order."""
    pending: deque[tuple[list[Task | Reject], Any]] = deque()
    for part in parts:
        pending.append((part, submit(part)))
        if len(pending) >= window:
            batch, future = pending.popleft()
            yield batch, future.result()
    while pending:
        batch, future = pending.popleft()
        yield batch, future.result()


def _admit(lines: list[Line], task: Task, converter: Converter) -> list[Line] | None:
    """A task's lines, as `pipeline._render` gives them locally: None when the dialect could
    not write one of them (the task is rejected)."""
    admitted = []
    for item in lines:
        if item.error is not None:
            code, message = item.error
            converter.record(Reject(task.id, task.source.file, task.source.locator, code, message))
            return None
        admitted.append(item)
    return admitted


def _client(scheduler: str | None, workers: int) -> tuple[Any, Any]:
    """A client on the given scheduler, or on a local cluster bound to 127.0.0.1 only."""
    try:
        distributed: Any = importlib.import_module("distributed")
        dask_config: Any = importlib.import_module("dask.config")
    except ImportError as err:
        raise ConfigError(
            "--engine dask needs the dask extra: pip install 'annoconvert[dask]'"
        ) from err
    # each log's length is read as its comm, scheduler or worker is made, so only here
    with dask_config.set({"distributed.admin.low-level-log-length": LOG_LENGTH}):
        if scheduler:
            try:
                return distributed.Client(scheduler, timeout=30), None
            except OSError as err:
                raise ConfigError(f"--scheduler {scheduler}: cannot connect: {err}") from err
        cluster = distributed.LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        )
        return distributed.Client(cluster), cluster


def run_dask(
    source: str,
    inputs: Sequence[str],
    options: Options,
    output: str | None,
    *,
    scheduler: str | None = None,
    client: Any = None,
    batch_size: int | None = None,
) -> RunStats:
    """Convert `inputs` on a Dask cluster; same lines, rejects and summary as `pipeline.run`.

    `client` reuses an open Dask client (tests, notebooks); otherwise `scheduler` is the
    address of a running scheduler, and without it a local cluster of `--workers` (2)
    processes is started on 127.0.0.1 for the run.
    """
    started = time.perf_counter()
    if options.shard_size and (not output or output == "-"):
        raise ConfigError("--shard-size needs -o FILE: the shards are written beside it")
    if options.shard_size and options.split:
        raise ConfigError("--shard-size and --split cannot be combined")
    if options.split and (not output or output == "-"):
        raise ConfigError("--split needs -o FILE: the split files are written beside it")
    stats = RunStats()
    reader = registry.reader(source)
    registry.dialect(options.dialect)  # an unknown dialect fails before the cluster starts
    roots = list(options.images_root) or reader.default_image_roots(inputs)
    options = options.model_copy(update={"images_root": tuple(roots)})
    sample, stream = peek(iter(_read(reader, inputs, options, stats)), AUTO_SAMPLE)
    converter = Converter(options, roots, stats)
    recipe = converter.choose(sample)
    assert stats.recipe is not None
    size = batch_size or batch_size_for(options, recipe.needs_images)
    own_client = client is None
    cluster = None
    if client is None:
        client, cluster = _client(scheduler, options.workers or 2)
    sink: JsonlSink | ShardedSink
    if options.shard_size and output:
        sink = ShardedSink(output, options.shard_size)
    else:
        sink = JsonlSink(output, split_assigner(options) if options.split else None)
    out = Output(sink, options, stats, converter.record)
    threads = sum(client.nthreads().values()) or 1
    name = stats.recipe

    def submit(part: list[Task | Reject]) -> Any:
        return client.submit(convert_batch, part, options, name, pure=False)

    try:
        for batch, result in ordered_results(submit, batches(stream, size), 2 * threads):
            stats.read += result.read
            stats.disagreed += result.disagreed
            stats.warnings.extend(result.warnings)
            for event in result.events:
                if isinstance(event, list):
                    for reject in event:
                        converter.record(reject)
                    continue
                position, lines = event
                task = batch[position]
                assert isinstance(task, Task)
                admitted = _admit(lines, task, converter)
                if admitted is not None:  # None: rejected by the dialect
                    out.write_task(task, [(i.line, i.meta) for i in admitted if i.line])
        out.finish()
    except BaseException:
        out.abort()
        raise
    finally:
        converter.close()
        out.close()
        if own_client:
            client.close()
            if cluster is not None:
                cluster.close()
        stats.seconds = time.perf_counter() - started
    return stats


__all__ = [
    "BatchResult",
    "Line",
    "ShardedSink",
    "convert_batch",
    "run_dask",
    "shard_path",
]
