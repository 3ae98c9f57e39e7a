"""Find the same input answered differently, and exact duplicate examples.

Why: contradictory answers to one input teach the model noise, and duplicates over-weight a few
examples. Memory stays flat in the size of the export: while examples stream past, the checker
keeps three 64-bit hashes of each (`key_store`: in arrays up to a chunk, then on disk in
buckets) and its task id (none while the ids are the lines' indexes, as the checker that follows
the output file gives them); the grouping happens once at the end, bucket by bucket once the
hashes are on disk: in plain Python up to `PLAIN_GROUPING` lines (importing numpy took longer
than that grouping), vectorized with numpy past it (a few MB at 100k lines, where dicts took
fifteen). What it finds is kept in memory, compactly: the conflicting lines in one flat array
(`ConflictGroups`), the repeats in two (`Repeats`), the dropped lines as a set.

API (two passes, because "drop" must also remove the *first* example of a conflict, which a
single streaming pass has already let through):

    checker = ConsistencyChecker(policy="drop", dedupe=True)
    for example in examples:            # pass 1: hashes only
        checker.observe(example)
    report = checker.report()           # conflicts and duplicates, with task ids
    kept = [e for e in examples if checker.keep(e)]   # pass 2: same examples, same order
    # or, when the examples are already written: checker.dropped_lines() (line indexes)

`check_consistency(examples, policy, dedupe)` does both passes over a sequence.
Policies: `report` keeps everything and reports; `drop` removes every example of a conflicting
input; `keep` keeps everything and reports nothing about conflicts. Exact duplicates are always
reported; with `dedupe` only the first of them is kept.
"""

from __future__ import annotations

import functools
import hashlib
import unicodedata
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

from annoconvert.model import Example, ImagePart, Message, PreparedImage, TextPart
from annoconvert.quality.common_line import (
    UNSEEN,
    CommonLine,
    CutImage,
    common_line,
    dialect_common_line,
)
from annoconvert.quality.int_arrays import int_array
from annoconvert.quality.key_store import KeyStore

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

Policy = Literal["report", "drop", "keep"]
PREVIEW_LIMIT = 4096
"""Distinct inputs whose text preview is kept for the report (a bounded memory cost)."""


class Conflict(BaseModel):
    """One input with two or more different answers."""

    model_config = ConfigDict(frozen=True)

    input: str = Field(description="the start of the normalized input text, for a human")
    tasks: list[int | str] = Field(
        description="the examples' task ids, in order: all, or the first of them when the "
        "report was asked for fewer (`ConsistencyChecker.report(listed_tasks=...)`)"
    )
    examples: int = Field(description="examples with this input, all counted")
    answers: int


class Duplicate(BaseModel):
    """An example identical to an earlier one."""

    model_config = ConfigDict(frozen=True)

    task: int | str
    first_task: int | str


class ConsistencyReport(BaseModel):
    """What the checker found; `dropped` counts examples removed by policy or dedupe."""

    model_config = ConfigDict(frozen=True)

    policy: Policy
    examples: int
    conflicts: list[Conflict]
    duplicates: list[Duplicate]
    duplicate_count: int = Field(
        description="exact repeats in all; `duplicates` lists them, or the first of them when "
        "the report was asked for fewer (`ConsistencyChecker.report(listed=...)`)"
    )
    dropped: int


def normalize(text: str) -> str:
    """NFKC, casefolded, whitespace collapsed: 'Hello  World' and 'hello world' are one input.

    (ASCII text is already NFKC: the normalization is skipped for it, 8x faster; printable
    ASCII whose only spaces are single and inside has no whitespace to collapse.)
    """
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    elif text.isprintable() and "  " not in text and text[:1] != " " and text[-1:] != " ":
        return text.casefold()
    return " ".join(text.split()).casefold()


_normalized_prompt = functools.lru_cache(maxsize=256)(normalize)
"""`normalize` for the text beside an image, which is most often one instruction for all."""


_RECENT_IMAGES: dict[int, tuple[bytes, bytes]] = {}
"""id(data) -> (data, digest) for the last few images: each image is hashed once, not per key."""


def _image_key(image: PreparedImage) -> bytes:
    data = image.data
    if data is None:
        return (image.uri or image.path or image.source_uri).encode()
    hit = _RECENT_IMAGES.get(id(data))
    if hit is not None and hit[0] is data:
        return hit[1]
    digest = hashlib.blake2b(data, digest_size=8).digest()
    if len(_RECENT_IMAGES) >= 16:
        _RECENT_IMAGES.clear()
    _RECENT_IMAGES[id(data)] = (data, digest)
    return digest


def _final_answer_index(messages: Sequence[Message]) -> int:
    for index in range(len(messages) - 1, -1, -1):
        if messages[index].role == "assistant":
            return index
    return len(messages)


def _input_messages(example: Example) -> Sequence[Message]:
    """What the model is shown: every message before the final answer (preference: all)."""
    if example.preferred is not None:
        return example.messages
    return example.messages[: _final_answer_index(example.messages)]


def input_key(example: Example) -> bytes:
    """Hash of the normalized user text(s) and the image bytes, in order (system text ignored)."""
    h = hashlib.blake2b(digest_size=8)
    for message in _input_messages(example):
        if message.role == "system":
            continue
        h.update(message.role.encode() + b"\0")
        for part in message.parts:
            if isinstance(part, TextPart):
                h.update(b"t" + normalize(part.text).encode() + b"\0")
            elif isinstance(part, ImagePart):
                h.update(b"i" + _image_key(part.image) + b"\0")
    return h.digest()


def _shortened(text: str, width: int = 60) -> str:
    """`text` cut to `width` characters, an ellipsis marking the cut."""
    return text if len(text) <= width else text[: width - 3] + "..."


def input_preview(example: Example, width: int = 60) -> str:
    """The normalized input text, cut to `width` characters, for the report."""
    text = " ".join(
        normalize(m.text) for m in _input_messages(example) if m.role != "system" and m.text
    )
    if any(isinstance(p, ImagePart) for m in _input_messages(example) for p in m.parts):
        text = ("[image] " + text).strip()
    return _shortened(text, width)


def _messages_hash(h: hashlib.blake2b, messages: Iterable[Message]) -> None:
    for message in messages:
        h.update(f"{message.role}\0{message.weight}\0".encode())
        for part in message.parts:
            if isinstance(part, TextPart):
                h.update(b"t" + part.text.encode() + b"\0")
            elif isinstance(part, ImagePart):
                h.update(b"i" + _image_key(part.image) + b"\0")


def answer_key(example: Example) -> bytes:
    """Hash of the answer: the final assistant message (preference: both outputs), normalized."""
    h = hashlib.blake2b(digest_size=8)
    if example.preferred is not None:
        for tag, messages in (("p", example.preferred), ("n", example.non_preferred or ())):
            h.update(tag.encode())
            for message in messages:
                h.update(normalize(message.text).encode() + b"\0")
        return h.digest()
    index = _final_answer_index(example.messages)
    if index < len(example.messages):
        h.update(normalize(example.messages[index].text).encode())
    return h.digest()


# --- the same keys from a written line (any dialect), for the checker that follows the file ---

ANSWER_ROLES = frozenset({"assistant", "model", "gpt"})
SYSTEM_ROLES = frozenset({"system"})


def _speaker(turn: dict[str, Any]) -> str | None:
    """A turn's role (or sharegpt's `from`) when it is a string; None for anything else (a list
    or an object cannot be looked up in a set of roles)."""
    role = turn.get("role", turn.get("from"))
    return role if type(role) is str else None


def _line_turns(obj: dict[str, Any]) -> tuple[list[Any], list[Any] | None]:
    """(turns shown to the model, the answer turns) of a parsed line in any dialect.

    Supervised lines: the answer is the last assistant/model/gpt turn. Preference lines
    (OpenAI DPO, TRL prompt/chosen/rejected, sharegpt chosen/rejected, Vertex completions):
    the answer is both outputs.
    """
    if isinstance(obj.get("input"), dict):
        turns = obj["input"].get("messages")
        shown = list(turns) if isinstance(turns, list) else []
        return shown, [obj.get("preferred_output"), obj.get("non_preferred_output")]
    for key in ("chosen", "completions"):
        if key in obj:
            prompt = obj.get("prompt", obj.get("conversations", obj.get("contents", [])))
            turns = prompt if isinstance(prompt, list) else [{"role": "user", "content": prompt}]
            return list(turns), [obj.get("chosen"), obj.get("rejected"), obj.get("completions")]
    for key in ("messages", "contents", "conversations"):
        turns = obj.get(key)
        if isinstance(turns, list):
            for i in range(len(turns) - 1, -1, -1):
                turn = turns[i]
                if isinstance(turn, dict) and _speaker(turn) in ANSWER_ROLES:
                    return turns[:i], [turn]
            return turns, None
    return [], None


def _turn_items(turn: Any) -> Iterable[str]:
    """A turn's content as strings: normalized texts ('t...'), image references ('i...')."""
    if isinstance(turn, str):
        yield "t" + normalize(turn)
        return
    if not isinstance(turn, dict):
        yield "x" + repr(turn)
        return
    content = turn.get("content", turn.get("value", turn.get("parts")))
    parts = content if isinstance(content, list) else [content]
    for part in parts:
        if isinstance(part, str):
            yield "t" + normalize(part)
        elif isinstance(part, dict):
            if isinstance(part.get("text"), str):
                yield "t" + normalize(part["text"])
            url, inline, file = part.get("image_url"), part.get("inlineData"), part.get("fileData")
            for ref in (
                url.get("url") if isinstance(url, dict) else url,
                inline.get("data") if isinstance(inline, dict) else None,
                file.get("fileUri") if isinstance(file, dict) else None,
            ):
                if isinstance(ref, str):
                    yield image_item(ref)
            if part.get("type") == "image":
                yield "i?"


_MASK = (1 << 64) - 1


def image_item(url: str) -> str:
    """An image as an item of an input key: 'i' and its URL, where a data URL's Base64 counts
    by its hash (`_data_item`), which a line read without its Base64 (`cut_image`) gives
    from the Base64's bytes as written."""
    head, mark, data = url.partition(";base64,")
    if mark and head.startswith("data:") and data.isascii():
        return _data_item(head + mark, hash(data.encode("ascii")))
    return "i" + url


def _data_item(head: str, data_hash: int) -> str:
    """The item of a data URL: its part up to `;base64,` and the hash of the rest. (A URL
    item never equals one: a data URL whose rest is ASCII is always written so.)"""
    return f"i{head}#{data_hash & _MASK:016x}"


def _digest(items: Iterable[str]) -> int:
    """A 64-bit key of the items. Python's own string hash (SipHash, 2x blake2b here): the
    keys of one run are all computed in one process, so its per-process seed is harmless."""
    return hash(tuple(items)) & _MASK


def line_keys(obj: Any, raw: bytes, common: Any = UNSEEN) -> tuple[int, int, int, str]:
    """(input key, answer key, whole-line key, preview) of one written line, any dialect.

    The input is every non-system turn before the answer plus the line's `images` list (TRL,
    sharegpt); the whole-line key hashes the bytes as written. `common` is the line's
    `common_line` when the caller has it.
    """
    whole = hash(raw) & _MASK
    if not isinstance(obj, dict):
        return whole, whole, whole, ""
    if common is UNSEEN:
        common = _common(obj)
    if common is not None:  # the common lines: the general walk's keys, without the walk
        inp, ans, text, image = _common_keys(common)
        return inp, ans, whole, _common_preview(text, image)
    turns, answers = _line_turns(obj)
    shown = [
        item
        for turn in turns
        if not (isinstance(turn, dict) and _speaker(turn) in SYSTEM_ROLES)
        for item in _turn_items(turn)
    ]
    images = obj.get("images")
    if isinstance(images, list):
        shown.extend("i" + (img if isinstance(img, str) else repr(img)) for img in images)
    answer_items = [item for turn in answers or () for item in _answer_items(turn)]
    text = " ".join(item[1:] for item in shown if item.startswith("t"))
    if any(item.startswith("i") for item in shown):
        text = ("[image] " + text).strip()
    return _digest(shown), _digest(answer_items), whole, _shortened(text)


def _common(obj: Any) -> CommonLine | None:
    """The line's values if it is a common line of any dialect: the keys are the general
    walk's, which reads every dialect alike."""
    return common_line(obj) or dialect_common_line(obj)


def _common_keys(common: CommonLine, image: str | None = None) -> tuple[int, int, str, bool]:
    """(input key, answer key, normalized text, whether there is an image) of a common line,
    as the general walk makes them; `image` is the image's item when the caller has it."""
    _, prompt, url, answer = common
    answer_key = _digest(("t" + normalize(answer),))
    if url is None:
        text = normalize(prompt)
        return _digest(("t" + text,)), answer_key, text, False
    text = _normalized_prompt(prompt)
    return _digest(("t" + text, image or image_item(url))), answer_key, text, True


def _common_preview(text: str, image: bool) -> str:
    return _shortened(("[image] " + text).strip() if image else text)


def _answer_items(answer: Any) -> Iterable[str]:
    if isinstance(answer, list):
        for turn in answer:
            yield from _turn_items(turn)
        yield "|"
    elif answer is not None:
        yield from _turn_items(answer)


def example_key(example: Example) -> bytes:
    """Hash of the whole example exactly as written (roles, texts, images, weights)."""
    h = hashlib.blake2b(digest_size=8)
    _messages_hash(h, example.messages)
    for tag, messages in (("p", example.preferred), ("n", example.non_preferred)):
        if messages is not None:
            h.update(tag.encode())
            _messages_hash(h, messages)
    return h.digest()


class TaskIds:
    """Task ids: none kept while each is its line's index (the checker that follows a file
    names lines so), then in a compact array while they are ints, a list once one is not."""

    def __init__(self) -> None:
        self._count = 0
        """Ids so far, while every one is its index."""
        self._ints: array[int] | None = None
        self._any: list[int | str] | None = None

    def append(self, task_id: int | str) -> None:
        if self._ints is None and self._any is None:
            if task_id == self._count and type(task_id) is int:
                self._count += 1
                return
            self._ints = array("q", range(self._count))
        if self._ints is not None:
            if isinstance(task_id, int) and -(2**63) <= task_id < 2**63:
                self._ints.append(task_id)
                return
            self._any = list(self._ints)
            self._ints = None
        assert self._any is not None
        self._any.append(task_id)

    def __getitem__(self, index: int) -> int | str:
        if self._ints is not None:
            return self._ints[index]
        if self._any is not None:
            return self._any[index]
        if not 0 <= index < self._count:
            raise IndexError(index)
        return index


@dataclass(frozen=True)
class Repeats:
    """Every exact repeat: its line and the line of its first occurrence, by line, in two
    arrays (4 bytes a number while the lines fit: a list of pairs took ~120 bytes a repeat,
    and a text export of a few thousand short texts repeated over a million lines has a
    million repeats)."""

    lines: array[int]
    firsts: array[int]

    def __len__(self) -> int:
        return len(self.lines)

    def pairs(self, count: int | None = None) -> list[tuple[int, int]]:
        """(line, first line) of the first `count` repeats (all for None)."""
        return list(zip(self.lines[:count], self.firsts[:count], strict=True))


@dataclass(frozen=True)
class ConflictGroups:
    """The lines of each input that got several answers: groups in order of their first
    line, each in line order, as one flat array and where each group starts (4 bytes a line
    while the lines fit; lists took ~36: a million conflicting lines took 36 MB)."""

    lines: array[int]
    starts: array[int]
    """Where each group starts in `lines`, and at the end where the last one ends."""

    def __len__(self) -> int:
        return len(self.starts) - 1

    def __iter__(self) -> Iterator[array[int]]:
        for k in range(len(self)):
            yield self.lines[self.starts[k] : self.starts[k + 1]]


def _groups_of(lists: list[list[int]]) -> ConflictGroups:
    """`ConflictGroups` of groups already in order (the plain grouping's few)."""
    starts = array("q", [0])
    lines = array("q")
    for group in lists:
        lines.extend(group)
        starts.append(len(lines))
    return ConflictGroups(lines, starts)


def _groups_by_first_line(
    lines: npt.NDArray[Any], sizes: npt.NDArray[Any]
) -> tuple[ConflictGroups, npt.NDArray[Any]]:
    """Groups given as consecutive runs (`sizes`) of `lines`, each in line order, put in order
    of their first lines; and that order (group k of the result was run `order[k]`)."""
    import numpy as np

    ends = np.cumsum(sizes, dtype=np.int64)
    starts = ends - sizes
    order = np.argsort(lines[starts], kind="stable")
    sizes = sizes[order]
    new_ends = np.cumsum(sizes, dtype=np.int64)
    total = int(new_ends[-1]) if len(new_ends) else 0
    index = np.int32 if total < 2**31 else np.int64
    # each new position k takes the old one: its run's old start + (k - its run's new start)
    position = np.repeat((starts[order] - (new_ends - sizes)).astype(index), sizes)
    position += np.arange(total, dtype=index)
    moved = lines[position]
    del position
    bounds = int_array(np.concatenate(([0], new_ends)))
    return ConflictGroups(int_array(moved), bounds), order


def _no_repeats() -> Repeats:
    return Repeats(array("q"), array("q"))


def _repeats_by_line(lines: npt.NDArray[Any], firsts: npt.NDArray[Any]) -> Repeats:
    """`Repeats` of these lines and their first lines, ordered by line; 4 bytes a number
    while the lines fit (a billion and more: 8)."""
    import numpy as np

    by_line = np.argsort(lines, kind="stable")
    return Repeats(int_array(lines[by_line]), int_array(firsts[by_line]))


@dataclass(frozen=True)
class _Findings:
    conflict_groups: ConflictGroups
    """Line indexes of each input that got several answers, in first-seen order."""
    group_inputs: list[int]
    """The input hash of each conflict group."""
    answers: list[int]
    duplicates: Repeats
    """(line, line of its first occurrence) for every exact repeat."""
    conflicting_inputs: frozenset[int]
    dropped: frozenset[int]


def _as_int(digest: bytes) -> int:
    return int.from_bytes(digest, "little")


class ConsistencyChecker:
    """Two-pass checker keeping three hashes per example (see the module docstring)."""

    def __init__(self, policy: Policy = "report", dedupe: bool = False) -> None:
        self.policy: Policy = policy
        self.dedupe = dedupe
        self._keys = KeyStore()
        self._tasks = TaskIds()
        self._previews: dict[int, str] = {}
        self._findings: _Findings | None = None
        self._pass2 = 0

    def observe(self, example: Example) -> int:
        """Pass 1: record the example's hashes; returns its line index (0-based)."""
        key = _as_int(input_key(example))
        preview = input_preview(example) if len(self._previews) < PREVIEW_LIMIT else ""
        return self.observe_keys(
            example.task_id,
            key,
            _as_int(answer_key(example)),
            _as_int(example_key(example)),
            preview,
        )

    def observe_line(self, task: int | str, raw: bytes) -> int:
        """Pass 1 from a written line (any dialect): the keys of `line_keys`."""
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError:
            obj = None
        return self.observe_parsed(task, raw, obj)

    def observe_parsed(self, task: int | str, raw: bytes, obj: Any, common: Any = UNSEEN) -> int:
        """`observe_line` for a line already parsed into `obj` (None when it is not JSON),
        and told apart (`common_line`) when `common` is given."""
        if common is UNSEEN:
            common = _common(obj)
        if common is None:
            inp, ans, whole, preview = line_keys(obj, raw, None)
            return self.observe_keys(task, inp, ans, whole, preview)
        inp, ans, text, image = _common_keys(common)  # the preview only where it is kept
        preview = _common_preview(text, image) if self._keeps_preview(inp) else ""
        return self.observe_keys(task, inp, ans, hash(raw) & _MASK, preview)

    def observe_cut(self, task: int | str, cut: CutImage) -> int:
        """`observe_parsed` for a line read without its Base64 (`cut_image`): the Base64 is
        hashed once, for the image's item and for the whole-line key, which is then the hash
        of the rest of the line's bytes and of that hash (equal lines are cut alike)."""
        head = cut.common[2]
        assert head is not None  # an image line
        data_hash = hash(cut.base64)
        inp, ans, text, _ = _common_keys(cut.common, _data_item(head, data_hash))
        preview = _common_preview(text, True) if self._keeps_preview(inp) else ""
        return self.observe_keys(task, inp, ans, hash((cut.rest, data_hash)) & _MASK, preview)

    def _keeps_preview(self, input_hash: int) -> bool:
        return len(self._previews) < PREVIEW_LIMIT and input_hash not in self._previews

    def observe_keys(
        self, task: int | str, input_hash: int, answer_hash: int, whole_hash: int, preview: str
    ) -> int:
        """Record one example by its three 64-bit keys; returns its line index (0-based)."""
        self._keys.append(input_hash, answer_hash, whole_hash)
        self._tasks.append(task)
        if preview and self._keeps_preview(input_hash):
            self._previews[input_hash] = preview
        self._findings = None
        return len(self._keys) - 1

    def _find(self) -> _Findings:
        if self._findings is None:
            keys = self._keys
            if keys.spilled:
                self._findings = _group_buckets(keys, self)
            else:
                self._findings = _group(keys.inputs, keys.answers, keys.wholes, self)
        return self._findings

    def close(self) -> None:
        """Remove the spilled hashes' file (the findings stay)."""
        self._keys.close()

    def conflicting(self, example: Example) -> bool:
        """Whether the example's input got two or more different answers (after pass 1)."""
        return _as_int(input_key(example)) in self._find().conflicting_inputs

    def dropped_lines(self) -> frozenset[int]:
        """Line indexes the policy and dedupe remove (after pass 1)."""
        return self._find().dropped

    def keep(self, example: Example) -> bool:
        """Pass 2: whether to write the example (examples in pass-1 order)."""
        line = self._pass2
        self._pass2 += 1
        return line not in self._find().dropped

    def report(
        self, listed: int | None = None, listed_tasks: int | None = None
    ) -> ConsistencyReport:
        """Conflicts (inputs with several answers, their task ids: all, or the first
        `listed_tasks` of each) and exact duplicates (all, or the first `listed`), each
        counted. A run's summary names a few: a report object a repeat took ~500 bytes, and
        a million repeats took 1 GB in the checker and its copy in the converting process."""
        found = self._find()
        conflicts = []
        if self.policy != "keep":
            for lines, key, answers in zip(
                found.conflict_groups, found.group_inputs, found.answers, strict=True
            ):
                conflicts.append(
                    Conflict(
                        input=self._previews.get(key, ""),
                        tasks=[self._tasks[i] for i in lines[:listed_tasks]],
                        examples=len(lines),
                        answers=answers,
                    )
                )
        return ConsistencyReport(
            policy=self.policy,
            examples=len(self._keys),
            conflicts=conflicts,
            duplicates=[
                Duplicate(task=self._tasks[line], first_task=self._tasks[first])
                for line, first in found.duplicates.pairs(listed)
            ],
            duplicate_count=len(found.duplicates),
            dropped=len(found.dropped),
        )


PLAIN_GROUPING = 5_000
"""Up to this many lines the grouping runs in plain Python dicts (1.5 ms and 1.2 MiB at this
size) and numpy is never imported (60 ms and 15 MiB of RSS), which a small run waited for at
its end. Kept low on purpose: a run past it imports numpy while it goes on, so runs of 10k
and 100k lines carry the same 15 MiB and memory stays flat in the export's size (at 20k the
10k run lacked it, and in CI the 100k run's peak was 1.32-1.44x the 10k one). Past it,
numpy's grouping takes 1.6 MiB at 50k lines where dicts took 15."""


_Groups = tuple[ConflictGroups, list[int], list[int], Repeats]
"""(lines of each input with several answers, that input's hash, its number of distinct
answers, (line, line of its first occurrence) of each exact repeat): groups in order of their
first line, repeats by line."""


def _group(
    inputs: array[int], answers: array[int], wholes: array[int], checker: ConsistencyChecker
) -> _Findings:
    """Group the hashes once: inputs with several answers, and repeated examples."""
    if len(inputs) <= PLAIN_GROUPING:
        return _group_plain(inputs, answers, wholes, checker)
    return _group_sorted(inputs, answers, wholes, checker)


def _group_plain(
    inputs: Sequence[int],
    answers: Sequence[int],
    wholes: Sequence[int],
    checker: ConsistencyChecker,
) -> _Findings:
    return _findings(_groups_plain(inputs, answers, wholes), checker)


def _group_sorted(
    inputs: array[int], answers: array[int], wholes: array[int], checker: ConsistencyChecker
) -> _Findings:
    import numpy as np

    columns = (np.frombuffer(c, dtype=np.uint64) for c in (inputs, answers, wholes))
    return _findings(_groups_sorted(*columns), checker)


def _group_buckets(keys: KeyStore, checker: ConsistencyChecker) -> _Findings:
    """`_group` of spilled hashes, one bucket at a time (see `key_store`), each bucket's
    positions turned back into the lines' indexes."""
    import numpy as np

    group_lines: list[npt.NDArray[Any]] = []
    group_sizes: list[npt.NDArray[Any]] = []
    group_inputs: list[int] = []
    answer_counts: list[int] = []
    repeat_lines: list[npt.NDArray[Any]] = []
    repeat_firsts: list[npt.NDArray[Any]] = []
    line_type = np.int32 if len(keys) < 2**31 else np.int64
    for records in keys.buckets():
        if len(records) <= PLAIN_GROUPING:
            groups = _groups_plain(*(records[:, k].tolist() for k in range(3)))
        else:
            groups = _groups_sorted(*(np.ascontiguousarray(records[:, k]) for k in range(3)))
        line_of = records[:, 3].astype(line_type)
        bucket_groups, bucket_inputs, bucket_answers, bucket_repeats = groups
        if len(bucket_groups):  # a bucket's positions are in line order: so are its groups
            group_lines.append(line_of[np.asarray(bucket_groups.lines)])
            group_sizes.append(np.diff(np.asarray(bucket_groups.starts)))
            group_inputs.extend(bucket_inputs)
            answer_counts.extend(bucket_answers)
        if len(bucket_repeats):
            repeat_lines.append(line_of[np.asarray(bucket_repeats.lines)])
            repeat_firsts.append(line_of[np.asarray(bucket_repeats.firsts)])
    conflict_groups = _groups_of([])
    if group_lines:
        conflict_groups, order = _groups_by_first_line(
            np.concatenate(group_lines), np.concatenate(group_sizes)
        )
        del group_lines, group_sizes
        group_inputs = [group_inputs[k] for k in order.tolist()]
        answer_counts = [answer_counts[k] for k in order.tolist()]
    repeats = _no_repeats()
    if repeat_lines:
        all_lines, all_firsts = np.concatenate(repeat_lines), np.concatenate(repeat_firsts)
        del repeat_lines, repeat_firsts
        repeats = _repeats_by_line(all_lines, all_firsts)
    return _findings((conflict_groups, group_inputs, answer_counts, repeats), checker)


def _groups_plain(inputs: Sequence[int], answers: Sequence[int], wholes: Sequence[int]) -> _Groups:
    """`_Groups` with dicts: lines by input in first-seen order, first line by whole hash."""
    by_input: dict[int, list[int]] = {}
    for line, key in enumerate(inputs):
        lines = by_input.get(key)
        if lines is None:
            by_input[key] = [line]
        else:
            lines.append(line)
    conflict_groups: list[list[int]] = []
    answer_counts: list[int] = []
    conflicting: list[int] = []
    for key, lines in by_input.items():
        if len(lines) > 1:
            distinct = len({answers[line] for line in lines})
            if distinct > 1:
                conflict_groups.append(lines)
                answer_counts.append(distinct)
                conflicting.append(key)
    first_of: dict[int, int] = {}
    repeats = _no_repeats()
    for line, key in enumerate(wholes):
        first = first_of.setdefault(key, line)
        if first != line:
            repeats.lines.append(line)
            repeats.firsts.append(first)
    return _groups_of(conflict_groups), conflicting, answer_counts, repeats


def _findings(groups: _Groups, checker: ConsistencyChecker) -> _Findings:
    conflict_groups, group_inputs, answer_counts, repeats = groups
    dropped: set[int] = set()
    if checker.policy == "drop":
        dropped.update(conflict_groups.lines)
    if checker.dedupe:
        dropped.update(repeats.lines)
    return _Findings(
        conflict_groups,
        group_inputs,
        answer_counts,
        repeats,
        frozenset(group_inputs),
        frozenset(dropped),
    )


def _groups_sorted(
    inp: npt.NDArray[np.uint64], ans: npt.NDArray[np.uint64], whole: npt.NDArray[np.uint64]
) -> _Groups:
    """`_Groups` for many lines.

    Vectorized with numpy on the columns as given (no copy of them); sorting is stable, so
    line order within a group is kept without a line-number key, and every temporary is
    dropped as soon as it is used (the run's peak memory is measured here).
    """
    import numpy as np

    n = len(inp)
    if n == 0:
        return _groups_of([]), [], [], _no_repeats()
    # inputs with more than one distinct answer
    order = np.lexsort((ans, inp)).astype(np.int32)
    inp_s = inp[order]
    new_input = np.empty(n, dtype=bool)
    new_input[0] = True
    np.not_equal(inp_s[1:], inp_s[:-1], out=new_input[1:])
    del inp_s
    ans_s = ans[order]
    new_answer = new_input.copy()
    new_answer[1:] |= ans_s[1:] != ans_s[:-1]
    del ans_s
    group = (np.cumsum(new_input, dtype=np.int32) - 1).astype(np.int32)
    del new_input
    distinct = np.bincount(group, weights=new_answer).astype(np.int32)
    del new_answer
    bad = distinct[group] > 1
    bad_lines, bad_groups = order[bad], group[bad]
    del order, group, bad
    by_group = np.lexsort((bad_lines, bad_groups))  # each group's lines together, in order
    bad_lines, bad_groups = bad_lines[by_group], bad_groups[by_group]
    del by_group
    new_group = np.empty(len(bad_groups), dtype=bool)
    new_group[:1] = True
    np.not_equal(bad_groups[1:], bad_groups[:-1], out=new_group[1:])
    run_starts = np.flatnonzero(new_group)
    del new_group
    sizes = np.diff(np.append(run_starts, len(bad_lines)))
    conflict_groups, order_of_runs = _groups_by_first_line(bad_lines, sizes)
    answer_counts = distinct[bad_groups[run_starts]][order_of_runs].tolist()
    group_inputs = inp[bad_lines[run_starts]][order_of_runs].tolist()
    del bad_lines, bad_groups, run_starts, sizes
    # exact repeats: every occurrence after the first of a whole-line hash
    order_w = np.argsort(whole, kind="stable").astype(np.int32)
    whole_s = whole[order_w]
    repeat = np.zeros(n, dtype=bool)
    np.equal(whole_s[1:], whole_s[:-1], out=repeat[1:])
    del whole_s
    starts = np.where(repeat, 0, np.arange(n, dtype=np.int32))
    np.maximum.accumulate(starts, out=starts)
    repeats = _repeats_by_line(order_w[repeat], order_w[starts[repeat]])
    del order_w, repeat, starts
    return conflict_groups, group_inputs, answer_counts, repeats


def check_consistency(
    examples: Sequence[Example], policy: Policy = "report", dedupe: bool = False
) -> tuple[list[Example], ConsistencyReport]:
    """Both passes over an in-memory sequence: the examples to write, and the report."""
    checker = ConsistencyChecker(policy, dedupe)
    for example in examples:
        checker.observe(example)
    kept = [e for e in examples if checker.keep(e)]
    return kept, checker.report()
