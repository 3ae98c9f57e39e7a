"""The checker process's file follower hands every line to the checks exactly as written."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from pathlib import Path
from typing import Any

from annoconvert.quality import background


class _Recorder:
    """Stands in for LineChecks: keeps the lines it is given."""

    def __init__(self) -> None:
        self.lines: list[bytes] = []

    def check_line(self, raw: bytes) -> None:
        self.lines.append(raw)

    def finish(self) -> str:
        return "done"


def _follow(path: Path) -> list[bytes]:
    finished, say_finished = multiprocessing.Pipe(duplex=False)
    say_finished.send(True)  # the file is complete: read to its end, then stop
    receive, send = multiprocessing.Pipe(duplex=False)
    got: list[Any] = []
    reader = threading.Thread(target=lambda: got.append(receive.recv()))
    reader.start()
    checks = _Recorder()
    dispositions = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
    background._follow(str(path), checks, finished, send, os.getppid())  # type: ignore[arg-type]
    reader.join()
    assert got == ["done"]
    # the checker process's entry sets its signals, not the follower: this process keeps its
    # own (they were left ignoring Ctrl-C, and a later test's child inherited that)
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == dispositions
    return checks.lines


def test_lines_longer_than_a_read_and_lines_across_reads(tmp_path: Path) -> None:
    chunk = background.CHUNK
    lines = [
        b'{"a": 1}',
        b"x" * (3 * chunk + 17),  # an embedded image: many reads for one line
        b"",
        b"y" * (chunk - 1),  # ends one byte before a read boundary
        b"z" * chunk,
        "é".encode() * 1000,
        b"last",
    ]
    path = tmp_path / "out.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    assert _follow(path) == lines


def test_a_last_line_without_newline_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_bytes(b"one\n" + b"t" * (background.CHUNK + 5))
    assert _follow(path) == [b"one", b"t" * (background.CHUNK + 5)]


def test_the_follower_leaves_when_the_run_closes_without_finishing(tmp_path: Path) -> None:
    """The converting process stopped (its end of the pipe closed, no message): the checker
    leaves at the file's end and sends no findings."""
    path = tmp_path / "out.jsonl"
    path.write_bytes(b'{"a": 1}\n')
    finished, say_finished = multiprocessing.Pipe(duplex=False)
    say_finished.close()
    receive, send = multiprocessing.Pipe(duplex=False)
    checks = _Recorder()
    background._follow(str(path), checks, finished, send, os.getppid())  # type: ignore[arg-type]
    assert checks.lines == [b'{"a": 1}']
    assert not receive.poll(0.05)
