"""SIGTERM (a batch job's timeout, `kill`) stops a conversion as Ctrl-C does.

The run is held still at a known point: one image is fetched from a local server that accepts
the connection and never answers. Then the command gets SIGTERM and must leave no output, no
temporary file beside it and no child process (the checker, the image workers), say so in one
line, and exit 143 (128 + SIGTERM).
"""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from tests.test_express_lane_boxes import CONFIG, _annotation, _box

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc for children")


def _silent_server() -> tuple[socket.socket, threading.Event]:
    """A server on loopback that accepts connections and never answers."""
    server = socket.create_server(("127.0.0.1", 0))
    connected = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return  # closed at the test's end
            held.append(conn)
            connected.set()

    threading.Thread(target=serve, daemon=True).start()
    return server, connected


def _export(tmp_path: Path, port: int) -> list[str]:
    """300 box tasks with local JPEGs; task 250's image is on the silent server."""
    media = tmp_path / "media" / "upload" / "1"
    media.mkdir(parents=True)
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buffer, "JPEG")
    tasks = []
    for i in range(1, 301):
        image = f"/data/upload/1/img_{i}.jpg"
        (media / f"img_{i}.jpg").write_bytes(buffer.getvalue())
        if i == 250:
            image = f"http://127.0.0.1:{port}/stall.jpg"
        box = _box(i, 0)
        box["original_width"], box["original_height"] = 64, 48
        tasks.append({"id": i, "data": {"image": image}, "annotations": [_annotation([box])]})
    (tmp_path / "export.json").write_text(json.dumps(tasks), encoding="utf-8")
    (tmp_path / "config.xml").write_text(CONFIG, encoding="utf-8")
    return [
        "labelstudio",
        str(tmp_path / "export.json"),
        "--label-config",
        str(tmp_path / "config.xml"),
        "--images-root",
        str(tmp_path / "media"),
        "--fetch-remote",
        "--max-image-side",
        "32",
        "--workers",
        "3",
        "-o",
        str(tmp_path / "out" / "train.jsonl"),
    ]


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry))
    return found


def _running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _held_run(
    tmp_path: Path, stop: signal.Signals, group: bool = False
) -> tuple[int, str, list[int]]:
    """Run the conversion until it waits for the silent server, send `stop` (to its whole
    process group, as a terminal's Ctrl-C does, with `group`): (exit code, stderr, the
    children it had)."""
    server, connected = _silent_server()
    try:
        args = _export(tmp_path, server.getsockname()[1])
        run = subprocess.Popen(
            [sys.executable, "-m", "annoconvert", *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=group,
        )
        try:
            assert connected.wait(60), "the run never asked for the remote image"
            assert [p for p in os.listdir(tmp_path / "out") if p.endswith(".part")]
            children = _children(run.pid)
            assert len(children) >= 3  # the checker and the pool's two image workers
            if group:
                os.killpg(run.pid, stop)
            else:
                run.send_signal(stop)
            _, stderr = run.communicate(timeout=30)
        finally:
            if run.poll() is None:
                run.kill()
                run.wait()
    finally:
        server.close()
    return run.returncode, stderr, children


def _gone(pids: list[int], seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while any(_running(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not any(_running(pid) for pid in pids)


def test_sigterm_stops_a_run_and_leaves_nothing_behind(tmp_path: Path) -> None:
    code, stderr, children = _held_run(tmp_path, signal.SIGTERM)
    assert code == 128 + signal.SIGTERM
    assert stderr.strip() == "annoconvert: terminated; nothing was written to the output"
    assert os.listdir(tmp_path / "out") == []  # no output, no temporary file
    assert _gone(children)


def test_the_children_of_a_killed_run_end_too(tmp_path: Path) -> None:
    """SIGKILL cleans nothing up in the converting process; its checker and image workers
    notice that it is gone and end (the workers had waited forever on their queue)."""
    code, _, children = _held_run(tmp_path, signal.SIGKILL)
    assert code == -signal.SIGKILL
    assert _gone(children)


def test_ctrl_c_to_the_process_group_says_one_line(tmp_path: Path) -> None:
    """A terminal's Ctrl-C reaches the checker and the image workers too: they leave it to
    the converting process, which stops them; stderr holds the one line, no child's report."""
    code, stderr, children = _held_run(tmp_path, signal.SIGINT, group=True)
    assert code == 130
    assert stderr.strip() == "annoconvert: interrupted; nothing was written to the output"
    assert os.listdir(tmp_path / "out") == []
    assert _gone(children)


def test_a_child_forked_before_it_sets_its_signals_ends_quietly_on_sigterm() -> None:
    """A child inherits the run's SIGTERM handler until it sets its own; a SIGTERM then (the
    parent stopping a child it has just started, on an error) ends it as the default action
    does, not by raising inside multiprocessing's start-up (which printed a traceback)."""
    from annoconvert.cli import terminable

    with terminable():
        pid = os.fork()
        if pid == 0:  # the child: the parent's handler, as right after a fork
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(5)
            except BaseException:
                os._exit(7)  # the handler raised here
            os._exit(0)
        _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM
