"""COCO RLE masks: the runs must cover the image exactly.

pycocotools decodes runs that fall short of the image without a word and leaves the pixels
past their end as the memory held them, so `coco_regions.decode_rle` reads the runs itself
(`string_counts` for the compressed form) and refuses any that do not add up."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycocotools import mask as mask_utils

from annoconvert.errors import TaskError
from annoconvert.readers.coco_regions import decode_rle, string_counts


@settings(max_examples=300, deadline=None)
@given(
    height=st.integers(1, 30),
    width=st.integers(1, 30),
    seed=st.integers(0, 2**32 - 1),
    fill=st.sampled_from([0.0, 0.05, 0.5, 0.95, 1.0]),
)
def test_compressed_runs_are_pycocotools_own(
    height: int, width: int, seed: int, fill: float
) -> None:
    """The runs read from pycocotools' own compressed string give back the mask it encoded."""
    mask = (np.random.default_rng(seed).random((height, width)) < fill).astype(np.uint8)
    encoded = mask_utils.encode(np.asfortranarray(mask))
    runs = string_counts(encoded["counts"])
    assert runs is not None and sum(runs) == height * width
    decoded = decode_rle({"size": [height, width], "counts": encoded["counts"]}, width, height, "x")
    assert (decoded == mask).all()
    as_text = {"size": [height, width], "counts": encoded["counts"].decode("ascii")}
    assert (decode_rle(as_text, width, height, "x") == mask).all()


@pytest.mark.parametrize(
    "counts",
    [
        "0",  # one run of nothing: pycocotools returns uninitialised memory for it
        "1",  # one pixel of a 2x3 image
        "4",  # a run past the image's end
        "h",  # the value asks for a character that is not there
        "0\x7f",  # not a run character
        [0, 5],
        [3, 3, 1],
        [0, 7],
        [-1, 7],
        [6.0],
        ["6"],
        [],
        None,
        5,
    ],
)
def test_runs_that_do_not_cover_the_image_are_a_bad_mask(counts: Any) -> None:
    with pytest.raises(TaskError) as err:
        decode_rle({"size": [2, 3], "counts": counts}, 3, 2, "annotations[image_id=1][0]")
    assert err.value.code == "bad_mask"
    assert err.value.locator == "annotations[image_id=1][0]"


def test_exact_runs_decode_column_major() -> None:
    """COCO counts run down the columns: [1, 2, 3] on 2x3 is background, then two pixels."""
    mask = decode_rle({"size": [2, 3], "counts": [1, 2, 3]}, 3, 2, "x")
    assert mask.tolist() == [[0, 1, 0], [1, 0, 0]]


def test_a_character_outside_ascii_is_no_run() -> None:
    """'é' is no character of the run alphabet, even where a '?' in its place (15 pixels of
    background) would cover the image."""
    with pytest.raises(TaskError) as err:
        decode_rle({"size": [1, 15], "counts": "é"}, 15, 1, "x")
    assert err.value.code == "bad_mask"
    assert decode_rle({"size": [1, 15], "counts": "?"}, 15, 1, "x").tolist() == [[0] * 15]
