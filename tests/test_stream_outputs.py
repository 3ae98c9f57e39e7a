"""Outputs that are streams, not files: stdout, a named pipe, a device (`/dev/stdout`,
`/dev/null`). Lines go to them as they are, never through a temporary file renamed onto the
path (which would replace the pipe or the device itself); a run that may leave lines out at
the end (`--dedupe`, `--conflicts drop`) holds them until it knows which."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from annoconvert.writers.sink import is_stream
from tests.conftest import SENTIMENT_CONFIG

TASKS = [("hello", "positive"), ("hello", "positive"), ("bad", "negative"), ("bad", "positive")]


def _export(folder: Path) -> tuple[Path, Path]:
    """Four tasks: the second repeats the first, the last two answer one text differently."""
    tasks = [
        {
            "id": i,
            "data": {"text": text},
            "annotations": [
                {
                    "id": i,
                    "result": [
                        {
                            "from_name": "sentiment",
                            "to_name": "text",
                            "type": "choices",
                            "value": {"choices": [label]},
                        }
                    ],
                }
            ],
        }
        for i, (text, label) in enumerate(TASKS, 1)
    ]
    export, config = folder / "export.json", folder / "config.xml"
    export.write_text(json.dumps(tasks), encoding="utf-8")
    config.write_text(SENTIMENT_CONFIG, encoding="utf-8")
    return export, config


def _annoconvert(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "annoconvert", "labelstudio", *args],
        capture_output=True,
        timeout=60,
        check=False,
    )


def _answers(lines: bytes) -> list[tuple[str, str]]:
    out = []
    for line in lines.splitlines():
        messages = json.loads(line)["messages"]
        out.append((messages[1]["content"], messages[2]["content"]))
    return out


def test_which_outputs_are_streams(tmp_path: Path) -> None:
    regular = tmp_path / "out.jsonl"
    regular.write_text("")
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    assert is_stream(None) and is_stream("-")
    assert is_stream("/dev/null") and is_stream(str(pipe))
    # whatever stdout leads to (pytest captures it in a regular file), a rename onto these
    # paths would replace the link itself
    assert is_stream("/dev/stdout") and is_stream("/dev/fd/1") and is_stream("/proc/self/fd/1")
    assert not is_stream(str(regular))
    assert not is_stream(str(tmp_path / "new.jsonl"))  # written as a file, put in place
    assert not is_stream(str(tmp_path))  # a folder: the rename reports it


def test_a_named_pipe_gets_the_lines_and_stays_a_pipe(tmp_path: Path) -> None:
    export, config = _export(tmp_path)
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    received: list[bytes] = []

    def read() -> None:
        with open(pipe, "rb") as fh:
            received.append(fh.read())

    reader = threading.Thread(target=read)
    reader.start()
    done = _annoconvert(str(export), "--label-config", str(config), "-o", str(pipe), "-q")
    reader.join(timeout=60)
    assert done.returncode == 0, done.stderr
    assert stat.S_ISFIFO(os.stat(pipe).st_mode)
    assert _answers(received[0]) == TASKS
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".pipe")]  # no leftovers


@pytest.mark.parametrize("output", ["-", "pipe"])
def test_dedupe_and_dropped_conflicts_reach_a_stream(tmp_path: Path, output: str) -> None:
    """Before, the lines went to stdout at once and the run ended in an internal error,
    because a stream cannot take back the lines `--dedupe` and `--conflicts drop` leave out."""
    export, config = _export(tmp_path)
    received: list[bytes] = []
    reader = None
    if output == "pipe":
        pipe = tmp_path / "pipe"
        os.mkfifo(pipe)
        output = str(pipe)

        def read() -> None:
            with open(pipe, "rb") as fh:
                received.append(fh.read())

        reader = threading.Thread(target=read)
        reader.start()
    flags = ("--dedupe", "--conflicts", "drop")
    done = _annoconvert(str(export), "--label-config", str(config), *flags, "-o", output)
    if reader is not None:
        reader.join(timeout=60)
    assert done.returncode == 0, done.stderr
    lines = received[0] if reader is not None else done.stdout
    assert _answers(lines) == [("hello", "positive")]
    assert b"internal error" not in done.stderr
    assert b"rejected 1 duplicate_example: tasks 2" in done.stderr


def test_split_files_need_a_file_not_a_stream(tmp_path: Path) -> None:
    export, config = _export(tmp_path)
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    done = _annoconvert(
        str(export), "--label-config", str(config), "--split", "train=0.5,val=0.5", "-o", str(pipe)
    )
    assert done.returncode != 0
    assert b"--split needs -o FILE" in done.stderr
    assert stat.S_ISFIFO(os.stat(pipe).st_mode)
