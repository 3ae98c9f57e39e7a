"""A stream output's bytes written twice: to the stream, and down a pipe to the checker.

Why: the checker process follows a file output through the page cache
(`quality/background.py`), but stdout or a named pipe cannot be read back, so the checks of a
stream output ran in the converting process and added to its time (Label Studio text, 100k
tasks: 2.0-2.2 s to stdout against 1.2 s to a file). A copy down a pipe costs one more copy of
the bytes into the kernel.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from typing import IO, Any

COPY_BUFFER = 256 * 1024
"""Bytes gathered before they go to the stream and the pipe (a quarter of the pipe)."""
PIPE_SIZE = 1024 * 1024
"""The pipe's capacity where the system lets it be set (Linux; its default limit for a user is
1 MiB): the converting process waits only when the checker is this far behind."""


class StreamCopy(io.RawIOBase):
    """Writes to `stream`, and the same bytes to the pipe `fd`, counting them (`sent`). A pipe
    that breaks (the checker is gone) is dropped: the checker's end says what happened."""

    def __init__(self, stream: IO[bytes], fd: int):
        super().__init__()
        self.stream = stream
        self.fd: int | None = fd
        self.sent = 0
        if sys.platform == "linux":
            import fcntl

            with contextlib.suppress(OSError):  # over the system's limit: the default size
                fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_SIZE)

    def writable(self) -> bool:
        return True

    def write(self, data: Any, /) -> int:
        """All of `data` (a buffer) to the stream (its errors are the run's), then to the
        pipe."""
        view = memoryview(data).cast("B")
        size = view.nbytes
        self.stream.write(view)
        if self.fd is not None:
            try:
                while view:
                    written = os.write(self.fd, view)
                    self.sent += written
                    view = view[written:]
            except OSError:  # the checker stopped: its findings' absence stops the run
                self.drop_pipe()
        return size

    def drop_pipe(self) -> None:
        """Close this process's write end of the pipe."""
        if self.fd is not None:
            fd, self.fd = self.fd, None
            os.close(fd)

    def close(self) -> None:
        """Closes the pipe, not the stream (stdout stays open; the sink closes a device or a
        named pipe it opened)."""
        self.drop_pipe()
        super().close()


def copying(stream: IO[bytes], fd: int) -> tuple[io.BufferedWriter, StreamCopy]:
    """A buffered writer whose bytes go to `stream` and down `fd`, and its `StreamCopy`."""
    copy = StreamCopy(stream, fd)
    return io.BufferedWriter(copy, buffer_size=COPY_BUFFER), copy
