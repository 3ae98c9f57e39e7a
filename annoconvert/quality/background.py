"""Run the line checks in a second process that follows the file while it is written.

Why: the checks re-read every line (parse, roles, images, boxes, tokens, hashes); in the
converting process that cost adds to the conversion's, while the machine's second core sits
idle. The checker process follows the sink's temporary file as it grows (the page cache shares
it, so no line is copied between processes) and hands back the findings at the end.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import traceback
from multiprocessing.connection import Connection
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


def _checker(
    path: str, checks: LineChecks, finished: Connection, conn: Connection, parent: int
) -> None:
    """The checker process's entry: its own signals and environment, then `_follow`. (Set
    here, not in `_follow`, which a test runs in its own process: there the dispositions
    stayed, and a later child of that process ignored Ctrl-C.)"""
    default_signals()
    # numpy's OpenBLAS starts a thread per core that spins while idle; the grouping uses no
    # BLAS, and on a 2-core machine the spinning took the converting process's core
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    try:
        _follow(path, checks, finished, conn, parent)
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


def _follow(
    path: str, checks: LineChecks, finished: Connection, conn: Connection, parent: int
) -> None:
    """The checker: check every complete line of `path` until a message on `finished` says
    the file is complete, and EOF.

    It leaves as soon as the converting process is gone (killed: nothing more will come).
    """
    numpy_loaded, seen, complete = False, 0, False
    partial: list[bytes] = []  # the start of a line not complete yet (long lines: many reads)
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
            # lines cut out by `find` (memchr), not `split` (a byte-at-a-time loop in CPython:
            # a third of the checker's time on lines holding images); a line across reads is
            # joined from its pieces
            start = 0
            if partial:
                end = chunk.find(b"\n")
                if end < 0:
                    partial.append(chunk)
                    continue
                partial.append(chunk[:end])
                checks.check_line(b"".join(partial))
                partial = []
                seen += 1
                start = end + 1
            while (end := chunk.find(b"\n", start)) >= 0:
                checks.check_line(chunk[start:end])
                seen += 1
                start = end + 1
            if start < len(chunk):
                partial.append(chunk[start:])
            if not numpy_loaded and seen > PLAIN_GROUPING:
                # the final grouping of this many lines needs it: imported now, while the run
                # goes on, not at the end while the conversion waits
                import numpy  # noqa: F401

                numpy_loaded = True
    if partial:
        checks.check_line(b"".join(partial))
    conn.send(checks.finish())
    conn.close()


class BackgroundChecks:
    """Checks a growing JSONL file in another process; `finish` returns the findings."""

    def __init__(self, path: str, preset: str | None, policy: Policy, dedupe: bool):
        methods = multiprocessing.get_all_start_methods()
        ctx: Any = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        # pipes, not an Event: an Event needs POSIX semaphores, which some systems lack (AWS
        # Lambda, containers without /dev/shm), and there every conversion failed here
        finished, self._finished = ctx.Pipe(duplex=False)
        self._conn, child = ctx.Pipe(duplex=False)
        checks = LineChecks(preset, policy, dedupe)
        self._proc = ctx.Process(
            target=_checker, args=(path, checks, finished, child, os.getpid()), daemon=True
        )
        self._proc.start()
        child.close()
        finished.close()

    def check_line(self, raw: bytes) -> None:
        """Nothing to do here: the other process reads the line from the file."""

    def finish(self) -> LineFindings:
        """Call once every line is flushed to the file: the findings of all of them. What
        stopped the checker (an OSError, a bug) is raised here, in the converting process,
        which prints it as one line."""
        found: LineFindings | Exception | None = None
        with contextlib.suppress(OSError):  # a checker that stopped early closed its end
            self._finished.send(True)
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
