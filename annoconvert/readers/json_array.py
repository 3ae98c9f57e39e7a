"""The items of a top-level JSON array, streamed with the standard library's C scanner.

Why not ijson: on the benchmark's Label Studio exports, `JSONDecoder.raw_decode` over 256 KiB
of decoded text at a time parses 100k tasks in 0.8 s (text) and 1.4 s (detection) where
ijson's C backend takes 1.1 s and 2.0 s, and parsing is most of a text conversion's time. An
item is built whole by either parser, so memory stays what it was: the text of one read plus
the item being parsed.

The values are the standard library's (as for the JSONL inputs, read with `json.loads`):
integers of any size, `1e400` as infinity (geometry refuses it), `\\ud800` as a lone surrogate
(the writer refuses it). NaN and Infinity are refused, as JSON has no such values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import IO, Any

CHUNK = 1 << 18
"""Bytes read at a time (a longer item makes the next read as long as what is kept)."""

_NEAR_END = 16
"""A scanner error this close to the end of the text read so far may be a cut, not a fault."""

_BLANK = re.compile(r"[ \t\n\r]*")


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
    return _Scan(fh).items()


class _Scan:
    """The decoded text held, where it sits in the file, and how many items were given."""

    def __init__(self, fh: IO[bytes]):
        self.fh = fh
        self.text = ""
        self.base = fh.tell()  # file offset of text[0]
        self.read_to = self.base  # file offset of the end of what was read
        self.pending = b""  # the start of a character the last read cut
        self.bad_utf8: int | None = None  # file offset of bytes that are not UTF-8
        self.keep = 0  # text before this index is done with
        self.eof = False
        self.count = 0

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

    def items(self) -> Iterator[Any]:
        raw_decode = _DECODER.raw_decode
        blank = _blank_end
        pos = 0
        while pos == len(self.text):
            pos = self._more(pos)
            pos = blank(self.text, pos)
        if self.text[pos] != "[":
            raise self._fault("not a JSON array", pos)
        pos += 1
        first = True  # just after `[`: `]` may close the array at once
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
