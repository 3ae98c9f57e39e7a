"""The ordered media stream: input order kept, errors in place, pool only when needed."""

from __future__ import annotations

from typing import Any

import pytest

from annoconvert.errors import MediaError
from annoconvert.media import MediaPipeline
from annoconvert.media import pool as pool_module
from annoconvert.model import ImageRef
from annoconvert.options import Options
from tests.conftest import corpus_path

URIS = [
    "/data/upload/13/e88b91ff-car_door_640x480.jpg",  # fast path at max side 800
    "/data/upload/13/584cba2a-bumper_1024x768.png",  # resized: pixel work
    "/data/upload/13/18c59e68-fender_exif6_640x480.jpg",  # EXIF: pixel work
    "missing.jpg",
    "/data/upload/13/9b33f9ce-hood_gray_800x600.png",  # grey: pixel work
    "/data/upload/13/abd7884e-roof_clean_320x240.jpg",  # fast path
]


def _run(workers: int, items: list[tuple[int, str]]) -> list[tuple[int, Any]]:
    root = str(corpus_path("labelstudio", "g_object_detection", "images"))
    options = Options(workers=workers, max_image_side=800)
    out: list[tuple[int, Any]] = []
    with MediaPipeline(options, [root]) as media:
        for item, images, _warnings in media.prepare_ordered(items, lambda it: [ImageRef(it[1])]):
            if isinstance(images, MediaError):
                out.append((item[0], images.code))
            else:
                out.append((item[0], [(i.width, i.height, i.mime, i.data) for i in images]))
    return out


def test_pool_output_order_equals_input_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pool_module, "POOL_MIN_PIXELS", 0)  # send even small images to the pool
    items = [(i, URIS[i % len(URIS)]) for i in range(30)]
    pooled = _run(2, items)
    assert [i for i, _ in pooled] == list(range(30))
    assert pooled == _run(1, items)
    assert pooled[3][1] == "missing_image"
    assert pooled[1][1][0][:2] == (800, 600)
    assert pooled[2][1][0][:2] == (480, 640)


def test_small_images_are_worked_on_in_process() -> None:
    """Re-encoding a 1024x768 PNG costs less than shipping it to a worker: no pool starts."""
    root = str(corpus_path("labelstudio", "g_object_detection", "images"))
    media = MediaPipeline(Options(workers=2, max_image_side=800), [root])
    results = list(media.prepare_ordered([[ImageRef(URIS[1])]], lambda r: r))
    assert results[0][1][0].width == 800  # type: ignore[index]
    assert media._pool is None
    media.close()


def test_no_pool_for_fast_path_images() -> None:
    root = str(corpus_path("labelstudio", "g_object_detection", "images"))
    media = MediaPipeline(Options(workers=2), [root])
    refs = [ImageRef(URIS[0]), ImageRef(URIS[5])]
    results = list(media.prepare_ordered([refs], lambda r: r))
    assert not isinstance(results[0][1], MediaError) and len(results[0][1]) == 2
    assert media._pool is None
    media.close()


def test_one_bad_image_rejects_only_its_task() -> None:
    items = [(0, URIS[1]), (1, "missing.jpg"), (2, URIS[2])]
    assert [r if isinstance(r, str) else "ok" for _, r in _run(2, items)] == [
        "ok",
        "missing_image",
        "ok",
    ]
