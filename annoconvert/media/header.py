"""Size, mode and EXIF orientation of a JPEG or PNG from its first bytes, without Pillow.

Why: on the fast path an image is read, checked and Base64-encoded as it is; Pillow's header
reading (about 100 us with its plugin machinery) cost more than the Base64 of a 40 KB JPEG.
These parsers read only the markers (JPEG) or chunks (PNG) before the pixel data. Anything
unusual (multi-picture JPEGs, PNG bit depths other than 8, an `eXIf` PNG chunk, WEBP, a
malformed header) returns None and the caller asks Pillow, which stays the reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_MODES = {1: "L", 3: "RGB", 4: "CMYK"}
_PNG_MODES = {0: "L", 2: "RGB", 3: "P", 4: "LA", 6: "RGBA"}
_ORIENTATION_TAG = 0x0112


@dataclass(slots=True)
class QuickHeader:
    """What the fast path needs to know of an image (the same fields as Pillow's view)."""

    format: str
    mode: str
    width: int
    height: int
    orientation: int
    transparency: bool


def quick_header(data: bytes) -> QuickHeader | None:
    """The header of a common JPEG or PNG; None to let Pillow read it."""
    if data[:2] == b"\xff\xd8":
        return _jpeg(data)
    if data[:8] == PNG_SIGNATURE:
        return _png(data)
    return None


def _jpeg(data: bytes) -> QuickHeader | None:
    orientation = 1
    i, end = 2, len(data)
    while i + 4 <= end:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:
            i += 2
            continue
        length = (data[i + 2] << 8) | data[i + 3]
        if length < 2 or i + 2 + length > end:
            return None
        if marker == 0xDA:
            return None  # scan data before a frame header: not for us
        if marker != 0xE1 and marker != 0xE2 and marker not in _SOF:
            i += 2 + length  # tables, comments, other APPn: skipped without a copy
            continue
        segment = data[i + 4 : i + 2 + length]
        if marker == 0xE1 and segment[:6] == b"Exif\x00\x00":
            found = _exif_orientation(segment[6:])
            if found is None:
                return None
            orientation = found
        elif marker == 0xE2 and segment[:4] == b"MPF\x00":
            return None  # a multi-picture file: Pillow calls it MPO
        elif marker in _SOF:
            if len(segment) < 6:
                return None
            height = int.from_bytes(segment[1:3], "big")
            width = int.from_bytes(segment[3:5], "big")
            mode = _JPEG_MODES.get(segment[5])
            if mode is None or width == 0 or height == 0:
                return None
            return QuickHeader("JPEG", mode, width, height, orientation, False)
        i += 2 + length
    return None


def _exif_orientation(tiff: bytes) -> int | None:
    """The Orientation tag of IFD0 (1 when absent); None when the TIFF block is malformed."""
    if len(tiff) < 8 or tiff[:2] not in (b"II", b"MM"):
        return None
    order: Literal["little", "big"] = "little" if tiff[:2] == b"II" else "big"
    if int.from_bytes(tiff[2:4], order) != 42:
        return None
    ifd = int.from_bytes(tiff[4:8], order)
    if ifd + 2 > len(tiff):
        return None
    count = int.from_bytes(tiff[ifd : ifd + 2], order)
    for k in range(count):
        entry = ifd + 2 + 12 * k
        if entry + 12 > len(tiff):
            return None
        if int.from_bytes(tiff[entry : entry + 2], order) == _ORIENTATION_TAG:
            value = int.from_bytes(tiff[entry + 8 : entry + 10], order)
            return value if 1 <= value <= 8 else 1
    return 1


def _png(data: bytes) -> QuickHeader | None:
    if data[12:16] != b"IHDR" or len(data) < 33:
        return None
    width = int.from_bytes(data[16:20], "big")
    height = int.from_bytes(data[20:24], "big")
    depth, colour = data[24], data[25]
    mode = _PNG_MODES.get(colour)
    if depth != 8 or mode is None or width == 0 or height == 0:
        return None
    transparency = False
    i = 33
    while i + 8 <= len(data):
        length = int.from_bytes(data[i : i + 4], "big")
        kind = data[i + 4 : i + 8]
        if kind in (b"IDAT", b"IEND"):
            break
        if kind == b"eXIf":
            return None
        if kind == b"tRNS":
            transparency = True
        i += 12 + length
    else:
        return None
    return QuickHeader("PNG", mode, width, height, 1, transparency or mode in ("LA", "RGBA"))
