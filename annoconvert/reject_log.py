"""A run's rejects in input order: the first `KEPT` in memory, the rest in a temporary file.

Why: a run that rejects every task of a large export (a wrong `--images-root`: every image
missing) held one `Reject` a task, 1.3 GB for the 2.9M images of a 1 GB CVAT export. The
command line only counts them, names the first few of each code and writes the rejects file,
and each of those is one pass. Past `KEPT` the rejects are pickled to disk in batches (any
task id round-trips, a 100-digit int included), and the counts are kept as they come.
"""

from __future__ import annotations

import pickle
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterator
from itertools import islice

from annoconvert.model import Reject
from annoconvert.spill import SpillFile

KEPT = 10_000
"""Rejects held in memory (a few MB) before the rest go to disk."""
BATCH = 1024
"""Rejects pickled together: one write, and one load when read back."""


class RejectLog:
    """Append-only; iterates in input order; `since(n)` gives the rejects after the first n."""

    def __init__(self) -> None:
        self._kept: list[Reject] = []
        self._pending: list[Reject] = []
        self._file = SpillFile()
        self._offsets: list[int] = []
        """Where each batch on disk starts in the file (and ends where the next starts)."""
        self._firsts: list[int] = []
        """The index of each batch's first reject."""
        self._on_disk = 0
        self._last_batch: list[Reject] = []
        """The batch written last, kept: a reader asking for the newest rejects after each
        task finds the one that just went to disk here, not in the file."""
        self._codes: Counter[str] = Counter()
        self._tasks = 0
        self._last: tuple[str, str, object] | None = None

    def append(self, reject: Reject) -> None:
        self._codes[reject.code] += 1
        if reject.code == "bad_line":
            self._tasks += 1  # every unreadable line counts
        else:
            key = (reject.file, reject.locator, reject.task)
            self._tasks += key != self._last
            self._last = key
        if len(self._kept) < KEPT:  # then nothing is pending or on disk yet
            self._kept.append(reject)
            return
        self._pending.append(reject)
        if len(self._pending) >= BATCH:
            self._write_batch()

    def __len__(self) -> int:
        return len(self._kept) + self._on_disk + len(self._pending)

    def __iter__(self) -> Iterator[Reject]:
        return self._from(0)

    def since(self, count: int) -> list[Reject]:
        """The rejects appended after the first `count` (what a caller that has seen
        `count` of them has not)."""
        return list(self._from(count))

    @property
    def tasks(self) -> int:
        """Tasks rejected: a task's rejects come together, so one with several (the same
        file, locator and id in a row, unreadable lines between them aside) counts once, as
        a set of them did; every unreadable line counts."""
        return self._tasks

    def codes(self) -> Counter[str]:
        """Rejects counted by code."""
        return Counter(self._codes)

    def close(self) -> None:
        self._file.close()

    def _from(self, start: int) -> Iterator[Reject]:
        """The rejects from index `start` on: those kept, the batches on disk from the one
        that holds `start`, then those pending; a caller that has seen all but the newest
        reads no batch."""
        yield from self._kept[start:]
        first_pending = len(self._kept) + self._on_disk
        if start < first_pending:
            first_batch = max(0, bisect_right(self._firsts, start) - 1)
            for batch in range(first_batch, len(self._firsts)):
                skipped = max(0, start - self._firsts[batch])
                yield from islice(self._read_batch(batch), skipped, None)
        yield from self._pending[max(0, start - first_pending) :]

    def _write_batch(self) -> None:
        data = pickle.dumps(self._pending, protocol=pickle.HIGHEST_PROTOCOL)
        self._offsets.append(self._file.append(data))
        self._firsts.append(len(self._kept) + self._on_disk)
        self._on_disk += len(self._pending)
        self._last_batch = self._pending
        self._pending = []

    def _read_batch(self, batch: int) -> list[Reject]:
        if batch == len(self._offsets) - 1:
            return self._last_batch
        offset, end = self._offsets[batch], self._offsets[batch + 1]
        rejects: list[Reject] = pickle.loads(self._file.read(offset, end - offset))
        return rejects
