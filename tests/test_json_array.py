"""The streamed JSON array reader: what `json.loads` reads from the whole file, in any cut of
reads; a broken file fails after the items before the fault."""

from __future__ import annotations

import io
import json
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from annoconvert.readers import json_array
from annoconvert.readers.json_array import JsonArrayError, array_items


def _refuse(name: str) -> Any:
    raise ValueError(name)


def _whole(data: bytes) -> list[Any] | None:
    """The stdlib's reading of the whole file (NaN refused); None when it is no JSON array."""
    try:
        value = json.loads(data.decode("utf-8"), parse_constant=_refuse)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, list) else None


def _items_before_fault(data: bytes) -> list[Any]:
    """The items a broken file holds before its fault, read from the whole text at once."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        text = data[: err.start].decode("utf-8")
    decoder = json.JSONDecoder(parse_constant=_refuse)
    pos = len(text) - len(text.lstrip(" \t\n\r"))
    if not text[pos:].startswith("["):
        return []
    items: list[Any] = []
    pos += 1
    while True:
        try:
            item, end = decoder.raw_decode(text, len(text) - len(text[pos:].lstrip(" \t\n\r")))
        except (ValueError, RecursionError):
            return items
        rest = text[end:].lstrip(" \t\n\r")
        if not rest or rest[0] not in ",]":
            return items
        items.append(item)
        if rest[0] == "]":
            return items
        pos = len(text) - len(rest) + 1


def _read(data: bytes) -> tuple[list[Any], JsonArrayError | None]:
    got: list[Any] = []
    try:
        for item in array_items(io.BytesIO(data)):
            got.append(item)
    except JsonArrayError as err:
        return got, err
    return got, None


def _check(data: bytes) -> tuple[list[Any], JsonArrayError | None]:
    got, error = _read(data)
    whole = _whole(data)
    if whole is not None:
        assert error is None, (data, error)
        assert repr(got) == repr(whole)  # repr tells 1 from 1.0 and -0.0 from 0.0
    else:
        assert error is not None, data
        assert repr(got) == repr(_items_before_fault(data)), data
        assert error.items == len(got)
        assert 0 <= error.offset <= len(data)
    return got, error


@pytest.fixture
def small_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reads of a few bytes, so that every cut case happens in short inputs."""
    monkeypatch.setattr(json_array, "CHUNK", 7)


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=12),
    st.sampled_from(["},{", '"', "\\", "é", "😀", "\u2028", "x" * 40, "1e400", "\ud800"]),
)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(items=st.lists(_values, max_size=6), ascii_only=st.booleans(), indent=st.none() | st.just(2))
def test_valid_arrays_read_as_the_stdlib_reads_them(
    small_reads: None, items: list[Any], ascii_only: bool, indent: int | None
) -> None:
    text = json.dumps(items, ensure_ascii=ascii_only, indent=indent)
    got, error = _check(text.encode("utf-8", "surrogatepass"))
    if "\ud800" not in text:  # a raw (unescaped) surrogate's bytes are no UTF-8
        assert error is None and len(got) == len(items)


@settings(max_examples=500, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(items=st.lists(_values, min_size=1, max_size=5), data=st.data())
def test_broken_arrays_fail_after_their_good_items(
    monkeypatch: pytest.MonkeyPatch, items: list[Any], data: st.DataObject
) -> None:
    monkeypatch.setattr(json_array, "CHUNK", data.draw(st.integers(min_value=1, max_value=40)))
    _check(broken(json.dumps(items).encode(), data))


def broken(whole: bytes, data: st.DataObject) -> bytes:
    """The file cut off at a random byte, or with a few bytes of junk put in there."""
    at = data.draw(st.integers(min_value=0, max_value=len(whole)))
    junk = data.draw(
        st.sampled_from(
            [b",", b"]", b"}", b"x", b"\xff", b'"', b" 1", b"NaN", b"\x01", b"1e", b"\xe2\x82"]
        )
        | st.binary(max_size=3)
    )
    drop = data.draw(st.integers(min_value=0, max_value=2))
    cut = data.draw(st.booleans())
    return whole[:at] if cut else whole[:at] + junk + whole[at + drop :]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"   ",
        b"[]",
        b"  [ ]  \n",
        b"[1] x",
        b"[1,]",
        b"[,1]",
        b"[1 2]",
        b"[1, 2, 3",
        b"[NaN]",
        b"[1, Infinity]",
        b"[-Infinity]",
        b'{"a": 1}',
        b"[" * 900 + b"]" * 900,
        b'["a\x01"]',
        b'["\xff"]',
        b'[1, "\xe2\x82"]',
        b"[null, null, 1.5e+1\x806]",
        b"[1]\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n",
    ],
)
def test_odd_files(small_reads: None, data: bytes) -> None:
    _check(data)


def test_values_are_the_stdlibs(small_reads: None) -> None:
    data = b'[123456789012345678901234567890, 1e400, -0.0, "\\ud800", "\\ud83d\\ude00", 1E2]'
    got, error = _check(data)
    assert error is None
    assert got[0] == 123456789012345678901234567890 and got[1] == math.inf
    assert got[3] == "\ud800" and got[4] == "😀" and got[5] == 100.0


def test_faults_say_where(small_reads: None) -> None:
    got, error = _read(b'[{"a": 1},\n {"b": NaN}]')
    assert got == [{"a": 1}] and error is not None
    assert "NaN" in str(error) and error.offset == 12 and error.items == 1  # the item's start
    got, error = _read(b'[1, 2, {"c": ')
    assert got == [1, 2] and error is not None and "truncated" in str(error)
    got, error = _read(b'[1, {"c": "abc')
    assert str(error) == (
        "the file ends inside an item (truncated?): Unterminated string (at byte 4)"
    )
    got, error = _read('["é", 1 2]'.encode())
    assert error is not None and error.offset == len('["é", 1 '.encode())


def test_nesting_deeper_than_the_scanner_goes_is_refused(small_reads: None) -> None:
    got, error = _read(b"[1, " + b"[" * 100_000 + b"]" * 100_000 + b"]")
    assert got == [1] and error is not None and "nested" in str(error)


def test_long_items_and_long_strings(small_reads: None) -> None:
    items = [{"data": {"image": "x" * 5000}}, {"t": "},{" * 300}, list(range(500))]
    got, error = _check(json.dumps(items).encode())
    assert error is None and got == items


def test_reads_from_the_file_position(tmp_path: Any) -> None:
    """The caller has skipped a BOM: the reader starts where the file stands."""
    path = tmp_path / "x.json"
    path.write_bytes(b'\xef\xbb\xbf [1, {"a": [2]}]')
    with open(path, "rb") as fh:
        fh.seek(3)
        assert list(array_items(fh)) == [1, {"a": [2]}]


def _stdlib_line(text: bytes) -> tuple[str, Any]:
    try:
        return "value", json.loads(text)
    except (ValueError, RecursionError) as err:
        return "error", type(err).__name__


def _our_line(text: bytes) -> tuple[str, Any]:
    try:
        return "value", json_array.loads(text)
    except (ValueError, RecursionError) as err:
        return "error", type(err).__name__


@settings(max_examples=500)
@given(value=_values, ascii_only=st.booleans())
def test_a_line_reads_as_the_stdlib_reads_it(value: Any, ascii_only: bool) -> None:
    # orjson where it reads the same; a large integer, 1e400 or a lone surrogate the stdlib's
    text = json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    assert repr(_our_line(text)) == repr(_stdlib_line(text))


@pytest.mark.parametrize(
    "text",
    [
        b"18446744073709551616",
        b"[1, 123456789012345678901234567890]",
        b'{"a": 1e400, "b": -1e400}',
        b'"\\ud800"',
        b'{"a": 1, "a": 2}',
        b"-0.0",
        b"NaN",
        b"[" * 2000 + b"]" * 2000,
        b'{"x": tru}',
        b'"\xff"',
        b"",
    ],
)
def test_a_line_orjson_reads_otherwise_or_refuses_is_the_stdlibs(text: bytes) -> None:
    assert repr(_our_line(text)) == repr(_stdlib_line(text))
