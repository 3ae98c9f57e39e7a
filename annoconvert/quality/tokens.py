"""Token counts for chat examples: exact with tiktoken when its encoding is cached, else estimated.

Why the detection: `tiktoken.get_encoding` downloads its BPE file on first use; annoconvert must
never reach the network on its own, so it only uses tiktoken when the file is already in
tiktoken's cache (`TIKTOKEN_CACHE_DIR`, else `DATA_GYM_CACHE_DIR`, else `<tmp>/data-gym-cache`,
file name = sha1 of the encoding's URL, as tiktoken's `load.py` does).

The estimate follows the OpenAI cookbook's `num_tokens_from_messages` shape: 3 tokens per message,
+1 for a `name`, +3 priming the reply, with each text counted as ceil(characters / 4) instead of
encoded. An image counts 85 tokens with `"detail": "low"` and 765 otherwise (a 1024x1024
high-detail image: 4 tiles x 170 + 85).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import tempfile
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import accumulate
from pathlib import Path
from typing import Any, Literal

ENCODING = "o200k_base"
_ENCODING_URLS = {
    "o200k_base": "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
    "cl100k_base": "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
}
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING = 3
IMAGE_TOKENS_LOW = 85
IMAGE_TOKENS_HIGH = 765
COMMON_ROLES = ("system", "user", "assistant")

Method = Literal["exact", "estimate"]


def tiktoken_cache_file(encoding: str = ENCODING) -> Path | None:
    """Where tiktoken would cache `encoding` (None for an encoding this module does not know)."""
    url = _ENCODING_URLS.get(encoding)
    if url is None:
        return None
    if "TIKTOKEN_CACHE_DIR" in os.environ:
        cache_dir = os.environ["TIKTOKEN_CACHE_DIR"]
    elif "DATA_GYM_CACHE_DIR" in os.environ:
        cache_dir = os.environ["DATA_GYM_CACHE_DIR"]
    else:
        cache_dir = os.path.join(tempfile.gettempdir(), "data-gym-cache")
    if not cache_dir:
        return None
    return Path(cache_dir) / hashlib.sha1(url.encode()).hexdigest()


@functools.lru_cache(maxsize=4)
def _encoder(encoding: str) -> Callable[[str], int] | None:
    """A token counter when tiktoken is installed and its file is cached; never downloads."""
    cached = tiktoken_cache_file(encoding)
    if cached is None or not cached.is_file():
        return None
    try:
        import tiktoken
    except ImportError:
        return None
    try:
        enc = tiktoken.get_encoding(encoding)
    except (OSError, ValueError):
        return None
    return lambda text: len(enc.encode(text, disallowed_special=()))


class TokenCounter:
    """Counts tokens of OpenAI-style messages; `method` says whether the numbers are exact."""

    def __init__(self, encoding: str = ENCODING, allow_exact: bool = True) -> None:
        self.encoding = encoding
        encoder = _encoder(encoding) if allow_exact else None
        self.method: Method = "exact" if encoder is not None else "estimate"
        self._count: Callable[[str], int] = encoder or estimate_text_tokens
        self._common_base = (
            REPLY_PRIMING + 3 * TOKENS_PER_MESSAGE + sum(map(self._count, COMMON_ROLES))
        )

    def text(self, text: str) -> int:
        """Tokens of one text."""
        return self._count(text)

    def messages(self, messages: Sequence[Any]) -> int:
        """Tokens of a message list (cookbook formula); tolerant of malformed messages."""
        total = REPLY_PRIMING
        count = self._count
        for message in messages:
            if not isinstance(message, dict):
                continue
            total += TOKENS_PER_MESSAGE
            if len(message) == 2:  # the common message: role and text content, both strings
                role, content = message.get("role"), message.get("content")
                if type(role) is str and type(content) is str:
                    total += count(role) + count(content)
                    continue
                if type(role) is str and type(content) is list:  # the common message with parts
                    total += count(role) + self.content(content)
                    continue
            for key, value in message.items():
                if key == "name":
                    total += TOKENS_PER_NAME
                if key in ("role", "name") and isinstance(value, str):
                    total += self._count(value)
                elif key == "content":
                    total += self.content(value)
                elif key in ("tool_calls", "function_call") and value is not None:
                    total += self._count(json.dumps(value, ensure_ascii=False))
        return total

    def common(self, system: Any, prompt: str, answer: str, image: bool) -> int:
        """`messages` of a common line (`common_line`): system, user and assistant, the user's
        text with an image (without `detail`) or not."""
        count = self._count
        total = self._common_base + count(prompt) + count(answer) + self.content(system)
        return total + IMAGE_TOKENS_HIGH if image else total

    def content(self, content: Any) -> int:
        """Tokens of a `content` value: a string or a list of parts."""
        if isinstance(content, str):
            return self._count(content)
        if not isinstance(content, list):
            return 0
        total = 0
        count = self._count
        for part in content:
            if not isinstance(part, dict):
                continue
            kind = part.get("type")
            if kind == "text":
                text = part.get("text")
                if isinstance(text, str):
                    total += count(text)
            elif kind in ("image_url", "image"):
                detail = (
                    part.get("image_url", {}) if isinstance(part.get("image_url"), dict) else {}
                )
                low = isinstance(detail, dict) and detail.get("detail") == "low"
                total += IMAGE_TOKENS_LOW if low else IMAGE_TOKENS_HIGH
        return total


def estimate_text_tokens(text: str) -> int:
    """ceil(characters / 4): OpenAI's rule of thumb for English text."""
    return (len(text) + 3) // 4


def distribution(values: Iterable[int]) -> dict[str, float]:
    """min, max, mean, median, p5, p95 (nearest-rank) of token counts; {} when empty."""
    return distribution_of_counts(Counter(values))


def distribution_of_counts(counts: Mapping[int, int]) -> dict[str, float]:
    """`distribution` of the values a histogram holds (value -> how many times it occurs; a
    count of 0 is no value), with the same results: the mean is the exact int total over n,
    a rank is the value at sorted index max(0, ceil(p * n) - 1). Memory is the number of
    distinct values, not of values."""
    if any(count < 0 for count in counts.values()):
        raise ValueError("a histogram count is negative")
    values = sorted(value for value, count in counts.items() if count)
    if not values:
        return {}
    cumulative = list(accumulate(counts[value] for value in values))
    n = cumulative[-1]
    total = sum(value * counts[value] for value in values)

    def rank(p: float) -> float:
        return float(values[bisect_right(cumulative, max(0, math.ceil(p * n) - 1))])

    return {
        "min": float(values[0]),
        "max": float(values[-1]),
        "mean": total / n,
        "median": rank(0.5),
        "p5": rank(0.05),
        "p95": rank(0.95),
        "total": float(total),
    }
