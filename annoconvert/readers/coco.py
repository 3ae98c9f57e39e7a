"""COCO reader: instances, stuff, person_keypoints, captions, Datumaro labels, image_info.

A plain COCO file (one JSON object whose `images`, `annotations` and `categories` are lists) is
mapped and parsed with orjson in slices of about 256 KiB, with the garbage collector paused (a
bulk load of millions of small objects is ~4x slower with it running, DESIGN.md §9). Images are
kept as columns (int64 ids/sizes, UTF-8 names) and annotations as compact JSON in one buffer,
indexed by image id: a full load holds 10-16x the file in Python objects, this index about 1x
(tests/test_coco_index_memory.py holds it under 2x). From SPLIT_FROM bytes on, a forked helper
parses the second half of the annotations at the same time (`_Helper`). Any other layout
(a bare list, a truncated file, odd top-level values) is read the general way: one orjson load
for a small file, ijson passes for a large one, which also say what is wrong with it.
Regions are converted lazily, one image at a time.

Files of one export folder and subset (`instances_train.json`, `person_keypoints_train.json`,
`captions_train.json` ...) are merged: one Task per image (matched by `file_name`), one anonymous
AnnotationSet holding every region; an image with no annotations gives an empty set. An
annotation id already seen for an image (COCO's person_keypoints repeat the person instances;
Datumaro's stuff file repeats its instances) adds only its keypoints.

Refused: a bare JSON list (COCO results, a category list) -> ShapeError; panoptic files (their
masks live in PNGs) -> ShapeError when given alone, a Reject (code `unsupported_panoptic`) when
they sit in a folder with other COCO files.
"""

from __future__ import annotations

import functools
import gc
import io
import itertools
import mmap
import operator
import re
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import orjson

from annoconvert import forked
from annoconvert.errors import ParseError, ShapeError, TaskError
from annoconvert.express import RawRun, RawTask, Switch
from annoconvert.inputs import InputSource, open_input
from annoconvert.model import AnnotationSet, ImageRef, JsonValue, Region, Reject, Source, Task
from annoconvert.readers import coco_regions as cr
from annoconvert.readers.coco_layout import CocoFile, annotation_files, image_roots
from annoconvert.registry import ReaderOption

if TYPE_CHECKING:
    from annoconvert.options import Options

NAME = "coco"
_INSTANCE_KINDS = frozenset({"instances", "stuff", "person_keypoints"})

Buffer = bytes | mmap.mmap
"""A whole annotation file: mapped from disk, or read (a zip member)."""
Image = tuple[Any, Any, Any, Any]
"""An image record as (id, file_name or None when not a string, width, height)."""
_NO_RECORD: Any = object()
"""The id of an `images` entry that is not a JSON object."""


_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1


class _Images:
    """The `images` records as columns: ids, widths and heights in one int64 array, file names
    in one UTF-8 buffer (a tuple per record costs ~3x that). A value that is not a plain
    integer (a string id, a missing size), a name that is not a string and a record that is
    not an object are kept aside by (row, column). Rows read back as `Image` tuples."""

    def __init__(self) -> None:
        self._ints = array("q")
        self._names = bytearray()
        self._ends = array("q", [0])
        self._odd: dict[tuple[int, int], Any] = {}

    def __len__(self) -> int:
        return len(self._ends) - 1

    def add(self, items: list[Any]) -> None:
        """Append records (licence, URLs and dates are not kept)."""
        ints, names, ends, odd = self._ints, self._names, self._ends, self._odd
        for img in items:
            row = len(ends) - 1
            if isinstance(img, dict):
                values = img.get("id"), img.get("width"), img.get("height")
                name = img.get("file_name")
                image_id, width, height = values
                if (  # the usual record: three plain integers and a name
                    type(image_id) is int
                    and type(width) is int
                    and type(height) is int
                    and isinstance(name, str)
                    and _INT_MIN < image_id <= _INT_MAX
                    and _INT_MIN < width <= _INT_MAX
                    and _INT_MIN < height <= _INT_MAX
                ):
                    ints.extend((image_id, width, height))
                    names += name.encode("utf-8", "surrogatepass")
                    ends.append(len(names))
                    continue
            else:
                values, name = (_NO_RECORD, None, None), None
            for col, value in enumerate(values):
                if type(value) is int and _INT_MIN < value <= _INT_MAX:
                    ints.append(value)
                else:
                    ints.append(_INT_MIN)
                    odd[row, col] = value
            if isinstance(name, str):
                names += name.encode("utf-8", "surrogatepass")
            else:
                odd[row, 3] = None
            ends.append(len(names))

    def __getitem__(self, row: int) -> Image:
        ints, odd, at = self._ints, self._odd, 3 * row
        image_id, width, height = ints[at], ints[at + 1], ints[at + 2]
        if odd:
            image_id = odd[row, 0] if image_id == _INT_MIN else image_id
            width = odd[row, 1] if width == _INT_MIN else width
            height = odd[row, 2] if height == _INT_MIN else height
            if (row, 3) in odd:
                return image_id, None, width, height
        name = self._names[self._ends[row] : self._ends[row + 1]].decode("utf-8", "surrogatepass")
        return image_id, name, width, height

    def __iter__(self) -> Iterator[Image]:
        return map(self.__getitem__, range(len(self)))

    def all_distinct(self) -> bool:
        """Whether every record is usual (plain ids and sizes, a name) and no id or name is
        listed twice: the usual file, with no image record to reject (checked on the
        columns, not record by record). Names are compared as their UTF-8 bytes, which
        tell them apart as their text does."""
        if self._odd:
            return False
        ids = self._ints[0::3]
        if len(set(ids)) != len(ids):
            return False
        names, ends = bytes(self._names), self._ends
        return len({names[ends[i] : ends[i + 1]] for i in range(len(ends) - 1)}) == len(ids)

    def plain_ids(self) -> array[int] | None:
        """Every record's id, when all are plain integers (None otherwise)."""
        if any(col == 0 for _, col in self._odd):
            return None
        return self._ints[0::3]


def _group_runs(slots: array[int], groups: int) -> tuple[array[int], array[int]]:
    """A stable counting sort of runs by slot: (runs in slot order, where each slot starts).

    Runs whose slots are 0, 1, 2 ... in file order (every image in one run) are already
    sorted, and so are runs whose slots never go down (17 against 26 ms for 100k runs).
    """
    n = len(slots)
    if groups == n:
        return array("q", range(n)), array("q", range(n + 1))
    if all(map(operator.le, slots, itertools.islice(slots, 1, None))):
        # in slot order already, some images' records cut in two runs by a slice's end: a
        # slot starts where the slot number changes (slots number the ids as they appear)
        firsts = map(operator.ne, slots, itertools.chain((-1,), slots))
        bounds = array("q", itertools.compress(range(n), firsts))
        bounds.append(n)
        return array("q", range(n)), bounds
    counts = array("q", bytes(8 * groups))
    for slot in slots:
        counts[slot] += 1
    bounds = array("q", [0])
    bounds.extend(itertools.accumulate(counts))
    free = bounds[:-1]
    order = array("q", bytes(8 * n))
    for run, slot in enumerate(slots):
        order[free[slot]] = run
        free[slot] += 1
    return order, bounds


def key_of(value: Any) -> Any:
    """An id usable as a dict key: ints and strings as they are, anything else by its repr
    (a hostile file can hold a list where an id belongs; it must not crash the index)."""
    if type(value) is int or type(value) is str:  # the usual ids, at once
        return value
    if isinstance(value, int | str) and not isinstance(value, bool):
        return value
    return repr(value)


class _Annotations:
    """Annotation records by image id, kept as compact JSON in one shared buffer.

    A dict per record costs ~10x its JSON (DESIGN.md: the index stays under 2x the file).
    Consecutive records of one image (the usual order) are stored as one JSON array, a run.
    What the regions never read is not stored: `image_id` (the index says it), `area`, an
    empty `segmentation`. Image ids are kept in an int64 array while the file is parsed and
    turned into the id -> slot table at the end, so the table is not scattered among the
    parser's freed objects.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._starts = array("q")
        """Where each run starts in the buffer (and, after close, where the last one ends)."""
        self._sizes = array("q")
        """Records per run."""
        self._keys = array("q")
        self._odd_keys: dict[int, Any] = {}
        """Run -> image id, for ids that are not plain integers (strings, hostile values)."""
        self._order = array("q")
        self._bounds = array("q", [0])
        self._slot_of: dict[Any, int] | None = None
        """Image id -> slot; slots number the ids in the order they first appear."""
        self._table = array("q")
        """Instead of `_slot_of` when every id is a small non-negative integer: id -> slot."""
        self._slot_keys: Sequence[Any] = ()
        """Slot -> image id."""
        self.first: Any = None
        self.empty = True

    def add(self, items: list[Any]) -> None:
        """Index records (the dicts are consumed); entries that are not objects are skipped."""
        if self.empty and items:
            self.first, self.empty = items[0], False
        run: list[dict[str, Any]] = []
        run_key: Any = None
        for ann in items:
            if not isinstance(ann, dict):
                continue
            key = ann.pop("image_id", None)
            if type(key) is not int or not _INT_MIN < key <= _INT_MAX:
                key = key_of(key)
            ann.pop("area", None)
            if ann.get("segmentation") == []:
                del ann["segmentation"]
            if run and key == run_key:
                run.append(ann)
            else:
                if run:
                    self._store(run, run_key)
                run, run_key = [ann], key
        if run:
            self._store(run, run_key)

    def _store(self, run: list[dict[str, Any]], key: Any) -> None:
        if type(key) is int and _INT_MIN < key <= _INT_MAX:  # _INT_MIN marks an odd key
            self._keys.append(key)
        else:
            self._odd_keys[len(self._keys)] = key
            self._keys.append(_INT_MIN)
        self._starts.append(len(self._buf))
        self._sizes.append(len(run))
        self._buf += orjson.dumps(run)

    def extend(self, rest: _Annotations, size: int, read: Callable[[memoryview], bool]) -> bool:
        """Append the runs of an index of the records that follow this one's in the array,
        whose buffer (`size` bytes, not in `rest`) `read` writes in place; False, with
        nothing appended, when it fails."""
        buf, shift, runs = self._buf, len(self._buf), len(self._keys)
        buf.extend(bytes(size))  # zero pages the kernel maps lazily: no second copy held
        with memoryview(buf) as view:
            tail = view[shift:]
            done = read(tail)
            tail.release()
        if not done:
            del buf[shift:]
            return False
        if self.empty:
            self.first, self.empty = rest.first, rest.empty
        self._starts.extend([start + shift for start in rest._starts])
        self._sizes.extend(rest._sizes)
        self._keys.extend(rest._keys)
        self._odd_keys.update({run + runs: key for run, key in rest._odd_keys.items()})
        return True

    def close(self) -> None:
        """Build the id -> slot table and group the runs by image (file order within one).

        Plain Python on arrays, without numpy: for the usual file (each image's records in one
        run) it is one pass, 41 ms for 118k images where importing numpy took 50. Records in
        COCO 2017's interleaved order (860k over 118k images) take 0.45 s, numpy 0.23 s plus
        its import: a few per cent of loading such a file.
        """
        self._starts.append(len(self._buf))
        keys = self._keys
        n = len(keys)
        if not self._odd_keys and n and min(keys) >= 0 and max(keys) < 2 * n + 4096:
            # ids 1..N, as every tool writes them: an array indexed by id, not a dict
            table = array("q", [-1]) * (max(keys) + 1)
            slot_keys = array("q")
            slots = array("q", bytes(8 * n))
            for run, key in enumerate(keys):
                slot = table[key]
                if slot < 0:
                    slot = table[key] = len(slot_keys)
                    slot_keys.append(key)
                slots[run] = slot
            self._table, self._slot_keys = table, slot_keys
        else:
            slot_of: dict[Any, int] = {}
            odd, slots = self._odd_keys, array("q")
            for run, key in enumerate(keys):
                key = odd[run] if key == _INT_MIN else key
                found = slot_of.get(key)
                if found is None:
                    found = slot_of[key] = len(slot_of)
                slots.append(found)
            self._slot_of, self._slot_keys = slot_of, list(slot_of)
        self._keys, self._odd_keys = array("q"), {}
        self._order, self._bounds = _group_runs(slots, len(self._slot_keys))

    def _slot(self, key: Any) -> int | None:
        if self._slot_of is not None:
            return self._slot_of.get(key)
        if type(key) is int and 0 <= key < len(self._table):
            slot = self._table[key]
            return slot if slot >= 0 else None
        return None

    def unknown(self, images: _Images) -> list[tuple[Any, int]]:
        """(image id, slot) of the ids no image record has, in first-appearance order."""
        ids = images.plain_ids()
        if ids is not None:
            known: set[Any] = set(ids)
        else:
            known = {key_of(img[0]) for img in images if img[0] is not _NO_RECORD}
        return [(key, slot) for slot, key in enumerate(self._slot_keys) if key not in known]

    def count(self, slot: int) -> int:
        """How many records the image in `slot` has."""
        runs = self._order[self._bounds[slot] : self._bounds[slot + 1]]
        return sum(self._sizes[run] for run in runs)

    def records(self, key: Any) -> list[Any]:
        """The records of one image id as dicts, in file order."""
        slot = self._slot(key)
        if slot is None:
            return []
        lo, hi = self._bounds[slot], self._bounds[slot + 1]
        order, starts, buf = self._order, self._starts, self._buf
        if hi - lo == 1:  # one run (the usual case)
            run = order[lo]
            records: list[Any] = orjson.loads(buf[starts[run] : starts[run + 1]])
            return records
        out: list[Any] = []
        for run in order[lo:hi]:
            out.extend(orjson.loads(buf[starts[run] : starts[run + 1]]))
        return out


@dataclass
class _Doc:
    """One loaded annotation file and its index."""

    file: CocoFile
    display: str
    images: _Images
    categories: dict[Any, dict[str, Any]]
    annotations: _Annotations
    labels: dict[Any, tuple[str, list[Any] | None]] = field(default_factory=dict)
    """Category id -> (label, keypoint names when the category lists them)."""
    duplicate_ids: set[Any] = field(default_factory=set)
    images_distinct: bool = False
    """Every image record usual, none listed twice (`_Images.all_distinct`)."""


@dataclass
class _Parsed:
    """What a loader returns: compact images, categories, the annotation index."""

    images: _Images
    categories: list[Any]
    annotations: _Annotations


class _NotPlain(Exception):
    """The file is not one plain COCO object; the general loaders read it (and say why)."""


CHUNK = 1 << 18
"""Bytes of an array parsed at once by the plain-file loader."""
_BETWEEN = re.compile(rb"\}[ \t\r\n]*,[ \t\r\n]*\{")
_KEY = re.compile(rb'[ \t\r\n]*("(?:[^"\\]|\\.)*")[ \t\r\n]*:[ \t\r\n]*')
_WS = re.compile(rb"[ \t\r\n]*")


def _skip_ws(raw: Buffer, pos: int) -> int:
    m = _WS.match(raw, pos)
    return m.end() if m else pos


def _byte_pos(doc: bytes, start: int, chars: int) -> int:
    """Byte offset in `doc` of the character offset `chars` counted from `start` (orjson's
    error positions count characters)."""
    piece = doc[start : start + 4 * chars]
    if piece.isascii():
        return start + chars
    return start + len(piece.decode("utf-8", "ignore")[:chars].encode())


def _trailing(doc: bytes, err: orjson.JSONDecodeError) -> int | None:
    """Where the value that opens `doc` ends, when `err` says text follows it."""
    if err.pos >= len(doc):
        return None  # the text ended inside the value
    end = _byte_pos(doc, 0, err.pos)
    return end if end < len(doc) else None


def _value_end(raw: Buffer, pos: int) -> int:
    """The position after the (non-array) JSON value starting at `pos` (a growing window:
    the text after the value makes the parse fail right where the value ends)."""
    size = 4096
    while True:
        doc = raw[pos : pos + size]
        try:
            orjson.loads(doc)
        except orjson.JSONDecodeError as err:
            end = _trailing(doc, err)
            if end is not None:
                try:
                    orjson.loads(doc[:end])
                except orjson.JSONDecodeError:
                    raise _NotPlain from None
                return pos + end
        if pos + size >= len(raw):
            raise _NotPlain
        size *= 4


def _drop(raw: Buffer, upto: int) -> None:
    """Let the kernel drop the mapped pages before `upto` (read once; keeps RSS flat)."""
    if isinstance(raw, mmap.mmap) and hasattr(mmap, "MADV_DONTNEED"):
        raw.madvise(mmap.MADV_DONTNEED, 0, upto - upto % mmap.PAGESIZE)


def _array(
    raw: Buffer, pos: int, sink: Callable[[list[Any]], object], stop: re.Match[bytes] | None = None
) -> int:
    """Parse the JSON array opening at `raw[pos]` in slices of about CHUNK bytes; the position
    after its `]`.

    A slice is cut between two objects (`},{`) and checked by parsing it: a cut inside a string
    or a nested value does not parse, and the slice then grows. A slice that runs past the
    array's end parses up to its `]` and says where it is.

    With `stop` (a `},{` further on, see `_Helper`) the last slice is cut there, and
    if it parses, parsing ends at the object after `stop`, whose position is returned: every
    slice before it parsed, so that object is the array's next element. A `stop` that turns
    out to be inside a value is dropped and the array read to its end.
    """
    p = _skip_ws(raw, pos + 1)
    if raw[p : p + 1] == b"]":
        return p + 1
    return _elements(raw, p, sink, stop)


def _elements(
    raw: Buffer, p: int, sink: Callable[[list[Any]], object], stop: re.Match[bytes] | None = None
) -> int:
    """`_array` from `p`, where an element of a non-empty array starts."""
    want = CHUNK
    while True:
        m = _BETWEEN.search(raw, p + want)
        if stop is not None and (m is None or m.start() >= stop.start()):
            m = stop
        cut = m.start() + 1 if m else len(raw)
        doc = b"[" + raw[p:cut] + b"]"
        try:
            items = orjson.loads(doc)
        except orjson.JSONDecodeError as err:
            close = _trailing(doc, err)
            if close is not None:
                close = doc.rfind(b"]", 0, close)  # the array's own `]`
                try:
                    sink(orjson.loads(doc[: close + 1]))
                except orjson.JSONDecodeError:
                    pass
                else:
                    return p + close
            if m is None:
                raise _NotPlain from None
            if m is stop:
                stop = None  # not between two elements: read on without it
            want *= 2
            continue
        if m is None:
            raise _NotPlain  # the file ends inside the array
        sink(items)
        p, want = m.end() - 1, CHUNK
        _drop(raw, p)
        if m is stop:
            return p


SPLIT_FROM = 8 << 20
"""File size from which the second half of the `annotations` array is parsed in a forked
helper (`_Helper`)."""


@dataclass
class _Helper:
    """A forked process parsing the annotations from `split` on, started with the load.

    It starts at a `},{` half way from the `annotations` key to the file's end (split points
    from 45 % to 62 % of the benchmark's file loaded it alike, within this machine's noise):
    this process parses the images and the annotations up to it. Only when its slices of the
    `annotations` array reach that very point is the helper's start proven to be an
    element's (see `_array`), and only then is its index taken; otherwise this process reads
    on by itself. Either way each image's records are the ones a single process finds, in
    the same order (the runs may be cut at other places: a slice's end cuts a run).
    """

    split: re.Match[bytes]
    call: forked.ForkedCall[tuple[int, _Annotations]]

    @classmethod
    def start(cls, raw: Buffer) -> _Helper | None:
        """A helper for a large file on a machine where it can run beside this process."""
        if len(raw) < SPLIT_FROM or not forked.can_fork():
            return None
        first = max(raw.find(b'"annotations"'), 0)
        split = _BETWEEN.search(raw, (first + len(raw)) // 2)
        if split is None:
            return None
        rest = functools.partial(_rest_of_array, raw, split.end() - 1)
        return cls(split, forked.ForkedCall(rest))

    def annotations(self, raw: Buffer, pos: int, annotations: _Annotations) -> int:
        """`_array` for the `annotations` array opening at `pos`, with the helper's part."""
        if self.split.start() <= pos:  # the split is not in this array
            return _array(raw, pos, annotations.add)
        start = self.split.end() - 1
        end = _array(raw, pos, annotations.add, self.split)
        if end != start:  # the array ended first, or the split was inside a value
            return end
        rest = self.call.result()
        if rest is not None:
            (end, part), size = rest
            if annotations.extend(part, size, self.call.read_payload):
                return end
        return _elements(raw, start, annotations.add)  # the helper failed: read on here


def _rest_of_array(raw: Buffer, start: int) -> tuple[tuple[int, _Annotations], bytearray]:
    """In the helper: where the array ends and the index of its records from `start` on,
    the index's buffer apart (see `ForkedCall`)."""
    part = _Annotations()
    end = _elements(raw, start, part.add)
    buf, part._buf = part._buf, bytearray()
    return (end, part), buf


def _ignore(items: list[Any]) -> None:
    """A sink for arrays the reader does not use (licenses)."""


def _load_plain(raw: Buffer, start: int = 0) -> _Parsed:
    """A plain COCO object read slice by slice (see the module docstring); _NotPlain else."""
    parsed = _Parsed(_Images(), [], _Annotations())
    sinks: dict[str, Callable[[list[Any]], object]] = {
        "images": parsed.images.add,
        "categories": parsed.categories.extend,
        "annotations": parsed.annotations.add,
    }
    pos = _skip_ws(raw, start)
    if raw[pos : pos + 1] != b"{":
        raise _NotPlain
    helper = _Helper.start(raw)
    try:
        return _read_plain(raw, pos + 1, parsed, sinks, helper)
    finally:
        if helper is not None:
            helper.call.close()


def _read_plain(
    raw: Buffer,
    pos: int,
    parsed: _Parsed,
    sinks: dict[str, Callable[[list[Any]], object]],
    helper: _Helper | None,
) -> _Parsed:
    """`_load_plain` from the first key on."""
    seen: set[str] = set()
    while True:
        m = _KEY.match(raw, pos)
        if m is None:
            raise _NotPlain
        try:
            key = orjson.loads(m.group(1))
        except orjson.JSONDecodeError:
            raise _NotPlain from None
        if key in seen:
            raise _NotPlain  # a repeated key: the general loader's rule decides
        seen.add(key)
        pos = m.end()
        if raw[pos : pos + 1] == b"[" and key == "annotations" and helper is not None:
            pos = helper.annotations(raw, pos, parsed.annotations)
        elif raw[pos : pos + 1] == b"[":
            pos = _array(raw, pos, sinks.get(key, _ignore))
        elif key in sinks:
            raise _NotPlain  # not a list: the shape check says so
        else:
            pos = _value_end(raw, pos)
        pos = _skip_ws(raw, pos)
        sep = raw[pos : pos + 1]
        pos += 1
        if sep == b"}":
            break
        if sep != b",":
            raise _NotPlain
    if _skip_ws(raw, pos) != len(raw) or "images" not in seen:
        raise _NotPlain
    return parsed


def _parsed(data: dict[str, Any]) -> _Parsed:
    """A fully loaded document as the compact index."""
    parsed = _Parsed(_Images(), list(data.get("categories") or []), _Annotations())
    parsed.images.add(data["images"])
    parsed.annotations.add(data.get("annotations") or [])
    return parsed


def _load(source: InputSource, f: CocoFile, display: str) -> _Parsed:
    with source.open(f.member) as fh:
        try:  # a file on disk is mapped, not read: its pages are dropped once parsed
            raw: Buffer = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError, io.UnsupportedOperation):  # a zip member, an empty file
            raw = fh.read()
    try:
        return _load_raw(source, f, display, raw)
    finally:
        if isinstance(raw, mmap.mmap):
            raw.close()


def _load_raw(source: InputSource, f: CocoFile, display: str, raw: Buffer) -> _Parsed:
    start = 3 if raw[:3] == b"\xef\xbb\xbf" else 0  # a UTF-8 byte order mark (Windows editors)
    try:
        parsed = _load_plain(raw, start)
    except _NotPlain:
        pass
    else:
        parsed.annotations.close()
        return parsed
    if len(raw) >= STREAM_FROM:
        parsed = _load_streaming(source, f, display)
    else:
        try:
            data = orjson.loads(raw[start:])
        except orjson.JSONDecodeError as err:
            raise ParseError(f"not valid JSON: {err}", file=display) from None
        _check_shape(data, display)
        parsed = _parsed(data)
        del data
    parsed.annotations.close()
    return parsed


def _check_shape(data: Any, display: str) -> None:
    if isinstance(data, list):
        raise ShapeError(
            "this is a bare JSON list (a COCO results file or a category list), not a COCO "
            "dataset with 'images' and 'annotations'",
            file=display,
        )
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise ShapeError("not a COCO dataset: no 'images' list at the top level", file=display)
    for key in ("annotations", "categories"):
        if not isinstance(data.get(key, []), list):
            raise ShapeError(f"{key!r} is not a list", file=display, locator=key)


def is_panoptic(f: CocoFile, parsed: _Parsed) -> bool:
    """Panoptic by content (annotations carrying `segments_info`), by name when it has none.

    The panopticapi's `panoptic_coco_detection_format.json` is named panoptic but holds
    instances, so content wins.
    """
    first = parsed.annotations.first
    if isinstance(first, dict):
        return "segments_info" in first
    return f.kind == "panoptic"


STREAM_FROM = 16 * 1024**2
"""A file that is not plain COCO (see _load_plain) is read in ijson passes from this size on
(a full load holds 10-16x the file in Python objects)."""


def _load_streaming(source: InputSource, f: CocoFile, display: str) -> _Parsed:
    """Images, categories and the annotation index in three ijson passes over the file."""
    import ijson

    def items(prefix: str) -> Iterator[Any]:
        with source.open(f.member) as fh:
            yield from ijson.items(fh, prefix, use_float=True)

    try:
        with source.open(f.member) as fh:
            head = next(ijson.parse(fh), None)
        if head is not None and head[1] == "start_array":
            _check_shape([], display)
        if head is None or head[1] != "start_map":
            _check_shape({}, display)
        parsed = _Parsed(_Images(), list(items("categories.item")), _Annotations())
        for batch in _in_batches(items("images.item")):
            parsed.images.add(batch)
        for batch in _in_batches(items("annotations.item")):
            parsed.annotations.add(batch)
    except ijson.JSONError as err:
        raise ParseError(f"not valid JSON: {err}", file=display) from None
    return parsed


def _in_batches(items: Iterable[Any], size: int = 1024) -> Iterator[list[Any]]:
    """The items in lists of `size` (the last one shorter, possibly empty)."""
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    yield batch


def _index(f: CocoFile, display: str, parsed: _Parsed) -> _Doc:
    cats = {key_of(c.get("id")): c for c in parsed.categories if isinstance(c, dict)}
    doc = _Doc(f, display, parsed.images, cats, parsed.annotations)
    for cat_id, cat in cats.items():
        names = cat.get("keypoints")
        doc.labels[cat_id] = str(cat.get("name")), names if isinstance(names, list) else None
    doc.images_distinct = doc.images.all_distinct()
    if doc.images_distinct:
        return doc
    seen_ids: set[Any] = set()
    for image_id, name, _, _ in doc.images:
        if name is not None:
            key = key_of(image_id)
            if key in seen_ids:
                doc.duplicate_ids.add(key)
            seen_ids.add(key)
    return doc


def _label_lists(docs: list[_Doc]) -> dict[str, JsonValue]:
    labels: list[str] = []
    tags: list[str] = []
    controls: dict[str, str] = {}
    for doc in docs:
        names = [str(c.get("name")) for _, c in sorted(doc.categories.items(), key=_id_key)]
        target = tags if doc.file.kind == "labels" else labels
        if doc.file.kind in ("captions", "image_info"):
            if doc.file.kind == "captions":
                controls[cr.CAPTION_FIELD] = "textarea"
            continue
        target.extend(n for n in names if n not in target)
        controls[cr.TAG_FIELD if doc.file.kind == "labels" else cr.FIELD] = (
            "choices" if doc.file.kind == "labels" else "labels"
        )
    out: dict[str, Any] = {cr.FIELD: labels}
    if tags:
        out[cr.TAG_FIELD] = tags
    return {"__labels__": out, "__controls__": controls}


def _id_key(item: tuple[Any, Any]) -> tuple[int, Any]:
    key = item[0]
    return (0, key) if isinstance(key, int) else (1, str(key))


def regions_of(image_docs: list[tuple[_Doc, Any]], width: Any, height: Any) -> list[Region]:
    """All regions of one image across the group's files; TaskError for a bad record.

    The records are read without locators; only a record that fails is read again with them,
    so that its error names it (two f-strings per record were ~5 % of a reference run)."""
    try:
        return _regions(image_docs, width, height, located=False)
    except TaskError:
        return _regions(image_docs, width, height, located=True)  # raises it, located


def _regions(
    image_docs: list[tuple[_Doc, Any]], width: Any, height: Any, located: bool
) -> list[Region]:
    regions: list[Region] = []
    seen: set[Any] = set()
    size: tuple[int, int] | None = None
    loc = ""
    for doc, image_id in image_docs:
        kind, labels = doc.file.kind, doc.labels
        for n, ann in enumerate(doc.annotations.records(image_id)):
            if located:
                loc = f"annotations[image_id={image_id}][{n}]"
            if kind == "captions":
                regions.append(cr.caption_region(ann, loc))
                continue
            cat_id = ann.get("category_id")
            found = labels.get(key_of(cat_id))
            if found is None:
                raise TaskError(
                    "unknown_category",
                    f"category_id {cat_id!r} is not in 'categories'",
                    locator=f"{loc}.category_id",
                )
            label, names = found
            if kind == "labels":
                regions.append(cr.label_region(ann, label))
                continue
            if size is None:
                size = pixel_size(width, height, loc)
            w, h = size
            repeat = repeated(ann, seen)
            if not repeat and kind in _INSTANCE_KINDS:
                box = cr.box_region(ann, label, w, h, loc)
                if box is not None:
                    regions.append(box)
                if "segmentation" in ann:
                    regions.extend(cr.segmentation_regions(ann, label, w, h, loc))
            if ann.get("keypoints"):
                kp = cr.keypoints_region(ann, label, names, w, h, loc)
                if kp is not None:
                    regions.append(kp)
    return regions


def repeated(ann: dict[str, Any], seen: set[Any]) -> bool:
    """Whether the record's id was seen before in this image (noting it): a repeated record
    is the object already read, whose box and outline are not read again."""
    ann_id = ann.get("id")
    if ann_id is not None and type(ann_id) is not int:  # a list or an object: by its repr
        ann_id = key_of(ann_id)
    repeat = ann_id is not None and ann_id in seen
    seen.add(ann_id)
    return repeat


def pixel_size(width: Any, height: Any, loc: str) -> tuple[int, int]:
    """The image record's size, which geometry is normalized by; TaskError without one."""
    if isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0:
        return width, height
    raise TaskError(
        "missing_image_size",
        "the image record has no positive integer width/height, needed to normalize geometry",
        locator=loc,
    )


def _image_rejects(doc: _Doc) -> tuple[list[Reject], set[int]]:
    """Rejects for the file's unusable image records, and their indexes."""
    rejects: list[Reject] = []
    bad: set[int] = set()
    if doc.images_distinct:
        return rejects, bad
    names_here: set[str] = set()
    for i, (raw_id, name, _, _) in enumerate(doc.images):
        if name is None:
            code, reason = "bad_image", "image record has no string 'file_name'"
        elif key_of(raw_id) in doc.duplicate_ids:
            code = "duplicate_image_id"
            reason = (
                f"image id {raw_id!r} is listed more than once, so its annotations "
                "cannot be told apart"
            )
        elif name in names_here:
            code, reason = "duplicate_image", f"file_name {name!r} is listed twice in this file"
        else:
            names_here.add(name)
            continue
        rejects.append(Reject(_opt_id(raw_id), doc.display, f"images[{i}]", code, reason))
        bad.add(i)
    return rejects, bad


def _ids_by_name(doc: _Doc) -> dict[str, Any]:
    """file_name -> image id for the file's usable records (first one wins)."""
    out: dict[str, Any] = {}
    for raw_id, name, _, _ in doc.images:
        if name is not None and key_of(raw_id) not in doc.duplicate_ids:
            out.setdefault(name, key_of(raw_id))
    return out


def _group_tasks(
    docs: list[_Doc], subset: str | None, express: Switch | None = None
) -> Iterator[Task | Reject | RawTask | RawRun]:
    """One Task per image listed by any file of the group, in first-listed order (images of
    an instances file alone handed over unbuilt once `express` is on)."""
    fields = _label_lists(docs)
    bads: list[set[int]] = []
    for doc in docs:
        rejects, bad = _image_rejects(doc)
        yield from rejects
        bads.append(bad)
    if len(docs) == 1:  # one file: no name matching, no table of names
        doc, bad = docs[0], bads[0]
        lane = express if doc.file.kind == "instances" else None
        i, n = 0, len(doc.images)
        while i < n:
            if lane is not None and lane.on:  # turned on after the pipeline's first sample
                rows = [row for row in range(i, min(i + RUN, n)) if row not in bad]
                yield _ImageRun(doc, rows, fields, subset)
                i += RUN
                continue
            if i not in bad:
                yield _task_of_one(doc, i, doc.images[i], fields, subset)
            i += 1
    else:
        order: dict[str, tuple[_Doc, int]] = {}
        for doc, bad in zip(docs, bads, strict=True):
            for i, img in enumerate(doc.images):
                if i not in bad:
                    order.setdefault(img[1], (doc, i))
        by_name = [_ids_by_name(d) for d in docs]
        for name, (first, i) in order.items():
            per_doc = [(d, ids[name]) for d, ids in zip(docs, by_name, strict=True) if name in ids]
            yield _task(first, i, first.images[i], per_doc, fields, subset)
    yield from _orphans(docs)


RUN = 256
"""Images handed to the lane at a time."""


class _ImageRun(RawRun):
    """Consecutive usable images of a file read alone, for the lane: each as (file, record,
    subset), which `coco_express` takes."""

    __slots__ = ("doc", "fields", "rows", "subset")

    def __init__(
        self, doc: _Doc, rows: list[int], fields: dict[str, JsonValue], subset: str | None
    ) -> None:
        images = doc.images
        super().__init__([(doc, images[i], subset) for i in rows])
        self.doc, self.rows, self.fields, self.subset = doc, rows, fields, subset

    def source(self, k: int) -> Source:
        return Source(NAME, self.doc.display, f"images[{self.rows[k]}]")

    def build(self, k: int) -> Task | Reject:
        return _task_of_one(self.doc, self.rows[k], self.items[k][1], self.fields, self.subset)


def _task_of_one(
    doc: _Doc, i: int, img: Image, fields: dict[str, JsonValue], subset: str | None
) -> Task | Reject:
    """`_task` of an image of a file read alone."""
    return _task(doc, i, img, [(doc, key_of(img[0]))], fields, subset)


def _task(
    doc: _Doc,
    i: int,
    img: Image,
    per_doc: list[tuple[_Doc, Any]],
    fields: dict[str, JsonValue],
    subset: str | None,
) -> Task | Reject:
    raw_id, name, width, height = img
    opt_id = _opt_id(raw_id)
    task_id: int | str = opt_id if opt_id is not None else name
    try:
        regions = regions_of(per_doc, width, height)
    except TaskError as err:
        return Reject(task_id, doc.display, err.locator or f"images[{i}]", err.code, err.message)
    return Task(
        id=task_id,
        source=Source(NAME, doc.display, f"images[{i}]"),
        images=(image_ref(name, width, height, subset),),
        fields=fields,
        annotations=(AnnotationSet(regions=tuple(regions)),),
        subset=subset,
    )


def image_ref(name: str, width: Any, height: Any, subset: str | None) -> ImageRef:
    """An image record's reference (a Roboflow-style subset folder is a hint for finding it)."""
    return ImageRef(
        uri=name,
        width=_opt_int(width),
        height=_opt_int(height),
        hint=f"{subset}/{name}" if subset else None,
    )


def _orphans(docs: list[_Doc]) -> Iterator[Reject]:
    """Annotations whose image_id names no image of their file (never dropped silently)."""
    for doc in docs:
        for image_id, slot in doc.annotations.unknown(doc.images):
            if image_id in doc.duplicate_ids:
                continue  # rejected with their images
            yield Reject(
                image_id,
                doc.display,
                f"annotations[image_id={image_id}]",
                "unknown_image",
                f"{doc.annotations.count(slot)} annotation(s) refer to image_id "
                f"{image_id!r}, which is not in 'images'",
            )


def _opt_id(value: Any) -> int | str | None:
    return value if isinstance(value, int | str) and not isinstance(value, bool) else None


def _opt_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _groups(files: list[CocoFile]) -> list[list[CocoFile]]:
    groups: dict[tuple[str, str], list[CocoFile]] = {}
    for f in files:
        groups.setdefault((f.folder, f.subset or ""), []).append(f)
    return [groups[k] for k in sorted(groups)]


def read_input(
    path: str, express: Switch | None = None
) -> Iterator[Task | Reject | RawTask | RawRun]:
    """Every task of one input (file, folder or zip), groups in sorted (folder, subset) order.

    `express` reaches the first group only: a lane's layout holds one file's categories."""
    source = open_input(path)
    files = annotation_files(source)
    if not files:
        raise ShapeError("no COCO annotation file (*.json) found", file=path)
    only_panoptic = len(files) == 1 or all(f.kind == "panoptic" for f in files)
    for n, group in enumerate(_groups(files)):
        yield from _read_group(source, group, only_panoptic, express if n == 0 else None)


def _read_group(
    source: InputSource, group: list[CocoFile], alone: bool, express: Switch | None
) -> Iterator[Task | Reject | RawTask | RawRun]:
    docs: list[_Doc] = []
    skipped: list[Reject] = []
    enabled = gc.isenabled()
    gc.disable()
    try:
        for f in group:
            display = source.display(f.member)
            parsed = _load(source, f, display)
            if is_panoptic(f, parsed):
                if alone:
                    raise ShapeError(
                        "COCO panoptic files are not read (their masks are PNG segment maps); "
                        "give the instances file of the same export instead",
                        file=display,
                    )
                skipped.append(
                    Reject(
                        None,
                        display,
                        "annotations",
                        "unsupported_panoptic",
                        "COCO panoptic file not read: its masks are PNG segment maps",
                    )
                )
                continue
            if f.kind == "panoptic":
                f = replace(f, kind="instances")
            docs.append(_index(f, display, parsed))
            del parsed
    finally:
        gc.freeze()
        if enabled:
            gc.enable()
    try:
        yield from skipped
        if docs:
            yield from _group_tasks(docs, group[0].subset, express)
    finally:
        del docs
        gc.unfreeze()


@dataclass(frozen=True)
class CocoReader:
    """The `coco` reader (see module docstring)."""

    name: str = NAME
    title: str = "COCO (instances, keypoints, captions; CVAT, Roboflow, MMDetection layouts)"
    options: tuple[ReaderOption, ...] = ()

    def read(
        self, inputs: Sequence[str], options: Options, express: Switch | None = None
    ) -> Iterator[Task | Reject | RawTask | RawRun]:
        """Yield the tasks of every input in order; `express` gets the lane's test for the
        first file's images (see `coco_express`)."""
        if express is not None:
            from annoconvert.readers.coco_express import box_detection  # it imports this module

            express.extract = box_detection(options, express)
        for n, path in enumerate(inputs):
            yield from read_input(path, express if n == 0 else None)

    def default_image_roots(self, inputs: Sequence[str]) -> list[str]:
        """Image folders of each file's layout; zip roots are `<zip path>!<prefix in zip>`."""
        roots: list[str] = []
        for path in inputs:
            source = open_input(path)
            for f in annotation_files(source):
                for root in image_roots(source, f):
                    if root not in roots:
                        roots.append(root)
        return roots


READER = CocoReader()
