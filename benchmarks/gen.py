"""Synthetic exports for the benchmarks, written as JSON/XML text from templates (fast, flat).

Every generator is deterministic (seeded) and skips work when its output already exists, so a
second benchmark run reuses `benchmarks/_data/`. Images: a pool of a few hundred distinct
640x480 JPEGs made with Pillow, copied under one name per task with a JPEG comment that makes
every file's bytes distinct (~45 KB each). Photos: a set of distinct 12 MP (4000x3000) JPEGs
that compress like camera photos (~3 MB each), for the pixel-work (resize) cases.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterator
from pathlib import Path

POOL_SIZE = 300
WIDTH, HEIGHT = 640, 480
PHOTO_WIDTH, PHOTO_HEIGHT = 4000, 3000
LABELS = ("positive", "negative", "neutral")
CLASSES = ("car", "person", "bicycle", "dog", "traffic_light")
_PHRASE = (
    "the service was quick and the staff friendly but the room was noisy at night and "
    "breakfast arrived cold twice although the view from the balcony made up for most of it"
)
WORDS = tuple(_PHRASE.split())

LS_TEXT_CONFIG = """<View>
  <Text name="text" value="$text"/>
  <Choices name="sentiment" toName="text" choice="single">
    <Choice value="positive"/><Choice value="negative"/><Choice value="neutral"/>
  </Choices>
</View>
"""
LS_DET_CONFIG = (
    '<View>\n  <Image name="image" value="$image"/>\n  <RectangleLabels name="label" '
    'toName="image">\n'
    + "".join(f'    <Label value="{c}"/>\n' for c in CLASSES)
    + "  </RectangleLabels>\n</View>\n"
)

_LS_ANNOTATION = (
    '{{"id":{id},"completed_by":1,"result":[{result}],"was_cancelled":false,'
    '"ground_truth":false,"created_at":"2026-01-05T10:00:00.000000Z",'
    '"updated_at":"2026-01-05T10:00:{sec:02d}.000000Z","draft_created_at":null,"lead_time":4.5,'
    '"prediction":{{}},"result_count":{count},"unique_id":"u-{id}","import_id":null,'
    '"last_action":null,"bulk_created":false,"task":{id},"project":1,"updated_by":1,'
    '"parent_prediction":null,"parent_annotation":null,"last_created_by":null}}'
)
_LS_TASK = (
    '{{"id":{id},"annotations":[{annotation}],"file_upload":"bench.json","drafts":[],'
    '"predictions":[],"data":{data},"meta":{{}},"created_at":"2026-01-05T09:00:00.000000Z",'
    '"updated_at":"2026-01-05T10:00:00.000000Z","inner_id":{id},"total_annotations":1,'
    '"cancelled_annotations":0,"total_predictions":0,"comment_count":0,'
    '"unresolved_comment_count":0,"last_comment_updated_at":null,"project":1,"updated_by":1,'
    '"comment_authors":[]}}'
)
_LS_CHOICE = (
    '{{"value":{{"choices":["{label}"]}},"id":"c{id}","from_name":"sentiment","to_name":"text",'
    '"type":"choices","origin":"manual"}}'
)
_LS_RECT = (
    '{{"original_width":640,"original_height":480,"image_rotation":0,"value":{{"x":{x},"y":{y},'
    '"width":{w},"height":{h},"rotation":0,"rectanglelabels":["{label}"]}},"id":"r{id}_{k}",'
    '"from_name":"label","to_name":"image","type":"rectanglelabels","origin":"manual"}}'
)


def sentence(rng: random.Random, n: int = 24) -> str:
    """A plain sentence of `n` words (ASCII, no quotes: safe inside a JSON string)."""
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def _write_lines(path: Path, lines: Iterator[str], *, array: bool) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", encoding="utf-8", buffering=1 << 20) as fh:
        if array:
            fh.write("[")
        for i, line in enumerate(lines):
            if array and i:
                fh.write(",\n")
            fh.write(line)
            if not array:
                fh.write("\n")
        if array:
            fh.write("]\n")
    os.replace(tmp, path)


def _boxes(rng: random.Random, n: int) -> list[tuple[float, float, float, float, str]]:
    out = []
    for _ in range(n):
        w, h = rng.uniform(5, 30), rng.uniform(5, 30)
        x, y = rng.uniform(0, 100 - w), rng.uniform(0, 100 - h)
        out.append((round(x, 4), round(y, 4), round(w, 4), round(h, 4), rng.choice(CLASSES)))
    return out


# --- images --------------------------------------------------------------------------------


def image_pool(root: Path) -> list[Path]:
    """POOL_SIZE distinct 640x480 JPEGs (noise, gradient and shapes, ~40 KB each)."""
    folder = root / "pool"
    paths = [folder / f"pool_{i:04d}.jpg" for i in range(POOL_SIZE)]
    if all(p.exists() for p in paths):
        return paths
    from PIL import Image, ImageDraw, ImageFilter

    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(7)
    gradient = Image.linear_gradient("L").resize((WIDTH, HEIGHT)).convert("RGB")
    for i, path in enumerate(paths):
        noise = Image.effect_noise((WIDTH, HEIGHT), 20 + i % 10).convert("RGB")
        noise = Image.blend(noise.filter(ImageFilter.GaussianBlur(0.8)), gradient, 0.5)
        draw = ImageDraw.Draw(noise)
        for _ in range(6):
            x0, y0 = rng.randrange(WIDTH - 100), rng.randrange(HEIGHT - 100)
            color = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
            draw.rectangle(
                (x0, y0, x0 + rng.randrange(20, 100), y0 + rng.randrange(20, 100)), color
            )
        noise.save(path, "JPEG", quality=85)
    return paths


def photos(folder: Path, names: list[str]) -> None:
    """One distinct 12 MP JPEG per name (q90, ~3 MB): a smooth colour field, a gradient and
    film-grain noise, so they decode and compress like camera photos, not flat test cards."""
    paths = [folder / name for name in names]
    if all(p.exists() for p in paths):
        return
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    w, h = PHOTO_WIDTH, PHOTO_HEIGHT
    rng = random.Random(11)
    grain = Image.effect_noise((w + 256, h + 256), 18).convert("RGB")
    gradient = Image.linear_gradient("L").resize((w, h)).convert("RGB")
    for i, path in enumerate(paths):
        if path.exists():
            continue
        field = Image.merge(
            "RGB", [Image.effect_noise((w // 40, h // 40), rng.uniform(40, 80)) for _ in "RGB"]
        ).resize((w, h), Image.Resampling.BICUBIC)
        dx, dy = rng.randrange(256), rng.randrange(256)
        noise = grain.crop((dx, dy, dx + w, dy + h))
        turned = gradient if i % 2 else gradient.transpose(Image.Transpose.ROTATE_180)
        photo = Image.blend(Image.blend(field, turned, 0.3), noise, 0.25)
        tmp = path.with_suffix(".tmp")
        photo.save(tmp, "JPEG", quality=90)
        os.replace(tmp, path)


def link_images(folder: Path, names: list[str], pool: list[Path]) -> None:
    """Write one JPEG per name: a pool image with a JPEG comment naming it, so every file's
    bytes differ (as real photos do) while decoding to the pool's pixels."""
    folder.mkdir(parents=True, exist_ok=True)
    blobs = [p.read_bytes() for p in pool]
    for i, name in enumerate(names):
        target = folder / name
        if target.exists():
            continue
        blob = blobs[i % len(blobs)]
        comment = name.encode()
        segment = b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment
        target.write_bytes(blob[:2] + segment + blob[2:])


# --- Label Studio --------------------------------------------------------------------------


def ls_text(path: Path, n: int, seed: int = 1) -> Path:
    """Label Studio JSON export: text classification, one annotation per task."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)

    def lines() -> Iterator[str]:
        for i in range(1, n + 1):
            result = _LS_CHOICE.format(label=LABELS[i % 3], id=i)
            ann = _LS_ANNOTATION.format(id=i, result=result, count=1, sec=i % 60)
            data = json.dumps({"text": sentence(rng)})
            yield _LS_TASK.format(id=i, annotation=ann, data=data)

    _write_lines(path, lines(), array=True)
    (path.parent / "config.xml").write_text(LS_TEXT_CONFIG)
    return path


def ls_detection(path: Path, n: int, images: bool, seed: int = 2) -> Path:
    """Label Studio JSON export: image detection, 1-4 boxes per task, upload URIs.

    With `images`, `images/1/<name>` holds a real JPEG for every task.
    """
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    names = [f"img_{i:06d}.jpg" for i in range(1, n + 1)]
    if images:
        link_images(path.parent / "images" / "1", names, image_pool(path.parent.parent))

    def lines() -> Iterator[str]:
        for i in range(1, n + 1):
            rects = ",".join(
                _LS_RECT.format(x=x, y=y, w=w, h=h, label=label, id=i, k=k)
                for k, (x, y, w, h, label) in enumerate(_boxes(rng, rng.randint(1, 4)))
            )
            ann = _LS_ANNOTATION.format(
                id=i, result=rects, count=rects.count("rectanglelabels"), sec=i % 60
            )
            data = json.dumps({"image": f"/data/upload/1/{names[i - 1]}"})
            yield _LS_TASK.format(id=i, annotation=ann, data=data)

    _write_lines(path, lines(), array=True)
    (path.parent / "config.xml").write_text(LS_DET_CONFIG)
    return path


# --- COCO ----------------------------------------------------------------------------------


def coco(folder: Path, n: int, images: bool, seed: int = 3, *, photo: bool = False) -> Path:
    """A CVAT-style COCO export: `annotations/instances_default.json` (+ `images/default/`).

    `photo`: the images are distinct 12 MP photos (`photos`) instead of 640x480 pool copies.
    """
    ann_path = folder / "annotations" / "instances_default.json"
    if ann_path.exists():
        return folder
    ann_path.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    names = [f"{i:06d}.jpg" for i in range(1, n + 1)]
    width, height = (PHOTO_WIDTH, PHOTO_HEIGHT) if photo else (WIDTH, HEIGHT)
    sx, sy = width / 100, height / 100  # 640 / 100 == 6.4 exactly: old data stays identical
    if photo:
        photos(folder / "images" / "default", names)
    elif images:
        link_images(folder / "images" / "default", names, image_pool(folder.parent))
    cats = ",".join(
        f'{{"id":{k + 1},"name":"{c}","supercategory":""}}' for k, c in enumerate(CLASSES)
    )
    ann_id = 0
    with open(ann_path, "w", encoding="utf-8", buffering=1 << 20) as fh:
        fh.write('{"licenses":[{"name":"","id":0,"url":""}],"info":{"description":"bench"},')
        fh.write(f'"categories":[{cats}],"images":[')
        fh.write(
            ",\n".join(
                f'{{"id":{i},"width":{width},"height":{height},"file_name":"{names[i - 1]}",'
                '"license":0,'
                f'"flickr_url":"","coco_url":"","date_captured":0}}'
                for i in range(1, n + 1)
            )
        )
        fh.write('],"annotations":[')
        first = True
        for i in range(1, n + 1):
            for x, y, w, h, label in _boxes(rng, rng.randint(1, 4)):
                ann_id += 1
                bx, by, bw, bh = x * sx, y * sy, w * sx, h * sy
                fh.write(
                    ("" if first else ",\n")
                    + f'{{"id":{ann_id},"image_id":{i},"category_id":{CLASSES.index(label) + 1},'
                    f'"segmentation":[],"area":{bw * bh:.2f},"bbox":[{bx:.2f},{by:.2f},{bw:.2f},'
                    f'{bh:.2f}],"iscrowd":0,"attributes":{{"occluded":false}}}}'
                )
                first = False
        fh.write("]}\n")
    return folder


# --- CVAT ----------------------------------------------------------------------------------


def cvat(path: Path, n: int, seed: int = 4, *, image_files: bool = True) -> Path:
    """CVAT for images 1.1 XML: one <image> with 1-4 <box> per task.

    With `image_files`, `images/` beside it holds a hard link to one pool JPEG per name:
    Datumaro refuses a CVAT export whose image files are missing; annoconvert (reference
    mode) never opens them, so the 1 GB export, which no peer converts here, has none.
    """
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    if image_files:
        pool = image_pool(path.parent.parent)
        images = path.parent / "images"
        images.mkdir(exist_ok=True)
        for i in range(n):
            target = images / f"{i:06d}.jpg"
            if not target.exists():
                os.link(pool[i % len(pool)], target)
    rng = random.Random(seed)
    labels = "".join(
        f"<label><name>{c}</name><color>#33ddff</color><type>rectangle</type>"
        "<attributes></attributes></label>"
        for c in CLASSES
    )
    head = (
        '<?xml version="1.0" encoding="utf-8"?>\n<annotations>\n  <version>1.1</version>\n'
        f"  <meta><task><id>1</id><name>bench</name><size>{n}</size><mode>annotation</mode>"
        f"<overlap>0</overlap><labels>{labels}</labels></task></meta>\n"
    )

    def lines() -> Iterator[str]:
        yield head
        for i in range(n):
            boxes = "".join(
                f'<box label="{label}" source="manual" occluded="0" xtl="{x * 6.4:.2f}" '
                f'ytl="{y * 4.8:.2f}" xbr="{(x + w) * 6.4:.2f}" ybr="{(y + h) * 4.8:.2f}" '
                'z_order="0"></box>'
                for x, y, w, h, label in _boxes(rng, rng.randint(1, 4))
            )
            yield (f'  <image id="{i}" name="{i:06d}.jpg" width="640" height="480">{boxes}</image>')
        yield "</annotations>"

    _write_lines(path, lines(), array=False)
    return path


# --- Doccano -------------------------------------------------------------------------------


def doccano(path: Path, n: int, seed: int = 5) -> Path:
    """Doccano 1.8 JSONL, document classification (one label per line)."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    lines = (
        f'{{"id":{i},"text":"{sentence(rng)}","label":["{LABELS[i % 3]}"],"Comments":[]}}'
        for i in range(1, n + 1)
    )
    _write_lines(path, lines, array=False)
    return path
