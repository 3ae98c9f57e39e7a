"""The slices orjson reads (readers/json_array.py, `_Slices`): the same items, errors, offsets
and counts as the scanner alone, on Label Studio-shaped exports whole and broken, and most
items of a plain export read by orjson."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from annoconvert.readers import json_array
from annoconvert.readers.json_array import JsonArrayError, array_items
from tests.test_json_array import broken


def _scanner_alone(data: bytes) -> tuple[str, str | None, int | None, int | None]:
    """What the scanner reads from the whole file by itself (the reference)."""
    got: list[Any] = []
    try:
        for item in json_array._Scan(io.BytesIO(data)).items():
            got.append(item)
    except JsonArrayError as err:
        return repr(got), str(err), err.offset, err.items
    return repr(got), None, None, None


def _both_ways(data: bytes) -> tuple[str, str | None, int | None, int | None]:
    got: list[Any] = []
    try:
        for item in array_items(io.BytesIO(data)):
            got.append(item)
    except JsonArrayError as err:
        return repr(got), str(err), err.offset, err.items
    return repr(got), None, None, None


def _same(data: bytes) -> None:
    # repr tells 1 from 1.0 and -0.0 from 0.0
    assert _both_ways(data) == _scanner_alone(data), data[:300]


_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=8),
    st.sampled_from(
        [
            '}, {"id": 1, "annotations": [',
            '},{"id":2,"annotations":',
            "\ud800",
            "1e400",
            "é😀",
            "\\",
            '"',
            "line\nbreak\ttab\u2028",
        ]
    ),
)
_value = st.recursive(
    _leaf,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def _task(draw: st.DrawFn) -> dict[str, Any]:
    """A task as Label Studio writes one: id, annotations (whose objects also start with an
    id: nested cut candidates), then data and whatever else."""
    task_id = draw(st.integers(min_value=-5, max_value=10**20) | st.text(max_size=6))
    annotations = draw(
        st.lists(
            st.fixed_dictionaries({"id": st.integers(0, 99), "annotations": _value}),
            max_size=3,
        )
    )
    task: dict[str, Any] = {"id": task_id, "annotations": annotations}
    task["data"] = draw(st.dictionaries(st.text(max_size=5), _value, max_size=3))
    if draw(st.booleans()):
        task["nested"] = {"id": 1, "annotations": draw(_value)}
    return task


_layouts = st.sampled_from(
    [
        {},
        {"separators": (",", ":")},
        {"indent": 2},
        {"indent": "\t"},
        {"ensure_ascii": False},
    ]
)


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    tasks=st.lists(_task(), max_size=12),
    layout=_layouts,
    chunk=st.sampled_from([16, 64, 200, 1000, 1 << 16]),
    lead=st.sampled_from(["", "  ", "\n"]),
    slice_size=st.sampled_from([1, 40, 300, 1 << 15]),
)
def test_valid_exports_read_as_the_scanner_reads_them(
    monkeypatch: pytest.MonkeyPatch,
    tasks: list[Any],
    layout: dict[str, Any],
    chunk: int,
    lead: str,
    slice_size: int,
) -> None:
    monkeypatch.setattr(json_array, "CHUNK", chunk)
    monkeypatch.setattr(json_array, "SLICE", slice_size)
    text = lead + json.dumps(tasks, **layout)
    _same(text.encode("utf-8", "surrogatepass"))


@settings(
    max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(tasks=st.lists(_task(), min_size=1, max_size=10), layout=_layouts, data=st.data())
def test_broken_exports_fail_as_the_scanner_fails(
    monkeypatch: pytest.MonkeyPatch, tasks: list[Any], layout: dict[str, Any], data: st.DataObject
) -> None:
    monkeypatch.setattr(json_array, "CHUNK", data.draw(st.sampled_from([16, 64, 200, 1000])))
    monkeypatch.setattr(json_array, "SLICE", data.draw(st.sampled_from([1, 40, 300])))
    monkeypatch.setattr(json_array, "SLICE_LIMIT", data.draw(st.sampled_from([64, 1 << 23])))
    _same(broken(json.dumps(tasks, **layout).encode("utf-8", "surrogatepass"), data))


@pytest.mark.parametrize(
    "odd",
    [
        b'{"id": 99, "annotations": [], "n": 123456789012345678901234567890}]',
        b'{"id": 99, "annotations": [], "n": NaN}]',
        b'{"id": 99, "annotations": [], "n": 1e400}]',
        b'{"id": 99, "annotations": [], "n": "\\ud800"}]',
        b'{"id": 99, "annotations": [], "n": "\xff"}]',
        b'{"id": 99, "annotations": [], "n": ' + b"[" * 2000 + b"]" * 2000 + b"}]",
        b'{"id": 99, "annotations": [], "n": 1}, ]',
        b'{"id": 99, "annotations": [], "n": 1}] x',
        b'{"id": 99, "annotations": [], "n": 1}',
        b'{"id": 99, "annotations": [], "n": 1} {"id": 1}]',
    ],
)
@pytest.mark.parametrize("slice_size", [1, 500, 1 << 15])
def test_a_fault_or_an_odd_value_among_many_slices(
    monkeypatch: pytest.MonkeyPatch, odd: bytes, slice_size: int
) -> None:
    """1,000 plain tasks read in slices, one that orjson must not read (or a fault), then
    1,000 more."""
    monkeypatch.setattr(json_array, "CHUNK", 4096)
    monkeypatch.setattr(json_array, "SLICE", slice_size)
    tasks = [{"id": i, "annotations": [{"id": i, "result": []}]} for i in range(2000)]
    head, tail = json.dumps(tasks[:1000]).encode(), json.dumps(tasks[1000:]).encode()
    _same(head[:-1] + b", " + odd.removesuffix(b"]") + b", " + tail[1:])


class _CountingDecoder:
    def __init__(self) -> None:
        self.calls = 0

    def raw_decode(self, text: str, pos: int) -> tuple[Any, int]:
        self.calls += 1
        return json_array._DECODER_REAL.raw_decode(text, pos)  # type: ignore[attr-defined, no-any-return]


def test_a_plain_export_is_read_by_orjson_and_the_scanner_takes_the_tail(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tasks = [
        {"id": i, "annotations": [{"id": i, "result": [{"value": {"x": i / 7}}]}], "data": {}}
        for i in range(20_000)
    ]
    counting = _CountingDecoder()
    monkeypatch.setattr(json_array, "_DECODER_REAL", json_array._DECODER, raising=False)
    monkeypatch.setattr(json_array, "_DECODER", counting)
    for layout in ({}, {"indent": 2}):
        counting.calls = 0
        data = json.dumps(tasks, **layout).encode()  # type: ignore[arg-type]
        assert list(array_items(io.BytesIO(data))) == tasks
        assert counting.calls < 1000, counting.calls  # the last read's items, not all 20,000


@st.composite
def _number_literal(draw: st.DrawFn) -> str:
    """A JSON number whose digit runs are at most 18 long (what a slice may hold)."""
    if draw(st.booleans()):
        return repr(draw(st.floats(allow_nan=False, allow_infinity=False)))
    digits = draw(st.text(alphabet="0123456789", min_size=1, max_size=18))
    split = draw(st.integers(min_value=1, max_value=len(digits)))
    whole, frac = digits[:split].lstrip("0") or "0", digits[split:]
    text = whole + (f".{frac}" if frac else "")
    if draw(st.booleans()):
        text += draw(st.sampled_from(["e", "E", "e+", "e-"])) + str(draw(st.integers(0, 340)))
    return ("-" if draw(st.booleans()) else "") + text


@settings(max_examples=3000, deadline=None)
@given(literal=_number_literal())
def test_orjson_reads_numbers_of_up_to_18_digits_as_the_stdlib_does(literal: str) -> None:
    """The assumption the slices rest on (checked again on every orjson upgrade): where orjson
    reads such a number at all, it reads the stdlib's value, type included."""
    import orjson

    expected = json.loads(literal)
    try:
        got = orjson.loads(literal)
    except orjson.JSONDecodeError:
        assert abs(expected) == float("inf")  # 1e400: orjson refuses, the scanner takes it
        return
    assert repr(got) == repr(expected) and type(got) is type(expected)


@pytest.mark.parametrize(("chunk", "slice_size"), [(1 << 18, 1 << 15), (256, 64), (64, 1)])
def test_every_json_array_of_the_corpus_reads_as_the_scanner_reads_it(
    monkeypatch: pytest.MonkeyPatch, corpus: Path, chunk: int, slice_size: int
) -> None:
    """The real exports (Label Studio, Doccano and the others that are JSON arrays)."""
    monkeypatch.setattr(json_array, "CHUNK", chunk)
    monkeypatch.setattr(json_array, "SLICE", slice_size)
    arrays = [p for p in sorted(corpus.rglob("*.json")) if p.read_bytes().lstrip()[:1] == b"["]
    assert len(arrays) > 100
    sliced = 0
    for path in arrays:
        data = path.read_bytes()
        assert _both_ways(data) == _scanner_alone(data), path
        sliced += any(True for _ in json_array._Slices(io.BytesIO(data)).items())
    if slice_size < 1000:  # the corpus's files are small: with 32 KiB slices few are sliced
        assert sliced > 100, sliced
