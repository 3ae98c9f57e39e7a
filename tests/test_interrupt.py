"""Atomic output and error policies: a killed or interrupted run never leaves a half file at -o.

A large Label Studio export is generated here (never committed); the run is a real
`python -m annoconvert` process, killed (SIGKILL) or interrupted (SIGINT) once its temporary
`.<name>.*.part` file appears beside the output (see writers/sink.py).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from annoconvert.cli import main

TASKS = 300_000
PREVIOUS = b'{"messages": "the previous run\'s file"}\n'


def _task(i: int, label: str = "positive") -> str:
    return json.dumps(
        {
            "id": i,
            "data": {"text": f"message number {i} about the service"},
            "annotations": [
                {
                    "completed_by": 1,
                    "result": [
                        {
                            "type": "choices",
                            "from_name": "sentiment",
                            "to_name": "text",
                            "value": {"choices": [label]},
                        }
                    ],
                }
            ],
        }
    )


@pytest.fixture(scope="module")
def big_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "export.json"
    with open(path, "w") as fh:
        fh.write("[")
        fh.write(",".join(_task(i, "positive" if i % 2 else "negative") for i in range(TASKS)))
        fh.write("]")
    return path


def _start(export: Path, out: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "ANNOCONVERT_DEBUG"}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "annoconvert",
            "labelstudio",
            str(export),
            "-o",
            str(out),
            "--recipe",
            "classification",
            "--no-validate",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )


def _wait_for_part(proc: subprocess.Popen[bytes], out: Path, timeout: float = 30) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        parts = list(out.parent.glob(f".{out.name}.*.part"))
        if parts and parts[0].stat().st_size > 0:
            return parts[0]
        if proc.poll() is not None:
            pytest.fail(f"the run ended before its temporary file appeared: {proc.returncode}")
        time.sleep(0.005)
    proc.kill()
    pytest.fail("no temporary .part file appeared beside the output")


def _processes_naming(path: Path) -> list[int]:
    """Live processes whose command line names `path` (the run and its checker process)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().split(") ", 1)[1][:1]
        except OSError:
            continue
        if str(path).encode() in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


def _no_leftovers(path: Path, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _processes_naming(path):
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("previous", [True, False], ids=["previous-file", "no-file"])
def test_sigkill_leaves_previous_file(big_export: Path, tmp_path: Path, previous: bool) -> None:
    out = tmp_path / "train.jsonl"
    if previous:
        out.write_bytes(PREVIOUS)
    proc = _start(big_export, out)
    _wait_for_part(proc, out)
    proc.kill()
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    if previous:
        assert out.read_bytes() == PREVIOUS
    else:
        assert not out.exists()
    # the checker process that follows the output leaves with the run, not later
    assert _no_leftovers(out), _processes_naming(out)


@pytest.mark.parametrize("previous", [True, False], ids=["previous-file", "no-file"])
def test_sigint_stops_cleanly(big_export: Path, tmp_path: Path, previous: bool) -> None:
    out = tmp_path / "train.jsonl"
    if previous:
        out.write_bytes(PREVIOUS)
    proc = _start(big_export, out)
    _wait_for_part(proc, out)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    stderr = err.decode()
    assert proc.returncode == 130, stderr
    assert _no_leftovers(out), _processes_naming(out)
    assert "Traceback" not in stderr
    assert "interrupted" in stderr.lower()
    assert stderr.strip().count("\n") == 0, stderr
    if previous:
        assert out.read_bytes() == PREVIOUS
    else:
        assert not out.exists()
    assert not list(tmp_path.glob("*.part")), "the temporary file was not removed"


# --- --on-error and --max-errors -------------------------------------------------------------


def _mixed_export(path: Path) -> None:
    """Tasks 1..8: 3 and 5 and 6 and 8 are bad (unknown result type)."""
    tasks = []
    for i in range(1, 9):
        task = json.loads(_task(i))
        if i in (3, 5, 6, 8):
            task["annotations"][0]["result"][0]["type"] = "hologram"
        tasks.append(task)
    path.write_text(json.dumps(tasks))


def _run(tmp_path: Path, *extra: str, previous: bool = False) -> tuple[int, str, Path, Path]:
    export = tmp_path / "export.json"
    _mixed_export(export)
    out = tmp_path / "out.jsonl"
    if previous:
        out.write_bytes(PREVIOUS)
    rejects = tmp_path / "rejects.jsonl"
    result = CliRunner().invoke(
        main,
        [
            "labelstudio",
            str(export),
            "-o",
            str(out),
            "--rejects",
            str(rejects),
            "--recipe",
            "classification",
            *extra,
        ],
    )
    assert "Traceback" not in result.stderr
    return result.exit_code, result.stderr, out, rejects


def test_on_error_skip_is_default(tmp_path: Path) -> None:
    code, _err, out, rejects = _run(tmp_path)
    assert code == 0
    assert len(out.read_text().splitlines()) == 4
    assert [json.loads(x)["task"] for x in rejects.read_text().splitlines()] == [3, 5, 6, 8]


@pytest.mark.parametrize("previous", [True, False])
def test_on_error_fail_stops_at_first_bad_task(tmp_path: Path, previous: bool) -> None:
    code, err, out, _rejects = _run(tmp_path, "--on-error", "fail", previous=previous)
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("annoconvert: error: "), err
    assert "tasks[2].annotations[0].result[0].type" in lines[0]  # the locator of task 3
    assert "unknown_result_type" in lines[0]
    assert "export.json" in lines[0]
    if previous:
        assert out.read_bytes() == PREVIOUS
    else:
        assert not out.exists()
    assert not list(tmp_path.glob(".*.part"))


def test_max_errors_stops_after_n(tmp_path: Path) -> None:
    code, err, out, _rejects = _run(tmp_path, "--max-errors", "2")
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("annoconvert: error: "), err
    assert "2" in lines[0] and "max-errors" in lines[0]
    assert "tasks[4]" in lines[0]  # the second bad task (id 5) is where it stopped
    assert not out.exists()


def test_max_errors_not_reached_completes(tmp_path: Path) -> None:
    code, _err, out, rejects = _run(tmp_path, "--max-errors", "5")
    assert code == 0
    assert len(out.read_text().splitlines()) == 4
    assert len(rejects.read_text().splitlines()) == 4
