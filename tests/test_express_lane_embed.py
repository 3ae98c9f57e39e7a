"""The express lane with embedded images writes what the general path writes, in its order.

As in test_express_lane.py, every export is converted with the lane and without it, and the
bytes, counts, rejects and warnings must match. In embed mode the lane writes an image's data
URL when the image is embedded as it is found; an image that needs pixel work (an EXIF turn, a
CMYK JPEG), gives a warning (its recorded size is not its own) or cannot be used (missing,
truncated, not an image) sends its task the general way, and while that task waits for the
worker pool the lane's lines wait behind it, handed to the general path.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from annoconvert import express
from annoconvert.media import pool as media_pool
from tests.conftest import corpus_path
from tests.test_express_lane import _both
from tests.test_express_lane_boxes import ODD, uploads
from tests.test_express_lane_boxes import _export as box_export
from tests.test_express_lane_boxes import _task as box_task

SAMPLE = 200
"""Tasks read before the recipe is chosen and the lane opens (pipeline.AUTO_SAMPLE)."""
CATEGORIES = [{"id": 1, "name": "scratch"}, {"id": 2, "name": "dent"}]


def _jpeg(size: tuple[int, int], shade: int, mode: str = "RGB", **save: Any) -> bytes:
    buffer = io.BytesIO()
    colour: Any = (shade, 255 - shade, 90, 10) if mode == "CMYK" else (shade, 255 - shade, 90)
    Image.new(mode, size, colour).save(buffer, "JPEG", quality=80, **save)
    return buffer.getvalue()


def _turned(size: tuple[int, int], shade: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # stored on its side: the upright image is size turned
    return _jpeg(size, shade, exif=exif)


def _png(size: tuple[int, int], shade: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGBA", size, (shade, 20, 200, 128)).save(buffer, "PNG")
    return buffer.getvalue()


def _image_file(i: int) -> tuple[str, bytes | None, tuple[int, int]]:
    """(file name, bytes or None for no file, the size the export records) of image i; every
    40 images a run of odd ones."""
    size = (32 + i % 5, 24 + i % 3)
    shade = i % 256
    odd = i % 40
    if odd == 3:
        return f"turned_{i}.jpg", _turned(size, shade), (size[1], size[0])
    if odd == 5:
        return f"cmyk_{i}.jpg", _jpeg(size, shade, "CMYK"), size
    if odd == 7:
        return f"img_{i}.png", _png(size, shade), size
    if odd == 9:
        return f"img_{i}.jpg", _jpeg(size, shade), (640, 480)  # a warning: not its size
    if odd == 11:
        return f"missing_{i}.jpg", None, size
    if odd == 13:
        return f"cut_{i}.jpg", _jpeg(size, shade)[:300], size
    if odd == 15:
        return f"text_{i}.jpg", b"not an image", size
    if odd == 17:
        return f"sub dir/ünï {i}.jpg", _jpeg(size, shade), size
    return f"img_{i}.jpg", _jpeg(size, shade), size


def _coco_export(folder: Path, count: int) -> Path:
    """export/annotations/instances_default.json and export/images/<file>."""
    images, annotations = [], []
    for i in range(1, count + 1):
        name, data, (width, height) = _image_file(i)
        if data is not None:
            path = folder / "images" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        images.append({"id": i, "width": width, "height": height, "file_name": name})
        for k in range(i % 3):
            box = [1 + (i + k) % 9, 2 + k, 5 + i % 7, 4 + k % 5]
            annotations.append(
                {"id": i * 10 + k, "image_id": i, "category_id": 1 + k % 2, "bbox": box}
            )
    doc = {"images": images, "annotations": annotations, "categories": CATEGORIES}
    path = folder / "annotations" / "instances_default.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return folder


def _names(out: bytes) -> list[str]:
    """The first bytes of each line's image, decoded: the shade tells which image it was."""
    urls = [
        json.loads(line)["messages"][1]["content"][1]["image_url"]["url"]
        for line in out.splitlines()
    ]
    assert all(
        url.startswith(("data:image/jpeg;base64,", "data:image/png;base64,")) for url in urls
    )
    return urls


@pytest.mark.parametrize("workers", [1, 2])
def test_the_embed_lane_writes_the_general_paths_bytes_order_and_rejects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    export = _coco_export(tmp_path / "export", 600)
    lanes, out = _both(tmp_path, monkeypatch, export, "coco", workers=workers)
    (lane,) = lanes
    assert lane is not None and lane.open and lane.verified == express.VERIFY
    urls = _names(out)
    general = {3, 5, 9, 11, 13, 15}  # pixel work, a warning, a reject
    plain = sum(1 for i in range(SAMPLE + 1, 601) if i % 40 not in general)
    assert lane.lines == plain  # with two workers, some of them waited behind the pool
    assert len(urls) == 600 - 3 * 15  # 11, 13, 15 of every 40 rejected


def test_a_preset_s_image_types_decide_what_the_embed_lane_takes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fireworks takes no WEBP: such an image needs pixel work (the general path re-encodes
    it), and the lane asks the media pipeline, which applies the preset's limits."""
    export = _coco_export(tmp_path / "export", 400)
    for path in (export / "images").glob("img_*[02468]0.jpg"):  # every tenth one's bytes
        buffer = io.BytesIO()
        Image.open(path).save(buffer, "WEBP")
        path.write_bytes(buffer.getvalue())
    lanes, out = _both(tmp_path, monkeypatch, export, "coco", workers=1, preset="fireworks")
    (lane,) = lanes
    assert lane is not None and lane.open
    general = {3, 5, 9, 11, 13, 15}  # pixel work, a warning, a reject
    plain = [i for i in range(SAMPLE + 1, 401) if i % 40 not in general]
    assert lane.lines == sum(1 for i in plain if i % 20 != 0)
    assert not any(url.startswith("data:image/webp") for url in _names(out))


def test_a_lane_task_waits_behind_a_task_the_pool_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the wait, the plain images after a turned one would be written before it:
    the lane's bytes would differ from the general path's (and this test would fail). The
    lane keeps writing its lines while it waits."""
    export = _coco_export(tmp_path / "export", 500)
    held: list[bool] = []
    real_busy = media_pool.MediaPipeline.busy

    def recorded(self: media_pool.MediaPipeline) -> bool:
        held.append(real_busy(self))
        return held[-1]

    monkeypatch.setattr(media_pool.MediaPipeline, "busy", recorded)
    lanes, _ = _both(tmp_path, monkeypatch, export, "coco", workers=2)
    (lane,) = lanes
    assert lane is not None and lane.open
    assert any(held) and not all(held)
    general = {3, 5, 9, 11, 13, 15}
    assert lane.lines == sum(1 for i in range(SAMPLE + 1, 501) if i % 40 not in general)


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize(
    "options", [{"max_image_side": 34}, {"image_format": "png", "jpeg_quality": 70}]
)
def test_pixel_options_leave_to_the_lane_the_images_they_do_not_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int, options: dict[str, Any]
) -> None:
    """An image a pixel option changes (wider than 34 pixels, or not a PNG) goes the general
    way, to the pool; the lane embeds the others as they are."""
    export = _coco_export(tmp_path / "export", 500)
    lanes, out = _both(tmp_path, monkeypatch, export, "coco", workers=workers, **options)
    (lane,) = lanes
    assert lane is not None and lane.open
    general = {3, 5, 9, 11, 13, 15}  # pixel work, a warning, a reject
    if "max_image_side" in options:
        taken = [i for i in range(SAMPLE + 1, 501) if 32 + i % 5 <= 34]
    else:
        taken = [i for i in range(SAMPLE + 1, 501) if i % 40 == 7]  # the PNGs
    assert lane.lines == sum(1 for i in taken if i % 40 not in general) > 0
    rejected = sum(1 for i in range(1, 501) if i % 40 in (11, 13, 15))  # missing, broken
    assert len(_names(out)) == 500 - rejected


def test_an_image_the_lane_turns_away_is_found_and_read_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The general path takes what the lane's `prepare_as_is` learnt of an image it turned
    away: the image as read and checked (it needs pixel work, or warns), or the error it
    failed with (missing, truncated, not an image), without looking for the file or reading
    it again."""
    export = _coco_export(tmp_path / "export", 400)
    looks: list[str] = []
    reads: list[str] = []
    resolve, read = media_pool.ImageStore.resolve, media_pool.ImageStore.read

    def looked_for(self: Any, uri: str, hint: str | None = None) -> Any:
        looks.append(uri)
        return resolve(self, uri, hint)

    def counted(self: Any, located: Any, head: int | None = None) -> bytes:
        reads.append(located.uri)
        return read(self, located, head)

    monkeypatch.setattr(media_pool.ImageStore, "resolve", looked_for)
    monkeypatch.setattr(media_pool.ImageStore, "read", counted)
    lanes, out = _both(tmp_path, monkeypatch, export, "coco", workers=1, max_image_side=16)
    (lane,) = lanes
    assert lane is not None and lane.open and lane.lines == 0  # every image is resized
    # the lane's run, then the general path's, each finding and reading every image once
    assert len(looks) == 2 * 400 and looks[:400] == looks[400:]
    assert len(set(looks[:400])) == 400
    lane_reads = reads[: len(reads) // 2]
    assert lane_reads == reads[len(reads) // 2 :] and len(set(lane_reads)) == len(lane_reads)
    assert {uri for uri in looks[:400] if uri not in lane_reads} == {
        f"missing_{i}.jpg" for i in range(1, 401) if i % 40 == 11
    }
    rejected = sum(1 for i in range(1, 401) if i % 40 in (11, 13, 15))  # missing, broken
    assert len(_names(out)) == 400 - rejected


@pytest.mark.parametrize("with_config", [True, False])
def test_the_label_studio_box_lane_embeds_as_the_general_path_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, with_config: bool
) -> None:
    """Label Studio uploads (`/data/upload/1/<hash>-img_i.jpg`) found under the image root;
    the remote ones (every even task) and the missing ones rejected as the general path
    rejects them. Without the config the lane takes case 13's undeclared label too."""
    export, cfg = box_export(tmp_path, [box_task(i) for i in range(1, 701)])
    uploads(tmp_path / "media" / "upload" / "1", lambda i: _jpeg((640, 480), i % 256))
    config = {"label_config": str(cfg)} if with_config else {}
    lanes, out = _both(
        tmp_path,
        monkeypatch,
        export,
        images_root=[str(tmp_path / "media")],
        workers=1,
        **config,
    )
    (lane,) = lanes
    assert lane is not None and lane.open
    found = [i for i in range(SAMPLE + 1, 701) if i % 2 and (i % 7 or i % 40 == 37)]
    odd = ODD if with_config else ODD - {13}
    assert lane.lines == sum(1 for i in found if i % 40 not in odd) > 70
    assert len(_names(out)) > lane.lines


@pytest.mark.parametrize("workers", [1, 2])
def test_a_real_coco_export_with_its_images_takes_the_lane(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    """Datumaro's COCO export with its seven images (JPEG, PNG, one stored on its side with
    EXIF orientation 6, one grey PNG the service's modes do not include), listed 60 times under
    new ids and folders: every other image after the sample is written by the lane (with two
    workers its lines wait behind the two that the pool prepares). Same bytes either way."""
    source = corpus_path("coco", "datumaro", "export_coco_instances")
    doc = json.loads((source / "annotations" / "instances_default.json").read_text("utf-8"))
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for n in range(60):
        folder = tmp_path / "export" / "images" / "default" / str(n)
        folder.mkdir(parents=True)
        for image in doc["images"]:
            name = image["file_name"]
            (folder / name).write_bytes((source / "images" / "default" / name).read_bytes())
            new_id = n * 100 + image["id"]
            images.append({**image, "id": new_id, "file_name": f"{n}/{name}"})
            annotations.extend(
                {**ann, "id": n * 1000 + ann["id"], "image_id": new_id}
                for ann in doc["annotations"]
                if ann["image_id"] == image["id"]
            )
    target = tmp_path / "export" / "annotations"
    target.mkdir(parents=True)
    repeated = {**doc, "images": images, "annotations": annotations}
    (target / "instances_default.json").write_text(json.dumps(repeated), encoding="utf-8")
    lanes, out = _both(tmp_path, monkeypatch, tmp_path / "export", "coco", workers=workers)
    (lane,) = lanes
    assert lane is not None and lane.open
    needs_work = ("part_004_exif_orient6.jpg", "part_002.png")
    plain = sum(1 for image in images[SAMPLE:] if not image["file_name"].endswith(needs_work))
    assert lane.verified == express.VERIFY and lane.lines == plain
    assert len(_names(out)) == len(images)


@pytest.mark.parametrize("options", [{"dedupe": True}, {"conflicts": "drop"}])
def test_lines_that_waited_in_the_window_are_checked_and_kept_as_the_general_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, options: dict[str, Any]
) -> None:
    """With lines that may be left out at the end, lane lines handed to the general path
    are written, checked and kept as the general path's are. Every 50th image is a copy of
    the one before (same bytes, same boxes), a duplicate, as are some solid-colour images
    whose JPEG bytes coincide."""
    export = _coco_export(tmp_path / "export", 500)
    doc_path = export / "annotations" / "instances_default.json"
    doc = json.loads(doc_path.read_text(encoding="utf-8"))
    for image in doc["images"]:
        if image["id"] % 50 == 0 and image["id"] % 40 not in {3, 5, 9, 11, 13, 15}:
            before = image["id"] - 1
            source = export / "images" / doc["images"][before - 1]["file_name"]
            (export / "images" / image["file_name"]).write_bytes(source.read_bytes())
            image["width"], image["height"] = (
                doc["images"][before - 1]["width"],
                doc["images"][before - 1]["height"],
            )
            doc["annotations"] = [a for a in doc["annotations"] if a["image_id"] != image["id"]]
            doc["annotations"] += [
                {**a, "id": a["id"] + 100_000, "image_id": image["id"]}
                for a in doc["annotations"]
                if a["image_id"] == before
            ]
    doc_path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    lanes, out = _both(tmp_path, monkeypatch, export, "coco", workers=2, **options)
    (lane,) = lanes
    assert lane is not None and lane.open and lane.lines > 200
    lines = out.splitlines()
    if options.get("dedupe"):  # each copy left out: every line once
        assert len(set(lines)) == len(lines)
    else:  # a copy is the same input with the same answer: no conflict, both kept
        assert len(set(lines)) <= len(lines) - 6


def _cvat_export(folder: Path, count: int) -> Path:
    """export/annotations.xml and export/images/<file>: the images of `_image_file`, with
    boxes."""
    from xml.sax.saxutils import quoteattr

    parts = []
    for i in range(1, count + 1):
        name, data, (width, height) = _image_file(i)
        if data is not None:
            path = folder / "images" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        boxes = "".join(
            f'<box label="{("scratch", "dent")[k % 2]}" xtl="{1 + (i + k) % 9}" ytl="{2 + k}" '
            f'xbr="{6 + (i + k) % 9 + i % 7}" ybr="{6 + k + k % 5}"/>'
            for k in range(i % 3)
        )
        attrs = f'id="{i}" name={quoteattr(name)} width="{width}" height="{height}"'
        parts.append(f"<image {attrs}>{boxes}</image>")
    labels = "<label><name>scratch</name></label><label><name>dent</name></label>"
    xml = (
        '<?xml version="1.0" encoding="utf-8"?>\n<annotations><version>1.1</version>'
        f"<meta><task><labels>{labels}</labels></task></meta>" + "\n".join(parts) + "</annotations>"
    )
    (folder / "annotations.xml").write_text(xml, encoding="utf-8")
    return folder / "annotations.xml"


@pytest.mark.parametrize("workers", [1, 2])
def test_the_cvat_embed_lane_writes_the_general_paths_bytes_order_and_rejects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    export = _cvat_export(tmp_path / "export", 600)
    lanes, out = _both(tmp_path, monkeypatch, export, "cvat", workers=workers)
    (lane,) = lanes
    assert lane is not None and lane.open and lane.verified == express.VERIFY
    assert lane.lines > 250
    assert len(_names(out)) > lane.lines  # the odd images went the general way, in order
