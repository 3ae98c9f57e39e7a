"""A full disk (or any failing write) stops a run with one line naming where, exit 1, and no
output: for the output itself, for the run's temporary files, and inside the checker process,
whose failure the converting process reports."""

from __future__ import annotations

import errno
import os
import signal
import tempfile
from pathlib import Path
from typing import IO, Any

import pytest
from click.testing import CliRunner

from annoconvert.cli import main
from annoconvert.errors import AnnoconvertError
from annoconvert.quality import background, key_store
from annoconvert.quality.background import BackgroundChecks
from annoconvert.quality.key_store import KeyStore
from annoconvert.writers import sink as sink_module

FULL = "No space left on device"


class _FullFile:
    """A binary file whose writes fail as on a full disk; the rest goes to a real file."""

    def __init__(self, real: IO[bytes]) -> None:
        self._real = real

    def write(self, data: Any) -> int:
        raise OSError(errno.ENOSPC, FULL)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def __enter__(self) -> _FullFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self._real.close()


def _doccano(tmp_path: Path, lines: int) -> Path:
    path = tmp_path / "all.jsonl"
    path.write_text(
        "".join(f'{{"id": {i}, "text": "text {i}", "label": ["a"]}}\n' for i in range(lines)),
        encoding="utf-8",
    )
    return path


def test_a_full_output_disk_names_the_output_and_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_temp_beside = sink_module.temp_beside

    def full(target: Any, suffix: str = ".part") -> tuple[Any, str]:
        fh, tmp = real_temp_beside(target, suffix)
        return _FullFile(fh), tmp

    monkeypatch.setattr(sink_module, "temp_beside", full)
    out = tmp_path / "out" / "train.jsonl"
    result = CliRunner().invoke(main, ["doccano", str(_doccano(tmp_path, 10)), "-o", str(out)])
    assert result.exit_code == 1
    assert f"annoconvert: error: {out}: {FULL}" in result.output
    assert "Traceback" not in result.output
    assert list(out.parent.iterdir()) == []


def test_full_temporary_files_name_their_folder_and_how_to_move_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The consistency hashes spilled past `SPILL_LINES` go to a temporary file."""
    real = tempfile.TemporaryFile
    monkeypatch.setattr(tempfile, "TemporaryFile", lambda *a, **k: _FullFile(real(*a, **k)))
    monkeypatch.setattr(key_store, "SPILL_LINES", 4)
    keys = KeyStore()
    for n in range(3):
        keys.append(n, n, n)
    with pytest.raises(OSError, match=FULL) as raised:
        keys.append(3, 3, 3)
    assert raised.value.errno == errno.ENOSPC
    assert raised.value.filename == (
        f"{tempfile.gettempdir()} (the run's temporary files; TMPDIR sets the folder)"
    )


class _FailingChecks:
    """Stands in for LineChecks in the checker process: its third line fails with `error`."""

    def __init__(self, error: Exception | None) -> None:
        self.error = error
        self.lines = 0

    def check_line(self, raw: bytes) -> None:
        self.lines += 1
        if self.lines == 3 and self.error is not None:
            raise self.error

    def finish(self) -> str:
        return "findings"


def _checker(tmp_path: Path, checks: Any, monkeypatch: pytest.MonkeyPatch) -> BackgroundChecks:
    """A checker process following a file of five lines, with `checks` for its LineChecks."""
    path = tmp_path / "out.jsonl"
    path.write_bytes(b"{}\n" * 5)
    monkeypatch.setattr(background, "LineChecks", lambda *args: checks)
    return BackgroundChecks(str(path), None, "report", False)


@pytest.mark.parametrize(
    "error",
    [OSError(errno.ENOSPC, FULL, "/spill (the run's temporary files)"), KeyError("a bug")],
    ids=["full-disk", "bug"],
)
def test_what_stops_the_checker_is_raised_in_the_converting_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str], error: Any
) -> None:
    checks = _checker(tmp_path, _FailingChecks(error), monkeypatch)
    with pytest.raises(type(error)) as raised:
        checks.finish()
    assert str(raised.value) == str(error)
    assert "Traceback" not in capfd.readouterr().err  # the child printed nothing


def test_a_checker_that_was_killed_is_an_error_not_a_hang(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Stuck(_FailingChecks):
        def finish(self) -> str:
            os.kill(os.getpid(), signal.SIGKILL)  # the system's OOM killer, say
            return "never"

    checks = _checker(tmp_path, Stuck(None), monkeypatch)
    with pytest.raises(AnnoconvertError, match=r"line checks stopped .*exit code: -9"):
        checks.finish()


def test_the_checker_gives_its_findings_when_nothing_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks = _checker(tmp_path, _FailingChecks(None), monkeypatch)
    assert checks.finish() == "findings"


def test_a_file_written_whole_names_itself_on_a_full_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`write_atomic` (copied images, the HTML preview): the target's name, no partial file."""
    from annoconvert import atomic

    real_temp_beside = atomic.temp_beside
    monkeypatch.setattr(
        atomic,
        "temp_beside",
        lambda *a: (lambda fh, tmp: (_FullFile(fh), tmp))(*real_temp_beside(*a)),
    )
    target = tmp_path / "images" / "a.jpg"
    with pytest.raises(OSError, match=FULL) as raised:
        atomic.write_atomic(target, b"\xff\xd8")
    assert raised.value.filename == str(target)
    assert list(target.parent.iterdir()) == []
