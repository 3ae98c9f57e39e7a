"""The consistency check's three hashes of every line, in memory up to a chunk, then on disk.

Why: the check groups every line of a run at its end, so it must keep something per line; in
memory that was 24 bytes a line, 70 MiB for the 2.9M lines of a 1 GB CVAT export. Past
`SPILL_LINES` lines each chunk goes to a temporary file, sorted into buckets by input hash,
and the grouping reads back one bucket at a time: memory stays flat however long the run.

Grouping bucket by bucket finds every group: lines with the same input share a bucket by
construction, and lines with the same whole-line hash were read from the same bytes, so they
share the input hash, and the bucket, too.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from typing import TYPE_CHECKING

from annoconvert.spill import SpillFile

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

SPILL_LINES = 1 << 17
"""Lines held in memory (3 MiB of hashes); a run of no more lines never touches the disk."""
BUCKET_BITS = 8
"""256 buckets: a 2.9M-line run reads back about 11k lines (360 KB) at a time."""
FIELDS = 4
"""A spilled line: input, answer and whole-line hash, then the line's index (uint64 each). A
chunk is written as four columns (each in bucket order), one at a time: the spill's own
memory is then one column (1 MiB), not the chunk's records (4 MiB) and their gathering."""


class KeyStore:
    """Appends (input, answer, whole) hashes line by line; gives them back whole (`inputs`,
    `answers`, `wholes`) while nothing is spilled, else bucket by bucket (`buckets`)."""

    def __init__(self) -> None:
        self.inputs: array[int] = array("Q")
        self.answers: array[int] = array("Q")
        self.wholes: array[int] = array("Q")
        self._spill_lines = SPILL_LINES
        self._spilled_lines = 0
        self._file = SpillFile()
        self._chunks: list[tuple[int, int, npt.NDArray[np.int64]]] = []
        """Per spilled chunk: its offset in the file, its lines, where each bucket starts."""

    def __len__(self) -> int:
        return self._spilled_lines + len(self.inputs)

    @property
    def spilled(self) -> bool:
        """Whether any line is on disk (then only `buckets` gives every line)."""
        return bool(self._chunks)

    def append(self, input_hash: int, answer_hash: int, whole_hash: int) -> None:
        self.inputs.append(input_hash)
        self.answers.append(answer_hash)
        self.wholes.append(whole_hash)
        if len(self.inputs) >= self._spill_lines:
            self._spill()

    def buckets(self) -> Iterator[npt.NDArray[np.uint64]]:
        """Every line's record (input, answer, whole, line index), one bucket at a time, each
        bucket's lines in line order. The lines still in memory are spilled first."""
        import numpy as np

        if self.inputs:
            self._spill()
        for bucket in range(1 << BUCKET_BITS):
            parts = []
            for offset, lines, starts in self._chunks:
                first, end = int(starts[bucket]), int(starts[bucket + 1])
                if end > first:
                    part = np.empty((end - first, FIELDS), dtype=np.uint64)
                    for field in range(FIELDS):
                        at = offset + (field * lines + first) * 8
                        part[:, field] = np.frombuffer(
                            self._file.read(at, (end - first) * 8), np.uint64
                        )
                    parts.append(part)
            if parts:
                yield parts[0] if len(parts) == 1 else np.concatenate(parts)

    def close(self) -> None:
        self._file.close()

    def _spill(self) -> None:
        """The lines in memory to the file, ordered by bucket (stably: line order within)."""
        import numpy as np

        inputs = np.frombuffer(self.inputs, dtype=np.uint64)
        bucket = (inputs >> np.uint64(64 - BUCKET_BITS)).astype(np.intp)
        order = np.argsort(bucket, kind="stable")
        starts = np.zeros((1 << BUCKET_BITS) + 1, dtype=np.int64)
        np.cumsum(np.bincount(bucket, minlength=1 << BUCKET_BITS), out=starts[1:])
        del bucket
        views = (  # the arrays as numpy sees them, not copies
            inputs,
            np.frombuffer(self.answers, dtype=np.uint64),
            np.frombuffer(self.wholes, dtype=np.uint64),
        )
        offset = self._file.append(views[0][order].data)
        for view in views[1:]:  # one gathered column in memory at a time
            self._file.append(view[order].data)
        self._file.append((order + self._spilled_lines).astype(np.uint64).data)
        self._chunks.append((offset, len(order), starts))
        self._spilled_lines += len(order)
        del inputs, views  # views of the arrays replaced below
        self.inputs, self.answers, self.wholes = array("Q"), array("Q"), array("Q")
