"""The ordered media stream: input order kept, errors in place, pool only when needed."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

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


def _counting(media: MediaPipeline) -> list[int]:
    """Count the jobs `media` submits to its pool: one entry (the job's size) per job."""
    jobs: list[int] = []
    real_pool = media.pool

    def counting_pool() -> Any:
        pool = real_pool()
        submit = pool.submit

        def counted(fn: Any, batch: list[Any]) -> Any:
            jobs.append(len(batch))
            return submit(fn, batch)

        pool.submit = counted  # type: ignore[method-assign]
        media.pool = lambda: pool  # type: ignore[method-assign]
        return pool

    media.pool = counting_pool  # type: ignore[method-assign]
    return jobs


SMALL = [URIS[1], URIS[2], URIS[4]]
"""Images that need pixel work at max side 800, all under POOL_MIN_PIXELS."""


def _prepared(media: MediaPipeline, items: list[tuple[int, str]]) -> list[tuple[int, Any]]:
    """Each item's images (size, MIME, bytes) in the order the media pipeline hands them on."""
    out = []
    with media:
        for item, images, _ in media.prepare_ordered(items, lambda it: [ImageRef(it[1])]):
            assert not isinstance(images, MediaError)
            out.append((item[0], [(i.width, i.height, i.mime, i.data) for i in images]))
    return out


def test_small_images_go_to_the_pool_in_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """One job per 640x480 resize costs more than the resize; POOL_BATCH images per job pay.
    (Every image goes to the pool here: the backlog rule has a test of its own.)"""
    monkeypatch.setattr(pool_module, "POOL_BACKLOG", 10**9)
    root = str(corpus_path("labelstudio", "g_object_detection", "images"))
    items = [(i, SMALL[i % 3]) for i in range(20)]
    media = MediaPipeline(Options(workers=2, max_image_side=800), [root])
    jobs = _counting(media)
    out = _prepared(media, items)
    assert jobs == [pool_module.POOL_BATCH, pool_module.POOL_BATCH, 20 - 2 * pool_module.POOL_BATCH]
    assert out == _run(1, items)  # same bytes, same order as in one process


def test_the_converting_process_prepares_images_while_the_pool_is_backlogged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`--workers 2` is this process and a pool of one: an image the pool has no room for
    (POOL_BACKLOG, here one image's work) is prepared here, in its place in the order."""
    monkeypatch.setattr(pool_module, "POOL_BACKLOG", 1)
    here: list[str] = []
    encode = pool_module.encode

    def encode_here(data: bytes, spec: Any, uri: str) -> Any:
        here.append(uri)
        return encode(data, spec, uri)

    monkeypatch.setattr(pool_module, "encode", encode_here)
    root = str(corpus_path("labelstudio", "g_object_detection", "images"))
    items = [(i, SMALL[i % 3]) for i in range(10)]
    media = MediaPipeline(Options(workers=2, max_image_side=800), [root])
    jobs = _counting(media)
    out = _prepared(media, items)
    assert jobs == [1]  # the first image waited in the open batch; the other nine ran here
    assert here == [SMALL[i % 3] for i in range(1, 10)]
    assert out == _run(1, items)  # same bytes, same order as in one process


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


def test_a_rejected_image_leaves_no_reference_cycle(tmp_path: Path) -> None:
    # the error's traceback held the frames that held its slot: 25 objects a rejected task
    # for the collector to find (0.55 s of a run that rejected 100k tasks)
    items = [(i, f"missing_{i}.jpg") for i in range(300)]
    gc.collect()
    gc.disable()
    try:
        with MediaPipeline(Options(workers=1), [str(tmp_path)]) as media:
            results = [r for _, r, _ in media.prepare_ordered(items, lambda it: [ImageRef(it[1])])]
        assert [r.code for r in results if isinstance(r, MediaError)] == ["missing_image"] * 300
        assert all(r.__traceback__ is None for r in results if isinstance(r, MediaError))
        del results
        assert gc.collect() < 50
    finally:
        gc.enable()


def _photos(folder: Path, n: int) -> list[str]:
    """`n` distinct 1500x1000 JPEGs: exactly POOL_MIN_PIXELS, so their pixel work is pooled."""
    names = []
    for i in range(n):
        img = Image.effect_noise((1500, 1000), 10 + i).convert("RGB")
        img.save(folder / f"p{i}.jpg", "JPEG", quality=80)
        names.append(f"p{i}.jpg")
    return names


def test_large_photos_go_to_the_pool_with_a_bounded_number_in_flight(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pool_module, "POOL_BACKLOG", 10**9)  # every photo to the pool
    assert pool_module.POOL_MIN_PIXELS <= 1500 * 1000
    names = _photos(tmp_path, 14)
    options = Options(workers=2, max_image_side=300)
    media = MediaPipeline(options, [str(tmp_path)])
    jobs = _counting(media)
    most_in_flight = 0
    pooled = []
    with media:
        for done, (name, images, _) in enumerate(
            media.prepare_ordered(names, lambda n: [ImageRef(n)])
        ):
            most_in_flight = max(most_in_flight, len(jobs) - done)
            assert not isinstance(images, MediaError)
            pooled.append((name, [(i.width, i.height, i.data) for i in images]))
    assert jobs == [1] * len(names)  # every photo's pixel work ran in the pool, one job each
    assert most_in_flight <= 4 * options.workers  # type: ignore[operator]
    with MediaPipeline(Options(workers=1, max_image_side=300), [str(tmp_path)]) as alone:
        one = [
            (name, [(i.width, i.height, i.data) for i in images])  # type: ignore[union-attr]
            for name, images, _ in alone.prepare_ordered(names, lambda n: [ImageRef(n)])
        ]
        assert alone._pool is None
    assert pooled == one  # same bytes, same order as in one process
    assert pooled[0][1][0][:2] == (300, 200)


def test_a_broken_image_in_a_batch_rejects_only_its_own_task(tmp_path: Path) -> None:
    """Small images share a worker job; one that cannot be decoded fails alone."""
    good = Image.effect_noise((640, 480), 20).convert("RGB")
    for i in range(5):
        good.save(tmp_path / f"g{i}.jpg", "JPEG", quality=85)
    whole = (tmp_path / "g0.jpg").read_bytes()
    (tmp_path / "broken.jpg").write_bytes(whole[: len(whole) // 3])  # header fine, data cut
    names = ["g0.jpg", "g1.jpg", "broken.jpg", "g2.jpg", "g3.jpg", "g4.jpg"]
    media = MediaPipeline(Options(workers=2, max_image_side=320), [str(tmp_path)])
    jobs = _counting(media)
    with media:
        got = [
            (name, images.code if isinstance(images, MediaError) else images[0].width)
            for name, images, _ in media.prepare_ordered(names, lambda n: [ImageRef(n)])
        ]
    assert jobs == [len(names)]  # one job held them all
    assert got == [(n, "unreadable_image" if n == "broken.jpg" else 320) for n in names]
