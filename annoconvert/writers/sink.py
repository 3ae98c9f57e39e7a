"""The JSONL sink: lines go to a temporary file beside the target and are renamed into place.

A run that fails or is killed leaves the previous file (or nothing) at the output path. With a
split, every line is first written to one temporary file with its group and label remembered
(a few bytes each), the split is assigned at the end, and each split file is written and renamed.
Without a split the sink keeps nothing per line: lines left out at the end are found by reading
the temporary file back, line by line.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from annoconvert.atomic import temp_beside
from annoconvert.errors import at_place
from annoconvert.writers.stream_copy import StreamCopy, copying


@dataclass(slots=True)
class LineMeta:
    """What a split needs to know about a written line."""

    group: str | None
    label: str | None
    subset: str | None


NO_META = LineMeta(None, None, None)
"""The meta of a line that says nothing for a split (every line's without --split)."""


class SplitAssigner(Protocol):
    """Keeps what a split needs of each line (`add`, a few bytes), and at the end gives the
    split names and each line's index into them (`assign`)."""

    def add(self, meta: LineMeta) -> None: ...

    def assign(self) -> tuple[Sequence[str], Sequence[int]]: ...


WRITEBACK_BYTES = 64 * 1024 * 1024
"""After this many bytes written since the last time, the file's pages start going to disk in
a thread while the run goes on, so the fsync at commit waits only for the last part (a 600 MB
output of embedded images: the fsync took 0.2 s of a 1.8 s run)."""


class Writeback:
    """`os.fdatasync` of an open file in a thread, one at a time; joined before the file is
    closed, so it never syncs a descriptor number the process has given to another file,
    and before this process forks (`_finish_syncs`)."""

    __slots__ = ("__weakref__", "_fd", "_thread")

    def __init__(self, fd: int):
        self._fd = fd
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start a sync of what the file holds now, unless one is still running."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._thread = threading.Thread(target=self._sync, name="annoconvert-writeback")
        self._thread.daemon = True
        _SYNCING.add(self)
        self._thread.start()

    def _sync(self) -> None:
        sync = getattr(os, "fdatasync", os.fsync)  # macOS and Windows have fsync only
        with contextlib.suppress(OSError):  # the commit's own fsync reports a failing disk
            sync(self._fd)

    def join(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None


_SYNCING: weakref.WeakSet[Writeback] = weakref.WeakSet()


def _finish_syncs() -> None:
    """Before this process forks (an image pool started at a later image): let a running sync
    end, so that no thread of the run is alive at the fork (a thread held at a fork may
    deadlock the child; Python 3.12 warns of it). A sync takes milliseconds to a few tenths
    of a second; the pool starts once."""
    for writeback in list(_SYNCING):
        writeback.join()


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(before=_finish_syncs)


def split_path(output: str, split: str) -> str:
    """`out.jsonl` + `train` -> `out.train.jsonl` (beside the output)."""
    p = Path(output)
    suffix = p.suffix or ".jsonl"
    return str(p.with_name(f"{p.stem if p.suffix else p.name}.{split}{suffix}"))


def is_stream(output: str | None) -> bool:
    """Whether `output` is written as a stream, not as a file put in place at the end: stdout
    (None, '-'), any path under /dev or /proc (`/dev/stdout` is a link whose target may even
    be a regular file, when the shell redirects it), or an existing path that is neither a
    regular file nor a folder (a named pipe, a socket). Renaming a temporary file onto such a
    path would replace the link, the device or the pipe itself (as root, `/dev/null` with a
    regular file)."""
    if output in (None, "-"):
        return True
    assert output is not None
    if Path(os.path.abspath(output)).parts[1:2] in (("dev",), ("proc",)):
        return True
    try:
        mode = os.stat(output).st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


class JsonlSink:
    """Write lines to `output` atomically, or to a stream (`is_stream`) as they come.

    `hold` keeps a stream's lines in a temporary file until `commit`, for runs that may leave
    lines out at the end (`--dedupe`, `--conflicts drop`): a stream cannot take lines back.
    """

    def __init__(
        self,
        output: str | None,
        assign_splits: SplitAssigner | None = None,
        *,
        hold: bool = False,
    ):
        self.output = None if output in (None, "-") else output
        self.assign_splits = assign_splits
        self.count = 0
        self._tmp: str | None = None
        self._fh: IO[bytes]
        self._stream: IO[bytes] | None = None
        """Where a stream output's lines go (stdout, a device, a pipe); None for a file."""
        self._writeback: Writeback | None = None
        self._copy: StreamCopy | None = None
        """Where a stream's lines are copied for the checker process (`copy_to`)."""
        if is_stream(output):
            if assign_splits is not None:
                raise ValueError("split files need a file output, not a stream")
            # closed by commit or abort, like the temporary file of a file output
            self._stream = (
                sys.stdout.buffer if self.output is None else open(self.output, "wb")  # noqa: SIM115
            )
            if hold:
                fd, self._tmp = tempfile.mkstemp(prefix="annoconvert.", suffix=".jsonl")
                self._fh = os.fdopen(fd, "wb", buffering=1024 * 1024)
            else:
                self._fh = self._stream
        else:
            assert self.output is not None
            Path(self.output).parent.mkdir(parents=True, exist_ok=True)
            self._fh, self._tmp = temp_beside(self.output)
            self._writeback = Writeback(self._fh.fileno())
        self._pos = 0
        self._synced_at = 0

    def write(self, line: bytes, meta: LineMeta | None = None) -> None:
        """Append one JSON line (without its newline)."""
        if self.assign_splits is not None:
            self.assign_splits.add(meta or NO_META)
        try:
            self._fh.write(line)
            self._fh.write(b"\n")
            self._pos += len(line) + 1
            self.count += 1
            if self._pos - self._synced_at >= WRITEBACK_BYTES and self._writeback is not None:
                self._fh.flush()
                self._writeback.start()
                self._synced_at = self._pos
        except OSError as err:  # a full disk: say which output
            raise at_place(err, self.output or "<stdout>") from err

    @property
    def follow_path(self) -> str | None:
        """The temporary file being written, for a checker that follows it; None for stdout."""
        return self._tmp

    def copy_to(self, fd: int) -> Callable[[], int] | None:
        """For a stream whose lines go out as they come: from now on, write every byte down
        the pipe `fd` too (the checker's; this sink closes it), and return how many bytes
        went down it so far. None, `fd` untouched, for an output with a file to follow."""
        if self._stream is None or self._tmp is not None or self._copy is not None:
            return None
        self.flush()
        self._fh, copy = copying(self._stream, fd)
        self._copy = copy
        return lambda: copy.sent

    def flush(self) -> None:
        """Hand what is buffered to the file (a follower sees complete lines)."""
        try:
            self._fh.flush()
        except OSError as err:
            raise at_place(err, self.output or "<stdout>") from err

    def commit(self, drop: set[int] | None = None) -> list[str]:
        """Finish: rename the temporary file(s) into place; returns the paths written.

        `drop` holds indexes of lines to leave out (conflicting examples); it needs a file
        output, since stdout cannot take lines back.
        """
        if self._stream is not None:
            return self._commit_stream(drop or set())
        assert self._tmp is not None and self._writeback is not None
        assert self.output is not None
        try:
            self._fh.flush()
            self._writeback.join()
            os.fsync(self._fh.fileno())  # a disk out of space may say so only here
            self._fh.close()
        except OSError as err:
            raise at_place(err, self.output) from err
        if self.assign_splits is None and not drop:
            os.replace(self._tmp, self.output)
            self._tmp = None
            return [self.output]
        return self._commit_rewrite(drop or set())

    def _commit_stream(self, drop: set[int]) -> list[str]:
        """A stream's end: the held lines copied to it (without `drop`), then flushed."""
        assert self._stream is not None
        name = self.output or "-"
        if self._tmp is None:
            if drop:
                raise ValueError(f"cannot drop lines already written to {name}")
            self._close_copy()
        else:
            self._fh.close()
            try:
                for _, line in self._kept_lines(drop):
                    self._stream.write(line)
            finally:
                os.unlink(self._tmp)
                self._tmp = None
        self._stream.flush()
        self._close_stream()
        return [name]

    def _close_copy(self) -> None:
        """Write what the copying writer holds, and close the pipe to the checker."""
        if self._copy is not None:
            try:
                self._fh.close()
            except OSError as err:
                raise at_place(err, self.output or "<stdout>") from err
            finally:
                self._copy.drop_pipe()

    def _close_stream(self) -> None:
        """Close a stream output this sink opened (a device, a pipe); stdout stays open."""
        if self._stream is not None and self._stream is not sys.stdout.buffer:
            self._stream.close()

    def _kept_lines(self, drop: set[int]) -> Iterator[tuple[int, bytes]]:
        """(index, bytes) of every written line not in `drop`, read back from the temporary file
        one line at a time, so that memory is bounded by the longest line, not by the output.
        A line is JSON text (which holds no raw newline) and a newline, so the file's lines
        are the written lines; the count confirms it."""
        assert self._tmp is not None
        read = 0
        with open(self._tmp, "rb", buffering=1024 * 1024) as src:
            for line in src:
                if read == self.count:
                    break  # a line more than were written
                if read not in drop:
                    yield read, line
                read += 1
            else:
                if read == self.count:
                    return
        raise RuntimeError(
            f"internal error: {self._tmp} holds other lines than the {self.count} written"
            " (a line with a raw newline?)"
        )

    def _commit_rewrite(self, drop: set[int]) -> list[str]:
        assert self._tmp is not None and self.output is not None
        # without a split every line goes to one file: no name per line
        if self.assign_splits is not None:
            names, which = self.assign_splits.assign()
            order = [names[k] for k in dict.fromkeys(which)]  # the splits met, as met
        else:
            names, which, order = [""], None, ([""] if self.count else [])
        outputs: dict[str, tuple[IO[bytes], str]] = {}
        try:
            for name in order:
                outputs[name] = temp_beside(self._final(name))
            for i, chunk in self._kept_lines(drop):
                outputs[names[0 if which is None else which[i]]][0].write(chunk)
            written = []
            for name, (fh, tmp) in outputs.items():
                fh.flush()
                os.fsync(fh.fileno())
                fh.close()
                final = self._final(name)
                os.replace(tmp, final)
                written.append(final)
            return written
        except BaseException:
            for fh, tmp in outputs.values():
                fh.close()
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
            raise
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._tmp)
            self._tmp = None

    def _final(self, split: str) -> str:
        assert self.output is not None
        return split_path(self.output, split) if split else self.output

    def abort(self) -> None:
        """Drop everything written so far; the output path keeps what it had before (a stream
        keeps what it was sent, unless its lines were held)."""
        with contextlib.suppress(OSError):
            self._close_copy()
        with contextlib.suppress(OSError):
            self._close_stream()
        if self._tmp is not None:
            if self._writeback is not None:
                self._writeback.join()
            with contextlib.suppress(OSError):
                self._fh.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._tmp)
            self._tmp = None
