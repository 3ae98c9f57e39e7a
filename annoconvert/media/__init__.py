"""Images: find them under the roots, make them acceptable, prepare them in order.

- `resolve`: `ImageStore` maps an export's image URI to bytes under the image roots.
- `prepare`: header reading, the fast-path decision, decode/transpose/convert/resize/encode.
- `pool`: `MediaPipeline`, the order-preserving stream the conversion pipeline uses.
"""

from __future__ import annotations

from annoconvert.media.pool import MediaPipeline, MediaWarning
from annoconvert.media.prepare import (
    DEFAULT_MAX_PIXELS,
    Encoded,
    Header,
    PrepSpec,
    encode,
    fast_path_blocker,
    read_header,
    target_size,
)
from annoconvert.media.resolve import ImageStore, Located, display_name, is_remote
from annoconvert.writers.images import data_url

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "Encoded",
    "Header",
    "ImageStore",
    "Located",
    "MediaPipeline",
    "MediaWarning",
    "PrepSpec",
    "data_url",
    "display_name",
    "encode",
    "fast_path_blocker",
    "is_remote",
    "read_header",
    "target_size",
]
