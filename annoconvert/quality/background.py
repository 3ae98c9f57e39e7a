"""Run the line checks in a second process that reads the lines while they are written.

Why: the checks re-read every line (parse, roles, images, boxes, tokens, hashes); in the
converting process that cost adds to the conversion's, while the machine's second core sits
idle. The checker process follows the sink's temporary file as it grows (the page cache shares
it, so no line is copied between processes) and hands back the findings at the end. A stream
output (stdout, a pipe) has no file to follow: the sink sends the checker a copy of what it
writes down a pipe (`LinePipe`), which is read until the bytes the sink says it sent.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from annoconvert.children import default_signals
from annoconvert.errors import AnnoconvertError
from annoconvert.quality.consistency import PLAIN_GROUPING, Policy
from annoconvert.quality.linechecks import LineChecks, LineFindings

POLL_SECONDS = 0.002
CHUNK = 1 << 16
"""Bytes read at a time. Under glibc's mmap threshold (128 KiB) on purpose: each freed 1 MiB
read raised that threshold, later buffers came from the heap and were not given back, and the
checker of a 100k-image CVAT run grew from 49 to 66 MiB; with 64 KiB reads it stays at 54."""


@dataclass(frozen=True)
class LinePipe:
    """The lines of a stream output, sent down a pipe: its read end (the checker's) and how
    many bytes were sent down it in all (asked once every line is sent)."""

    fd: int
    sent: Callable[[], int]


def _checker(
    source: str | int, checks: LineChecks, finished: Connection, conn: Connection, parent: int
) -> None:
    """The checker process's entry: its own signals and environment, then `_follow` of the
    file named `source`, or `_drain` of the pipe whose read end it is. (Set here, not in
    `_follow`, which a test runs in its own process: there the dispositions stayed, and a
    later child of that process ignored Ctrl-C.)"""
    default_signals()
    # numpy's OpenBLAS starts a thread per core that spins while idle; the grouping uses no
    # BLAS, and on a 2-core machine the spinning took the converting process's core
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    try:
        if isinstance(source, str):
            _follow(source, checks, finished, conn, parent)
        else:
            _drain(source, checks, finished, conn, parent)
    except Exception as err:  # a full disk for the spilled hashes, or a bug: the parent says it
        if os.environ.get("ANNOCONVERT_DEBUG"):
            traceback.print_exc()
        with contextlib.suppress(OSError):  # the parent is gone
            conn.send(_sendable(err))


def _sendable(err: Exception) -> Exception:
    """`err` if it crosses the pipe (pickles), else its type and message in one that does."""
    try:
        pickle.dumps(err)
    except Exception:
        return RuntimeError(f"{type(err).__name__}: {err}")
    return err


class _Lines:
    """Cuts what is read into lines for the checks; a line across reads is joined from its
    pieces (long lines: many reads)."""

    def __init__(self, checks: LineChecks):
        self.checks = checks
        self.partial: list[bytes] = []  # the start of a line not complete yet
        self.seen = 0
        self.numpy_loaded = False

    def feed(self, chunk: bytes) -> None:
        # lines cut out by `find` (memchr), not `split` (a byte-at-a-time loop in CPython:
        # a third of the checker's time on lines holding images)
        start = 0
        if self.partial:
            end = chunk.find(b"\n")
            if end < 0:
                self.partial.append(chunk)
                return
            self.partial.append(chunk[:end])
            self.checks.check_line(b"".join(self.partial))
            self.partial = []
            self.seen += 1
            start = end + 1
        while (end := chunk.find(b"\n", start)) >= 0:
            self.checks.check_line(chunk[start:end])
            self.seen += 1
            start = end + 1
        if start < len(chunk):
            self.partial.append(chunk[start:])
        if not self.numpy_loaded and self.seen > PLAIN_GROUPING:
            # the final grouping of this many lines needs it: imported now, while the run
            # goes on, not at the end while the conversion waits
            import numpy  # noqa: F401

            self.numpy_loaded = True

    def end(self) -> None:
        """The last line, if the file does not end with a newline."""
        if self.partial:
            self.checks.check_line(b"".join(self.partial))
            self.partial = []


def _follow(
    path: str, checks: LineChecks, finished: Connection, conn: Connection, parent: int
) -> None:
    """The checker: check every complete line of `path` until a message on `finished` says
    the file is complete, and EOF.

    It leaves as soon as the converting process is gone (killed: nothing more will come).
    """
    lines, complete = _Lines(checks), False
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(CHUNK)
            if not chunk:
                if not complete:
                    if os.getppid() != parent:
                        return
                    if not finished.poll(POLL_SECONDS):
                        continue
                    try:
                        finished.recv()
                    except EOFError:
                        return  # closed without the message: the run stopped
                    complete = True
                chunk = fh.read()
                if not chunk:
                    break
            lines.feed(chunk)
    lines.end()
    conn.send(checks.finish())
    conn.close()


PARENT_CHECK_SECONDS = 0.5
"""How often `_drain`, waiting on its pipe, looks whether the converting process is gone."""


def _drain(
    fd: int, checks: LineChecks, finished: Connection, conn: Connection, parent: int
) -> None:
    """The checker of a stream output: check the lines read from the pipe `fd` until it has
    read as many bytes as `finished` says were sent. (Not until the pipe's end: a child the
    converting process forks later, an image worker, holds the pipe's write end too.)

    It leaves as soon as the converting process is gone, or closes `finished` unsaid.
    """
    lines, sent, received, pipe_open = _Lines(checks), None, 0, True
    while sent is None or received < sent:
        waiting = ([fd] if pipe_open else []) + ([finished] if sent is None else [])
        if not waiting:
            break  # every write end closed short of what was sent
        # `wait` polls (no limit on descriptor numbers, as `select` has at 1024: a program
        # with many files open gives the pipe a high one)
        ready = wait(waiting, PARENT_CHECK_SECONDS)
        if fd in ready:
            chunk = os.read(fd, CHUNK)
            if chunk:
                lines.feed(chunk)
                received += len(chunk)
                continue
            pipe_open = False  # every write end is closed
        if finished in ready:
            try:
                sent = finished.recv()
            except EOFError:
                return  # closed without the message: the run stopped
        if not ready and os.getppid() != parent:
            return
    os.close(fd)
    if received != sent:
        raise RuntimeError(f"the line checks read {received} of the {sent} bytes written")
    lines.end()
    conn.send(checks.finish())
    conn.close()


class BackgroundChecks:
    """Checks a growing JSONL file, or the lines sent down a pipe (`LinePipe`: fork only), in
    another process; `finish` returns the findings."""

    def __init__(self, source: str | LinePipe, preset: str | None, policy: Policy, dedupe: bool):
        methods = multiprocessing.get_all_start_methods()
        if isinstance(source, LinePipe) and "fork" not in methods:
            raise ValueError("a checker reads a pipe only in a forked child")
        ctx: Any = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        # pipes, not an Event: an Event needs POSIX semaphores, which some systems lack (AWS
        # Lambda, containers without /dev/shm), and there every conversion failed here
        finished, self._finished = ctx.Pipe(duplex=False)
        self._conn, child = ctx.Pipe(duplex=False)
        checks = LineChecks(preset, policy, dedupe)
        read_from = source if isinstance(source, str) else source.fd
        self._proc = ctx.Process(
            target=_checker, args=(read_from, checks, finished, child, os.getpid()), daemon=True
        )
        self._proc.start()
        child.close()
        finished.close()
        self._sent: Callable[[], int] | None = None
        if isinstance(source, LinePipe):
            os.close(source.fd)  # the child's now: the pipe breaks if the child is gone
            self._sent = source.sent

    def check_line(self, raw: bytes) -> None:
        """Nothing to do here: the other process reads the line from the file or the pipe."""

    def finish(self) -> LineFindings:
        """Call once every line is flushed to the file or sent down the pipe: the findings of
        all of them. What stopped the checker (an OSError, a bug) is raised here, in the
        converting process, which prints it as one line."""
        found: LineFindings | Exception | None = None
        with contextlib.suppress(OSError):  # a checker that stopped early closed its end
            self._finished.send(True if self._sent is None else self._sent())
        with contextlib.suppress(OSError, EOFError):  # and one that was killed sent nothing
            found = self._conn.recv()
        self._proc.join()
        self._finished.close()
        self._conn.close()
        if isinstance(found, Exception):
            raise found
        if found is None:
            raise AnnoconvertError(
                "the line checks stopped without their findings (their process's exit code: "
                f"{self._proc.exitcode}); the output was not written"
            )
        return found

    def abort(self) -> None:
        """Stop the checker (the run failed or was interrupted)."""
        if self._proc.is_alive():
            self._proc.terminate()
        self._proc.join()
