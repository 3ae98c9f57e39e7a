"""The items of a top-level JSON array, streamed: orjson over slices of whole items where it
reads exactly what the standard library reads, the standard library's C scanner elsewhere.

Why not ijson: on the benchmark's Label Studio exports, `JSONDecoder.raw_decode` over 256 KiB
of decoded text at a time parses 100k tasks in 0.8 s (text) and 1.4 s (detection) where
ijson's C backend takes 1.1 s and 2.0 s, and parsing is most of a text conversion's time. An
item is built whole by either parser, so memory stays what it was: the text of one read plus
the item being parsed.

Faster still, where it is safe (`_Slices`): orjson parses a slice of whole items at once (0.4 s
and 0.65 s for the same files). The slice is cut before an item that starts as the first item
does (its first key with a number or string value, then its second key: `{"id": 1,
"annotations":` in a Label Studio export), and it is kept only if `[` + slice + `]` parses: a
cut inside a string or a nested value leaves a string or a bracket open, which fails. orjson's
values equal the standard library's except where it fails (NaN, `1e400`, a lone surrogate,
nesting past 1024, bytes that are not UTF-8) and for integers past 64 bits, which it turns
into floats: a slice with a run of 19 or more digits anywhere is not given to it. On the first
slice it cannot take, the scanner reads the rest of the file, with the same values, errors and
offsets as if it had read all of it.

The values are the standard library's (as for the JSONL inputs, read with `json.loads`):
integers of any size, `1e400` as infinity (geometry refuses it), `\\ud800` as a lone surrogate
(the writer refuses it). NaN and Infinity are refused, as JSON has no such values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import IO, Any

import orjson

CHUNK = 1 << 18
"""Bytes read at a time (a longer item makes the next read as long as what is kept)."""

_NEAR_END = 16
"""A scanner error this close to the end of the text read so far may be a cut, not a fault."""

_BLANK = re.compile(r"[ \t\n\r]*")

SLICE = 1 << 15
"""Bytes of items orjson parses at a time, so that they are still in the CPU's cache when the
conversion takes them (100k detection tasks: slices of 256 KiB made the whole run 10 % slower
than the scanner alone, though they parsed faster; 16-64 KiB made it 20 % faster)."""
_OVERLAP = 1 << 12
"""Bytes searched again after a read (a cut's lookahead may reach into the new bytes)."""
SLICE_LIMIT = 1 << 23
"""Bytes held without finding a cut (an item longer than this): the scanner takes over."""

_WS = rb"[ \t\n\r]*"
_BLANK_BYTES = re.compile(_WS)
_STRING = rb'"(?:[^"\\]|\\.)*"'
_SCALAR = rb"(?:-?[0-9]+|" + _STRING + rb")"
_FIRST_KEYS = re.compile(
    _WS.join(
        [rb"\{", rb"(" + _STRING + rb")", rb":", _SCALAR, rb",", rb"(" + _STRING + rb")", rb":"]
    )
)
"""An item that starts `{"k1": <number or string>, "k2":`, the two keys captured."""
_DIGITS = bytes.maketrans(b"0123456789", b"0" * 10)
_LONG_NUMBER = b"0" * 19
"""19 digits in a row: maybe an integer past 64 bits, which orjson reads as a float."""


def loads(text: bytes) -> Any:
    """One JSON value (a JSONL line) as `json.loads` reads it: by orjson where it reads the
    same (3x as fast on a Label Studio task), by the standard library after a run of 19 digits
    (a maybe-large integer) or where orjson refuses the text, whose error then says what is
    wrong as before."""
    if _LONG_NUMBER not in text.translate(_DIGITS):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)


class JsonArrayError(ValueError):
    """The file is not a whole JSON array: `items` were read before the fault at `offset`."""

    def __init__(self, message: str, offset: int, items: int):
        # the stdlib's messages end in " at" (`Unterminated string starting at`): the offset
        # follows in parentheses instead
        text = message.removesuffix(" at").removesuffix(" starting")
        super().__init__(f"{text} (at byte {offset})")
        self.offset = offset
        self.items = items


class _NotJson(ValueError):
    """A NaN or Infinity, which JSON does not have."""


def _refuse(name: str) -> Any:
    raise _NotJson(f"the item starting here holds {name}, which JSON does not have")


_DECODER = json.JSONDecoder(parse_constant=_refuse)


def _blank_end(text: str, pos: int) -> int:
    m = _BLANK.match(text, pos)
    return m.end() if m else pos


def _utf8_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8"))


def array_items(fh: IO[bytes]) -> Iterator[Any]:
    """Every item of the JSON array at `fh`'s position (blanks, then its `[`), in order.

    A broken file yields the items before the fault, then raises JsonArrayError."""
    slices = _Slices(fh)
    yield from slices.items()
    rest = slices.buf[slices.pos :]
    yield from _Scan(fh, rest, slices.at, slices.count).items(slices.inside)


class _Slices:
    """The items orjson can take, slice by slice; then what the scanner must go on from:
    `buf[pos:]` (bytes read, not parsed) starting at file offset `at`, inside the array or
    not (before its `[`), and the items given."""

    def __init__(self, fh: IO[bytes]):
        self.fh = fh
        self.buf = b""
        self.pos = 0
        self.at = fh.tell()
        self.count = 0
        self.inside = False

    def items(self) -> Iterator[Any]:
        fh = self.fh
        buf = fh.read(CHUNK)
        self.buf = buf
        opening = _BLANK_BYTES.match(buf)
        start = opening.end() if opening else 0
        if buf[start : start + 1] != b"[":
            return  # blanks still coming, or no array: the scanner says what it is
        first = _BLANK_BYTES.match(buf, start + 1)
        at = first.end() if first else start + 1
        keys = _FIRST_KEYS.match(buf, at)
        if keys is None:
            return  # not items of the shape the cut needs (or not read far enough yet)
        # a cut: after an item's `}` and its comma, before an item that starts as the first
        # one does (an annotation object also starts with "id", but not with "annotations")
        start_of_item = [rb"\{", re.escape(keys.group(1)), rb":", _SCALAR, rb","]
        start_of_item += [re.escape(keys.group(2)), rb":"]
        cut = re.compile(rb"\}" + _WS + rb"," + _WS + rb"(?=" + _WS.join(start_of_item) + rb")")
        self.pos, self.at, self.inside = at, self.at + at, True
        searched = at  # buf before this (less a lookahead's overlap) holds no cut
        while True:
            data = fh.read(CHUNK)
            if not data:
                return  # the last items and the closing `]`: the scanner's
            buf = self.buf = buf[self.pos :] + data
            searched, self.pos = max(0, searched - self.pos - _OVERLAP), 0
            while True:
                pos = self.pos
                found = cut.search(buf, max(pos + SLICE, searched))
                if found is None:
                    break
                piece = buf[pos : found.start() + 1]
                if _LONG_NUMBER in piece.translate(_DIGITS):
                    return
                try:
                    items = orjson.loads(b"[" + piece + b"]")
                except orjson.JSONDecodeError:
                    return  # a value orjson does not read as the stdlib does, or a fault
                end = found.end()
                self.pos, self.at, searched = end, self.at + end - pos, end
                for item in items:
                    yield item
                    self.count += 1
            searched = len(buf)
            if len(buf) - self.pos > SLICE_LIMIT:
                return


class _Scan:
    """The decoded text held, where it sits in the file, and how many items were given."""

    def __init__(self, fh: IO[bytes], read: bytes = b"", at: int | None = None, count: int = 0):
        """`read`: bytes already read from `fh`, starting at file offset `at`."""
        self.fh = fh
        self.text = ""
        self.base = fh.tell() if at is None else at  # file offset of text[0]
        self.read_to = self.base + len(read)  # file offset of the end of what was read
        self.pending = read  # bytes not decoded yet (at first: what was read before)
        self.bad_utf8: int | None = None  # file offset of bytes that are not UTF-8
        self.keep = 0  # text before this index is done with
        self.eof = False
        self.count = count

    def _fault(self, message: str, pos: int) -> JsonArrayError:
        offset = self.base + _utf8_len(self.text[: min(pos, len(self.text))])
        if self.bad_utf8 is not None and offset >= self.bad_utf8:
            return JsonArrayError("bytes that are not UTF-8", self.bad_utf8, self.count)
        return JsonArrayError(message, offset, self.count)

    def _more(self, pos: int) -> int:
        """Read on, letting the text before `keep` go; `pos` in the new text."""
        if self.eof:
            raise self._fault("the file ends inside the array (truncated?)", len(self.text))
        kept = self.text[self.keep :]
        data = self.fh.read(max(CHUNK, len(kept)))
        fresh = self._decoded(data)
        self.base += _utf8_len(self.text[: self.keep])
        pos -= self.keep
        self.text, self.keep = kept + fresh, 0
        return pos

    def _decoded(self, data: bytes) -> str:
        """The text of `data` after what is pending; at bytes that are not UTF-8 the text
        ends there (the items before them are still read)."""
        start = self.read_to - len(self.pending)
        self.read_to += len(data)
        raw, self.pending = self.pending + data, b""
        self.eof = not data
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as err:
            if data and err.reason == "unexpected end of data":
                self.pending = raw[err.start :]  # a character cut by the read
            else:
                self.bad_utf8, self.eof = start + err.start, True
            return raw[: err.start].decode("utf-8")

    def items(self, inside: bool = False) -> Iterator[Any]:
        """The items; `inside`: the text starts at an item after a `,` (where the slices
        stopped), not before the array's `[`."""
        raw_decode = _DECODER.raw_decode
        blank = _blank_end
        pos = 0
        if not inside:
            while pos == len(self.text):
                pos = self._more(pos)
                pos = blank(self.text, pos)
            if self.text[pos] != "[":
                raise self._fault("not a JSON array", pos)
            pos += 1
        first = not inside  # just after `[`: `]` may close the array at once
        while True:
            text = self.text
            pos = blank(text, pos)
            if pos == len(text):
                pos = self._more(pos)
                continue
            if first and text[pos] == "]":
                self._rest_is_blank(pos + 1)
                return
            try:
                item, end = raw_decode(text, pos)
            except json.JSONDecodeError as err:
                unterminated = err.msg.startswith("Unterminated string")
                if not self.eof and (unterminated or err.pos >= len(text) - _NEAR_END):
                    pos = self._more(pos)
                    continue
                if unterminated or err.pos == len(text):
                    message = f"the file ends inside an item (truncated?): {err.msg}"
                    raise self._fault(message, pos) from None
                raise self._fault(err.msg, err.pos) from None
            except _NotJson as err:
                raise self._fault(str(err), pos) from None
            except RecursionError:
                raise self._fault("values nested too deep", pos) from None
            after = blank(text, end)
            if len(text) - after < _NEAR_END and not self.eof:
                pos = self._more(pos)  # a number cut as `1.` or `1e` may go on in the next read
                continue
            if after == len(text):
                raise self._fault("the file ends inside the array (truncated?)", after)
            if text[after] not in ",]":
                raise self._fault("expected ',' or ']' after an item", after)
            yield item
            self.count += 1
            self.keep = end
            first = False
            if text[after] == "]":
                self._rest_is_blank(after + 1)
                return
            pos = after + 1

    def _rest_is_blank(self, pos: int) -> None:
        """After the closing `]`: only blanks may follow."""
        while True:
            pos = _blank_end(self.text, pos)
            if pos < len(self.text):
                raise self._fault("text after the array's closing ']'", pos)
            if self.eof:
                if self.bad_utf8 is not None:
                    raise self._fault("", len(self.text))
                return
            self.keep = pos
            pos = self._more(pos)
