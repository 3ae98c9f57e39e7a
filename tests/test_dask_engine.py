"""The Dask engine writes what the local engine writes: same lines, rejects and counts.

One `distributed.LocalCluster` (2 worker processes, loopback only) serves the whole module.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import distributed
import pytest

from annoconvert.dask import (
    IMAGE_BATCH,
    PIXEL_BATCH,
    TEXT_BATCH,
    batch_size_for,
    run_dask,
    shard_path,
)
from annoconvert.errors import StopRun
from annoconvert.options import build_options
from annoconvert.pipeline import RunStats, run
from tests.conftest import SENTIMENT_CONFIG, corpus_path

LABELS = ("positive", "negative", "neutral")
CONFIG = SENTIMENT_CONFIG
TASK = (
    '{{"id":{id},"annotations":[{annotations}],"predictions":[],"data":{{"text":"{text}"}},'
    '"meta":{{}},"created_at":"2026-01-05T09:00:00Z","updated_at":"2026-01-05T10:00:00Z",'
    '"project":1}}'
)
ANNOTATION = (
    '{{"id":{id},"completed_by":1,"result":[{{"value":{{"choices":["{label}"]}},"id":"c{id}",'
    '"from_name":"sentiment","to_name":"text","type":"choices","origin":"manual"}}],'
    '"was_cancelled":false,"ground_truth":false,"created_at":"2026-01-05T10:00:00Z",'
    '"updated_at":"2026-01-05T10:00:00Z","lead_time":4.5}}'
)


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


def make_export(path: Path, n: int) -> Path:
    """A Label Studio export of `n` tasks with every kind of trouble a run meets.

    Every 97th task has no annotation (rejected: not_annotated), every 89th an undeclared
    label (rejected by the reader), and every 50th repeats task 1's text with another label
    (a conflict).
    """
    items = []
    for i in range(1, n + 1):
        label = LABELS[i % 3]
        text = f"review number {i} says the room was {'clean' if i % 2 else 'noisy'}"
        if i % 50 == 0:
            text = "review number 1 says the room was clean"
        if i % 89 == 0:
            label = "furious"
        annotations = "" if i % 97 == 0 else ANNOTATION.format(id=i, label=label)
        items.append(TASK.format(id=i, annotations=annotations, text=text))
    path.write_text("[" + ",\n".join(items) + "]", encoding="utf-8")
    (path.parent / "config.xml").write_text(CONFIG, encoding="utf-8")
    return path


def both(
    client: Any, tmp_path: Path, inputs: list[str], batch_size: int | None = None, **opts: Any
) -> tuple[RunStats, RunStats, Path, Path]:
    """Run the local and the Dask engine on the same input and options."""
    local_out, dask_out = tmp_path / "local.jsonl", tmp_path / "dask.jsonl"
    options = build_options(**opts)
    local = run("labelstudio", inputs, options, str(local_out))
    remote = run_dask(
        "labelstudio", inputs, options, str(dask_out), client=client, batch_size=batch_size
    )
    return local, remote, local_out, dask_out


def python(*args: str) -> subprocess.CompletedProcess[str]:
    """This checkout's Python in a fresh process (its own local cluster, or a client of the
    module's)."""
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
        check=False,
    )


def same_stats(a: RunStats, b: RunStats) -> None:
    assert (b.read, b.written, b.tasks_written, b.rejected, b.disagreed) == (
        a.read,
        a.written,
        a.tasks_written,
        a.rejected,
        a.disagreed,
    )
    assert [r.as_dict() for r in b.rejects] == [r.as_dict() for r in a.rejects]
    assert b.recipe == a.recipe
    assert sorted(w.code for w in b.warnings) == sorted(w.code for w in a.warnings)


def test_corpus_export_same_lines(client: Any, tmp_path: Path) -> None:
    export = corpus_path("labelstudio", "a_text_classification", "JSON.json")
    local, remote, a, b = both(client, tmp_path, [str(export)])
    assert b.read_bytes().splitlines() == a.read_bytes().splitlines()
    assert remote.written == 8
    same_stats(local, remote)


def test_corpus_detection_with_embedded_images(client: Any, tmp_path: Path) -> None:
    folder = corpus_path("labelstudio", "g_object_detection")
    local, remote, a, b = both(
        client, tmp_path, [str(folder / "JSON.json")], images_root=(str(folder / "images"),)
    )
    lines = b.read_bytes().splitlines()
    assert lines == a.read_bytes().splitlines()
    assert b"data:image/" in lines[0]
    same_stats(local, remote)


def test_corpus_detection_resized_across_batches(client: Any, tmp_path: Path) -> None:
    """Pixel work on the workers, two images a batch: the local engine's lines, in order."""
    folder = corpus_path("labelstudio", "g_object_detection")
    options = {"images_root": (str(folder / "images"),), "max_image_side": 64}
    local, remote, a, b = both(
        client, tmp_path, [str(folder / "JSON.json")], batch_size=2, **options
    )
    lines = b.read_bytes().splitlines()
    assert lines == a.read_bytes().splitlines()
    assert len(lines) > 2 and all(b"data:image/" in line for line in lines)
    same_stats(local, remote)


def test_a_batch_is_many_cheap_tasks_or_a_few_costly_ones() -> None:
    assert batch_size_for(build_options(), needs_images=False) == TEXT_BATCH
    assert batch_size_for(build_options(), needs_images=True) == IMAGE_BATCH
    for pixels in ({"image_format": "png"}, {"max_image_side": 512}):
        assert batch_size_for(build_options(**pixels), needs_images=True) == PIXEL_BATCH
        reference = build_options(image_mode="reference", **pixels)
        assert batch_size_for(reference, needs_images=True) == IMAGE_BATCH
    assert TEXT_BATCH > IMAGE_BATCH > PIXEL_BATCH


@pytest.mark.parametrize("conflicts", ["report", "drop"])
def test_generated_2k_export_across_batches(client: Any, tmp_path: Path, conflicts: str) -> None:
    export = make_export(tmp_path / "export.json", 2000)
    local, remote, a, b = both(
        client,
        tmp_path,
        [str(export)],
        batch_size=300,
        label_config=str(tmp_path / "config.xml"),
        conflicts=conflicts,
    )
    assert b.read_bytes().splitlines() == a.read_bytes().splitlines()
    same_stats(local, remote)
    codes = remote.codes()
    assert codes["not_annotated"] == 2000 // 97
    assert codes["undeclared_label"] == 2000 // 89
    if conflicts == "drop":
        assert codes["conflicting_answers"] > 0
    assert remote.read == 2000
    assert remote.read == remote.rejected + remote.tasks_written


def test_shards_hold_the_same_lines_in_order(client: Any, tmp_path: Path) -> None:
    export = make_export(tmp_path / "export.json", 2000)
    options = build_options(
        label_config=str(tmp_path / "config.xml"), shard_size=700, conflicts="keep"
    )
    out = tmp_path / "out" / "train.jsonl"
    stats = run_dask("labelstudio", [str(export)], options, str(out), client=client)
    expected = [shard_path(str(out), i) for i in range(3)]
    assert stats.files == expected
    assert [Path(p).name for p in expected] == [
        "train-00000.jsonl",
        "train-00001.jsonl",
        "train-00002.jsonl",
    ]
    lines = [line for p in expected for line in Path(p).read_bytes().splitlines()]
    assert [len(Path(p).read_bytes().splitlines()) for p in expected] == [
        700,
        700,
        len(lines) - 1400,
    ]
    single = tmp_path / "single.jsonl"
    run("labelstudio", [str(export)], options.model_copy(update={"shard_size": None}), str(single))
    assert lines == single.read_bytes().splitlines()
    assert not out.exists()


def test_on_error_fail_leaves_nothing(client: Any, tmp_path: Path) -> None:
    export = make_export(tmp_path / "export.json", 400)
    options = build_options(label_config=str(tmp_path / "config.xml"), on_error="fail")
    out = tmp_path / "out.jsonl"
    with pytest.raises(StopRun, match=r"furious|no annotation"):
        run_dask("labelstudio", [str(export)], options, str(out), client=client, batch_size=50)
    assert list(tmp_path.glob("out*")) == []


def test_cli_engine_dask_with_scheduler_address(client: Any, tmp_path: Path) -> None:
    export = corpus_path("labelstudio", "a_text_classification", "JSON.json")
    address = client.scheduler.address
    assert address.startswith("tcp://127.0.0.1:")
    out, rejects = tmp_path / "out.jsonl", tmp_path / "rejects.jsonl"
    proc = python(
        *("-m", "annoconvert", "labelstudio", str(export), "-o", str(out)),
        *("--engine", "dask", "--scheduler", address, "--rejects", str(rejects)),
    )
    assert proc.returncode == 0, proc.stderr
    assert "read 8 tasks; wrote 8 examples" in proc.stderr
    local = tmp_path / "local.jsonl"
    run("labelstudio", [str(export)], build_options(), str(local))
    assert out.read_bytes() == local.read_bytes()
    assert [json.loads(x) for x in rejects.read_text().splitlines()] == []


DRIVER = """
import sys
from annoconvert.dask import run_dask
from annoconvert.options import build_options
export, config, out, batch = sys.argv[1:]
options = build_options(label_config=config, conflicts="keep", quiet=True)
stats = run_dask("labelstudio", [export], options, out, batch_size=int(batch))
assert stats.written == stats.read, (stats.read, stats.written)
status = open("/proc/self/status").read()
print(int(status.split("VmHWM:")[1].split()[0]))
"""


def driver_peak_kib(export: Path, tmp_path: Path, batch: int) -> int:
    """The peak RSS (VmHWM, KiB) of a fresh driver process that converts `export` on its own
    local cluster (its workers are other processes, not counted)."""
    config, out = export.parent / "config.xml", tmp_path / f"{export.parent.name}.jsonl"
    proc = python("-c", DRIVER, *map(str, (export, config, out, batch)))
    assert proc.returncode == 0, proc.stderr
    return int(proc.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="VmHWM is Linux's")
def test_the_driver_keeps_no_batch_it_has_sent(tmp_path: Path) -> None:
    """40 batches of about 800 KB each peak like 6: Dask keeps its last messages for its
    developers, whole when under 1 MB, and a batch of tasks is one message; with its default
    length (1,000) the driver kept every batch (measured: about 165 MiB against 99; now 103
    against 97)."""
    text = "the room was clean and quiet, " * 130  # about 4 KB a task: 200 a batch
    small, large = tmp_path / "small", tmp_path / "large"
    for folder, n in ((small, 1200), (large, 8000)):
        folder.mkdir()
        items = [
            TASK.format(
                id=i, annotations=ANNOTATION.format(id=i, label=LABELS[i % 3]), text=f"{i} {text}"
            )
            for i in range(1, n + 1)
        ]
        (folder / "export.json").write_text("[" + ",\n".join(items) + "]", encoding="utf-8")
        (folder / "config.xml").write_text(CONFIG, encoding="utf-8")
    small_peak = driver_peak_kib(small / "export.json", tmp_path, 200)
    large_peak = driver_peak_kib(large / "export.json", tmp_path, 200)
    assert large_peak <= 1.3 * small_peak, (small_peak, large_peak)
