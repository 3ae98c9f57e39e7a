"""Image pixel sizes for Doccano boxes and polygons, read from the image header.

Doccano records no image size, so the reader asks an `image_size(uri)` callback (the pipeline
wires the media layer). Without one, this fallback opens `<root>/<filename>` under each image
root with Pillow (header only, imported lazily) and returns the upright size: width and height
are swapped when the EXIF orientation turns the image by 90 degrees, as the browser showed it.
A name that would leave the root (absolute, `..`) is never opened.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

EXIF_ORIENTATION = 0x0112
TURNED = frozenset({5, 6, 7, 8})


def _inside(root: str, name: str) -> str | None:
    if not name or os.path.isabs(name) or ".." in name.replace("\\", "/").split("/"):
        return None
    base = os.path.realpath(root)
    path = os.path.realpath(os.path.join(base, name))
    return path if path.startswith(base + os.sep) else None


def header_size(path: str) -> tuple[int, int] | None:
    """The upright (EXIF-applied) pixel size of an image file, reading its header only."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            width, height = image.size
            orientation = image.getexif().get(EXIF_ORIENTATION)
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError, ValueError):
        return None
    if orientation in TURNED:
        width, height = height, width
    return (width, height)


def pillow_image_size(roots: Sequence[str]) -> Callable[[str], tuple[int, int] | None]:
    """An `image_size` callback over the image roots, caching each answer."""
    cache: dict[str, tuple[int, int] | None] = {}

    def image_size(uri: str) -> tuple[int, int] | None:
        if uri not in cache:
            found = None
            for root in roots:
                path = _inside(root, uri)
                if path is not None and os.path.isfile(path):
                    found = header_size(path)
                    break
            cache[uri] = found
        return cache[uri]

    return image_size
