"""Find the same input answered differently, and exact duplicate examples.

Why: contradictory answers to one input teach the model noise, and duplicates over-weight a few
examples. Both are found from hashes only, so memory grows with the number of distinct inputs
(32 bytes each plus the task ids of conflicting ones), never with the examples or their images.

API (two passes, because "drop" must also remove the *first* example of a conflict, which a
single streaming pass has already let through):

    checker = ConsistencyChecker(policy="drop", dedupe=True)
    for example in examples:            # pass 1: hashes only
        checker.observe(example)
    report = checker.report()           # conflicts and duplicates, with task ids
    kept = [e for e in examples if checker.keep(e)]   # pass 2: same examples, same order

`check_consistency(examples, policy, dedupe)` does both passes over a sequence.
Policies: `report` keeps everything and reports; `drop` removes every example of a conflicting
input; `keep` keeps everything and reports nothing about conflicts. With `dedupe`, only the first of
exact duplicates is kept (the others are reported and dropped).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from annoconvert.model import Example, ImagePart, Message, PreparedImage, TextPart

Policy = Literal["report", "drop", "keep"]


class Conflict(BaseModel):
    """One input with two or more different answers."""

    model_config = ConfigDict(frozen=True)

    input: str = Field(description="the start of the normalized input text, for a human")
    tasks: list[int | str]
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
    dropped: int


def normalize(text: str) -> str:
    """NFKC, casefolded, whitespace collapsed: 'Hello  World' and 'hello world' are one input."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip().casefold()


_RECENT_IMAGES: dict[int, tuple[bytes, bytes]] = {}
"""id(data) -> (data, digest) for the last few images: each image is hashed once, not per key."""


def _image_key(image: PreparedImage) -> bytes:
    data = image.data
    if data is None:
        return (image.uri or image.path or image.source_uri).encode()
    hit = _RECENT_IMAGES.get(id(data))
    if hit is not None and hit[0] is data:
        return hit[1]
    digest = hashlib.blake2b(data, digest_size=16).digest()
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
    h = hashlib.blake2b(digest_size=16)
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


def input_preview(example: Example, width: int = 60) -> str:
    """The normalized input text, cut to `width` characters, for the report."""
    text = " ".join(
        normalize(m.text) for m in _input_messages(example) if m.role != "system" and m.text
    )
    if any(isinstance(p, ImagePart) for m in _input_messages(example) for p in m.parts):
        text = ("[image] " + text).strip()
    return text if len(text) <= width else text[: width - 3] + "..."


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
    h = hashlib.blake2b(digest_size=16)
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


def example_key(example: Example) -> bytes:
    """Hash of the whole example exactly as written (roles, texts, images, weights)."""
    h = hashlib.blake2b(digest_size=16)
    _messages_hash(h, example.messages)
    for tag, messages in (("p", example.preferred), ("n", example.non_preferred)):
        if messages is not None:
            h.update(tag.encode())
            _messages_hash(h, messages)
    return h.digest()


class Observed(NamedTuple):
    """What `observe` learnt about one example: its input key, and whether it repeats one."""

    input_key: bytes
    duplicate: bool


class ConsistencyChecker:
    """Two-pass checker keeping hashes only (see the module docstring)."""

    def __init__(self, policy: Policy = "report", dedupe: bool = False) -> None:
        self.policy: Policy = policy
        self.dedupe = dedupe
        self._answers: dict[bytes, dict[bytes, list[int | str]]] = defaultdict(dict)
        self._previews: dict[bytes, str] = {}
        self._first_of: dict[bytes, int | str] = {}
        self._duplicates: list[Duplicate] = []
        self._examples = 0
        self._emitted: set[bytes] = set()
        self._dropped = 0

    def observe(self, example: Example) -> Observed:
        """Pass 1: record the example's input, answer and whole-example hashes.

        Returns the input key and whether the example exactly repeats an earlier one, so a
        streaming caller can drop duplicates at once and remember keys for a later `drop`.
        """
        self._examples += 1
        key = input_key(example)
        answers = self._answers[key]
        tasks = answers.setdefault(answer_key(example), [])
        tasks.append(example.task_id)
        if len(answers) == 2 and key not in self._previews:
            self._previews[key] = input_preview(example)
        whole = example_key(example)
        if whole in self._first_of:
            self._duplicates.append(
                Duplicate(task=example.task_id, first_task=self._first_of[whole])
            )
            return Observed(key, True)
        self._first_of[whole] = example.task_id
        return Observed(key, False)

    def conflicting_key(self, key: bytes) -> bool:
        """Whether an `input_key` got two or more different answers (after pass 1)."""
        return len(self._answers.get(key, {})) > 1

    def conflicting(self, example: Example) -> bool:
        """Whether the example's input got two or more different answers (after pass 1)."""
        return len(self._answers.get(input_key(example), {})) > 1

    def keep(self, example: Example) -> bool:
        """Pass 2: whether to write the example under the policy and dedupe setting."""
        if self.policy == "drop" and self.conflicting(example):
            self._dropped += 1
            return False
        if self.dedupe:
            whole = example_key(example)
            if whole in self._emitted:
                self._dropped += 1
                return False
            self._emitted.add(whole)
        return True

    def report(self) -> ConsistencyReport:
        """Conflicts (inputs with several answers, their task ids) and exact duplicates."""
        conflicts = []
        if self.policy != "keep":
            for key, answers in self._answers.items():
                if len(answers) > 1:
                    tasks = [t for ids in answers.values() for t in ids]
                    conflicts.append(
                        Conflict(
                            input=self._previews.get(key, ""), tasks=tasks, answers=len(answers)
                        )
                    )
        return ConsistencyReport(
            policy=self.policy,
            examples=self._examples,
            conflicts=conflicts,
            duplicates=list(self._duplicates),
            dropped=self._dropped,
        )


def check_consistency(
    examples: Sequence[Example], policy: Policy = "report", dedupe: bool = False
) -> tuple[list[Example], ConsistencyReport]:
    """Both passes over an in-memory sequence: the examples to write, and the report."""
    checker = ConsistencyChecker(policy, dedupe)
    for example in examples:
        checker.observe(example)
    kept = [e for e in examples if checker.keep(e)]
    return kept, checker.report()
