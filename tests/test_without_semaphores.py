"""Systems without POSIX semaphores (AWS Lambda, containers without /dev/shm): every lock of
`multiprocessing` fails there with ENOSYS. The checker process needs none (it is told by a
pipe that the file is complete), and a worker pool that cannot start leaves the pixel work to
the converting process, with one warning, instead of stopping the run."""

from __future__ import annotations

import multiprocessing
import multiprocessing.synchronize
from pathlib import Path

import pytest

from annoconvert import pipeline
from annoconvert.options import Options
from tests.test_media_pool_start import coco_export


@pytest.fixture
def no_semaphores(monkeypatch: pytest.MonkeyPatch) -> None:
    def unavailable(self: object, *args: object, **kwargs: object) -> None:
        raise OSError(38, "Function not implemented")

    monkeypatch.setattr(multiprocessing.synchronize.SemLock, "__init__", unavailable)
    with pytest.raises(OSError):
        multiprocessing.Lock()  # the fixture breaks what it says


def test_the_checker_process_runs_without_semaphores(tmp_path: Path, no_semaphores: None) -> None:
    folder = coco_export(tmp_path / "export")
    out = tmp_path / "train.jsonl"
    stats = pipeline.run("coco", [str(folder)], Options(image_mode="reference"), str(out))
    assert stats.written == 4 and not stats.rejects
    assert len(out.read_bytes().splitlines()) == 4
    codes = [w.code for w in stats.warnings]
    assert "validate:too_few_examples" in codes  # the checks ran: 4 lines, the preset wants 10
    assert "validate:invalid_image_url" in codes  # and read every line's image part


def test_resizing_with_two_workers_falls_back_to_this_process(
    tmp_path: Path, no_semaphores: None
) -> None:
    folder = coco_export(tmp_path / "export")
    out, alone = tmp_path / "two.jsonl", tmp_path / "one.jsonl"
    stats = pipeline.run("coco", [str(folder)], Options(workers=2, max_image_side=32), str(out))
    assert stats.written == 4 and not stats.rejects
    unavailable = [w for w in stats.warnings if w.code == "workers_unavailable"]
    assert len(unavailable) == 1
    assert "--workers 2" in unavailable[0].message
    assert "Function not implemented" in unavailable[0].message
    assert unavailable[0].task == 1
    pipeline.run("coco", [str(folder)], Options(workers=1, max_image_side=32), str(alone))
    assert out.read_bytes() == alone.read_bytes()
