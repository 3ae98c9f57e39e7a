"""The floor: the same conversions as the simplest correct Python, one function per job.

No options, no checks beyond what the output needs, no rejects: parse the file (streaming
where the format allows it, with fast C parsers: ijson's C backend for a JSON array, the
simplest streaming reader, orjson, lxml), compute the answer, Base64 the image bytes, dump
the lines. annoconvert's time divided by this is the "ratio to floor" in docs/performance.md.
(annoconvert's own Label Studio reader streams with the stdlib scanner, which is faster than
`ijson.items`: see docs/design.md.)

    python benchmarks/floor.py JOB INPUT OUTPUT [--images-root DIR] [--embed]
                               [--max-side N] [--workers N]
"""

from __future__ import annotations

import argparse
import gc
import os
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

import orjson
import pybase64

DET_SYSTEM = "Detect the objects. Respond with a JSON list of box_2d and label."
DET_PROMPT = "Detect the objects in the image and output the JSON list."
TEXT_SYSTEM = "Classify the text. Your response must be one of: positive, negative, neutral."


def _text_line(text: str, label: str) -> bytes:
    return orjson.dumps(
        {
            "messages": [
                {"role": "system", "content": TEXT_SYSTEM},
                {"role": "user", "content": text},
                {"role": "assistant", "content": label},
            ]
        }
    )


def _det_line(url: str, boxes: list[tuple[int, int, int, int, str]]) -> bytes:
    boxes.sort()
    answer = orjson.dumps([{"box_2d": list(b[:4]), "label": b[4]} for b in boxes]).decode()
    return orjson.dumps(
        {
            "messages": [
                {"role": "system", "content": [{"type": "text", "text": DET_SYSTEM}]},
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": DET_PROMPT},
                        {"type": "image_url", "image_url": {"url": url}},
                    ],
                },
                {"role": "assistant", "content": [{"type": "text", "text": answer}]},
            ]
        }
    )


def _data_url(path: str) -> str:
    with open(path, "rb") as fh:
        return "data:image/jpeg;base64," + pybase64.b64encode(fh.read()).decode("ascii")


def _write(output: str, lines: Iterable[bytes]) -> int:
    n = 0
    with open(output, "wb", buffering=1 << 20) as out:
        for line in lines:
            out.write(line)
            out.write(b"\n")
            n += 1
    return n


def _ls_items(path: str) -> Iterator[dict[str, Any]]:
    import ijson

    with open(path, "rb") as fh:
        yield from ijson.items(fh, "item", use_float=True)


def ls_text(path: str) -> Iterator[bytes]:
    """Label Studio JSON, text classification: the last annotation's first choice."""
    for task in _ls_items(path):
        result = task["annotations"][-1]["result"]
        yield _text_line(task["data"]["text"], result[0]["value"]["choices"][0])


def ls_detection(path: str, images_root: str | None) -> Iterator[bytes]:
    """Label Studio JSON, boxes in percent -> box_2d 0-1000; images embedded or referenced."""
    for task in _ls_items(path):
        boxes = []
        for r in task["annotations"][-1]["result"]:
            v = r["value"]
            x, y, w, h = v["x"], v["y"], v["width"], v["height"]
            boxes.append(
                (
                    round(y * 10),
                    round(x * 10),
                    round((y + h) * 10),
                    round((x + w) * 10),
                    v["rectanglelabels"][0],
                )
            )
        uri = task["data"]["image"]
        if images_root:
            rel = uri.removeprefix("/data/upload/")
            uri = _data_url(os.path.join(images_root, rel))
        yield _det_line(uri, boxes)


def _coco_index(folder: str) -> tuple[dict[str, Any], dict[int, list[dict[str, Any]]], str]:
    ann = os.path.join(folder, "annotations", "instances_default.json")
    gc.disable()
    with open(ann, "rb") as fh:
        doc = orjson.loads(fh.read())
    gc.enable()
    by_image: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for a in doc["annotations"]:
        by_image[a["image_id"]].append(a)
    return doc, by_image, os.path.join(folder, "images", "default")


def _coco_boxes(
    img: dict[str, Any], anns: list[dict[str, Any]], names: dict[int, str]
) -> list[tuple[int, int, int, int, str]]:
    w, h = img["width"], img["height"]
    out = []
    for a in anns:
        x, y, bw, bh = a["bbox"]
        out.append(
            (
                round(y / h * 1000),
                round(x / w * 1000),
                round((y + bh) / h * 1000),
                round((x + bw) / w * 1000),
                names[a["category_id"]],
            )
        )
    return out


def coco(folder: str, embed: bool) -> Iterator[bytes]:
    """COCO instances: index annotations by image, one line per image."""
    doc, by_image, images = _coco_index(folder)
    names = {c["id"]: c["name"] for c in doc["categories"]}
    for img in doc["images"]:
        boxes = _coco_boxes(img, by_image.get(img["id"], []), names)
        url = _data_url(os.path.join(images, img["file_name"])) if embed else img["file_name"]
        yield _det_line(url, boxes)


def _resized(args: tuple[str, int]) -> str:
    """Decode in JPEG draft mode (DCT scaling to at least the target size), LANCZOS, q90."""
    import io

    from PIL import Image

    path, side = args
    with Image.open(path) as im:
        scale = side / max(im.size)
        size = (round(im.width * scale), round(im.height * scale))
        im.draft(im.mode, size)
        im = im.convert("RGB").resize(size, Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=90)
    return "data:image/jpeg;base64," + pybase64.b64encode(buf.getvalue()).decode("ascii")


def coco_resized(folder: str, side: int, workers: int) -> Iterator[bytes]:
    """COCO instances with every image decoded, resized and re-encoded (q90), in a pool."""
    doc, by_image, images = _coco_index(folder)
    names = {c["id"]: c["name"] for c in doc["categories"]}
    jobs = [(os.path.join(images, img["file_name"]), side) for img in doc["images"]]
    if workers > 1:
        from multiprocessing import get_context

        # fork (Linux's default): the workers are children of this process, so measure.py
        # counts their peak RSS and CPU as it does annoconvert's (forkserver's are not)
        with get_context("fork").Pool(workers) as pool:
            urls = list(pool.imap(_resized, jobs, chunksize=8))
    else:
        urls = [_resized(j) for j in jobs]
    for img, url in zip(doc["images"], urls, strict=True):
        yield _det_line(url, _coco_boxes(img, by_image.get(img["id"], []), names))


def cvat(path: str) -> Iterator[bytes]:
    """CVAT for images 1.1: iterparse <image>, boxes in pixels -> box_2d, clear as we go."""
    from lxml import etree

    for _, el in etree.iterparse(path, tag="image"):
        w, h = float(el.get("width")), float(el.get("height"))
        boxes = [
            (
                round(float(b.get("ytl")) / h * 1000),
                round(float(b.get("xtl")) / w * 1000),
                round(float(b.get("ybr")) / h * 1000),
                round(float(b.get("xbr")) / w * 1000),
                b.get("label"),
            )
            for b in el.iterfind("box")
        ]
        name = el.get("name")
        el.clear()
        while el.getprevious() is not None:
            del el.getparent()[0]
        yield _det_line(name, boxes)


def doccano(path: str) -> Iterator[bytes]:
    """Doccano JSONL document classification: one line in, one line out."""
    with open(path, "rb") as fh:
        for raw in fh:
            if raw.strip():
                d = orjson.loads(raw)
                yield _text_line(d["text"], d["label"][0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("job", choices=["ls-text", "ls-detection", "coco", "cvat", "doccano"])
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--images-root")
    ap.add_argument("--embed", action="store_true")
    ap.add_argument("--max-side", type=int)
    ap.add_argument("--workers", type=int, default=1)
    a = ap.parse_args()
    lines: Iterable[bytes]
    if a.job == "ls-text":
        lines = ls_text(a.input)
    elif a.job == "ls-detection":
        lines = ls_detection(a.input, a.images_root)
    elif a.job == "coco" and a.max_side:
        lines = coco_resized(a.input, a.max_side, a.workers)
    elif a.job == "coco":
        lines = coco(a.input, a.embed)
    elif a.job == "cvat":
        lines = cvat(a.input)
    else:
        lines = doccano(a.input)
    _write(a.output, lines)


if __name__ == "__main__":
    main()
