"""The sink starts writing a large output to disk while the run goes on (writers/sink.py).

What a user relies on: the file at -o holds every line, whole, after the commit; nothing is
there after an abort; the early syncs cover what was written before them, and none is left
running on the descriptor once the file is closed, nor at a fork of the converting process
(an image pool started at a later image).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path

import pytest

from annoconvert.writers import sink as sink_module
from annoconvert.writers.sink import JsonlSink


class _Syncs:
    """Records each fdatasync's file size at the time, and that it ran in another thread."""

    def __init__(self) -> None:
        self.sizes: list[int] = []
        self.threads: set[str] = set()
        self.running = 0
        self.most_running = 0
        self.lock = threading.Lock()
        self.release = threading.Event()
        self.release.set()
        self.entered = threading.Event()

    def __call__(self, fd: int) -> None:
        with self.lock:
            self.running += 1
            self.most_running = max(self.most_running, self.running)
        self.sizes.append(os.fstat(fd).st_size)
        self.threads.add(threading.current_thread().name)
        self.entered.set()
        self.release.wait(10)
        with self.lock:
            self.running -= 1


@pytest.fixture
def syncs(monkeypatch: pytest.MonkeyPatch) -> _Syncs:
    recorder = _Syncs()
    monkeypatch.setattr(sink_module.os, "fdatasync", recorder)
    monkeypatch.setattr(sink_module, "WRITEBACK_BYTES", 1000)
    return recorder


def _line(i: int) -> bytes:
    return b'{"messages": [], "n": %d, "pad": "%s"}' % (i, b"x" * 80)


def test_large_output_is_synced_while_written_and_whole_after_commit(
    tmp_path: Path, syncs: _Syncs
) -> None:
    out = tmp_path / "train.jsonl"
    sink = JsonlSink(str(out))
    lines = [_line(i) for i in range(200)]
    for line in lines:
        sink.write(line)
    assert sink.commit() == [str(out)]
    assert out.read_bytes() == b"".join(line + b"\n" for line in lines)
    # syncs ran during the writing, on a thread of their own, each on what had been written
    assert syncs.sizes, "no early sync ran"
    assert all(0 < size <= out.stat().st_size for size in syncs.sizes)
    assert syncs.sizes == sorted(syncs.sizes)
    assert syncs.threads == {"annoconvert-writeback"}
    assert syncs.most_running == 1
    assert not [t for t in threading.enumerate() if t.name == "annoconvert-writeback"]


def test_a_slow_sync_is_not_stacked_and_the_commit_waits_for_it(
    tmp_path: Path, syncs: _Syncs
) -> None:
    syncs.release.clear()  # the first sync hangs until released
    out = tmp_path / "train.jsonl"
    sink = JsonlSink(str(out))
    sink.write(_line(0))
    for i in range(1, 12):  # past the first threshold: one sync starts
        sink.write(_line(i))
    assert syncs.entered.wait(10)
    for i in range(12, 100):
        sink.write(_line(i))
    assert len(syncs.sizes) == 1 and syncs.running == 1  # later thresholds found it running
    committed = threading.Thread(target=sink.commit)
    committed.start()
    committed.join(0.3)
    assert committed.is_alive(), "the commit renamed the file while a sync was running"
    assert not out.exists()
    syncs.release.set()
    committed.join(10)
    assert not committed.is_alive()
    assert out.read_bytes().count(b"\n") == 100


def test_abort_waits_for_the_sync_and_leaves_nothing(tmp_path: Path, syncs: _Syncs) -> None:
    syncs.release.clear()
    out = tmp_path / "train.jsonl"
    sink = JsonlSink(str(out))
    for i in range(100):
        sink.write(_line(i))
    assert syncs.entered.wait(10)
    aborted = threading.Thread(target=sink.abort)
    aborted.start()
    aborted.join(0.3)
    assert aborted.is_alive(), "the abort closed the file while a sync was running on it"
    syncs.release.set()
    aborted.join(10)
    assert not [t for t in threading.enumerate() if t.name == "annoconvert-writeback"]
    assert list(tmp_path.iterdir()) == []


def test_small_output_and_stdout_start_no_sync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    recorder = _Syncs()
    monkeypatch.setattr(sink_module.os, "fdatasync", recorder)
    small = JsonlSink(str(tmp_path / "small.jsonl"))
    small.write(_line(0))
    small.commit()
    monkeypatch.setattr(sink_module, "WRITEBACK_BYTES", 10)
    to_stdout = JsonlSink("-")
    for i in range(5):
        to_stdout.write(_line(i))
    to_stdout.commit()
    assert recorder.sizes == []
    assert capsysbinary.readouterr().out.count(b"\n") == 5


def test_without_fdatasync_the_early_syncs_use_fsync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """macOS and Windows have no fdatasync: the writeback falls back to fsync, quietly."""
    recorder = _Syncs()
    monkeypatch.delattr(sink_module.os, "fdatasync", raising=False)
    monkeypatch.setattr(sink_module.os, "fsync", recorder)
    monkeypatch.setattr(sink_module, "WRITEBACK_BYTES", 1000)
    out = tmp_path / "train.jsonl"
    sink = JsonlSink(str(out))
    for i in range(50):
        sink.write(_line(i))
    sink.commit()
    assert "annoconvert-writeback" in recorder.threads
    assert out.read_bytes().count(b"\n") == 50


def _started(conn: Connection) -> None:
    conn.send(time.monotonic())
    conn.close()


def test_a_fork_waits_for_the_running_sync(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ended: list[float] = []

    def slow_sync(fd: int) -> None:
        time.sleep(0.3)
        ended.append(time.monotonic())

    monkeypatch.setattr(sink_module.os, "fdatasync", slow_sync)
    context = multiprocessing.get_context("fork")
    with open(tmp_path / "lines.jsonl", "wb") as fh:
        writeback = sink_module.Writeback(fh.fileno())
        writeback.start()
        assert any(t.name == "annoconvert-writeback" for t in threading.enumerate())
        receive, send = context.Pipe(duplex=False)
        child = context.Process(target=_started, args=(send,))
        child.start()
        assert not any(t.name == "annoconvert-writeback" for t in threading.enumerate())
        started = receive.recv()
        child.join()
        writeback.join()
    assert ended and started >= ended[0]
