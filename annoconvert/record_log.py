"""An append-only log of a run's records (rejects, warnings): the first ones in memory, the
rest in a temporary file.

Why: a run that rejects, or warns about, every task of a large export held one object a task
(the rejects of the 2.9M images of a 1 GB CVAT export took 1.3 GB). The command line counts
them, shows the first few and writes the rejects file, each of which is one pass. Past `kept`
the records are pickled to disk in batches (any task id round-trips, a 100-digit int
included); the records are counted by code as they come, and what a subclass counts too.
"""

from __future__ import annotations

import pickle
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Generic, Protocol, TypeVar

from annoconvert.spill import SpillFile


class Coded(Protocol):
    """A record with a stable snake_case code (a `Reject`, a `Warning_`)."""

    @property
    def code(self) -> str: ...


T = TypeVar("T", bound=Coded)


class RecordLog(Generic[T]):
    """Append-only; iterates in order; `since(n)` gives the records after the first n."""

    def __init__(self, kept: int, batch: int) -> None:
        self._keep = kept
        """Records held in memory before the rest go to disk."""
        self._batch = batch
        """Records pickled together: one write, and one load when read back."""
        self._kept: list[T] = []
        self._pending: list[T] = []
        self._file = SpillFile()
        self._offsets: list[int] = []
        """Where each batch on disk starts in the file (and ends where the next starts)."""
        self._firsts: list[int] = []
        """The index of each batch's first record."""
        self._on_disk = 0
        self._last_batch: list[T] = []
        """The batch written last, kept: a reader asking for the newest records after each
        task finds the one that just went to disk here, not in the file."""
        self._codes: Counter[str] = Counter()

    def append(self, record: T) -> None:
        self._codes[record.code] += 1
        self._count(record)
        if len(self._kept) < self._keep:  # then nothing is pending or on disk yet
            self._kept.append(record)
            return
        self._pending.append(record)
        if len(self._pending) >= self._batch:
            self._write_batch()

    def extend(self, records: Iterable[T]) -> None:
        for record in records:
            self.append(record)

    def _count(self, record: T) -> None:
        """A subclass's own counts of each record, as it comes."""

    def codes(self) -> Counter[str]:
        """The records counted by code."""
        return Counter(self._codes)

    def __len__(self) -> int:
        return len(self._kept) + self._on_disk + len(self._pending)

    def __iter__(self) -> Iterator[T]:
        return self._from(0)

    def since(self, count: int) -> list[T]:
        """The records appended after the first `count` (what a caller that has seen `count`
        of them has not)."""
        return list(self._from(count))

    def head(self, count: int) -> list[T]:
        """The first `count` records (from memory while `count` is within the kept ones)."""
        return list(islice(self._from(0), count))

    def close(self) -> None:
        self._file.close()

    def _from(self, start: int) -> Iterator[T]:
        """The records from index `start` on: those kept, the batches on disk from the one
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

    def _read_batch(self, batch: int) -> list[T]:
        if batch == len(self._offsets) - 1:
            return self._last_batch
        offset, end = self._offsets[batch], self._offsets[batch + 1]
        records: list[T] = pickle.loads(self._file.read(offset, end - offset))
        return records
