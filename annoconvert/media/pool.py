"""Prepare the images of a task stream, in order, with pixel work in a process pool.

Measured here (DESIGN.md section 9): reading and Base64 of a plain JPEG is faster in one
process than through a pool, while decode + re-encode scales with processes. So fast-path
images stay in the main process and only images that need pixel work are sent to the pool,
which is created when the first such image shows up: a large photo as a job of its own, small
images in batches (a job per 640x480 image cost more than its resize). Results come back in
input order with a bounded number of images in flight.

`--workers N` is the number of processes that do pixel work: the converting process and a
pool of N - 1. The converting process prepares an image itself while the pool has
POOL_BACKLOG images' work queued for each of its workers, and hands it to the pool otherwise:
with two workers on two cores, 1k resizes of 640x480 JPEGs took 0.97-1.02 s against
1.00-1.07 s with a pool of two (medians of 7-9 paired runs in three spells), 150 12 MP photos
7.09-7.13 against 7.21-7.30 s, with one process fewer.
"""

from __future__ import annotations

import multiprocessing
import os
import posixpath
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence, Sized
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeVar

from annoconvert.children import why_no_children
from annoconvert.cpus import usable_cpus
from annoconvert.errors import ConfigError, MediaError
from annoconvert.media.prepare import (
    DEFAULT_MAX_PIXELS,
    FORMAT_OPTION,
    Encoded,
    PrepSpec,
    check_decodes,
    encode,
    encode_batch,
    fast_path_blocker,
    read_header,
    warm_up,
)
from annoconvert.media.resolve import (
    DEFAULT_MAX_SOURCE_BYTES,
    ImageStore,
    Located,
    display_name,
    is_remote,
)
from annoconvert.model import ImageRef, PreparedImage
from annoconvert.options import Options
from annoconvert.presets import limits

if TYPE_CHECKING:  # concurrent.futures is imported with the pool: 7 ms of start-up otherwise
    from concurrent.futures import Future, ProcessPoolExecutor

T = TypeVar("T")
PIXEL_BOX_FORMATS = frozenset({"qwen2.5-vl", "xyxy-px", "xywh-px"})
"""Box formats whose numbers need the image's pixel size."""
HEADER_BYTES = 1024 * 1024
"""Bytes read when only a header is needed (reference and placeholder modes)."""


class MediaWarning(str):
    """A warning message (a plain string) that also carries its snake_case `code`."""

    code: str

    def __new__(cls, code: str, message: str) -> MediaWarning:
        obj = super().__new__(cls, message)
        obj.code = code
        return obj


@dataclass(frozen=True)
class _Work:
    """An image that needs pixel work: its bytes, where it came from, its pixel count."""

    data: bytes
    uri: str
    name: str
    path: str | None
    pixels: int = 0


POOL_MIN_PIXELS = 1_500_000
"""Images of at least this many pixels go to a worker one by one (a 12 MP photo is ~100 ms of
pixel work); smaller ones go in batches of POOL_BATCH."""
POOL_BATCH = 8
"""Small images sent to a worker as one job: one job per 640x480 image cost more in the
converting process than its ~1 ms resize saves (measured 1.0x with 2 workers; batches of 8,
as a plain `Pool.imap(chunksize=8)` does, scale)."""
POOL_BACKLOG = 2 * POOL_BATCH
"""Images' work (a large image counts POOL_BATCH) queued for each pool worker beyond which
the converting process prepares the next image itself (8 and 32 measured slower than 16)."""

_Result = Encoded | tuple[str, str]


def _work_of(work: _Work) -> int:
    """An image's share of the pool's load: POOL_BATCH for a large image, 1 for a small one."""
    return POOL_BATCH if work.pixels >= POOL_MIN_PIXELS else 1


class _Batch:
    """Images prepared by one worker job; the job is submitted when full or when awaited."""

    __slots__ = ("future", "jobs")

    def __init__(self) -> None:
        self.jobs: list[tuple[bytes, PrepSpec, str]] = []
        self.future: Future[list[_Result]] | None = None


@dataclass(frozen=True, slots=True)
class _Pooled:
    """An image whose pixel work runs in the pool: its place in a batch."""

    work: _Work
    batch: _Batch
    index: int


Part = PreparedImage | _Pooled


@dataclass
class _Slot(Generic[T]):
    item: T
    parts: list[Part] = field(default_factory=list)
    error: MediaError | None = None
    warnings: list[MediaWarning] = field(default_factory=list)
    weight: int = 0
    """Pool load of this slot's images: POOL_BATCH for a large image, 1 for a small one."""

    def ready(self) -> bool:
        if not self.weight:
            return True
        for part in self.parts:
            if isinstance(part, _Pooled):
                future = part.batch.future
                if future is None or not future.done():
                    return False
        return True


class MediaPipeline:
    """Resolve, check and prepare images as the options say (embed, reference, placeholder)."""

    def __init__(
        self,
        options: Options,
        roots: Sequence[str] = (),
        *,
        need_size: bool | None = None,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        max_source_bytes: int = DEFAULT_MAX_SOURCE_BYTES,
    ):
        self.options = options
        self.limits = limits(options.effective_preset)
        if (
            options.image_format != "keep"
            and FORMAT_OPTION[options.image_format] not in self.limits.mime_types
        ):
            raise ConfigError(
                f"--image-format {options.image_format} is not accepted by preset "
                f"{self.limits.name} ({', '.join(self.limits.mime_types)})"
            )
        all_roots = list(dict.fromkeys([*roots, *options.images_root]))
        self.store = ImageStore(
            all_roots, fetch_remote=options.fetch_remote, max_bytes=max_source_bytes
        )
        self.need_size = options.box_format in PIXEL_BOX_FORMATS if need_size is None else need_size
        self.spec = PrepSpec(
            max_side=options.max_image_side,
            image_format=options.image_format,
            jpeg_quality=options.jpeg_quality,
            max_bytes=self.limits.max_image_bytes,
            mime_types=self.limits.mime_types,
            modes=self.limits.image_modes,
            max_pixels=max_pixels,
        )
        self.workers = options.workers or usable_cpus()
        self.warnings: list[MediaWarning] = []
        self._pool: ProcessPoolExecutor | None = None
        self._no_pool: MediaWarning | None = None
        """Why the pool could not start, until the next prepared task carries it."""
        self._open: _Batch | None = None  # small images waiting for a worker job
        self._queued: deque[tuple[Future[list[_Result]], int]] = deque()
        """Jobs submitted and not known to be done, with their work (`POOL_BACKLOG`)."""
        self._queued_work = 0
        self._waiting: Sized = ()  # prepare_ordered's items not handed on yet
        self._handed: (
            tuple[ImageRef, PreparedImage | _Work | MediaError, list[MediaWarning]] | None
        ) = None
        """The image `prepare_as_is` last turned away (it needs pixel work, or warns), as it
        was read and checked, or the error it failed with: the general path takes it next,
        without finding and reading the file again."""

    # --- one image ---------------------------------------------------------------------------

    def _check_count(self, refs: Sequence[ImageRef]) -> None:
        most = self.limits.max_images_per_example
        if most is not None and len(refs) > most:
            raise MediaError(
                "too_many_images",
                f"the task has {len(refs)} images; preset {self.limits.name} takes at most {most}",
            )

    def _start(self, ref: ImageRef, notes: list[MediaWarning]) -> PreparedImage | _Work:
        """Everything up to pixel work: resolve, read, header, fast-path decision."""
        mode = self.options.image_mode
        if mode != "embed":
            return self._reference(ref, notes)
        located = self.store.resolve(ref.uri, ref.hint)
        data = self.store.read(located)
        header = read_header(data, ref.uri, self.spec.max_pixels)
        self._compare_size(ref, header.upright, notes)
        path = None if located.is_remote else located.display
        if fast_path_blocker(header, data, self.spec) is None:
            check_decodes(data, header, ref.uri, self.spec.max_pixels)
            return PreparedImage(
                source_uri=ref.uri,
                name=display_name(ref.uri),
                width=header.width,
                height=header.height,
                mime=header.mime,
                data=data,
                path=path,
            )
        return _Work(data, ref.uri, display_name(ref.uri), path, header.width * header.height)

    def _reference(self, ref: ImageRef, notes: list[MediaWarning]) -> PreparedImage:
        """Reference/placeholder: no pixels; the file is read (header) only for a missing size."""
        located: Located | None = None
        uri = ref.uri
        prefix = self.options.image_uri_prefix
        if self.options.image_mode == "reference" and prefix and not is_remote(ref.uri):
            located = self.store.resolve(ref.uri, ref.hint)
            uri = prefix.rstrip("/") + "/" + (located.relpath or posixpath.basename(ref.uri))
        width, height = ref.width or 0, ref.height or 0
        if self.need_size and not (width and height):
            located = located or self.store.resolve(ref.uri, ref.hint)
            if located.is_remote and not (self.options.fetch_remote and located.kind == "http"):
                raise MediaError(
                    "remote_image",
                    f"box format {self.options.box_format} needs the pixel size of {ref.uri!r}, "
                    "which the export does not record; pass --fetch-remote (http/https) or use "
                    "--box-format box_2d",
                    uri=ref.uri,
                )
            head = None if located.is_remote else HEADER_BYTES
            data = self.store.read(located, head=head)
            try:
                width, height = read_header(data, ref.uri, self.spec.max_pixels).upright
            except MediaError:
                if head is None or len(data) < head:
                    raise
                full = self.store.read(located)
                width, height = read_header(full, ref.uri, self.spec.max_pixels).upright
        return PreparedImage(
            source_uri=ref.uri,
            name=display_name(ref.uri),
            width=width,
            height=height,
            uri=uri if self.options.image_mode == "reference" else None,
            path=located.display if located is not None and not located.is_remote else None,
        )

    def _compare_size(
        self, ref: ImageRef, upright: tuple[int, int], notes: list[MediaWarning]
    ) -> None:
        if ref.width and ref.height and (ref.width, ref.height) != upright:
            notes.append(
                MediaWarning(
                    "image_size_mismatch",
                    f"{ref.uri}: the export recorded {ref.width}x{ref.height}, the image is "
                    f"{upright[0]}x{upright[1]} upright; boxes are placed relative to the image",
                )
            )

    def _done(self, work: _Work, encoded: Encoded, notes: list[MediaWarning]) -> PreparedImage:
        notes.extend(MediaWarning(code, message) for code, message in encoded.warnings)
        return PreparedImage(
            source_uri=work.uri,
            name=work.name,
            width=encoded.width,
            height=encoded.height,
            mime=encoded.mime,
            data=encoded.data,
            path=work.path,
        )

    # --- public API --------------------------------------------------------------------------

    def prepare(self, refs: Sequence[ImageRef]) -> list[PreparedImage]:
        """Prepare one task's images in this process; MediaError for the first bad one.

        Warnings are appended to `self.warnings`.
        """
        self._check_count(refs)
        out: list[PreparedImage] = []
        for ref in refs:
            started = self._start(ref, self.warnings)
            if isinstance(started, _Work):
                started = self._done(
                    started, encode(started.data, self.spec, started.uri), self.warnings
                )
            out.append(started)
        return out

    def prepare_as_is(self, refs: Sequence[ImageRef]) -> list[PreparedImage]:
        """The task's images when every one is written as it is found (embedded unchanged, or
        referenced) and gives no warning; otherwise MediaError, and `prepare_ordered` is the
        way for the task (its pixel work may go to the pool; its warnings reach the run). For
        the express lane, which writes no warning and does no pixel work."""
        self._check_count(refs)
        out: list[PreparedImage] = []
        notes: list[MediaWarning] = []
        for ref in refs:
            try:
                started = self._start(ref, notes)
            except MediaError as err:  # the general path rejects the task with it, unread again
                self._handed = (ref, err, notes)
                raise
            if isinstance(started, _Work) or notes:
                self._handed = (ref, started, notes)
                raise MediaError("not_as_is", f"image {ref.uri!r} needs the general path")
            out.append(started)
        return out

    def _started(self, ref: ImageRef, notes: list[MediaWarning]) -> PreparedImage | _Work:
        """`_start`, or the image `prepare_as_is` turned away just before when it is this
        reference (with its warnings; its MediaError raised again)."""
        handed, self._handed = self._handed, None
        if handed is not None and handed[0] == ref:
            notes.extend(handed[2])
            if isinstance(handed[1], MediaError):
                raise handed[1]
            return handed[1]
        return self._start(ref, notes)

    def busy(self) -> bool:
        """Whether `prepare_ordered` holds items it has not handed on (waiting for the pool).
        The open batch goes to the pool now: the lane asks because its tasks wait behind those
        items, and a batch that waits to fill would hold them until the next image needing
        work comes."""
        if not self._waiting:
            return False
        if self._open is not None:
            self._submit(self._open)
        return True

    def prepare_ordered(
        self, items: Iterable[T], refs_of: Callable[[T], Sequence[ImageRef]]
    ) -> Iterator[tuple[T, list[PreparedImage] | MediaError, list[MediaWarning]]]:
        """Each item with its prepared images (or the MediaError that rejects it), in order.

        Pixel work runs in the pool when workers > 1; at most 4 x workers large images (or
        4 x workers batches of small ones) are in flight, so memory stays flat however long the
        stream is.
        """
        window = 4 * self.workers * POOL_BATCH
        pending: deque[_Slot[T]] = deque()
        self._waiting = pending
        in_flight = 0
        for item in items:
            slot = self._slot(item, refs_of(item))
            pending.append(slot)
            in_flight += slot.weight
            while pending and (
                pending[0].ready() or in_flight >= window or len(pending) >= 4 * window
            ):
                head = pending.popleft()
                in_flight -= head.weight
                yield self._finish(head)
        while pending:
            yield self._finish(pending.popleft())

    def _slot(self, item: T, refs: Sequence[ImageRef]) -> _Slot[T]:
        slot: _Slot[T] = _Slot(item)
        try:
            self._check_count(refs)
            for ref in refs:
                started = self._started(ref, slot.warnings)
                if isinstance(started, _Work):
                    if self.workers > 1 and self._can_pool() and not self._backlogged():
                        slot.parts.append(self._pooled(started))
                        slot.weight += _work_of(started)
                        continue
                    encoded = encode(started.data, self.spec, started.uri)
                    started = self._done(started, encoded, slot.warnings)
                slot.parts.append(started)
        except MediaError as err:
            # without its traceback: the traceback's frames hold this slot, and a reference
            # cycle a rejected task (100k images missing: 0.55 s of collections in a 7 s run)
            slot.error = err.with_traceback(None)
        if self._no_pool is not None:
            slot.warnings.append(self._no_pool)
            self._no_pool = None
        return slot

    def _backlogged(self) -> bool:
        """Whether the pool's workers have POOL_BACKLOG images' work queued each (the open
        batch included): the next image is then prepared in this process."""
        queued = self._queued
        while queued and queued[0][0].done():
            self._queued_work -= queued.popleft()[1]
        waiting = self._queued_work + (len(self._open.jobs) if self._open is not None else 0)
        return waiting >= POOL_BACKLOG * (self.workers - 1)

    def _pooled(self, work: _Work) -> _Pooled:
        """Put an image's pixel work in a batch: its own for a large image, else the open one
        (submitted once it holds POOL_BATCH images)."""
        job = (work.data, self.spec, work.uri)
        if work.pixels >= POOL_MIN_PIXELS:
            batch = _Batch()
            batch.jobs.append(job)
            self._submit(batch, _work_of(work))
            return _Pooled(work, batch, 0)
        if self._open is None:
            self._open = _Batch()
        batch = self._open
        batch.jobs.append(job)
        pooled = _Pooled(work, batch, len(batch.jobs) - 1)
        if len(batch.jobs) >= POOL_BATCH:
            self._submit(batch)
        return pooled

    def _submit(self, batch: _Batch, work: int | None = None) -> None:
        """Send a batch to the pool; `work` is its `_work_of` (its length for small images)."""
        if batch is self._open:
            self._open = None
        batch.future = self.pool().submit(encode_batch, batch.jobs)
        work = len(batch.jobs) if work is None else work
        self._queued.append((batch.future, work))
        self._queued_work += work
        batch.jobs = []  # the worker has them now: do not hold the bytes twice

    def _finish(
        self, slot: _Slot[T]
    ) -> tuple[T, list[PreparedImage] | MediaError, list[MediaWarning]]:
        images: list[PreparedImage] = []
        error = slot.error
        for part in slot.parts:
            if isinstance(part, _Pooled):
                result = self._result(part)
                if isinstance(result, MediaError):
                    error = error or result
                elif error is None:
                    images.append(self._done(part.work, result, slot.warnings))
                continue
            images.append(part)
        return (slot.item, error if error is not None else images, slot.warnings)

    def _result(self, part: _Pooled) -> Encoded | MediaError:
        uri = part.work.uri
        if part.batch.future is None:
            self._submit(part.batch)  # the stream ended (or stalled) before the batch filled
        assert part.batch.future is not None
        from concurrent.futures.process import BrokenProcessPool  # loaded with the pool

        try:
            result = part.batch.future.result()[part.index]
        except BrokenProcessPool:
            self._pool = None
            return MediaError(
                "unreadable_image", f"the image worker stopped while preparing {uri!r}", uri=uri
            )
        if isinstance(result, tuple):
            return MediaError(result[0], result[1], uri=uri)
        return result

    def start_workers(self) -> None:
        """Start the pool now (with more than one worker), for a run whose options ask for
        pixel work: each worker warms up (`warm_up`) while the export is read, instead of
        after the first images are queued, when the converting process would wait for it.
        Measured: no cost when no image turns out to need the work."""
        if self.workers > 1 and self._can_pool():
            pool = self.pool()
            for _ in range(self.workers - 1):  # fork starts every process on the first job,
                pool.submit(int)  # spawn one a job: an empty job per worker starts them all

    def _can_pool(self) -> bool:
        """Whether pixel work can go to the pool: it runs, or it starts now. A daemonic
        process (`children.why_no_children`) or a system without POSIX semaphores (AWS
        Lambda, containers without /dev/shm) cannot start one; the work then runs in this
        process, and the next task's warnings say so, once."""
        if self._pool is not None:
            return True
        reason = why_no_children()
        if reason is None:
            try:
                self.pool()
            except (OSError, NotImplementedError, ImportError) as err:
                reason = f"this system cannot start worker processes ({err})"
        if reason is not None:
            self._no_pool = MediaWarning(
                "workers_unavailable",
                f"--workers {self.workers}: {reason}; images are prepared in the converting "
                "process",
            )
            self.workers = 1
            return False
        return True

    def pool(self) -> ProcessPoolExecutor:
        """The worker pool of `workers - 1` processes (this one is the other), started on
        first need."""
        if self._pool is None:
            # fork on Linux: forkserver and spawn re-run the user's __main__ in every worker,
            # which breaks scripts without an `if __name__ == "__main__"` guard
            from concurrent.futures import ProcessPoolExecutor

            method = "fork" if sys.platform == "linux" else "spawn"
            context = multiprocessing.get_context(method)
            self._pool = ProcessPoolExecutor(
                max_workers=max(1, self.workers - 1),
                mp_context=context,
                initializer=warm_up,
                initargs=(os.getpid(),),
            )
        return self._pool

    def close(self) -> None:
        """Stop the worker pool, if one was started."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
            self._queued.clear()
            self._queued_work = 0

    def __enter__(self) -> MediaPipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
