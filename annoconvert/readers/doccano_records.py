"""Doccano export files to raw records: JSONL, JSON, CSV and fastText, one parser each.

Every parser yields `Record`s (a dict shaped like a JSONL line) or `Reject`s for one bad line,
so the rest of the reader sees one shape whatever the export format was:
- JSONL is split on b"\\n" only (binary line iteration): U+2028 and NBSP inside a text are data.
  A line that is not JSON, not UTF-8 or not an object is a `bad_line` Reject with its number.
- JSON is one array, loaded in bulk with the garbage collector paused (DESIGN §9).
- CSV (`id,text,<meta...>,label,Comments`) joins labels and comments with `#`; they are split
  back into lists (a label holding `#` cannot be told apart: Doccano's own ambiguity).
- fastText is written by pandas `to_csv`, so it is read with the csv module (quoted lines may
  span several physical lines); it has no id and no meta, so records are keyed by their text.
"""

from __future__ import annotations

import csv
import gc
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

import orjson

from annoconvert.errors import ParseError, ShapeError
from annoconvert.inputs import InputSource
from annoconvert.model import Reject

FORMATS = {".jsonl": "jsonl", ".json": "json", ".csv": "csv", ".txt": "fasttext"}
"""Member file extension -> export format (`.json` is sniffed: it may hold JSON lines)."""


@dataclass(slots=True)
class Record:
    """One example as one member file wrote it.

    `key` identifies the example across user files (the Doccano id; the text for fastText),
    `index` is the 1-based record number in its file (the id when the record has none).
    """

    data: dict[str, Any]
    file: str
    locator: str
    index: int
    key: Any


def member_format(member: str) -> str | None:
    """The export format a member file holds, from its extension (None: not an export file)."""
    return FORMATS.get(os.path.splitext(member)[1].lower())


def iter_member(source: InputSource, member: str) -> Iterator[Record | Reject]:
    """Every record of one member file, in file order."""
    fmt = member_format(member)
    name = source.display(member)
    with source.open(member) as fh:
        if fmt == "csv":
            yield from _iter_csv(fh, name)
        elif fmt == "fasttext":
            yield from _iter_fasttext(fh, name)
        elif fmt == "json" and _first_byte(fh) == b"[":
            yield from _iter_json(fh, name)
        elif fmt == "json" and _first_byte(fh) == b"{" and _single_object(fh):
            raise ShapeError(
                "a Doccano JSON export is an array of examples, not one JSON object "
                "(is this a project or settings file?)",
                file=name,
            )
        elif fmt in ("json", "jsonl"):
            yield from _iter_jsonl(fh, name)
        else:
            raise ShapeError(
                "not a Doccano export file (expected .jsonl, .json, .csv or fastText .txt)",
                file=name,
            )


def _first_byte(fh: IO[bytes]) -> bytes:
    """The first non-whitespace byte, without consuming the stream (peek via a buffered reader)."""
    if not isinstance(fh, io.BufferedReader):
        return b""
    head = fh.peek(4096)[:4096].lstrip()
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:].lstrip()
    return head[:1]


def _single_object(fh: IO[bytes]) -> bool:
    """A .json file holding one JSON object (not JSONL saved as .json): peeked, not consumed."""
    if not isinstance(fh, io.BufferedReader):
        return False
    head = fh.peek(1 << 20)
    if len(head) >= 1 << 20:
        return False  # too big to peek: read it as JSONL, whose lines say what is wrong
    text = head.lstrip(b"\xef\xbb\xbf")
    try:
        return isinstance(orjson.loads(text), dict) and b"\n" in text.strip()
    except orjson.JSONDecodeError:
        return False


def _key(data: dict[str, Any], index: int) -> Any:
    key = data.get("id", index)
    return key if isinstance(key, int | str) and not isinstance(key, bool) else index


def _iter_jsonl(fh: IO[bytes], name: str) -> Iterator[Record | Reject]:
    loads = orjson.loads
    decode_error = orjson.JSONDecodeError
    index = 0
    for number, line in enumerate(fh, 1):
        if number == 1 and line.startswith(b"\xef\xbb\xbf"):
            line = line[3:]  # a UTF-8 byte order mark
        if len(line) < 3 and not line.strip():
            continue
        locator = f"line {number}"
        try:
            data = loads(line)
        except decode_error as err:
            what = "not valid UTF-8" if "UTF-8" in str(err) else f"not valid JSON ({err})"
            yield Reject(None, name, locator, "bad_line", f"line {number} is {what}")
            continue
        if not isinstance(data, dict):
            if number == 1 and isinstance(data, list):
                raise ShapeError(
                    "the first line is a JSON array: this is not JSONL (a JSON export is "
                    "one array in a .json file)",
                    file=name,
                    locator=locator,
                )
            yield Reject(None, name, locator, "bad_line", f"line {number} is not a JSON object")
            continue
        index += 1
        yield Record(data, name, locator, index, _key(data, index))


def _iter_json(fh: IO[bytes], name: str) -> Iterator[Record | Reject]:
    raw = fh.read()
    enabled = gc.isenabled()
    gc.disable()
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        raise ParseError(f"not valid JSON: {err}", file=name) from err
    finally:
        if enabled:
            gc.enable()
    if not isinstance(doc, list):
        raise ShapeError(
            f"a Doccano JSON export is an array of examples, not a JSON {type(doc).__name__}",
            file=name,
        )
    for i, data in enumerate(doc):
        locator = f"[{i}]"
        if not isinstance(data, dict):
            yield Reject(None, name, locator, "bad_record", f"item {i} is not a JSON object")
            continue
        yield Record(data, name, locator, i + 1, _key(data, i + 1))


def _text_stream(fh: IO[bytes]) -> io.TextIOWrapper:
    # newline="" hands "\r\n" and embedded newlines to the csv module untouched
    return io.TextIOWrapper(fh, encoding="utf-8-sig", newline="")


def _split_hash(value: str | None) -> list[str]:
    return value.split("#") if value else []


def _csv_id(value: str | None, index: int) -> int | str:
    if value is None or value == "":
        return index
    return int(value) if value.isdigit() else value


def _iter_csv(fh: IO[bytes], name: str) -> Iterator[Record | Reject]:
    text = _text_stream(fh)
    try:
        reader = csv.reader(text)
        header = next(reader, None)
        if header is None or header == []:
            return
        if "text" not in header:
            raise ShapeError(
                f"a Doccano CSV export has a 'text' column; this header has {header}",
                file=name,
                locator="line 1",
            )
        start = reader.line_num + 1
        index = 0
        for row in reader:
            locator = f"line {start}"
            start = reader.line_num + 1
            if not row:
                continue
            index += 1
            if len(row) != len(header):
                yield Reject(
                    None,
                    name,
                    locator,
                    "bad_line",
                    f"the record at {locator} has {len(row)} columns, the header {len(header)}",
                )
                continue
            data: dict[str, Any] = dict(zip(header, row, strict=True))
            data["id"] = _csv_id(data.get("id"), index)
            if "label" in data:
                data["label"] = _split_hash(data["label"])
            if "Comments" in data:
                data["Comments"] = _split_hash(data["Comments"])
            yield Record(data, name, locator, index, data["id"])
    except UnicodeDecodeError as err:
        raise ParseError(f"not valid UTF-8: {err}", file=name) from err
    except csv.Error as err:
        raise ParseError(f"not a valid CSV file: {err}", file=name) from err


LABEL_PREFIX = "__label__"
COMMENT_MARK = " __comment__"


def parse_fasttext(record: str) -> tuple[list[str], str, list[str]]:
    """One fastText record -> (labels, text, comments).

    Doccano writes `"<labels joined by ' '> <text> <comments as __comment__X joined by ' '>"`:
    an unlabelled record starts with a space, one without comments ends with a space.
    """
    labels: list[str] = []
    rest = record
    if rest.startswith(LABEL_PREFIX):
        while rest.startswith(LABEL_PREFIX):
            token, _, rest = rest.partition(" ")
            labels.append(token[len(LABEL_PREFIX) :])
    elif rest.startswith(" "):
        rest = rest[1:]
    comments: list[str] = []
    cut = rest.find(COMMENT_MARK)
    if cut >= 0:
        comments = rest[cut + len(COMMENT_MARK) :].split(COMMENT_MARK)
        rest = rest[:cut]
    elif rest.endswith(" "):
        rest = rest[:-1]
    return labels, rest, comments


def _iter_fasttext(fh: IO[bytes], name: str) -> Iterator[Record | Reject]:
    text = _text_stream(fh)
    try:
        reader = csv.reader(text)
        start = 1
        index = 0
        for row in reader:
            locator = f"line {start}"
            start = reader.line_num + 1
            if not row:
                continue
            index += 1
            labels, body, comments = parse_fasttext(",".join(row))
            data: dict[str, Any] = {"text": body, "label": labels, "Comments": comments}
            yield Record(data, name, locator, index, body)
    except UnicodeDecodeError as err:
        raise ParseError(f"not valid UTF-8: {err}", file=name) from err
    except csv.Error as err:
        raise ParseError(f"not a valid fastText/CSV file: {err}", file=name) from err
