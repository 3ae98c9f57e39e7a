"""The express lane writes an image's data URL as JSON text it joins itself; it must be what
the JSON encoder writes for the general path's data URL, for any bytes and MIME type."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from annoconvert.errors import MediaError
from annoconvert.model import PreparedImage
from annoconvert.writers.images import data_url, data_url_json


def _image(data: bytes | None, mime: str | None) -> PreparedImage:
    return PreparedImage(source_uri="a.jpg", name="a.jpg", width=1, height=1, mime=mime, data=data)


@given(
    st.binary(max_size=3000),
    st.sampled_from([None, "image/jpeg", "image/png", "image/webp", "image/gif"]),
)
def test_the_joined_json_is_the_encoders(data: bytes, mime: str | None) -> None:
    image = _image(data, mime)
    assert data_url_json(image) == orjson.dumps(data_url(image))


def test_an_image_without_bytes_has_no_data_url() -> None:
    with pytest.raises(MediaError):
        data_url_json(_image(None, "image/jpeg"))
