"""The quick JPEG/PNG header reader agrees with Pillow on every image it accepts."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from annoconvert.media.header import quick_header
from annoconvert.media.prepare import _has_alpha, _orientation
from tests.conftest import CORPUS, corpus_path


def _corpus_images() -> list[Path]:
    corpus_path()
    return sorted(
        p for p in CORPUS.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp")
    )


def _pillow_view(data: bytes) -> tuple[str, str, int, int, int, bool]:
    with Image.open(io.BytesIO(data)) as img:
        return (
            img.format or "",
            img.mode,
            img.width,
            img.height,
            _orientation(img, data),
            _has_alpha(img),
        )


def _quick_view(data: bytes) -> tuple[str, str, int, int, int, bool] | None:
    """The quick reader's answer in `_pillow_view`'s shape (None: left to Pillow)."""
    header = quick_header(data)
    if header is None:
        return None
    return (
        header.format,
        header.mode,
        header.width,
        header.height,
        header.orientation,
        header.transparency,
    )


def test_every_corpus_image_reads_as_pillow_reads_it() -> None:
    images = _corpus_images()
    assert len(images) > 50
    quick = 0
    for path in images:
        data = path.read_bytes()
        got = _quick_view(data)
        if got is None:
            continue  # left to Pillow
        quick += 1
        assert got == _pillow_view(data), path
    assert quick > len(images) // 2  # the quick path serves the common files


@pytest.mark.parametrize(
    ("mode", "fmt", "params"),
    [
        ("RGB", "JPEG", {}),
        ("L", "JPEG", {}),
        ("CMYK", "JPEG", {}),
        ("RGB", "JPEG", {"progressive": True}),
        ("RGB", "PNG", {}),
        ("RGBA", "PNG", {}),
        ("L", "PNG", {}),
        ("LA", "PNG", {}),
        ("P", "PNG", {"transparency": 0}),
    ],
)
def test_generated_images(mode: str, fmt: str, params: dict[str, object]) -> None:
    buf = io.BytesIO()
    img = Image.new(mode, (37, 23))
    if mode == "P":  # a full 256-colour palette is stored at 8 bits per pixel
        img.putpalette(list(range(256)) * 3)
        img.putdata([i % 256 for i in range(37 * 23)])
    img.save(buf, fmt, **params)
    data = buf.getvalue()
    got = _quick_view(data)
    assert got is not None
    assert got == _pillow_view(data)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_in_both_byte_orders(orientation: int) -> None:
    img = Image.new("RGB", (20, 10))
    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif)
    header = quick_header(buf.getvalue())
    assert header is not None and header.orientation == orientation
    # the same tag written big-endian ("MM") by hand
    tiff = (
        b"MM\x00*\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01"
        + bytes([0, orientation, 0, 0])
        + b"\x00\x00\x00\x00"
    )
    app1 = b"Exif\x00\x00" + tiff
    jpeg = buf.getvalue()
    patched = jpeg[:2] + b"\xff\xe1" + (len(app1) + 2).to_bytes(2, "big") + app1 + jpeg[2:]
    big = quick_header(patched)
    assert big is not None and big.orientation == orientation


def test_truncated_or_odd_headers_go_to_pillow() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, "JPEG")
    data = buf.getvalue()
    assert quick_header(data[:20]) is None
    assert quick_header(b"GIF89a....") is None
    png = io.BytesIO()
    Image.new("I;16", (4, 4)).save(png, "PNG")
    assert quick_header(png.getvalue()) is None  # 16-bit: Pillow decides the mode
