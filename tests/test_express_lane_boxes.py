"""The express lane for box projects writes what the general path writes, or stands aside.

As in test_express_lane.py, every export is converted with the lane and without it, and the
bytes, counts, rejects and warnings must match. Here the lane runs in `--image-mode reference`
(the image's URI as the export gives it, no file opened); test_express_lane_embed.py has it
embed the images.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from annoconvert import express
from annoconvert.options import Options
from annoconvert.readers import labelstudio
from annoconvert.readers.labelstudio_config import parse_label_config
from annoconvert.readers.labelstudio_express import rectangle_detection
from tests.conftest import corpus_path
from tests.test_express_lane import _both, both_split, repeated_export

CONFIG = """<View>
  <Image name="image" value="$image"/>
  <RectangleLabels name="label" toName="image">
    <Label value="scratch"/><Label value="dent"/><Label value="paint chip"/>
  </RectangleLabels>
</View>
"""
LABELS = ["scratch", "dent", "paint chip"]
REFERENCE = {"image_mode": "reference"}


def _box(i: int, k: int, **value: Any) -> dict[str, Any]:
    v: dict[str, Any] = {
        "x": (i * 7 + k * 13) % 80 + 0.3125,
        "y": (i * 11 + k * 5) % 70 + 1 / 3,
        "width": 5 + (i + k) % 15 + 0.1,
        "height": 4 + (i * k) % 20 + 2 / 3,
        "rotation": 0,
        "rectanglelabels": [LABELS[(i + k) % 3]],
    }
    v.update(value)
    return {
        "original_width": 640,
        "original_height": 480,
        "image_rotation": 0,
        "value": v,
        "id": f"r{i}_{k}",
        "from_name": "label",
        "to_name": "image",
        "type": "rectanglelabels",
        "origin": "manual",
    }


def _annotation(results: list[dict[str, Any]], by: int = 1) -> dict[str, Any]:
    return {"id": by, "completed_by": by, "result": results, "was_cancelled": False}


ODD = {3, 5, 7, 9, 11, 13, 15, 17, 21, 23, 25, 27, 35}
"""Cases of `_task` that are not the lane's shape (the others are, 19/29/31/33/37/39 included:
33 is an image with no box)."""


def _task(i: int) -> dict[str, Any]:
    boxes = [_box(i, k) for k in range(1 + i % 4)]
    image = f"/data/upload/1/{i:08x}-img_{i}.jpg" if i % 2 else f"https://cdn.example/a b/{i}.jpg"
    task: dict[str, Any] = {"id": i, "data": {"image": image}, "annotations": []}
    odd = i % 40
    if odd == 3:
        task["annotations"].append(_annotation([_box(i, 9)], by=2))
    elif odd == 5:
        task["annotations"].append({**_annotation(boxes), "was_cancelled": True})
        boxes = [_box(i, 8)]
    elif odd == 7:
        task["predictions"] = [{"result": [_box(i, 7)], "score": 0.5}]
    elif odd == 9:
        boxes[0]["score"] = 0.9
    elif odd == 11:
        boxes.append({**_box(i, 5), "original_width": 1280, "original_height": 960})
    elif odd == 13:
        boxes[0]["value"]["rectanglelabels"] = ["cat"]
    elif odd == 15:
        boxes[0]["value"]["rectanglelabels"] = ["scratch", "dent"]
    elif odd == 17:
        boxes[0]["value"]["width"] = 0
    elif odd == 19:
        boxes[0]["value"]["rotation"] = 30
    elif odd == 21:
        boxes[0]["value"]["x"] = "10"
    elif odd == 23:
        task["id"] = f"task-{i}"
    elif odd == 25:
        del boxes[0]["original_width"]
    elif odd == 27:
        task["data"]["image"] = ""
    elif odd == 29:
        boxes[0]["value"].update(x=95.0, width=20.0)
    elif odd == 31:
        boxes[0]["id"] = 7
    elif odd == 33:
        boxes = []
    elif odd == 35:
        boxes[0]["value"]["meta"] = {"text": ["note"]}
    elif odd == 37:
        task["data"]["image"] = "/data/upload/1/00000001-img_1.jpg"
    elif odd == 39:
        for box in boxes:
            box["image_rotation"] = 90
    task["annotations"].insert(0, _annotation(boxes))
    return task


def _export(tmp_path: Path, tasks: list[dict[str, Any]]) -> tuple[Path, Path]:
    export = tmp_path / "export.json"
    export.write_text(json.dumps(tasks, ensure_ascii=False), encoding="utf-8")
    cfg = tmp_path / "config.xml"
    cfg.write_text(CONFIG, encoding="utf-8")
    return export, cfg


def test_the_box_lane_writes_the_general_paths_bytes_counts_and_rejects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    export, cfg = _export(tmp_path, [_task(i) for i in range(1, 1201)])
    lanes, out = _both(tmp_path, monkeypatch, export, label_config=str(cfg), **REFERENCE)
    (lane,) = lanes
    assert lane is not None and lane.open
    assert lane.lines == sum(1 for i in range(201, 1201) if i % 40 not in ODD)
    assert len(out.splitlines()) > lane.lines


def test_without_a_config_the_box_lane_takes_any_label_and_writes_the_general_paths_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the labeling config the reader takes the image from `data["image"]` and its
    size from the boxes, and declares no label: the lane takes case 13's undeclared "cat"."""
    export, _ = _export(tmp_path, [_task(i) for i in range(1, 1201)])
    lanes, out = _both(tmp_path, monkeypatch, export, **REFERENCE)
    (lane,) = lanes
    assert lane is not None and lane.open
    assert lane.lines == sum(1 for i in range(201, 1201) if i % 40 not in ODD - {13})
    assert len(out.splitlines()) > lane.lines


def test_without_a_config_a_box_task_with_a_text_or_a_list_goes_the_general_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a config the reader makes `data["text"]` the user's prompt and reads a list as
    dialogue turns: such box tasks (after the sample, every third) go the general way."""
    tasks = [_task(i) for i in range(1, 801) if i % 40 not in ODD]
    for n in range(300, len(tasks), 3):
        odd = {"text": f"caption {n}"} if n % 2 else {"turns": [{"author": "a", "text": "hi"}]}
        tasks[n]["data"].update(odd)
    export, _ = _export(tmp_path, tasks)
    lanes, out = _both(tmp_path, monkeypatch, export, **REFERENCE)
    (lane,) = lanes
    assert lane is not None and lane.open
    assert lane.lines == sum(1 for t in tasks[200:] if set(t["data"]) == {"image"})
    assert lane.lines < len(tasks) - 200
    assert b'{"type":"text","text":"caption 303"}' in out


@pytest.mark.parametrize("with_config", [True, False])
def test_under_split_the_box_lane_tells_each_line_s_image(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, with_config: bool
) -> None:
    """`--split` keeps an image in one split (case 37 repeats image 1's URI)."""
    export, cfg = _export(tmp_path, [_task(i) for i in range(1, 801)])
    config = {"label_config": str(cfg)} if with_config else {}
    lanes = both_split(
        tmp_path, monkeypatch, export, split="train=0.8,test=0.2", **config, **REFERENCE
    )
    (lane,) = lanes
    assert lane is not None and lane.open
    odd = ODD if with_config else ODD - {13}
    assert lane.lines == sum(1 for i in range(201, 801) if i % 40 not in odd)


LANE_CLOSERS: list[dict[str, Any]] = [
    {**REFERENCE, "prompt": "Find the defects in image {id}."},
    {**REFERENCE, "system": "Find the defects in image {id}."},
    {**REFERENCE, "dialect": "vertex", "image_uri_prefix": "gs://bucket/data"},
    {"image_mode": "placeholder"},
]
"""Options that shape a detection line in a way no lane writes: the general path runs."""


@pytest.mark.parametrize("options", LANE_CLOSERS)
def test_options_the_box_lane_does_not_take_keep_the_general_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, options: dict[str, Any]
) -> None:
    tasks = [_task(i) for i in range(1, 301) if i % 40 not in ODD]
    export, cfg = _export(tmp_path, tasks)
    images = tmp_path / "images"
    images.mkdir()
    lanes, _ = _both(
        tmp_path, monkeypatch, export, label_config=str(cfg), images_root=[str(images)], **options
    )
    assert lanes == [None]


BOX_OPTIONS: list[dict[str, Any]] = [
    {**REFERENCE, "image_detail": "low"},
    {**REFERENCE, "box_format": "xyxy-px"},
    {**REFERENCE, "box_format": "qwen2.5-vl"},
    {**REFERENCE, "box_order": "source"},
    {**REFERENCE, "box_format": "qwen3-vl", "box_order": "source", "image_detail": "high"},
    {**REFERENCE, "labels": {"dent": "bump", "paint chip": "chip"}},
    {**REFERENCE, "annotators": "majority"},
    {**REFERENCE, "max_image_side": 320, "image_format": "png"},  # read by no path here
    {**REFERENCE, "prompt": "Find the defects."},
    {**REFERENCE, "system": "You find defects. Answer with a JSON list {{box_2d, label}}."},
]
"""Options the box lanes take: the answer is `format_boxes`'s in any format and order, with
the labels renamed; the image's `detail`, and a system message or prompt that names no
value, are the same on every line (the layout holds them)."""


@pytest.mark.parametrize("options", BOX_OPTIONS)
def test_box_formats_orders_and_image_detail_keep_the_box_lane(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, options: dict[str, Any]
) -> None:
    export, cfg = _export(tmp_path, [_task(i) for i in range(1, 601)])
    lanes, out = _both(tmp_path, monkeypatch, export, label_config=str(cfg), **options)
    (lane,) = lanes
    assert lane is not None and lane.open
    # case 33 has no box and so no recorded size, which a pixel format needs: the media
    # pipeline reads the file's header, for the lane as for the general path (not there here)
    pixels = options.get("box_format") in ("xyxy-px", "xywh-px", "qwen2.5-vl")
    odd = ODD | {33} if pixels else ODD
    assert lane.lines == sum(1 for i in range(201, 601) if i % 40 not in odd)
    assert (b'"detail":' in out) == ("image_detail" in options)
    assert (b"Find the defects." in out) == ("prompt" in options)


def uploads(folder: Path, data: Callable[[int], bytes]) -> None:
    """Label Studio's upload files of the odd tasks of `_task`'s 700, every seventh left out
    (its task is rejected: the image is not there)."""
    folder.mkdir(parents=True)
    for i in range(1, 701, 2):
        if i % 7:
            (folder / f"{i:08x}-img_{i}.jpg").write_bytes(data(i))


def test_under_a_uri_prefix_the_box_lane_writes_the_general_paths_uris_and_rejects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--image-uri-prefix` writes each local image's file under the prefix, which the lane
    gets from the general path's media preparation: the same URIs, the same rejects for the
    images that are not there (every seventh), remote URIs left as they are."""
    tasks = [_task(i) for i in range(1, 701)]
    export, cfg = _export(tmp_path, tasks)
    uploads(tmp_path / "images" / "upload", lambda i: b"not read in reference mode")
    lanes, out = _both(
        tmp_path,
        monkeypatch,
        export,
        label_config=str(cfg),
        images_root=[str(tmp_path / "images")],
        image_uri_prefix="https://bucket.example/data/",
        **REFERENCE,
    )
    (lane,) = lanes
    assert lane is not None and lane.open
    assert lane.lines > 300
    urls = [
        json.loads(line)["messages"][1]["content"][1]["image_url"]["url"]
        for line in out.splitlines()
    ]
    assert "https://bucket.example/data/upload/0000006d-img_109.jpg" in urls
    assert "https://cdn.example/a b/100.jpg" in urls
    assert not any(f"img_{i}.jpg" in u for u in urls for i in range(7, 701, 14))


def test_a_config_with_more_than_one_box_control_has_no_box_lane(tmp_path: Path) -> None:
    cfg = tmp_path / "two.xml"
    cfg.write_text(
        CONFIG.replace(
            "</View>", '<Choices name="q" toName="image"><Choice value="ok"/></Choices></View>'
        ),
        encoding="utf-8",
    )
    assert rectangle_detection(parse_label_config(str(cfg)), Options(), express.Switch()) is None


def test_a_real_label_studio_box_export_takes_the_lane(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The corpus's object-detection export as Label Studio wrote it, its tasks repeated to
    400 with new ids, each with its first annotation only (two annotators go the general
    way, through the annotator policy)."""
    folder = corpus_path("labelstudio", "g_object_detection")
    export = repeated_export(folder / "JSON.json", tmp_path)
    lanes, out = _both(
        tmp_path, monkeypatch, export, label_config=str(folder / "config.xml"), **REFERENCE
    )
    (lane,) = lanes
    assert lane is not None and lane.lines == 200
    assert len(out.splitlines()) == 400
    lanes, out = _both(tmp_path, monkeypatch, export, **REFERENCE)  # and without its config
    (lane,) = lanes
    assert lane is not None and lane.lines == 200
    assert len(out.splitlines()) == 400


def test_a_box_lane_that_disagrees_with_the_general_path_closes_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = labelstudio.rectangle_detection

    def wrong(config: Any, options: Options, switch: express.Switch) -> express.Extract | None:
        extract = real(config, options, switch)
        assert extract is not None

        def lying(item: Any) -> tuple[int | str, tuple[str, ...], Any] | None:
            found = extract(item)
            return None if found is None else (found[0], (found[1][0], "[]"), found[2])

        return lying

    monkeypatch.setattr(labelstudio, "rectangle_detection", wrong)
    export, cfg = _export(tmp_path, [_task(i) for i in range(1, 601)])
    lanes, _ = _both(tmp_path, monkeypatch, export, label_config=str(cfg), **REFERENCE)
    (lane,) = lanes
    assert lane is not None and not lane.open
    assert lane.lines <= 1  # a task with no box may pass the check
