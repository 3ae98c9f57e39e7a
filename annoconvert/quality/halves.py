"""`validate` of a large file in two halves: a forked child checks the second half while this
process checks the first, and this process's validator absorbs the child's tally.

Decoding the embedded images is most of `validate`'s time (0.54 ms a 640x480 JPEG), and it
is bound by one core. The halves are cut at a line's start; the child numbers its lines from
1 and `Validator.absorb` shifts them, so that the report is the one a single pass makes
(`tests/test_validate_halves.py`). Where no child can start or it does not deliver, this
process checks the second half itself.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from annoconvert import forked
from annoconvert.quality.validate import Tally, ValidationReport, Validator

HALVES_FROM = 16 * 1024 * 1024
"""Files of this size and more are checked in halves (a fork costs a few milliseconds)."""


def validate_in_halves(path: Path, handle: IO[bytes], preset: str) -> ValidationReport | None:
    """The report of the file open as `handle`, checked in halves; None, with `handle` at its
    start, where it is small, not a regular file (a pipe cannot seek), has one line, or no
    child can start."""
    status = os.fstat(handle.fileno())
    if status.st_size < HALVES_FROM or not stat.S_ISREG(status.st_mode):
        return None
    middle = _line_start_near_half(handle, status.st_size)
    handle.seek(0)
    if middle is None or not forked.can_fork():
        return None
    call = forked.ForkedCall(lambda: (_second_half(path, middle, preset), b""))
    try:
        validator = Validator(preset)
        validator.check_lines(_lines_before(handle, middle))
        delivered = call.result()
        if delivered is not None and call.read_payload(memoryview(b"")):
            validator.absorb(delivered[0])
        else:  # the child failed: the second half here
            validator.check_lines(handle)
        return validator.finish()
    finally:
        call.close()


def _line_start_near_half(handle: IO[bytes], size: int) -> int | None:
    """The offset of the first line that starts past the file's middle; None for none."""
    handle.seek(size // 2)
    handle.readline()
    middle = handle.tell()
    return middle if middle < size else None


def _lines_before(handle: IO[bytes], end: int) -> Iterator[bytes]:
    """The lines of `handle` from where it is up to the offset `end`, a line's start."""
    done = handle.tell()
    while done < end:
        raw = handle.readline()
        done += len(raw)
        yield raw


def _second_half(path: Path, middle: int, preset: str) -> Tally:
    """The child's work: the lines from `middle` on, through a file of its own (a forked
    child shares the parent's file offset)."""
    validator = Validator(preset)
    with path.open("rb") as handle:
        handle.seek(middle)
        validator.check_lines(handle)
    return validator.tally()
