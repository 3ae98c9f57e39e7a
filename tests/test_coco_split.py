"""A large COCO file's annotations are parsed by two processes: the same index as by one.

The helper's part is taken only when this process's own slices reach the helper's start; a
start inside a value, a helper that fails or is killed, and an array that ends before the
split all leave this process to read on by itself.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from annoconvert import forked
from annoconvert.errors import ParseError
from annoconvert.readers import coco
from tests.conftest import corpus_path
from tests.test_coco_streaming import _tasks


def _records(n: int, **extra: Any) -> list[dict[str, Any]]:
    """n records over n // 3 images, each image's records together; nested values included."""
    return [
        {
            "id": i + 1,
            "image_id": i // 3 + 1,
            "category_id": 1 + i % 2,
            "bbox": [i % 50, 2.5, 10, 20],
            "segmentation": [[1, 2, 3, 4, 5, 6]] if i % 4 == 0 else [],
            "area": 200,
            "iscrowd": 0,
            "attributes": {"occluded": i % 5 == 0, "note": "é😀"},
            **extra,
        }
        for i in range(n)
    ]


def _export(path: Path, anns: list[Any], **extra: Any) -> Path:
    ids = [a["image_id"] for a in anns if isinstance(a, dict) and type(a["image_id"]) is int]
    images = max(ids, default=0) + 2  # the last one without records
    doc = {
        "licenses": [{"id": 0, "name": ""}],
        "categories": [{"id": 1, "name": "car"}, {"id": 2, "name": "person"}],
        "images": [
            {"id": i, "file_name": f"{i:06d}.jpg", "width": 640, "height": 480}
            for i in range(1, images + 1)
        ],
        "annotations": anns,
        **extra,
    }
    folder = path / "annotations"
    folder.mkdir(parents=True)
    (folder / "instances_default.json").write_text(json.dumps(doc))
    return path


@pytest.fixture
def split(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bool]]:
    """Split every file (small slices, many cuts), and record what became of each helper's
    part: True taken, False not."""
    monkeypatch.setattr(coco, "SPLIT_FROM", 0)
    monkeypatch.setattr(coco, "CHUNK", 512)
    monkeypatch.setattr(forked, "can_fork", lambda: True)
    taken: list[bool] = []
    extend = coco._Annotations.extend

    def spy(self: coco._Annotations, *args: Any) -> bool:
        done = extend(self, *args)
        taken.append(done)
        return done

    monkeypatch.setattr(coco._Annotations, "extend", spy)
    yield taken


def _one_process(path: Path, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    with monkeypatch.context() as m:
        m.setattr(coco, "SPLIT_FROM", 1 << 60)
        return _tasks(path)


def test_two_processes_index_what_one_does(
    split: list[bool], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    anns: list[Any] = _records(600)
    anns[450].update(image_id=1, bbox=[32, 48, 5, 6])  # the first image's, in the helper's part
    anns[500]["image_id"] = "str-id"  # an id no image has, in the helper's part
    anns.insert(520, 7)  # an entry that is not an object
    path = _export(tmp_path, anns)
    expected = _one_process(path, monkeypatch)
    assert _tasks(path) == expected
    assert split == [True]  # the helper's part was taken
    first = json.loads(expected[0])  # type: ignore[arg-type]
    xy = [(r["x"], r["y"]) for r in first["annotations"][0]["regions"] if "x" in r]
    assert xy[-1] == (32 / 640, 48 / 480)  # after its own three records
    rejects = [t for t in expected if isinstance(t, dict)]
    assert [r["code"] for r in rejects] == ["unknown_image"]


def test_split_inside_a_value_is_read_by_this_process(
    split: list[bool], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The middle of the file falls in a long string that holds `},{`: the helper starts
    there, the slices of this process never meet it, and its part is not taken."""
    anns = _records(60)
    anns[30]["attributes"]["note"] = "},{" * 20_000
    path = _export(tmp_path, anns)
    expected = _one_process(path, monkeypatch)
    assert _tasks(path) == expected
    assert split == []


def test_array_ending_before_the_split(
    split: list[bool], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Objects after the annotations take most of the file: the split falls past them."""
    filler = [{"id": i, "name": f"license {i}"} for i in range(3000)]
    path = _export(tmp_path, _records(30), more=filler)
    expected = _one_process(path, monkeypatch)
    assert _tasks(path) == expected
    assert split == []


def _fails(raw: object, start: int) -> object:
    raise MemoryError  # in the child: it exits without a value


def _killed(raw: object, start: int) -> object:
    os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError("not reached")


@pytest.mark.parametrize("helper", [_fails, _killed], ids=["fails", "killed"])
def test_helper_that_fails_or_is_killed_leaves_the_work_to_this_process(
    helper: Any, split: list[bool], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _export(tmp_path, _records(600))
    expected = _one_process(path, monkeypatch)
    monkeypatch.setattr(coco, "_rest_of_array", helper)
    assert _tasks(path) == expected
    assert split == []


def test_payload_cut_short_is_not_taken(
    split: list[bool], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The child's header promises more than it sends: nothing of it is appended."""
    path = _export(tmp_path, _records(600))
    expected = _one_process(path, monkeypatch)
    monkeypatch.setattr(forked, "_HEAD", _LyingHead(forked._HEAD, 10))
    assert _tasks(path) == expected
    assert split == [False]


class _LyingHead:
    """A header that claims `extra` more payload bytes than the child writes."""

    def __init__(self, head: Any, extra: int) -> None:
        self.size, self._head, self._extra = head.size, head, extra

    def pack(self, value: int, payload: int) -> bytes:
        packed: bytes = self._head.pack(value, payload + self._extra)
        return packed

    def unpack(self, data: bytes) -> tuple[int, int]:
        value, payload = self._head.unpack(data)
        return value, payload


def test_bad_json_in_the_helpers_part_reads_as_without_it(
    split: list[bool], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _export(tmp_path, _records(600))
    file = path / "annotations" / "instances_default.json"
    text = file.read_bytes()
    at = text.index(b'"id": 550,')
    file.write_bytes(text[:at] + b'"id": 550,,' + text[at + 10 :])
    with monkeypatch.context() as m:
        m.setattr(coco, "SPLIT_FROM", 1 << 60)
        with pytest.raises(ParseError) as one:
            _tasks(path)
    with pytest.raises(ParseError) as two:
        _tasks(path)
    assert str(two.value) == str(one.value)
    assert split == []


# -- the forked call itself --


def _value_and_payload() -> tuple[dict[str, int], bytes]:
    return {"answer": 42}, bytes(range(256)) * 8192  # 2 MiB: more than the pipe holds


def test_forked_call_returns_value_and_payload() -> None:
    call = forked.ForkedCall(_value_and_payload)
    got = call.result()
    assert got is not None
    value, size = got
    assert value == {"answer": 42} and size == 256 * 8192
    buf = bytearray(size)
    assert call.read_payload(memoryview(buf))
    assert bytes(buf) == _value_and_payload()[1]
    call.close()  # nothing left to stop


def _fails() -> tuple[int, bytes]:
    raise ValueError("in the child")


def test_forked_call_failure_is_none() -> None:
    call = forked.ForkedCall(_fails)
    assert call.result() is None


def _sleeps() -> tuple[int, bytes]:
    time.sleep(60)
    return 0, b""


def test_close_stops_a_running_child() -> None:
    call = forked.ForkedCall(_sleeps)
    pid = call._pid
    assert pid is not None
    started = time.monotonic()
    call.close()
    assert time.monotonic() - started < 10
    with pytest.raises(ChildProcessError):  # reaped: no zombie left behind
        os.waitpid(pid, os.WNOHANG)


def test_no_fork_while_another_thread_runs() -> None:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert not forked.can_fork()
    finally:
        stop.set()
        thread.join()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 30), max_size=60), st.booleans())
def test_grouping_of_runs_is_a_stable_sort_by_image(images: list[int], in_order: bool) -> None:
    """Runs of records grouped by their image, in file order within one: also when the runs
    come in image order already (a slice's end cut some image's records in two)."""
    seen: dict[int, int] = {}  # image -> slot, numbered as the images first appear
    slots = [
        seen.setdefault(image, len(seen)) for image in (sorted(images) if in_order else images)
    ]
    runs, bounds = coco._group_runs(array("q", slots), len(seen))
    assert list(runs) == sorted(range(len(slots)), key=lambda run: slots[run])
    assert len(bounds) == len(seen) + 1 and bounds[-1] == len(slots)
    for slot in range(len(seen)):
        assert {slots[run] for run in runs[bounds[slot] : bounds[slot + 1]]} == {slot}


CORPUS = [
    "coco/datumaro/export_coco_instances",
    "coco/datumaro/export_coco_all_tasks",
    "coco/datumaro/export_coco_instances_segmode_mask",
    "coco/datumaro/converted_from_upstream_cvat_export_project",
    "coco/upstream/cocodataset-panopticapi/sample_data/panoptic_coco_detection_format.json",
]


@pytest.mark.parametrize("rel", CORPUS)
def test_real_exports_read_alike_with_the_helper(
    rel: str, split: list[bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Exports the real tools wrote (read in place): the same tasks with every annotation
    file split between two processes."""
    source = corpus_path(*rel.split("/"))
    expected = _one_process(source, monkeypatch)
    assert _tasks(source) == expected
    assert expected
    assert split and all(split)  # the helper's part was taken in every file it could be
