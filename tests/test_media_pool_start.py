"""When a run starts its image workers: when every image may need pixel work, as soon as the
checker process has forked (so that no thread of theirs is alive at that fork), and before
the first image, so that they load Pillow meanwhile; never when no pixel work can come; and
always stopped again, also when the export turns out to be bad."""

from __future__ import annotations

import json
import multiprocessing
import os
import threading
from pathlib import Path
from typing import Any

import orjson
import pytest
from PIL import Image

from annoconvert import pipeline
from annoconvert.errors import AnnoconvertError
from annoconvert.media import MediaPipeline
from annoconvert.media import pool as pool_module
from annoconvert.options import Options
from annoconvert.quality.background import BackgroundChecks
from annoconvert.readers import coco


def coco_export(root: Path, images: int = 4) -> Path:
    """A COCO folder of `images` 64x48 JPEGs, one box each."""
    (root / "images").mkdir(parents=True)
    (root / "annotations").mkdir()
    records, boxes = [], []
    for i in range(1, images + 1):
        Image.new("RGB", (64, 48), (40 * i % 256, 90, 160)).save(root / "images" / f"{i}.jpg")
        records.append({"id": i, "file_name": f"{i}.jpg", "width": 64, "height": 48})
        boxes.append({"id": i, "image_id": i, "category_id": 1, "bbox": [4, 6, 20, 10]})
    doc = {"images": records, "annotations": boxes, "categories": [{"id": 1, "name": "dent"}]}
    (root / "annotations" / "instances_default.json").write_text(json.dumps(doc))
    return root


def warm_up_logging_pid(parent: int) -> None:
    """A warm-up that notes which process ran it (module level: jobs are pickled)."""
    assert parent == os.getppid()
    with open(os.environ["WARM_UP_LOG"], "a") as fh:
        fh.write(f"{os.getpid()}\n")


def test_workers_start_after_the_checker_forks_and_warm_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No thread of the run is alive at any of its forks: a thread held at a fork may
    deadlock the child (Python 3.12 warns of it), and the pool's threads start with it."""
    events: list[str] = []
    before = set(multiprocessing.active_children())  # other tests' processes, if any
    threads_before = set(threading.enumerate())  # pytest-xdist's own, if any
    start_workers = MediaPipeline.start_workers
    load = coco._load
    fork = os.fork
    started_checker = BackgroundChecks.__init__
    threads_at_forks: list[set[str]] = []

    def starting(self: MediaPipeline) -> None:
        events.append("workers")
        start_workers(self)

    def reading(*args: Any, **kwargs: Any) -> Any:
        events.append("read")
        return load(*args, **kwargs)

    def checker(self: BackgroundChecks, *args: Any) -> None:
        events.append("checker")
        started_checker(self, *args)

    def forking() -> int:
        threads_at_forks.append({t.name for t in set(threading.enumerate()) - threads_before})
        return fork()

    log = tmp_path / "warm.log"
    monkeypatch.setattr(MediaPipeline, "start_workers", starting)
    monkeypatch.setattr(coco, "_load", reading)  # the annotation file's parse
    monkeypatch.setattr(BackgroundChecks, "__init__", checker)
    monkeypatch.setattr(os, "fork", forking)
    monkeypatch.setenv("WARM_UP_LOG", str(log))
    monkeypatch.setattr(pool_module, "warm_up", warm_up_logging_pid)
    folder = coco_export(tmp_path / "export")
    out = tmp_path / "train.jsonl"
    options = Options(workers=3, max_image_side=32)  # this process and a pool of two

    stats = pipeline.run("coco", [str(folder)], options, str(out))

    assert events == ["read", "checker", "workers"]
    assert threads_at_forks == [set(), set(), set()]  # the checker, then the pool's two
    pids = log.read_text().split()
    assert len(pids) == 2 and len(set(pids)) == 2 and str(os.getpid()) not in pids
    assert stats.written == 4 and not stats.rejects
    one_process = tmp_path / "one.jsonl"
    pipeline.run("coco", [str(folder)], Options(workers=1, max_image_side=32), str(one_process))
    assert out.read_bytes() == one_process.read_bytes()
    assert orjson.loads(out.read_bytes().splitlines()[0])["messages"][1]["content"]
    assert set(multiprocessing.active_children()) <= before


@pytest.mark.parametrize(
    "options",
    [
        Options(workers=1, max_image_side=32),  # pixel work, but in this process
        Options(workers=2),  # nothing asks for pixel work: the pool starts on first need
        Options(workers=2, max_image_side=32, image_mode="reference"),  # no pixels read
    ],
    ids=["one-worker", "no-pixel-options", "reference-mode"],
)
def test_no_early_workers_when_no_pixel_work_is_asked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, options: Options
) -> None:
    pools: list[int] = []
    pool = MediaPipeline.pool

    def counting(self: MediaPipeline) -> Any:
        pools.append(1)
        return pool(self)

    monkeypatch.setattr(MediaPipeline, "pool", counting)
    folder = coco_export(tmp_path / "export")
    stats = pipeline.run("coco", [str(folder)], options, str(tmp_path / "out.jsonl"))
    assert stats.written == 4
    assert pools == []


def test_a_bad_export_stops_the_early_workers(tmp_path: Path) -> None:
    before = set(multiprocessing.active_children())
    folder = coco_export(tmp_path / "export")
    (folder / "annotations" / "instances_default.json").write_text('{"images": [{"id": 1,')
    out = tmp_path / "train.jsonl"
    with pytest.raises(AnnoconvertError, match=r"instances_default\.json"):
        pipeline.run("coco", [str(folder)], Options(workers=2, max_image_side=32), str(out))
    assert set(multiprocessing.active_children()) <= before
    assert not out.exists()
