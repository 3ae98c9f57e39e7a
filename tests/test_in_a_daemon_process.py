"""`annoconvert.convert` called from a worker of `multiprocessing.Pool` (or Celery's prefork
pool): such a daemonic process may not start children, so the checks run in it and the
images are prepared in it, with the same output as anywhere else."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

import annoconvert
from tests.test_media_pool_start import coco_export


def _convert(args: tuple[str, str, dict[str, Any]]) -> tuple[int, list[str]]:
    """Runs in the pool's worker: (lines written, warnings)."""
    folder, out, options = args
    result = annoconvert.convert("coco", folder, out, **options)
    return result.written, result.warnings


def _in_pool_worker(folder: Path, out: Path, **options: Any) -> tuple[int, list[str]]:
    with multiprocessing.get_context("fork").Pool(1) as pool:
        written, warnings = pool.apply(_convert, ((str(folder), str(out), options),))
    return written, warnings


def test_a_conversion_in_a_pool_worker_checks_its_lines_itself(tmp_path: Path) -> None:
    folder = coco_export(tmp_path / "export")
    written, warnings = _in_pool_worker(folder, tmp_path / "daemon.jsonl", image_mode="reference")
    assert written == 4
    assert any("needs at least 10" in w for w in warnings)  # the checks ran
    here = tmp_path / "here.jsonl"
    annoconvert.convert("coco", folder, here, image_mode="reference")
    assert (tmp_path / "daemon.jsonl").read_bytes() == here.read_bytes()


def test_image_workers_asked_for_in_a_pool_worker_are_this_process(tmp_path: Path) -> None:
    folder = coco_export(tmp_path / "export")
    written, warnings = _in_pool_worker(
        folder, tmp_path / "daemon.jsonl", workers=2, max_image_side=32
    )
    assert written == 4
    unavailable = [w for w in warnings if "may not start child processes" in w]
    assert len(unavailable) == 1 and unavailable[0].startswith("--workers 2: this process")
    here = tmp_path / "here.jsonl"
    annoconvert.convert("coco", folder, here, workers=1, max_image_side=32)
    assert (tmp_path / "daemon.jsonl").read_bytes() == here.read_bytes()
