"""Turn image bytes into what a target accepts: upright, RGB/RGBA, within size and byte limits.

Most images need nothing: an upright JPEG/PNG/WEBP in RGB(A) within the limits is embedded as
the original bytes (a header read, ~20 us). The rest are decoded, EXIF-transposed, converted,
optionally resized and re-encoded (`encode`, the function the worker pool runs).

Pillow is imported inside the functions so that `annoconvert --help` does not load it.
"""

from __future__ import annotations

import functools
import io
import math
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from annoconvert.errors import MediaError
from annoconvert.media.header import quick_header
from annoconvert.presets import MB

if TYPE_CHECKING:
    from PIL import Image as PILImage

DEFAULT_MAX_PIXELS = 178_956_970
"""Largest image (width x height) decoded; larger ones are refused as `image_too_large`."""
SAFE_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")
"""Formats Pillow may try (no EPS/PS: those run Ghostscript). MPO opens as JPEG."""
MIME_OF = {
    "JPEG": "image/jpeg",
    "MPO": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "GIF": "image/gif",
    "BMP": "image/bmp",
    "TIFF": "image/tiff",
}
WRITER_OF = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
FORMAT_OPTION = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
_MIN_SIDE = 16
_ORIENTATION = 0x0112


@dataclass(frozen=True)
class PrepSpec:
    """What the output must satisfy (picklable: it travels to the worker processes)."""

    max_side: int | None = None
    image_format: str = "keep"
    jpeg_quality: int = 90
    max_bytes: int | None = 10 * MB
    mime_types: tuple[str, ...] = ("image/jpeg", "image/png", "image/webp")
    modes: tuple[str, ...] = ("RGB", "RGBA")
    max_pixels: int = DEFAULT_MAX_PIXELS


@dataclass(frozen=True)
class Header:
    """What the header says: format, mode, stored size, EXIF orientation, transparency."""

    format: str
    mode: str
    width: int
    height: int
    orientation: int = 1
    transparency: bool = False

    @property
    def mime(self) -> str:
        """The MIME type the bytes have (from the format Pillow recognised, not the name)."""
        return MIME_OF.get(self.format, "application/octet-stream")

    @property
    def upright(self) -> tuple[int, int]:
        """Width and height once the EXIF orientation is applied."""
        if self.orientation in (5, 6, 7, 8):
            return (self.height, self.width)
        return (self.width, self.height)


@dataclass(frozen=True)
class Encoded:
    """The prepared bytes and their pixel size; `warnings` as (code, message) pairs."""

    width: int
    height: int
    mime: str
    data: bytes
    warnings: tuple[tuple[str, str], ...] = field(default=())


def _open(data: bytes, max_pixels: int, uri: str) -> PILImage.Image:
    """Open lazily (header only), turning bombs and junk into MediaErrors."""
    from PIL import Image, UnidentifiedImageError

    register_formats()  # `formats=` names must be known, or Pillow loads every plugin
    try:
        with warnings.catch_warnings():
            # the limit is `max_pixels`, checked below from the header. Pillow's own limit is
            # a global of the user's process: it is not set here (it was, and a conversion
            # changed the limit of every later Image.open in a notebook); its warning (from
            # half its limit) is not ours to give, its error (past it) still refuses
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=SAFE_FORMATS)
    except Image.DecompressionBombError as err:
        raise MediaError(
            "image_too_large",
            f"image {uri!r} has more pixels than the {max_pixels}-pixel limit "
            "(a decompression bomb?)",
            uri=uri,
        ) from err
    except UnidentifiedImageError as err:
        raise MediaError(
            "unreadable_image",
            f"image {uri!r} is not a readable JPEG/PNG/WEBP/GIF/BMP/TIFF file",
            uri=uri,
        ) from err
    except (OSError, ValueError, SyntaxError) as err:
        raise MediaError(
            "unreadable_image", f"image {uri!r} cannot be read: {err}", uri=uri
        ) from err
    check_pixels(img.width, img.height, max_pixels, uri)
    return img


def check_pixels(width: int, height: int, max_pixels: int, uri: str) -> None:
    """MediaError `image_too_large` for a size over the pixel limit, before any decoding."""
    if width * height > max_pixels:
        raise MediaError(
            "image_too_large",
            f"image {uri!r} is {width}x{height}, over the {max_pixels}-pixel limit "
            "(a decompression bomb?)",
            uri=uri,
        )


def _orientation(img: PILImage.Image, data: bytes) -> int:
    """EXIF orientation without decoding: PNG's eXIf chunk is only looked at when present."""
    if img.format == "PNG" and b"eXIf" not in data:
        return 1
    if img.format not in ("JPEG", "MPO", "WEBP", "PNG", "TIFF"):
        return 1
    try:
        value = img.getexif().get(_ORIENTATION, 1)
    except (OSError, ValueError, SyntaxError):
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _has_alpha(img: PILImage.Image) -> bool:
    return img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info


def read_header(data: bytes, uri: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> Header:
    """Read only the header: enough to decide the fast path and give a size.

    Common JPEGs and PNGs are read by `header.quick_header` (a few us); anything else, and
    anything unusual, by Pillow (about 100 us).
    """
    quick = quick_header(data)
    if quick is not None:
        check_pixels(quick.width, quick.height, max_pixels, uri)
        return Header(
            quick.format,
            quick.mode,
            quick.width,
            quick.height,
            quick.orientation,
            quick.transparency,
        )
    img = _open(data, max_pixels, uri)
    with img:
        return Header(
            format=img.format or "",
            mode=img.mode,
            width=img.width,
            height=img.height,
            orientation=_orientation(img, data),
            transparency=_has_alpha(img),
        )


def target_size(size: tuple[int, int], max_side: int | None) -> tuple[int, int]:
    """The size after `--max-image-side`: the longer side becomes max_side, aspect kept."""
    w, h = size
    if not max_side or max(w, h) <= max_side:
        return size
    scale = max_side / max(w, h)
    if w >= h:
        return (max_side, max(1, round(h * scale)))
    return (max(1, round(w * scale)), max_side)


def _looks_complete(header: Header, data: bytes) -> bool:
    """A cheap end-of-file check; False means "decode to be sure" (truncated uploads)."""
    if header.format == "JPEG":
        return data.rstrip(b"\x00").endswith(b"\xff\xd9")
    if header.format == "PNG":
        return data.rfind(b"IEND\xaeB`\x82", max(0, len(data) - 4096)) != -1
    if header.format == "WEBP":
        return int.from_bytes(data[4:8], "little") + 8 <= len(data)
    return False


def fast_path_blocker(header: Header, data: bytes, spec: PrepSpec) -> str | None:
    """Why the original bytes cannot be embedded as they are; None when they can."""
    if header.format == "MPO" or header.mime not in spec.mime_types:
        return f"{header.format} is not accepted"
    if header.orientation not in (0, 1):
        return "EXIF orientation"
    if header.mode not in spec.modes:
        return f"mode {header.mode}"
    if spec.max_bytes is not None and len(data) > spec.max_bytes:
        return "over the byte limit"
    if target_size((header.width, header.height), spec.max_side) != (header.width, header.height):
        return "resize"
    if spec.image_format != "keep" and FORMAT_OPTION[spec.image_format] != header.mime:
        return "format change"
    return None


def check_decodes(data: bytes, header: Header, uri: str, max_pixels: int) -> None:
    """Decode fully when the cheap end-of-file check is unsure: a truncated file fails here."""
    if _looks_complete(header, data):
        return
    img = _open(data, max_pixels, uri)
    with img:
        try:
            img.load()
        except (OSError, ValueError, SyntaxError) as err:
            raise MediaError(
                "unreadable_image", f"image {uri!r} is truncated or corrupt: {err}", uri=uri
            ) from err


def _output_mode(img: PILImage.Image) -> PILImage.Image:
    """RGBA when the image has transparency, RGB otherwise; 16-bit grey scaled to 8 bits."""
    from PIL import Image

    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        import numpy as np

        arr = (np.asarray(img, dtype=np.uint16) >> 8).astype(np.uint8)
        img = Image.fromarray(arr, "L")
    if _has_alpha(img):
        return img if img.mode == "RGBA" else img.convert("RGBA")
    return img if img.mode == "RGB" else img.convert("RGB")


def _save(img: PILImage.Image, writer: str, quality: int, icc: bytes | None) -> bytes:
    out = io.BytesIO()
    params: dict[str, Any] = {}
    if icc:
        params["icc_profile"] = icc
    if writer in ("JPEG", "WEBP"):
        params["quality"] = quality
    img.save(out, format=writer, **params)
    return out.getvalue()


def _choose_mime(source_mime: str, alpha: bool, spec: PrepSpec) -> str:
    if spec.image_format != "keep":
        return FORMAT_OPTION[spec.image_format]
    keep = source_mime in WRITER_OF and source_mime in spec.mime_types
    if keep and not (alpha and source_mime == "image/jpeg"):
        return source_mime
    return "image/png" if alpha else "image/jpeg"


def encode(data: bytes, spec: PrepSpec, uri: str) -> Encoded:
    """Decode, transpose (EXIF), convert, resize and re-encode; shrink to the byte limit.

    Runs in a worker process: plain arguments in, plain dataclass out.
    """
    from PIL import Image, ImageOps

    notes: list[tuple[str, str]] = []
    img = _open(data, spec.max_pixels, uri)
    source_mime = MIME_OF.get(img.format or "", "")
    orientation = _orientation(img, data)
    stored = (img.width, img.height)
    upright = (stored[1], stored[0]) if orientation in (5, 6, 7, 8) else stored
    size = target_size(upright, spec.max_side)
    try:
        if img.format == "JPEG" and size != upright:
            want = (size[1], size[0]) if orientation in (5, 6, 7, 8) else size
            img.draft(img.mode, want)
        img.load()
        icc = img.info.get("icc_profile")
        if orientation != 1:  # with none to apply, exif_transpose only copies the pixels
            img = ImageOps.exif_transpose(img) or img
        img = _output_mode(img)
        if img.size != size:
            img = img.resize(size, Image.Resampling.LANCZOS)
    except (OSError, ValueError, SyntaxError) as err:
        raise MediaError(
            "unreadable_image", f"image {uri!r} is truncated or corrupt: {err}", uri=uri
        ) from err
    alpha = img.mode == "RGBA"
    mime = _choose_mime(source_mime, alpha, spec)
    writer = WRITER_OF[mime]
    if alpha and writer == "JPEG":
        flat = Image.new("RGB", img.size, (255, 255, 255))
        flat.paste(img, mask=img.getchannel("A"))
        img = flat
        notes.append(("alpha_dropped", f"{uri}: transparency flattened onto white for JPEG"))
    quality = spec.jpeg_quality
    out = _save(img, writer, quality, icc)
    if spec.max_bytes is not None and len(out) > spec.max_bytes:
        first = len(out)
        out, img, quality = _shrink(img, writer, quality, icc, spec.max_bytes, uri)
        notes.append(
            (
                "image_reencoded_smaller",
                f"{uri}: {first} bytes re-encoded to {len(out)} ({img.width}x{img.height}, "
                f"quality {quality}) to stay under the {spec.max_bytes}-byte limit",
            )
        )
    return Encoded(img.width, img.height, mime, out, tuple(notes))


def _shrink(
    img: PILImage.Image,
    writer: str,
    quality: int,
    icc: bytes | None,
    max_bytes: int,
    uri: str,
) -> tuple[bytes, PILImage.Image, int]:
    """Lower the quality (JPEG/WEBP, down to 50), then scale by 0.75 until the file fits."""
    from PIL import Image

    def step(im: PILImage.Image) -> PILImage.Image:
        size = (max(1, math.floor(im.width * 0.75)), max(1, math.floor(im.height * 0.75)))
        return im.resize(size, Image.Resampling.LANCZOS)

    while True:
        if writer in ("JPEG", "WEBP") and quality > 50:
            quality = max(50, quality - 15)
        else:
            if min(img.size) * 0.75 < _MIN_SIDE:
                raise MediaError(
                    "image_too_large",
                    f"image {uri!r} cannot be made smaller than {max_bytes} bytes",
                    uri=uri,
                )
            img = step(img)
        out = _save(img, writer, quality, icc)
        if len(out) <= max_bytes:
            return out, img, quality


@functools.cache
def register_formats() -> None:
    """Register Pillow's plugins for SAFE_FORMATS, which opening and saving need, and no
    other: `Image.init()` imports every plugin Pillow has (35-55 ms a process here, against
    22 for these six)."""
    from PIL import (  # noqa: F401 - imported to register their formats
        BmpImagePlugin,
        GifImagePlugin,
        JpegImagePlugin,
        PngImagePlugin,
        TiffImagePlugin,
        WebPImagePlugin,
    )


def warm_up(parent: int) -> None:
    """Every pool worker's initializer: import Pillow, its plugins for SAFE_FORMATS
    (`register_formats`) and ImageOps before the first image, so that a pool started with
    the run loads them while the converting process still reads the export. SIGTERM ends a
    worker (`default_signals`), and so does the end of `parent` (`leave_with`)."""
    from PIL import Image, ImageOps  # noqa: F401 - loaded now, used by every resize

    from annoconvert.children import default_signals, leave_with

    default_signals()
    leave_with(parent)

    register_formats()


def encode_batch(jobs: list[tuple[bytes, PrepSpec, str]]) -> list[Encoded | tuple[str, str]]:
    """`encode_safely` over a batch of images (one worker job for several small images)."""
    return [encode_safely(data, spec, uri) for data, spec, uri in jobs]


def encode_safely(data: bytes, spec: PrepSpec, uri: str) -> Encoded | tuple[str, str]:
    """`encode` for the worker pool: a MediaError comes back as (code, message).

    (MediaError's constructor takes keyword arguments, so it does not survive pickling.)
    """
    try:
        return encode(data, spec, uri)
    except MediaError as err:
        return (err.code, str(err))
