"""numpy results kept as plain `array`s of ints: what the checks and splits hold until a run
ends, at 4 bytes a number while the numbers fit (8 past that), where a list took 36 a number
past 256."""

from __future__ import annotations

from array import array
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy.typing as npt


def int_array(values: npt.NDArray[Any]) -> array[int]:
    """`values` (integers) as an `array`: typecode "i" while every one fits in 32 bits."""
    import numpy as np

    fits = not len(values) or (values.min() >= -(2**31) and values.max() < 2**31)
    code, dtype = ("i", np.int32) if fits else ("q", np.int64)
    ints = array(code)
    ints.frombytes(values.astype(dtype, copy=False).tobytes())
    return ints
