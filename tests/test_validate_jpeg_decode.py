"""`annoconvert validate` decodes a JPEG at an eighth of its size, and refuses exactly the
JPEGs a full decode refuses: truncated and damaged streams of every kind of JPEG."""

from __future__ import annotations

import base64
import io
import random

import orjson
import pytest
from PIL import Image

from annoconvert.quality.validate import Validator


def _jpeg(mode: str, size: tuple[int, int], **save: object) -> bytes:
    image = Image.effect_noise(size, 40).convert("RGB").convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", **save)
    return buffer.getvalue()


KINDS = {
    "baseline": _jpeg("RGB", (96, 64)),
    "progressive": _jpeg("RGB", (96, 64), progressive=True),
    "4:4:4": _jpeg("RGB", (96, 64), subsampling=0),
    "grey": _jpeg("L", (96, 64)),
    "cmyk": _jpeg("CMYK", (96, 64)),
    "smaller than 8 px": _jpeg("RGB", (7, 5)),
    "1 px": _jpeg("RGB", (1, 1)),
}


def _full_decode_fails(data: bytes) -> bool:
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
    except Exception:
        return True
    return False


def _undecodable(data: bytes) -> bool:
    url = "data:image/jpeg;base64," + base64.b64encode(data).decode()
    line = {
        "messages": [
            {"role": "system", "content": "Detect."},
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]},
            {"role": "assistant", "content": "[]"},
        ]
    }
    findings = Validator("openai").check_line(1, orjson.dumps(line))
    return any(f.code == "image_undecodable" for f in findings)


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_jpeg_is_refused_as_a_full_decode_refuses_it(kind: str) -> None:
    source = KINDS[kind]
    assert not _undecodable(source)
    rng = random.Random(kind)
    refused = 0
    for _ in range(80):
        damaged = bytearray(source)
        if rng.random() < 0.4:
            damaged = damaged[: rng.randrange(2, len(damaged))]
        else:
            for _ in range(rng.randint(1, 8)):
                damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        expected = _full_decode_fails(bytes(damaged))
        assert _undecodable(bytes(damaged)) == expected
        refused += expected
    assert refused  # the damage reached the decoder: some of it is refused
