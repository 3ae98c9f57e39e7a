"""A stream output (stdout, a named pipe) is checked in a second process too: the sink sends
the checker a copy of its bytes down a pipe, and the checker reads until it has every byte the
sink says it sent. The findings and the lines are those of a file output."""

from __future__ import annotations

import errno
import multiprocessing
import os
import resource
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from annoconvert import output as output_module
from annoconvert import pipeline
from annoconvert.errors import AnnoconvertError
from annoconvert.options import Options
from annoconvert.quality import background
from annoconvert.quality.background import BackgroundChecks, LinePipe
from annoconvert.writers.sink import JsonlSink
from annoconvert.writers.stream_copy import StreamCopy, copying
from tests.test_background_follow import _Recorder
from tests.test_media_pool_start import coco_export
from tests.test_stream_outputs import _export


def _drain(chunks: list[bytes], sent: int | None, close_early: bool = False) -> tuple[Any, ...]:
    """Run `_drain` here on a pipe a thread writes `chunks` to; `sent` is what the
    converting process says it sent (None: it closes `finished` without a word). Returns the
    lines checked and what was sent back (None for nothing)."""
    read_end, write_end = os.pipe()
    finished, say_finished = multiprocessing.Pipe(duplex=False)
    receive, send = multiprocessing.Pipe(duplex=False)

    def write() -> None:
        for chunk in chunks:
            os.write(write_end, chunk)
        if close_early:
            os.close(write_end)
        if sent is None:
            say_finished.close()
        else:
            say_finished.send(sent)

    writer = threading.Thread(target=write)
    writer.start()
    checks = _Recorder()
    try:
        background._drain(read_end, checks, finished, send, os.getppid())  # type: ignore[arg-type]
    finally:
        writer.join()
        if not close_early:
            os.close(write_end)
    got = receive.recv() if receive.poll(0.05) else None
    return checks.lines, got


def test_the_checker_reads_a_pipe_to_the_bytes_sent_in_lines_as_written() -> None:
    chunk = background.CHUNK
    lines = [b'{"a": 1}', b"x" * (3 * chunk + 17), b"", b"y" * (chunk - 1), "é".encode() * 999]
    data = b"\n".join(lines) + b"\n"
    pieces = [data[i : i + 1000] for i in range(0, len(data), 1000)]  # lines across writes
    checked, got = _drain(pieces, len(data))
    assert checked == lines
    assert got == "done"


def test_the_pipe_staying_open_does_not_hold_the_checker() -> None:
    """A child the converting process forks later (an image worker) holds the pipe's write end
    too, so the pipe's end never comes: the count the converting process sends ends the read."""
    checked, got = _drain([b"one\ntwo\n"], 8)  # the write end stays open throughout
    assert checked == [b"one", b"two"] and got == "done"


def test_a_run_that_stops_without_a_word_gets_no_findings() -> None:
    _, got = _drain([b"one\n"], None)
    assert got is None


def test_a_pipe_closed_short_of_the_bytes_sent_is_an_error_not_a_hang() -> None:
    with pytest.raises(RuntimeError, match="read 4 of the 9 bytes"):
        _drain([b"one\n"], 9, close_early=True)


def test_a_broken_pipe_leaves_the_stream_whole(tmp_path: Path) -> None:
    """The checker gone: the stream still gets every byte, and nothing is raised here (the
    checker's missing findings stop the run at its end)."""
    read_end, write_end = os.pipe()
    with (tmp_path / "stream").open("wb") as stream:
        writer, copy = copying(stream, write_end)
        writer.write(b"a" * 100)
        writer.flush()
        assert os.read(read_end, 1000) == b"a" * 100 and copy.sent == 100
        os.close(read_end)
        writer.write(b"b" * 300_000)
        writer.close()
    assert (tmp_path / "stream").read_bytes() == b"a" * 100 + b"b" * 300_000
    assert copy.fd is None and copy.closed


def test_a_checker_killed_while_it_reads_a_pipe_is_an_error_not_a_hang(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Killed(_Recorder):
        def check_line(self, raw: bytes) -> None:
            os.kill(os.getpid(), signal.SIGKILL)  # the system's OOM killer, say

    monkeypatch.setattr(background, "LineChecks", lambda *args: Killed())
    read_end, write_end = os.pipe()
    copy = StreamCopy(open(os.devnull, "wb"), write_end)  # noqa: SIM115
    checks = BackgroundChecks(LinePipe(read_end, lambda: copy.sent), None, "report", False)
    for _ in range(100):  # past the pipe's capacity: the writes end when the checker is gone
        copy.write(b"{}\n" * 10_000)
    with pytest.raises(AnnoconvertError, match=r"line checks stopped .*exit code: -9"):
        checks.finish()
    assert copy.fd is None  # the broken pipe was dropped
    copy.close()
    copy.stream.close()


def _checks_made(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    made: list[Any] = []
    real = output_module._background_checks

    def recording(*args: Any) -> Any:
        made.append(real(*args))
        return made[-1]

    monkeypatch.setattr(output_module, "_background_checks", recording)
    return made


def test_a_stream_run_is_checked_in_a_second_process_with_a_file_run_s_findings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    export, config = _export(tmp_path)  # a repeat and a conflict; under the preset's minimum
    options = Options(label_config=str(config))
    made = _checks_made(monkeypatch)
    to_file = pipeline.run("labelstudio", [str(export)], options, str(tmp_path / "out.jsonl"))
    capsysbinary.readouterr()
    to_stdout = pipeline.run("labelstudio", [str(export)], options, "-")
    assert [type(c) for c in made] == [BackgroundChecks, BackgroundChecks]
    assert capsysbinary.readouterr().out == (tmp_path / "out.jsonl").read_bytes()
    warnings = list(to_stdout.warnings)
    assert warnings == list(to_file.warnings)
    assert {"validate:too_few_examples", "conflicting_answers", "duplicate_examples"} <= {
        w.code for w in warnings
    }


def _annoconvert(*args: str, stdout: Any = subprocess.PIPE) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "annoconvert", *args],
        stdout=stdout,
        stderr=subprocess.PIPE,
        timeout=120,
        check=False,
    )


def test_stdout_gets_the_file_s_lines_with_image_workers_forked_after_the_pipe(
    tmp_path: Path,
) -> None:
    """Three workers resize the images; the two pool workers are forked after the checker's
    pipe, and hold its write end: the run still ends, with the file output's bytes and
    summary."""
    folder = coco_export(tmp_path / "export", images=40)
    flags = ("--max-image-side", "32", "--workers", "3")
    to_file = _annoconvert("coco", str(folder), *flags, "-o", str(tmp_path / "out.jsonl"))
    with (tmp_path / "stdout.jsonl").open("wb") as stdout:
        to_stdout = _annoconvert("coco", str(folder), *flags, stdout=stdout)
    assert to_file.returncode == 0 and to_stdout.returncode == 0, to_stdout.stderr
    assert (tmp_path / "stdout.jsonl").read_bytes() == (tmp_path / "out.jsonl").read_bytes()
    summary = [
        line for line in to_file.stderr.splitlines() if b"wrote " + bytes(tmp_path) not in line
    ]
    assert [line.rsplit(b";", 1)[0] for line in to_stdout.stderr.splitlines()] == [
        line.rsplit(b";", 1)[0] for line in summary
    ]


def test_a_checker_that_cannot_start_leaves_no_pipe_to_hold_the_stream(
    monkeypatch: pytest.MonkeyPatch, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    """The fork fails (too many processes): the run stops with that error, and the lines
    already handed to the stream still go out, not into a full pipe that nobody reads."""

    def no_fork(*args: Any) -> None:
        raise OSError(errno.EAGAIN, "Resource temporarily unavailable")

    monkeypatch.setattr(output_module, "BackgroundChecks", no_fork)
    sink = JsonlSink("-")
    with pytest.raises(OSError, match="temporarily unavailable"):
        output_module._background_checks(sink, None, "report", False)
    line = b'{"a": "' + b"x" * 1000 + b'"}'
    writing = threading.Thread(target=lambda: [sink.write(line) for _ in range(4000)], daemon=True)
    writing.start()
    writing.join(10)
    assert not writing.is_alive(), "the stream's writes are held by the pipe"
    sink.abort()
    assert capsysbinary.readouterr().out == (line + b"\n") * 4000


def test_the_checker_reads_a_pipe_whose_descriptor_is_past_1024() -> None:
    """A program with many files open gives the pipe a high descriptor number, which
    `select` cannot wait on."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    high = 1500
    room = hard if hard == resource.RLIM_INFINITY or hard > high else high + 1  # root may
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, high + 1), room))
    read_end, write_end = os.pipe()
    os.dup2(read_end, high)
    os.close(read_end)
    finished, say_finished = multiprocessing.Pipe(duplex=False)
    receive, send = multiprocessing.Pipe(duplex=False)
    os.write(write_end, b"one\ntwo\n")
    say_finished.send(8)
    checks = _Recorder()
    try:
        background._drain(high, checks, finished, send, os.getppid())  # type: ignore[arg-type]
    finally:
        os.close(write_end)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert checks.lines == [b"one", b"two"]
    assert receive.recv() == "done"
