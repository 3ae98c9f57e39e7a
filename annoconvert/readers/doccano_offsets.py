"""Doccano span offsets: code points or UTF-16 code units, told apart per span.

Doccano stores the integers it receives. Imports and the API send Python code-point indices;
the web UI (v-annotator) sends JavaScript string indices, i.e. UTF-16 code units. The two agree
until the first character outside the BMP (emoji, some CJK): after it, every UTF-16 offset is
larger by one per astral character before it.

Rule for `--offsets auto` (per span, as one list may mix both: collaborative `all.jsonl`):
1. If no astral character lies before the span's end, both readings are the same: done.
2. A reading is impossible when it is out of range, empty, or (UTF-16) falls between the two
   halves of a surrogate pair. If only one reading is possible, it is used; if none, the span
   is rejected (`bad_span`).
3. If both are possible, the reading whose ends cut fewer grapheme clusters (a ZWJ sequence, a
   flag pair, a base and its combining mark, variation selector or skin tone) wins; then the
   one that cuts fewer words (a letter or digit on both sides of an end) or starts/ends on a
   space.
4. Still a tie: the reading chosen for the other spans of the same annotation set (one producer
   per set); if they do not decide either, the span is rejected (`ambiguous_offsets`) rather
   than guessed: `--offsets codepoint|utf16` decides it.

`--offsets codepoint` and `--offsets utf16` read every span one way; a span that does not fit
is `bad_span`. The model always holds code points; spans read as UTF-16 are remapped and
counted.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from annoconvert.errors import TaskError

_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
CODEPOINT, UTF16 = "codepoint", "utf16"


def has_astral(text: str) -> bool:
    """True when the text holds a character outside the BMP (UTF-16 and code points differ)."""
    return not text.isascii() and _ASTRAL.search(text) is not None


@dataclass(frozen=True, slots=True)
class Resolved:
    """A span's code-point offsets and whether they were remapped from UTF-16."""

    start: int
    end: int
    remapped: bool


class TextOffsets:
    """UTF-16 <-> code point mapping for one text (computed only when it holds astral chars)."""

    __slots__ = ("_u16_starts", "astral", "length", "text")

    def __init__(self, text: str):
        self.text = text
        self.length = len(text)
        positions = [m.start() for m in _ASTRAL.finditer(text)]
        self.astral = positions
        # UTF-16 index where the i-th astral character begins
        self._u16_starts = [p + i for i, p in enumerate(positions)]

    def from_utf16(self, unit: int) -> int | None:
        """The code-point index of a UTF-16 offset; None inside a surrogate pair or past the end."""
        if unit < 0:
            return None
        k = bisect.bisect_left(self._u16_starts, unit)
        if k and self._u16_starts[k - 1] + 1 == unit:
            return None
        point = unit - k
        return point if point <= self.length else None

    def astral_before(self, end: int) -> bool:
        """True when an astral character lies before code point `end` (readings differ)."""
        return bool(self.astral) and self.astral[0] < end


def _is_ri(ch: str) -> bool:
    return "\U0001f1e6" <= ch <= "\U0001f1ff"


def cuts_grapheme(text: str, i: int) -> bool:
    """True when index `i` falls inside a grapheme cluster (an approximation of UAX #29)."""
    if i <= 0 or i >= len(text):
        return False
    a, b = text[i - 1], text[i]
    if a == "\r" and b == "\n":
        return True
    if a == "\u200d" or b == "\u200d":
        return True
    ob = ord(b)
    if 0xFE00 <= ob <= 0xFE0F or 0x1F3FB <= ob <= 0x1F3FF or 0xE0020 <= ob <= 0xE007F:
        return True
    if 0xE0100 <= ob <= 0xE01EF or unicodedata.category(b) in ("Mn", "Mc", "Me"):
        return True
    if _is_ri(a) and _is_ri(b):
        run = 0
        j = i - 1
        while j >= 0 and _is_ri(text[j]):
            run += 1
            j -= 1
        return run % 2 == 1
    return False


def _cuts_word(text: str, i: int) -> bool:
    return 0 < i < len(text) and text[i - 1].isalnum() and text[i].isalnum()


def _score(text: str, start: int, end: int) -> tuple[int, int]:
    graphemes = cuts_grapheme(text, start) + cuts_grapheme(text, end)
    words = _cuts_word(text, start) + _cuts_word(text, end)
    words += text[start].isspace() + text[end - 1].isspace()
    return (graphemes, words)


def _readings(index: TextOffsets, start: int, end: int) -> tuple[Resolved | None, Resolved | None]:
    cp = Resolved(start, end, False) if 0 <= start < end <= index.length else None
    s16, e16 = index.from_utf16(start), index.from_utf16(end)
    u16 = Resolved(s16, e16, True) if s16 is not None and e16 is not None and s16 < e16 else None
    return cp, u16


def resolve_spans(text: str, spans: Sequence[tuple[int, int]], mode: str) -> list[Resolved | str]:
    """Code-point offsets for every span of one annotation set, or an error code per span.

    The error codes are `bad_span` (fits no allowed reading) and `ambiguous_offsets`.
    """
    index: TextOffsets | None = None
    out: list[Resolved | str] = []
    undecided: list[int] = []
    votes = {CODEPOINT: 0, UTF16: 0}
    for pos, (start, end) in enumerate(spans):
        if mode != CODEPOINT and not text.isascii():
            if index is None:
                index = TextOffsets(text)
            if mode == UTF16 or index.astral_before(max(start, end)):
                out.append(_choose(index, text, start, end, mode, votes))
                if out[-1] == "ambiguous_offsets":
                    undecided.append(pos)
                continue
        ok = 0 <= start < end <= len(text)
        out.append(Resolved(start, end, False) if ok else "bad_span")
    if undecided and index is not None and votes[CODEPOINT] != votes[UTF16]:
        unit = CODEPOINT if votes[CODEPOINT] > votes[UTF16] else UTF16
        for pos in undecided:
            cp, u16 = _readings(index, *spans[pos])
            out[pos] = (cp if unit == CODEPOINT else u16) or "bad_span"
    return out


def _choose(
    index: TextOffsets, text: str, start: int, end: int, mode: str, votes: dict[str, int]
) -> Resolved | str:
    """One span where the readings may differ (rules 2-3 of the module docstring)."""
    cp, u16 = _readings(index, start, end)
    if mode == UTF16:
        if u16 is None:
            return "bad_span"
        return Resolved(u16.start, u16.end, (start, end) != (u16.start, u16.end))
    if cp is not None and u16 is not None and (cp.start, cp.end) == (u16.start, u16.end):
        return cp
    if cp is None or u16 is None:
        chosen = cp or u16
        if chosen is None:
            return "bad_span"
        votes[UTF16 if chosen is u16 else CODEPOINT] += 1
        return chosen
    s_cp, s_16 = _score(text, cp.start, cp.end), _score(text, u16.start, u16.end)
    if s_cp == s_16:
        return "ambiguous_offsets"
    chosen = cp if s_cp < s_16 else u16
    votes[CODEPOINT if chosen is cp else UTF16] += 1
    return chosen


def span_error(code: str, text: str, start: int, end: int, mode: str) -> TaskError:
    """The TaskError for a span that `resolve_spans` could not place."""
    if code == "ambiguous_offsets":
        return TaskError(
            code,
            f"span [{start}, {end}) reads as {text[start:end]!r} in code points and differently "
            "in UTF-16 units, and nothing tells which is meant; give --offsets codepoint or "
            "--offsets utf16",
        )
    units = {"auto": "code points or UTF-16 units", CODEPOINT: "code points", UTF16: "UTF-16 units"}
    return TaskError(
        "bad_span",
        f"span [{start}, {end}) does not fit the text ({len(text)} characters) in "
        f"{units.get(mode, mode)}",
    )
