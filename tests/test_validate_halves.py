"""`validate` of a large file in two halves makes the report one pass makes: its counts, its
findings (the first 1,000 of each kind, numbered by line), its token distribution."""

from __future__ import annotations

import base64
import io
import os
import threading
from pathlib import Path

import orjson
import pytest
from PIL import Image

from annoconvert import forked
from annoconvert.quality import halves
from annoconvert.quality.validate import ValidationReport, validate_file, validate_lines


def _jpeg(shade: int) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 12), (shade, 40, 90)).save(buffer, "JPEG")
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


def _line(i: int) -> bytes:
    """Line i: good, or wrong in one of several ways, some with an image."""
    kind = i % 7
    user: object = f"text {i}"
    if kind in (1, 2):
        url = _jpeg(i % 256) if kind == 1 else "data:image/png;base64,bm90IGFuIGltYWdl"
        user = [{"type": "image_url", "image_url": {"url": url}}]
    messages = [
        {"role": "system", "content": "s"},
        {"role": "user", "content": user},
        {"role": "assistant", "content": "[]" if kind != 3 else "[[1, 2]]"},
    ]
    if kind == 4:
        return b'{"messages": [' + str(i).encode()  # not JSON
    if kind == 5:
        messages = messages[:2]  # no answer
    if kind == 6 and i % 5 == 0:
        messages[1]["content"] = "word " * 70_000  # over the token limit
    return orjson.dumps({"messages": messages})


def _file(tmp_path: Path, count: int, *, blank_at: int | None = None) -> Path:
    lines = [_line(i) for i in range(count)]
    if blank_at is not None:
        lines[blank_at] = b""
    path = tmp_path / "train.jsonl"
    path.write_bytes(b"\n".join(lines))  # no newline after the last line
    return path


def _one_pass(path: Path) -> ValidationReport:
    with path.open("rb") as handle:
        return validate_lines(handle)


@pytest.fixture
def in_halves(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(halves, "HALVES_FROM", 0)
    monkeypatch.setattr(forked, "can_fork", lambda: True)  # pytest-xdist's thread aside


@pytest.mark.usefixtures("in_halves")
@pytest.mark.parametrize("count", [2, 3, 700, 7_100])
def test_halves_make_the_report_of_one_pass(tmp_path: Path, count: int) -> None:
    path = _file(tmp_path, count, blank_at=count // 2 if count > 2 else None)
    halved = validate_file(path)
    assert halved == _one_pass(path)
    assert halved.lines == count
    if count == 7_100:  # past the 1,000 kept errors, in both halves
        assert halved.error_counts["invalid_json"] == 1_014
        assert len(halved.errors) == 1_000 and halved.errors[-1].line is not None
        assert halved.warning_counts["example_over_token_limit"] == len(range(6, 7_100, 35))


@pytest.mark.usefixtures("in_halves")
def test_a_child_that_fails_leaves_its_half_to_this_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fails(*_args: object) -> object:
        raise RuntimeError("the child stops")

    monkeypatch.setattr(halves, "_second_half", fails)
    path = _file(tmp_path, 300)
    assert validate_file(path) == _one_pass(path)


@pytest.mark.usefixtures("in_halves")
def test_a_file_of_one_line_is_checked_in_one_pass(tmp_path: Path) -> None:
    path = tmp_path / "one.jsonl"
    path.write_bytes(_line(0) + b"\n")
    with path.open("rb") as handle:
        assert halves.validate_in_halves(path, handle, "openai") is None
        assert handle.tell() == 0
    assert validate_file(path) == _one_pass(path)


@pytest.mark.usefixtures("in_halves")
def test_a_named_pipe_is_read_once_through(tmp_path: Path) -> None:
    """A pipe cannot seek: it is checked in one pass, as it comes."""
    path = _file(tmp_path, 50)
    pipe = tmp_path / "pipe.jsonl"
    os.mkfifo(pipe)
    content = path.read_bytes()
    writer = threading.Thread(target=pipe.write_bytes, args=(content,))
    writer.start()
    try:
        assert validate_file(pipe) == _one_pass(path)
    finally:
        writer.join()
