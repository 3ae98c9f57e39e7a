"""How a prepared image appears in a line: a Base64 data URL, a reference URI, or a file
copied beside the output for the dialects that list image files."""

from __future__ import annotations

from pathlib import Path

import pybase64

from annoconvert.atomic import write_atomic
from annoconvert.errors import MediaError
from annoconvert.model import PreparedImage
from annoconvert.options import Options


def _base64(image: PreparedImage) -> bytes:
    """The image bytes as Base64 (pybase64: measured 2.5x the stdlib here)."""
    if image.data is None:
        raise MediaError("missing_image", "the image was not loaded", uri=image.source_uri)
    return pybase64.b64encode(image.data)


def base64_data(image: PreparedImage) -> str:
    """The image bytes as Base64 text."""
    return _base64(image).decode("ascii")


def data_url(image: PreparedImage) -> str:
    """`data:image/<type>;base64,...` with the MIME type read from the bytes."""
    return f"data:{image.mime or 'image/jpeg'};base64,{base64_data(image)}"


def data_url_json(image: PreparedImage) -> bytes:
    """`data_url` as a JSON string, quotes included, made from the Base64 bytes directly:
    neither the MIME type nor Base64's alphabet has a character JSON escapes."""
    mime = (image.mime or "image/jpeg").encode("ascii")
    return b"".join((b'"data:', mime, b";base64,", _base64(image), b'"'))


def image_url(image: PreparedImage, options: Options) -> str:
    """The URL written for an image: a data URL in embed mode, else its reference URI."""
    if image.data is not None:
        return data_url(image)
    return image.uri or image.source_uri


def image_reference(image: PreparedImage) -> str:
    """A path or URI for dialects that list images apart from the messages (TRL, sharegpt)."""
    return image.uri or image.path or image.source_uri


def uploaded_name(image: PreparedImage) -> str:
    """The object name under the URI prefix: the image's name with `/` separators, no `..`."""
    name = image.name.replace("\\", "/").lstrip("/")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        raise MediaError(
            "unsafe_image_name",
            f"image name {image.name!r} cannot be used as an object name under the URI prefix",
            uri=image.source_uri,
        )
    return "/".join(parts)


def copy_image(image: PreparedImage, directory: str) -> str:
    """Put the image file at `directory/<name>` (atomic; same bytes skipped); return that path.

    Shared by the dialects that list image files (Vertex upload folder, TRL, sharegpt).
    """
    data = image.data
    if data is None and image.path is not None:
        try:
            data = Path(image.path).read_bytes()
        except OSError as err:
            raise MediaError(
                "unreadable_image",
                f"cannot read {image.path} to copy it: {err}",
                uri=image.source_uri,
            ) from err
    if data is None:
        raise MediaError(
            "missing_image",
            "--copy-images needs the image bytes or a local path, and this image has neither",
            uri=image.source_uri,
        )
    target = Path(directory) / uploaded_name(image)
    written = (Path(directory) / uploaded_name(image)).as_posix()
    if target.exists():
        if target.read_bytes() == data:
            return written
        raise MediaError(
            "image_name_clash",
            f"{target} already holds a different image with the same name",
            uri=image.source_uri,
        )
    write_atomic(target, data)
    return written
