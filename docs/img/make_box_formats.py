"""Draw docs/img/box_formats.png: one box and its numbers in every --box-format.

The box is the `dent` of the Label Studio corpus task `car_door_640x480.jpg`
(pixels x 380..480, y 200..300 of a 640x480 image); the numbers come from
`annoconvert.boxes.encode_box`, the function the detection recipe calls, so the picture
cannot disagree with the code. Run from the repository root:

    python docs/img/make_box_formats.py
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from annoconvert.boxes import encode_box, qwen25_size
from annoconvert.options import Options

WIDTH, HEIGHT = 640, 480
BOX = (380, 200, 480, 300)
OUT = Path(__file__).with_name("box_formats.png")
PANEL = 360


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for name in ("DejaVuSansMono.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default()


def rows() -> list[tuple[str, str, str]]:
    """(format, JSON key and numbers, what the numbers mean) for every box format."""
    env = (BOX[0] / WIDTH, BOX[1] / HEIGHT, BOX[2] / WIDTH, BOX[3] / HEIGHT)
    options = Options()
    qw, qh = qwen25_size(WIDTH, HEIGHT, options.qwen_min_pixels, options.qwen_max_pixels)
    meaning = {
        "box_2d": "ymin, xmin, ymax, xmax; 0-1000",
        "qwen2.5-vl": f"x1, y1, x2, y2; px of {qw}x{qh}",
        "qwen3-vl": "x1, y1, x2, y2; 0-1000",
        "xyxy-px": f"x1, y1, x2, y2; px of {WIDTH}x{HEIGHT}",
        "xywh-px": f"x, y, w, h; px of {WIDTH}x{HEIGHT}",
    }
    key = {
        "box_2d": "box_2d",
        "qwen2.5-vl": "bbox_2d",
        "qwen3-vl": "bbox_2d",
        "xyxy-px": "bbox",
        "xywh-px": "bbox",
    }
    out = []
    for fmt, what in meaning.items():
        values = encode_box(fmt, env, WIDTH, HEIGHT, options)
        out.append((fmt, f'"{key[fmt]}": {values}', what))
    return out


def draw() -> Image.Image:
    """The picture: the image frame with the box on the left, the numbers on the right."""
    img = Image.new("RGB", (WIDTH + PANEL, HEIGHT), "white")
    d = ImageDraw.Draw(img)
    small, big = _font(13), _font(15)
    d.rectangle((0, 0, WIDTH - 1, HEIGHT - 1), fill=(225, 232, 240), outline=(90, 90, 90))
    for x in range(0, WIDTH, 80):
        d.line((x, 0, x, HEIGHT), fill=(205, 212, 220))
        d.text((x + 2, 2), str(x), fill=(90, 90, 90), font=small)
    for y in range(80, HEIGHT, 80):
        d.line((0, y, WIDTH, y), fill=(205, 212, 220))
        d.text((2, y + 2), str(y), fill=(90, 90, 90), font=small)
    d.rectangle(BOX, outline=(210, 30, 30), width=3)
    d.text((BOX[0], BOX[1] - 20), "dent", fill=(210, 30, 30), font=big)
    d.text((BOX[0] - 70, BOX[1] + 4), f"({BOX[0]},{BOX[1]})", fill=(0, 0, 0), font=small)
    d.text((BOX[2] + 4, BOX[3] - 16), f"({BOX[2]},{BOX[3]})", fill=(0, 0, 0), font=small)
    d.text((8, HEIGHT - 22), f"{WIDTH}x{HEIGHT} image, origin top-left", fill=(0, 0, 0), font=small)
    y = 16
    d.text((WIDTH + 12, y), "--box-format  answer", fill=(0, 0, 0), font=big)
    y += 34
    for fmt, numbers, what in rows():
        d.text((WIDTH + 12, y), fmt, fill=(210, 30, 30), font=big)
        d.text((WIDTH + 12, y + 20), numbers, fill=(0, 0, 0), font=small)
        d.text((WIDTH + 12, y + 38), what, fill=(90, 90, 90), font=small)
        y += 74
    return img


if __name__ == "__main__":
    draw().save(OUT, optimize=True)
    for row in rows():
        print(*row, sep="  |  ")
