"""Check a fine-tuning JSONL file against what a platform (preset) really accepts.

The floor is the OpenAI cookbook's "Chat_finetuning_data_prep" notebook: its error types
`data_type`, `missing_messages_list`, `message_missing_key`, `message_unrecognized_key`,
`unrecognized_role`, `missing_content`, `example_missing_assistant_message`, its warnings for
examples without a system or user message and over the token limit, and its token formula. On top:
content-part lists, tool calls, `weight`, images (where, URL form, MIME vs bytes, decodable, size,
mode, count), `box_2d`/`bbox_2d` answers, dataset minimums, and the Vertex, TRL and ShareGPT
dialects.

Streaming: `Validator.check_line` keeps counters (the token counts as a histogram: count ->
examples) and the first `max_findings` findings, never the lines, so the conversion runs the
same checks on what it writes, in memory that does not grow with the number of lines. Every
finding has a stable snake_case `code`.

The limits come from `annoconvert/presets.py` (the one table the media step also uses); this
module adds which line format (dialect) each preset validates. A `None` limit is not checked.
"""

from __future__ import annotations

import binascii
import io
import json
import math
import re
import warnings
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import orjson
import pybase64
from pydantic import BaseModel, ConfigDict, Field

from annoconvert import presets
from annoconvert.errors import ConfigError, MediaError
from annoconvert.quality.common_line import (
    UNSEEN,
    CommonLine,
    common_line,
    sharegpt_common_line,
    vertex_common_line,
)
from annoconvert.quality.tokens import TokenCounter, distribution_of_counts

DialectName = Literal["openai", "vertex", "trl", "sharegpt"]
MB = presets.MB
_DIALECT_OF: dict[str, DialectName] = {"vertex": "vertex", "trl": "trl", "sharegpt": "sharegpt"}


@dataclass(frozen=True)
class PresetLimits:
    """What `validate` checks for one preset: `presets.PRESETS` plus the line format (dialect)."""

    name: str
    dialect: DialectName
    max_image_bytes: int | None
    max_images_per_example: int | None
    allowed_mimes: tuple[str, ...] | None
    allowed_modes: tuple[str, ...] | None
    min_examples: int
    max_tokens_per_example: int | None
    max_image_examples: int | None = None
    allow_http_images: bool = True


def _from_presets(p: presets.PresetLimits) -> PresetLimits:
    return PresetLimits(
        name=p.name,
        dialect=_DIALECT_OF.get(p.name, "openai"),
        max_image_bytes=p.max_image_bytes,
        max_images_per_example=p.max_images_per_example,
        allowed_mimes=p.mime_types or None,
        allowed_modes=p.image_modes or None,
        min_examples=p.min_examples,
        max_tokens_per_example=p.max_tokens,
        max_image_examples=p.max_image_examples,
    )


PRESET_LIMITS: dict[str, PresetLimits] = {
    name: _from_presets(p) for name, p in presets.PRESETS.items()
}

OPENAI_TOP_KEYS = frozenset({"messages", "tools", "functions", "parallel_tool_calls", "metadata"})
OPENAI_MESSAGE_KEYS = frozenset(
    {"role", "content", "name", "weight", "function_call", "tool_calls", "tool_call_id", "refusal"}
)
OPENAI_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
PLAIN_ROLES = frozenset({"system", "developer", "user", "assistant"})
"""Roles whose message needs nothing but a role and text (a tool message needs its call id)."""
IMAGE_DETAILS = frozenset({"low", "high", "auto"})
DPO_KEYS = frozenset({"input", "preferred_output", "non_preferred_output"})
VERTEX_TOP_KEYS = frozenset(
    {
        "contents",
        "systemInstruction",
        "system_instruction",
        "tools",
        "generationConfig",
        "completions",
    }
)
VERTEX_PART_KEYS = frozenset(
    {"text", "inlineData", "fileData", "functionCall", "functionResponse", "thought"}
)
VERTEX_IMAGE_TOKENS = 258  # Gemini counts an image as 258 tokens
SHAREGPT_ROLES = frozenset({"human", "gpt", "observation", "function_call"})
_DATA_URL = re.compile(r"^data:([^;,]*)((?:;[^;,]*)*),(.*)$", re.DOTALL)


class Finding(BaseModel):
    """One problem: where (1-based line, None for the whole file), a stable code, a sentence."""

    model_config = ConfigDict(frozen=True)

    line: int | None
    code: str
    message: str


class TokenReport(BaseModel):
    """Token counts per example: exact (tiktoken, cached encoding) or the documented estimate."""

    model_config = ConfigDict(frozen=True)

    method: Literal["exact", "estimate"]
    encoding: str
    limit: int | None
    distribution: dict[str, float]
    over_limit: list[int] = Field(
        description="line numbers of the first examples over the limit: at most the "
        "validator's `max_findings` (1,000 by default); the report's "
        "`warning_counts['example_over_token_limit']` counts them all"
    )


class ValidationReport(BaseModel):
    """What `validate` found; `ok` is False when there is any error."""

    model_config = ConfigDict(frozen=True)

    preset: str
    dialect: str
    lines: int
    examples: int
    image_examples: int
    images: int
    ok: bool
    errors: list[Finding]
    warnings: list[Finding]
    error_counts: dict[str, int]
    warning_counts: dict[str, int]
    tokens: TokenReport


def preset_limits(name: str) -> PresetLimits:
    """The limits of preset `name`; ConfigError for an unknown one."""
    try:
        return PRESET_LIMITS[name]
    except KeyError:
        raise ConfigError(
            f"unknown preset {name!r}; choose one of: {', '.join(PRESET_LIMITS)}"
        ) from None


# --- images ---------------------------------------------------------------------------------


def sniff_mime(data: bytes) -> str | None:
    """The image type the bytes really are, from their magic number."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[4:8] == b"ftyp":
        brand = data[8:12]
        if brand in (b"heic", b"heix", b"heim", b"heis"):
            return "image/heic"
        if brand in (b"mif1", b"msf1", b"heif"):
            return "image/heif"
        if brand in (b"avif", b"avis"):
            return "image/avif"
    if data[:2] == b"BM":
        return "image/bmp"
    return None


@dataclass
class _Line:
    """Findings of one line as (code, message), collected as they are found (a Finding is
    made only where one is kept or returned: a run of 100k lines with an error each kept
    `max_findings` of them and made all 100k)."""

    number: int
    errors: list[tuple[str, str]]
    warnings: list[tuple[str, str]]
    images: int = 0

    def error(self, code: str, message: str) -> None:
        self.errors.append((code, message))

    def warn(self, code: str, message: str) -> None:
        self.warnings.append((code, message))


_UNPARSED: Any = object()
"""Marks a line the caller has not parsed."""


@dataclass(frozen=True)
class Tally:
    """A validator's counts and kept findings (`Validator.tally`), plain data to pickle."""

    errors: list[Finding]
    warnings: list[Finding]
    error_counts: Counter[str]
    warning_counts: Counter[str]
    tokens: Counter[int]
    over: list[int]
    counts: tuple[int, int, int, int]
    """Lines, examples, examples with images, images."""


VERTEX_ROLES = ("x", "x", "x")
"""The roles `_vertex` counts a text line's three texts under (it keeps the texts only)."""
TRL_ROLES = ("system", "user", "assistant")
"""The roles `_trl` counts a text line's three texts under (the messages' own)."""
SHAREGPT_TEXT_ROLES = ("system", "human", "gpt")
"""The roles `_sharegpt` counts a text line's system, human and gpt texts under."""


class Validator:
    """Incremental checker: `check_line` for each line, then `finish` for the report."""

    def __init__(
        self, preset: str = "openai", *, max_findings: int = 1000, decode_images: bool = True
    ) -> None:
        self.limits = preset_limits(preset)
        self.max_findings = max_findings
        self.decode_images = decode_images
        self.counter = TokenCounter()
        self._errors: list[Finding] = []
        self._warnings: list[Finding] = []
        self._error_counts: Counter[str] = Counter()
        self._warning_counts: Counter[str] = Counter()
        # token count -> examples: memory is the distinct counts, not the examples
        self._tokens: Counter[int] = Counter()
        self._over: list[int] = []  # the first `max_findings`; the warning counts count all
        self._lines = 0
        self._examples = 0
        self._image_examples = 0
        self._images = 0

    # -- public API --

    def check_line(self, line_no: int, raw: bytes, parsed: Any = _UNPARSED) -> list[Finding]:
        """Check one JSONL line (1-based number); returns its findings, errors first.

        `parsed` is the line's JSON value when the caller has already parsed it.
        """
        state = self._observe(line_no, raw, parsed)
        return [
            Finding(line=line_no, code=code, message=message)
            for code, message in state.errors + state.warnings
        ]

    def check_lines(self, lines: Iterable[bytes]) -> None:
        """`observe_line` for each of `lines`, numbered on from the lines checked before."""
        for raw in lines:
            self._observe(self._lines + 1, raw, _UNPARSED)

    def observe_line(
        self,
        line_no: int,
        raw: bytes,
        parsed: Any = _UNPARSED,
        common: Any = UNSEEN,
        image: bytes | None = None,
    ) -> None:
        """`check_line` for a caller that wants the report only, not each line's findings;
        `common` is the parsed line's `common_line` when the caller has it. For a line read
        by `cut_image`, `parsed` and `common` are the cut line's and `image` its decoded
        Base64 (the URL they hold ends at `;base64,`)."""
        self._observe(line_no, raw, parsed, common, image)

    def _observe(
        self,
        line_no: int,
        raw: bytes,
        parsed: Any,
        common: Any = UNSEEN,
        image: bytes | None = None,
    ) -> _Line:
        self._lines += 1
        state = _Line(line_no, [], [])
        self._check(state, raw, parsed, common, image)
        if state.images:
            self._image_examples += 1
            self._images += state.images
        for kept, counts, found in (
            (self._errors, self._error_counts, state.errors),
            (self._warnings, self._warning_counts, state.warnings),
        ):
            for code, message in found:
                counts[code] += 1
                if len(kept) < self.max_findings:
                    kept.append(Finding(line=line_no, code=code, message=message))
        return state

    def tally(self) -> Tally:
        """What this validator has counted and kept, for a validator of the lines before
        these to `absorb`."""
        return Tally(
            list(self._errors),
            list(self._warnings),
            Counter(self._error_counts),
            Counter(self._warning_counts),
            Counter(self._tokens),
            list(self._over),
            (self._lines, self._examples, self._image_examples, self._images),
        )

    def absorb(self, later: Tally) -> None:
        """Add the tally of a validator that checked the lines after this one's, numbering
        them from 1 again: the report is then the one a single validator would make."""
        shift = self._lines
        for kept, theirs in ((self._errors, later.errors), (self._warnings, later.warnings)):
            room = max(0, self.max_findings - len(kept))
            kept.extend(
                f.model_copy(update={"line": None if f.line is None else f.line + shift})
                for f in theirs[:room]
            )
        self._error_counts.update(later.error_counts)
        self._warning_counts.update(later.warning_counts)
        self._tokens.update(later.tokens)
        room = max(0, self.max_findings - len(self._over))
        self._over.extend(number + shift for number in later.over[:room])
        lines, examples, image_examples, images = later.counts
        self._lines += lines
        self._examples += examples
        self._image_examples += image_examples
        self._images += images

    def finish(self) -> ValidationReport:
        """The report over every line checked so far, with the dataset-level checks."""
        errors = list(self._errors)
        error_counts = Counter(self._error_counts)
        limits = self.limits
        if self._examples < limits.min_examples:
            errors.append(
                Finding(
                    line=None,
                    code="too_few_examples",
                    message=f"{self._examples} example(s); the {limits.name} preset needs at "
                    f"least {limits.min_examples}",
                )
            )
            error_counts["too_few_examples"] += 1
        if limits.max_image_examples is not None and self._image_examples > (
            limits.max_image_examples
        ):
            errors.append(
                Finding(
                    line=None,
                    code="too_many_image_examples",
                    message=f"{self._image_examples} examples hold images; the {limits.name} "
                    f"preset takes at most {limits.max_image_examples}",
                )
            )
            error_counts["too_many_image_examples"] += 1
        return ValidationReport(
            preset=limits.name,
            dialect=limits.dialect,
            lines=self._lines,
            examples=self._examples,
            image_examples=self._image_examples,
            images=self._images,
            ok=not error_counts,
            errors=errors,
            warnings=list(self._warnings),
            error_counts=dict(sorted(error_counts.items())),
            warning_counts=dict(sorted(self._warning_counts.items())),
            tokens=TokenReport(
                method=self.counter.method,
                encoding=self.counter.encoding,
                limit=limits.max_tokens_per_example,
                distribution=distribution_of_counts(self._tokens),
                over_limit=list(self._over),
            ),
        )

    # -- the checks --

    def _check(
        self,
        s: _Line,
        raw: bytes,
        parsed: Any = _UNPARSED,
        common: Any = UNSEEN,
        image: bytes | None = None,
    ) -> None:
        text_line = raw.rstrip(b"\r\n")
        if not text_line.strip():
            s.error("blank_line", "the line is empty; every line must hold one JSON object")
            return
        obj = parsed
        if obj is _UNPARSED:
            try:
                obj = orjson.loads(text_line)  # fast; the slow path below explains failures
            except orjson.JSONDecodeError:
                obj = _UNPARSED
        if obj is _UNPARSED:
            try:
                decoded = text_line.decode("utf-8")
            except UnicodeDecodeError as err:
                s.error("invalid_utf8", f"the line is not valid UTF-8 (byte {err.start})")
                return
            try:
                obj = json.loads(decoded)
            except json.JSONDecodeError as err:
                s.error(
                    "invalid_json", f"the line is not valid JSON: {err.msg} at column {err.colno}"
                )
                return
            except RecursionError:  # orjson stops at 1024 levels, json at the stack's depth
                s.error("invalid_json", "the line nests its values too deep to read")
                return
        if not isinstance(obj, dict):
            s.error("data_type", f"the line is a JSON {type(obj).__name__}, not an object")
            return
        self._examples += 1
        dialect = self.limits.dialect
        if image is not None and dialect in ("vertex", "sharegpt", "trl"):
            # a line read without its Base64 (`cut_image`) is for the common-line shortcut
            # only; every general walk reads the whole line (valid JSON, as the cut one is)
            obj = orjson.loads(text_line)
        if dialect == "vertex":
            line = vertex_common_line(obj)
            tokens = None if line is None else self._vertex_common(s, line)
            if tokens is None:
                tokens = self._vertex(s, obj)
        elif dialect == "sharegpt":
            line = sharegpt_common_line(obj)
            tokens = None if line is None else self._sharegpt_common(s, line)
            if tokens is None:
                tokens = self._sharegpt(s, obj)
        elif dialect == "trl":
            if common is UNSEEN:
                common = common_line(obj)
            tokens = None if common is None else self._trl_common(s, common)
            if tokens is None:
                tokens = self._trl(s, obj)
        else:
            if common is UNSEEN:
                common = common_line(obj)
            tokens = None if common is None else self._common(s, common, image)
            if tokens is None:
                if image is not None:  # a blank text: the general walk, as above
                    obj = orjson.loads(text_line)
                tokens = self._openai(s, obj)
        if tokens is not None:
            self._tokens[tokens] += 1
            limit = self.limits.max_tokens_per_example
            if limit is not None and tokens > limit:
                if len(self._over) < self.max_findings:
                    self._over.append(s.number)
                s.warn(
                    "example_over_token_limit",
                    f"about {tokens} tokens ({self.counter.method}); over the {limit}-token "
                    "limit, the example will be truncated",
                )
        limit_images = self.limits.max_images_per_example
        if limit_images is not None and s.images > limit_images:
            s.error(
                "too_many_images",
                f"{s.images} images in one example; the {self.limits.name} preset takes at "
                f"most {limit_images}",
            )

    # OpenAI chat (also Together, Fireworks, Azure) and its DPO preference form

    def _openai(self, s: _Line, obj: dict[str, Any]) -> int | None:
        if "messages" not in obj and set(obj) >= DPO_KEYS:
            return self._openai_dpo(s, obj)
        messages = obj.get("messages")
        if not isinstance(messages, list) or not messages:
            s.error("missing_messages_list", "the line has no non-empty 'messages' list")
            return None
        if not OPENAI_TOP_KEYS.issuperset(obj):
            for key in sorted(set(obj) - OPENAI_TOP_KEYS):
                s.warn("unrecognized_key", f"top-level key {key!r} is not part of the chat format")
        self._openai_messages(s, messages, "messages")
        roles = [m.get("role") for m in messages if isinstance(m, dict)]
        if "assistant" not in roles:
            s.error("example_missing_assistant_message", "the example has no assistant message")
        if "system" not in roles and "developer" not in roles:
            s.warn("missing_system_message", "the example has no system message")
        if "user" not in roles:
            s.warn("missing_user_message", "the example has no user message")
        return self.counter.messages(messages)

    def _common(self, s: _Line, line: CommonLine, image: bytes | None = None) -> int | None:
        """`_openai` of a common line whose texts are not blank (see `common_line`); None,
        with no finding made, for one that has a blank text or an odd system message."""
        system, prompt, url, answer = line
        if url is None:
            if not (prompt.strip() and answer.strip()):
                return None
        elif not (prompt and answer):
            return None
        if _plain_value("system", system) is None:
            return None
        if url is not None:
            s.images += 1
            self._image_url(s, url, "messages[1].content[1]", image)
        self._boxes(s, answer, "messages[2]")
        return self.counter.common(system, prompt, answer, url is not None)

    def _openai_dpo(self, s: _Line, obj: dict[str, Any]) -> int | None:
        inp = obj.get("input")
        messages = inp.get("messages") if isinstance(inp, dict) else None
        if not isinstance(messages, list) or not messages:
            s.error("missing_messages_list", "'input' has no non-empty 'messages' list")
            return None
        self._openai_messages(s, messages, "input.messages")
        total = self.counter.messages(messages)
        for key in ("preferred_output", "non_preferred_output"):
            out = obj.get(key)
            if not isinstance(out, list) or not out:
                s.error("missing_content", f"{key!r} must be a non-empty list of messages")
                continue
            self._openai_messages(s, out, key)
            if any(not isinstance(m, dict) or m.get("role") != "assistant" for m in out):
                s.error("unrecognized_role", f"{key!r} must hold assistant messages only")
            total = max(total, self.counter.messages([*messages, *out]))
        return total

    def _openai_messages(self, s: _Line, messages: list[Any], where: str) -> None:
        for i, message in enumerate(messages):
            plain = _plain_content(message)
            if isinstance(plain, str):  # no finding but an assistant's boxes
                if message["role"] == "assistant" and "[" in plain:
                    self._boxes(s, plain, f"{where}[{i}]")
                continue
            if plain is not None:  # text parts, and a user's images: only those can be wrong
                self._plain_parts_findings(s, message["role"], plain, f"{where}[{i}]")
                continue
            at = f"{where}[{i}]"
            if not isinstance(message, dict):
                s.error("data_type", f"{at} is not an object")
                continue
            role = message.get("role")
            has_calls = bool(message.get("tool_calls") or message.get("function_call"))
            if "role" not in message or ("content" not in message and not has_calls):
                missing = "role" if "role" not in message else "content"
                s.error("message_missing_key", f"{at} has no {missing!r}")
            if not OPENAI_MESSAGE_KEYS.issuperset(message):
                for key in sorted(set(message) - OPENAI_MESSAGE_KEYS):
                    s.error("message_unrecognized_key", f"{at} has an unrecognized key {key!r}")
            if "role" in message and not _one_of(role, OPENAI_ROLES):
                s.error("unrecognized_role", f"{at} has an unrecognized role {role!r}")
            content = message.get("content")
            if "content" in message:
                if isinstance(content, list):
                    self._openai_parts(s, content, at, role)
                elif isinstance(content, str) and content.strip():
                    pass
                elif not (has_calls and not content):
                    s.error("missing_content", f"{at} has no text content")
            if "weight" in message:
                weight = message["weight"]
                if role != "assistant":
                    s.error(
                        "invalid_weight", f"{at}: 'weight' is allowed on assistant messages only"
                    )
                elif isinstance(weight, bool) or weight not in (0, 1):
                    s.error("invalid_weight", f"{at}: 'weight' must be 0 or 1, not {weight!r}")
            if "tool_calls" in message:
                self._tool_calls(s, message["tool_calls"], at, role)
            if role == "tool" and not isinstance(message.get("tool_call_id"), str):
                s.error("invalid_tool_call", f"{at}: a tool message needs a 'tool_call_id'")
            if role == "assistant" and isinstance(content, str | list):
                self._boxes(s, _text_of(content), at)

    def _plain_parts_findings(self, s: _Line, role: str, parts: list[Any], at: str) -> None:
        """What `_openai_parts` and the message walk find in parts `_plain_content` took:
        the checks of its images, and of an assistant's boxes."""
        for j, part in enumerate(parts):
            if part["type"] == "image_url":
                s.images += 1
                self._image_url(s, part["image_url"]["url"], f"{at}.content[{j}]")
        if role == "assistant":
            self._boxes(s, _text_of(parts), at)

    def _openai_parts(self, s: _Line, parts: list[Any], at: str, role: Any) -> None:
        if not parts:
            s.error("missing_content", f"{at}.content is an empty list")
            return
        for j, part in enumerate(parts):
            if _plain_text_part(part):
                continue
            where = f"{at}.content[{j}]"
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "text":
                if not isinstance(part.get("text"), str) or not part["text"]:
                    s.error("missing_content", f"{where} is a text part without text")
            elif kind == "image_url":
                image = part.get("image_url")
                url = image.get("url") if isinstance(image, dict) else None
                if not isinstance(url, str):
                    s.error("invalid_content_part", f"{where} has no image_url.url string")
                    continue
                detail = image.get("detail") if isinstance(image, dict) else None
                if detail is not None and not _one_of(detail, IMAGE_DETAILS):
                    s.error("invalid_content_part", f"{where}: detail must be low, high or auto")
                s.images += 1
                if role != "user":
                    s.error("image_not_in_user_message", f"{where}: images go in user messages")
                self._image_url(s, url, where)
            else:
                s.error(
                    "invalid_content_part",
                    f"{where} is not a text or image_url part (type {kind!r})",
                )

    def _tool_calls(self, s: _Line, calls: Any, at: str, role: Any) -> None:
        if role != "assistant":
            s.error("invalid_tool_call", f"{at}: only assistant messages make tool calls")
        if not isinstance(calls, list) or not calls:
            s.error("invalid_tool_call", f"{at}.tool_calls must be a non-empty list")
            return
        for k, call in enumerate(calls):
            where = f"{at}.tool_calls[{k}]"
            fn = call.get("function") if isinstance(call, dict) else None
            if not isinstance(call, dict) or not isinstance(call.get("id"), str):
                s.error("invalid_tool_call", f"{where} needs a string 'id'")
            call_type = call.get("type") if isinstance(call, dict) else None
            if call_type is not None and call_type != "function":
                s.error("invalid_tool_call", f"{where}: type must be 'function'")
            if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
                s.error("invalid_tool_call", f"{where} needs function.name")
                continue
            arguments = fn.get("arguments")
            if not isinstance(arguments, str):
                s.error("invalid_tool_call", f"{where}: function.arguments must be a JSON string")
                continue
            try:
                json.loads(arguments)
            except json.JSONDecodeError:
                s.error("invalid_tool_call", f"{where}: function.arguments is not valid JSON")

    # images

    def _image_url(self, s: _Line, url: str, where: str, image: bytes | None = None) -> None:
        """Check an image's URL; `image` is a data URL's Base64 decoded when the line was read
        without it (`cut_image`)."""
        if url.startswith("data:"):
            match = _DATA_URL.match(url)
            if not match or ";base64" not in match.group(2):
                s.error("invalid_image_url", f"{where}: a data URL must be data:<mime>;base64,...")
                return
            mime = match.group(1).lower()
            if not mime:
                s.error("invalid_image_url", f"{where}: the data URL names no MIME type")
                return
            self._image_data(s, mime, match.group(3), where, image)
        elif url.startswith(("https://", "http://")):
            if not self.limits.allow_http_images:
                s.error("invalid_image_url", f"{where}: the preset takes embedded images only")
        else:
            s.error(
                "invalid_image_url",
                f"{where}: an image must be an http(s) URL or a data URL, not {url[:40]!r}",
            )

    def _image_data(
        self, s: _Line, mime: str, b64: str, where: str, image: bytes | None = None
    ) -> None:
        allowed = self.limits.allowed_mimes
        if allowed is not None and mime not in allowed:
            s.error(
                "image_mime_not_allowed",
                f"{where}: {mime} is not accepted by {self.limits.name} ({', '.join(allowed)})",
            )
        if image is not None:
            data = image
        else:
            try:
                data = pybase64.b64decode(b64, validate=True)
            except (binascii.Error, ValueError):
                s.error("invalid_base64", f"{where}: the image data is not valid Base64")
                return
        limit = self.limits.max_image_bytes
        if limit is not None and len(data) > limit:
            s.error(
                "image_too_large",
                f"{where}: the image is {len(data):,} bytes; the limit is {limit:,} bytes",
            )
        real = sniff_mime(data)
        if real is not None and real != mime and not {real, mime} <= {"image/heic", "image/heif"}:
            s.error("image_mime_mismatch", f"{where}: declared {mime} but the bytes are {real}")
        if self.decode_images:
            self._decode(s, data, where)

    def _decode(self, s: _Line, data: bytes, where: str) -> None:
        from PIL import Image, UnidentifiedImageError

        from annoconvert.media.prepare import DEFAULT_MAX_PIXELS, check_pixels

        try:
            with warnings.catch_warnings():
                # Pillow warns from half its limit on and refuses past it (DecompressionBombError,
                # the limit the conversion decodes to); the warning is noise in the report
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(io.BytesIO(data)) as img:
                    # the conversion's own limit, not Pillow's (a global the user may change)
                    check_pixels(img.width, img.height, DEFAULT_MAX_PIXELS, where)
                    if img.format == "JPEG":
                        # decoded at an eighth of its size: every byte of the stream is read
                        # as at full size (the scaling is in the inverse DCT, after the data
                        # is decoded), in 0.54 ms against 1.3 ms for a 640x480 image
                        img.draft(img.mode, (max(1, img.width // 8), max(1, img.height // 8)))
                    img.load()
                    mode = img.mode
        except UnidentifiedImageError:
            # Pillow's own message names the buffer object by its address
            s.error("image_undecodable", f"{where}: the bytes are in no image format Pillow reads")
            return
        except (OSError, SyntaxError, ValueError, MediaError, Image.DecompressionBombError) as err:
            s.error("image_undecodable", f"{where}: the image cannot be decoded ({err})")
            return
        modes = self.limits.allowed_modes
        if modes is not None and mode not in modes:
            s.error(
                "image_mode_not_allowed",
                f"{where}: image mode {mode} is not accepted ({', '.join(modes)})",
            )

    # boxes in assistant answers

    def _boxes(self, s: _Line, text: str, where: str) -> None:
        stripped = text.strip()
        if not stripped.startswith("["):
            return
        try:
            # orjson takes half json's time; where it finds a fault, json's reading says what
            # it is (orjson refuses NaN and reads an integer past 64 bits as a float)
            if not _box_problems(orjson.loads(stripped)):
                return
        except orjson.JSONDecodeError:
            pass
        try:
            answer = json.loads(stripped)
        except (json.JSONDecodeError, RecursionError):
            return
        for k, key, problem in _box_problems(answer):
            s.error("invalid_box", f"{where} answer[{k}].{key}: {problem}")

    # Vertex AI Gemini

    def _vertex(self, s: _Line, obj: dict[str, Any]) -> int | None:
        contents = obj.get("contents")
        if not isinstance(contents, list) or not contents:
            s.error("missing_contents", "the line has no non-empty 'contents' list")
            return None
        for key in sorted(set(obj) - VERTEX_TOP_KEYS):
            s.warn("unrecognized_key", f"top-level key {key!r} is not part of the Vertex format")
        texts: list[str] = []
        system = obj.get("systemInstruction", obj.get("system_instruction"))
        if system is None:
            s.warn("missing_system_message", "the example has no systemInstruction")
        elif not isinstance(system, dict) or not isinstance(system.get("parts"), list):
            s.error("invalid_system_instruction", "systemInstruction must be {'parts': [...]}")
        else:
            for part in system["parts"]:
                if not isinstance(part, dict) or not isinstance(part.get("text"), str):
                    s.error("invalid_system_instruction", "systemInstruction parts must be text")
                else:
                    texts.append(part["text"])
        roles: list[Any] = []
        for i, content in enumerate(contents):
            at = f"contents[{i}]"
            if not isinstance(content, dict):
                s.error("data_type", f"{at} is not an object")
                continue
            role = content.get("role")
            roles.append(role)
            if role not in ("user", "model"):
                s.error("unrecognized_role", f"{at} has role {role!r}; Vertex uses user/model")
            parts = content.get("parts")
            if not isinstance(parts, list) or not parts:
                s.error("missing_content", f"{at} has no non-empty 'parts' list")
                continue
            for j, part in enumerate(parts):
                texts.extend(self._vertex_part(s, part, f"{at}.parts[{j}]", role))
            if role == "model":
                self._boxes(s, "".join(p.get("text", "") for p in parts if isinstance(p, dict)), at)
        if "completions" in obj:  # Vertex preference tuning: scored model completions
            completions = obj["completions"]
            if not isinstance(completions, list) or len(completions) < 2:
                s.error("missing_content", "'completions' must list two or more completions")
                completions = []
            for k, item in enumerate(completions):
                turn = item.get("completion") if isinstance(item, dict) else None
                if not isinstance(turn, dict) or turn.get("role") != "model":
                    s.error(
                        "unrecognized_role", f"completions[{k}].completion must be a model turn"
                    )
                    continue
                roles.append("model")
                for j, part in enumerate(turn.get("parts") or []):
                    texts.extend(
                        self._vertex_part(s, part, f"completions[{k}].parts[{j}]", "model")
                    )
        if "model" not in roles:
            s.error("example_missing_assistant_message", "the example has no model turn")
        if "user" not in roles:
            s.warn("missing_user_message", "the example has no user turn")
        messages = [{"role": "x", "content": t} for t in texts]
        return self.counter.messages(messages) + VERTEX_IMAGE_TOKENS * s.images

    def _three_turns(
        self, s: _Line, roles: tuple[str, str, str], texts: tuple[str, str, str], answer_at: str
    ) -> int:
        """The findings and token count of a dialect's text line as its general walk makes
        them: the answer's boxes, and the three texts counted under the walk's roles."""
        self._boxes(s, texts[2], answer_at)
        return self.counter.messages(
            [{"role": role, "content": text} for role, text in zip(roles, texts, strict=True)]
        )

    def _vertex_common(self, s: _Line, line: CommonLine) -> int | None:
        """`_vertex` of a vertex text line (`vertex_common_line`) whose user and model texts
        are not empty; None, with no finding made, where one of them is."""
        system, prompt, _, answer = line
        if not (prompt and answer):
            return None
        return self._three_turns(s, VERTEX_ROLES, (system, prompt, answer), "contents[1]")

    def _vertex_part(self, s: _Line, part: Any, where: str, role: Any) -> list[str]:
        if not isinstance(part, dict):
            s.error("invalid_content_part", f"{where} is not an object")
            return []
        kinds = set(part) & VERTEX_PART_KEYS
        if len(kinds) != 1 or set(part) - VERTEX_PART_KEYS:
            s.error(
                "invalid_content_part",
                f"{where} must hold exactly one of text, inlineData, fileData "
                f"(has {', '.join(sorted(part)) or 'nothing'})",
            )
            return []
        if "text" in part:
            if not isinstance(part["text"], str) or not part["text"]:
                s.error("missing_content", f"{where} has empty text")
                return []
            return [part["text"]]
        for key in ("inlineData", "fileData"):
            if key not in part:
                continue
            blob = part[key]
            s.images += 1
            if role != "user":
                s.error("image_not_in_user_message", f"{where}: images go in user turns")
            mime = blob.get("mimeType") if isinstance(blob, dict) else None
            if not isinstance(mime, str):
                s.error("invalid_content_part", f"{where}.{key} needs a mimeType")
                return []
            if key == "inlineData":
                data = blob.get("data")
                if not isinstance(data, str) or data.startswith("data:"):
                    s.error(
                        "invalid_base64", f"{where}.inlineData.data must be raw Base64 (no data:)"
                    )
                    return []
                self._image_data(s, mime.lower(), data, where)
            else:
                uri = blob.get("fileUri")
                if not isinstance(uri, str) or not uri:
                    s.error("invalid_image_url", f"{where}.fileData needs a fileUri")
                allowed = self.limits.allowed_mimes
                if allowed is not None and mime.lower() not in allowed:
                    s.error("image_mime_not_allowed", f"{where}: {mime} is not accepted")
        return []

    # Hugging Face TRL (messages + images)

    def _trl(self, s: _Line, obj: dict[str, Any]) -> int | None:
        if "messages" not in obj and {"prompt", "chosen", "rejected"} <= set(obj):
            return self._trl_preference(s, obj)
        messages = obj.get("messages")
        if not isinstance(messages, list) or not messages:
            s.error("missing_messages_list", "the line has no non-empty 'messages' list")
            return None
        roles: list[Any] = []
        texts: list[dict[str, Any]] = []
        placeholders = self._trl_messages(s, messages, "messages", roles, texts)
        self._images_column(s, obj.get("images"), placeholders, "{'type': 'image'} placeholder")
        self._roles_present(s, roles, "assistant", "user", "system")
        return self.counter.messages(texts)

    def _trl_common(self, s: _Line, line: CommonLine) -> int | None:
        """`_trl` of a common text line (TRL writes a classification as the openai text line)
        whose three texts are not empty; None, with no finding made, for any other (an image
        line's `image_url` part is not TRL's)."""
        system, prompt, url, answer = line
        if url is not None or type(system) is not str or not (system and prompt and answer):
            return None
        return self._three_turns(s, TRL_ROLES, (system, prompt, answer), "messages[2]")

    def _trl_preference(self, s: _Line, obj: dict[str, Any]) -> int | None:
        """TRL's DPO columns: prompt (messages or text), chosen and rejected (assistant turns)."""
        roles: list[Any] = []
        texts: list[dict[str, Any]] = []
        placeholders = 0
        prompt = obj["prompt"]
        if isinstance(prompt, str) and prompt:
            roles.append("user")
            texts.append({"role": "user", "content": prompt})
        elif isinstance(prompt, list) and prompt:
            placeholders += self._trl_messages(s, prompt, "prompt", roles, texts)
        else:
            s.error("missing_content", "'prompt' must be text or a non-empty list of messages")
        for key in ("chosen", "rejected"):
            value = obj[key]
            if isinstance(value, str) and value:
                continue
            if not isinstance(value, list) or not value:
                s.error("missing_content", f"{key!r} must be text or a list of messages")
                continue
            out_roles: list[Any] = []
            placeholders += self._trl_messages(s, value, key, out_roles, [])
            if any(r != "assistant" for r in out_roles):
                s.error("unrecognized_role", f"{key!r} must hold assistant messages only")
        self._images_column(s, obj.get("images"), placeholders, "{'type': 'image'} placeholder")
        roles.append("assistant")
        self._roles_present(s, roles, "assistant", "user", "system")
        return self.counter.messages(texts)

    def _trl_messages(
        self,
        s: _Line,
        messages: list[Any],
        where: str,
        roles: list[Any],
        texts: list[dict[str, Any]],
    ) -> int:
        """Check TRL messages; returns the number of {'type': 'image'} placeholders."""
        placeholders = 0
        for i, message in enumerate(messages):
            at = f"{where}[{i}]"
            if not isinstance(message, dict) or "role" not in message or "content" not in message:
                s.error("message_missing_key", f"{at} needs 'role' and 'content'")
                continue
            role = message["role"]
            roles.append(role)
            if role not in ("system", "user", "assistant", "tool"):
                s.error("unrecognized_role", f"{at} has an unrecognized role {role!r}")
            content = message["content"]
            if isinstance(content, str):
                if not content:
                    s.error("missing_content", f"{at} has empty content")
            elif isinstance(content, list) and content:
                for j, part in enumerate(content):
                    kind = part.get("type") if isinstance(part, dict) else None
                    if kind == "image":
                        placeholders += 1
                        if role != "user":
                            s.error(
                                "image_not_in_user_message", f"{at}.content[{j}]: image placeholder"
                            )
                    elif kind != "text" or not isinstance(part.get("text"), str):
                        s.error(
                            "invalid_content_part",
                            f"{at}.content[{j}] must be {{'type': 'text', 'text': ...}} or "
                            "{'type': 'image'}",
                        )
            else:
                s.error("missing_content", f"{at} has no content")
            texts.append({"role": role, "content": _text_of(content)})
            if role == "assistant":
                self._boxes(s, _text_of(content), at)
        return placeholders

    # LLaMA-Factory ShareGPT

    def _sharegpt(self, s: _Line, obj: dict[str, Any]) -> int | None:
        turns = obj.get("conversations")
        if not isinstance(turns, list) or not turns:
            s.error("missing_conversations", "the line has no non-empty 'conversations' list")
            return None
        roles: list[Any] = []
        texts: list[dict[str, Any]] = []
        if isinstance(obj.get("system"), str):
            roles.append("system")
            texts.append({"role": "system", "content": obj["system"]})
        tokens = 0
        for i, turn in enumerate(turns):
            tokens += self._sharegpt_turn(s, turn, f"conversations[{i}]", roles, texts)
        if "chosen" in obj or "rejected" in obj:  # LLaMA-Factory's preference (ranking) form
            for key in ("chosen", "rejected"):
                tokens += self._sharegpt_turn(s, obj.get(key), key, roles, [])
                if not isinstance(obj.get(key), dict) or obj[key].get("from") != "gpt":
                    s.error("unrecognized_role", f"{key!r} must be a turn from 'gpt'")
        self._images_column(s, obj.get("images"), tokens, "<image> token")
        self._roles_present(s, roles, "assistant", "user", "system")
        return self.counter.messages(texts)

    def _sharegpt_common(self, s: _Line, line: CommonLine) -> int | None:
        """`_sharegpt` of a sharegpt text line (`sharegpt_common_line`) whose human and gpt
        texts are not empty and hold no `<image>`; None, with no finding made, for one that
        has an empty text or the token."""
        system, prompt, _, answer = line
        if not (prompt and answer) or "<image>" in prompt or "<image>" in answer:
            return None
        return self._three_turns(
            s, SHAREGPT_TEXT_ROLES, (system, prompt, answer), "conversations[1]"
        )

    def _sharegpt_turn(
        self, s: _Line, turn: Any, at: str, roles: list[Any], texts: list[dict[str, Any]]
    ) -> int:
        """Check one {from, value} turn; returns its number of <image> tokens."""
        if not isinstance(turn, dict) or "from" not in turn or "value" not in turn:
            s.error("message_missing_key", f"{at} needs 'from' and 'value'")
            return 0
        speaker = turn["from"]
        known = speaker if type(speaker) is str else None  # a list or an object is no speaker
        roles.append({"human": "user", "gpt": "assistant"}.get(known or "", f"other:{speaker}"))
        if not _one_of(speaker, SHAREGPT_ROLES):
            s.error("unrecognized_role", f"{at} is from {speaker!r}; use human or gpt")
        value = turn["value"]
        if not isinstance(value, str) or not value:
            s.error("missing_content", f"{at} has no text value")
            return 0
        if speaker != "human" and "<image>" in value:
            s.error("image_not_in_user_message", f"{at}: <image> goes in human turns")
        texts.append({"role": speaker, "content": value})
        if speaker == "gpt":
            self._boxes(s, value, at)
        return value.count("<image>")

    def _images_column(self, s: _Line, images: Any, expected: int, what: str) -> None:
        if images is None:
            images = []
        if not isinstance(images, list):
            s.error("invalid_images", "'images' must be a list")
            return
        if len(images) != expected:
            s.error(
                "image_count_mismatch",
                f"{expected} {what}(s) but {len(images)} entries in 'images'",
            )
        for k, image in enumerate(images):
            s.images += 1
            if isinstance(image, str) and image.startswith("data:"):
                self._image_url(s, image, f"images[{k}]")
            elif not isinstance(image, str | dict) or not image:
                s.error("invalid_images", f"images[{k}] must be a path, URL or data URL")

    def _roles_present(
        self, s: _Line, roles: list[Any], assistant: str, user: str, sys: str
    ) -> None:
        if assistant not in roles:
            s.error("example_missing_assistant_message", "the example has no assistant turn")
        if sys not in roles:
            s.warn("missing_system_message", "the example has no system message")
        if user not in roles:
            s.warn("missing_user_message", "the example has no user turn")


def _box_problems(answer: Any) -> list[tuple[int, str, str]]:
    """(item index, key, problem) of each wrong box of an answer list."""
    found: list[tuple[int, str, str]] = []
    if not isinstance(answer, list):
        return found
    for k, item in enumerate(answer):
        if not isinstance(item, dict):
            continue
        if "box_2d" in item:
            problem = box_problem(item["box_2d"], xy_first=False, upper=1000)
            if problem:
                found.append((k, "box_2d", problem))
        if "bbox_2d" in item:
            problem = box_problem(item["bbox_2d"], xy_first=True, upper=None)
            if problem:
                found.append((k, "bbox_2d", problem))
    return found


def box_problem(value: Any, *, xy_first: bool, upper: int | None) -> str | None:
    """Why a box list is wrong (None when fine): 4 numbers, in [0, upper], min < max per axis."""
    if type(value) is list and len(value) == 4 and upper is not None:
        a0, b0, a1, b1 = value  # the common box: four ints in order, checked at once
        ints = type(a0) is int and type(b0) is int and type(a1) is int and type(b1) is int
        if ints and 0 <= a0 < a1 <= upper and 0 <= b0 < b1 <= upper:
            return None
    if not isinstance(value, list) or len(value) != 4:
        return "must be a list of 4 numbers"
    if any(isinstance(v, bool) or not isinstance(v, int | float) for v in value):
        return "must hold numbers only"
    if any(isinstance(v, float) and not math.isfinite(v) for v in value):
        return f"values must be finite numbers, got {value}"
    if upper is not None and any(v < 0 or v > upper for v in value):
        return f"values must lie in 0..{upper}, got {value}"
    if upper is None and any(v < 0 for v in value):
        return f"values must not be negative, got {value}"
    a0, b0, a1, b1 = value
    first, second = ("x", "y") if xy_first else ("y", "x")
    if a0 >= a1:
        return f"{first}min {a0} must be below {first}max {a1}"
    if b0 >= b1:
        return f"{second}min {b0} must be below {second}max {b1}"
    return None


def _plain_content(message: Any) -> str | list[Any] | None:
    """The content of a common message, whose walk finds nothing in it but an assistant's
    boxes and a user's images; None for any other message. Common: `{"role": ..., "content":
    ...}` with a role that needs nothing else, and as content non-blank text or a list of
    plain text parts and, in a user message, plain image parts. (Shortcuts: plain text took
    a text export's checks 9.1 -> 7.5 us a line; parts, on image lines, 23 -> 19 us.)"""
    if type(message) is not dict or len(message) != 2:
        return None
    role, content = message.get("role"), message.get("content")
    if type(role) is not str or role not in PLAIN_ROLES:
        return None
    return _plain_value(role, content)


def _plain_value(role: str, content: Any) -> str | list[Any] | None:
    """`_plain_content` of a message of that role and content."""
    if type(content) is str:
        return content if content.strip() else None
    if type(content) is not list or not content:
        return None
    for part in content:
        if not _plain_text_part(part) and (role != "user" or not _plain_image_part(part)):
            return None
    return content


def _plain_image_part(part: Any) -> bool:
    """Whether the part is `{"type": "image_url", "image_url": {"url": "..."}}`, with at most
    a valid `detail` beside the URL."""
    if type(part) is not dict or len(part) != 2 or part.get("type") != "image_url":
        return False
    image = part.get("image_url")
    if type(image) is not dict or type(image.get("url")) is not str:
        return False
    return len(image) == 1 or (len(image) == 2 and _one_of(image.get("detail"), IMAGE_DETAILS))


def _one_of(value: Any, names: frozenset[str]) -> bool:
    """Whether a value from the line is one of the names (a list or an object, which a set
    cannot hold, is none of them)."""
    return type(value) is str and value in names


def _plain_text_part(part: Any) -> bool:
    """Whether the part is the common `{"type": "text", "text": "..."}` with some text."""
    if type(part) is not dict or len(part) != 2 or part.get("type") != "text":
        return False
    text = part.get("text")
    return type(text) is str and bool(text)


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
        )
    return ""


def validate_lines(lines: Iterable[bytes], preset: str = "openai") -> ValidationReport:
    """Validate JSONL lines (bytes, with or without their newline) streamed from anywhere."""
    validator = Validator(preset)
    validator.check_lines(lines)
    return validator.finish()


def validate_file(path: str | Path, preset: str = "openai") -> ValidationReport:
    """Validate a JSONL file line by line (memory flat in the file's size); a large one in two
    halves at once (`quality/halves.py`)."""
    from annoconvert.quality.halves import validate_in_halves

    p = Path(path)
    try:
        with p.open("rb") as handle:
            report = validate_in_halves(p, handle, preset)
            return report if report is not None else validate_lines(handle, preset)
    except FileNotFoundError:
        raise ConfigError(f"{p}: file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{p}: is a folder, not a JSONL file") from None
