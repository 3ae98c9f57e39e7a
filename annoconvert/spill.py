"""An append-only temporary file: what a run keeps of every line or task on disk, not in memory
(each line's task, the consistency hashes, the rejects past the first ones).

Why one class: each of them needs the same three things. Bytes go in at the end and come back
by offset. The file is made only when the first bytes come (a run that keeps nothing never
makes one). And a full disk is reported as the temporary folder and `TMPDIR`, not as a bare
"No space left on device".
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from typing import IO

from annoconvert.errors import at_place

PLACE = "the run's temporary files; TMPDIR sets the folder"


class SpillFile:
    """Bytes appended at the end and read back by offset, in a temporary file that is gone
    when it is closed (or the process ends)."""

    def __init__(self) -> None:
        self._fh: IO[bytes] | None = None
        self.size = 0
        """Bytes appended so far."""

    def append(self, data: bytes | memoryview) -> int:
        """Write `data` at the end; where it starts."""
        offset = self.size
        with _placed():
            if self._fh is None:
                self._fh = tempfile.TemporaryFile()  # noqa: SIM115 - closed by `close`
            self._fh.seek(offset)  # a read may have moved the position
            self.size += self._fh.write(data)
        return offset

    def read(self, offset: int, size: int) -> bytes:
        """`size` bytes from `offset`."""
        with _placed():
            fh = self._opened()
            fh.seek(offset)
            return fh.read(size)

    def readline(self, offset: int) -> bytes:
        """The bytes from `offset` to the next newline, the newline included."""
        with _placed():
            fh = self._opened()
            fh.seek(offset)
            return fh.readline()

    def fileno(self) -> int:
        """The file's descriptor, everything appended written to it (to map it)."""
        with _placed():
            fh = self._opened()
            fh.flush()
            return fh.fileno()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()

    def _opened(self) -> IO[bytes]:
        if self._fh is None:
            raise ValueError("nothing was appended to the spill file")
        return self._fh


@contextlib.contextmanager
def _placed() -> Iterator[None]:
    try:
        yield
    except OSError as err:  # a full disk: say which folder, and how to choose another
        raise at_place(err, f"{tempfile.gettempdir()} ({PLACE})") from err
