"""The two common chat lines, told apart once for both line checks.

Nearly every line a conversion writes is one of them: `{"messages": [system, user,
assistant]}` with string contents, or the image line with a `[text, image_url]` user message
and a `[text]` answer. The consistency keys of such a line, and the validator's findings and
token count where its texts are not blank, come from its four values; any other line takes
each check's general walk (`tests/test_checks_fast_paths.py` holds them to the same results).
The text lines of the vertex and sharegpt dialects (`dialect_common_line`) are told apart the
same way.

An image line's data URL is most of its bytes (a 45 KB JPEG is 60 KB of Base64). `cut_image`
takes the Base64 out before the line is parsed, so that the checks parse a line of a few
hundred bytes and read the Base64 twice (decoded once, hashed once) instead of about seven
times (parsed into a string, copied into a key, hashed twice, decoded).
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass
from typing import Any

import orjson
import pybase64

CommonLine = tuple[Any, str, "str | None", str]
"""(the system message's content, as it is; the user's text; the image line's URL, None for
the text line; the answer's text). A tuple: it is built for every line."""


UNSEEN: Any = object()
"""A check's `common` argument when the caller has not told the line apart."""


def common_line(obj: Any) -> CommonLine | None:
    """The values of a common line; None for any other line."""
    if type(obj) is not dict or len(obj) != 1:
        return None
    messages = obj.get("messages")
    if type(messages) is not list or len(messages) != 3:
        return None
    system, user, answer = messages
    if not (type(system) is dict and type(user) is dict and type(answer) is dict):
        return None
    if not (len(system) == len(user) == len(answer) == 2):
        return None
    if system.get("role") != "system" or user.get("role") != "user":
        return None
    if answer.get("role") != "assistant":
        return None
    asked, answered, told = user.get("content"), answer.get("content"), system.get("content")
    if type(asked) is str and type(answered) is str and type(told) is str:
        return told, asked, None, answered
    if type(asked) is not list or type(answered) is not list:
        return None
    if len(asked) != 2 or len(answered) != 1:
        return None
    prompt, picture, reply = asked[0], asked[1], answered[0]
    if not (type(prompt) is dict and type(picture) is dict and type(reply) is dict):
        return None
    if not (len(prompt) == len(picture) == len(reply) == 2):
        return None
    if prompt.get("type") != "text" or reply.get("type") != "text":
        return None
    prompt_text, reply_text, url = prompt.get("text"), reply.get("text"), picture.get("image_url")
    if type(prompt_text) is not str or type(reply_text) is not str:
        return None
    if picture.get("type") != "image_url" or type(url) is not dict or len(url) != 1:
        return None
    ref = url.get("url")
    if type(ref) is not str:
        return None
    return told, prompt_text, ref, reply_text


def vertex_common_line(obj: Any) -> CommonLine | None:
    """The values of the vertex dialect's text line, `{"systemInstruction": {"parts": [{"text":
    system}]}, "contents": [{"role": "user", "parts": [{"text": prompt}]}, {"role": "model",
    "parts": [{"text": answer}]}]}`, as a `CommonLine` without an image; None for any other
    line."""
    if type(obj) is not dict or len(obj) != 2:
        return None
    system, contents = obj.get("systemInstruction"), obj.get("contents")
    if type(system) is not dict or type(contents) is not list or len(contents) != 2:
        return None
    user, answer = contents
    if not (type(user) is dict and type(answer) is dict and len(system) == 1):
        return None
    if not (len(user) == len(answer) == 2):
        return None
    if user.get("role") != "user" or answer.get("role") != "model":
        return None
    told, asked, answered = _one_text(system), _one_text(user), _one_text(answer)
    if told is None or asked is None or answered is None:
        return None
    return told, asked, None, answered


def sharegpt_common_line(obj: Any) -> CommonLine | None:
    """The values of the sharegpt dialect's text line, `{"conversations": [{"from": "human",
    "value": prompt}, {"from": "gpt", "value": answer}], "system": system, "images": []}`, as
    a `CommonLine` without an image; None for any other line."""
    if type(obj) is not dict or len(obj) != 3:
        return None
    turns, told, images = obj.get("conversations"), obj.get("system"), obj.get("images")
    if type(turns) is not list or len(turns) != 2 or type(told) is not str or images != []:
        return None
    user, answer = turns
    if not (type(user) is dict and type(answer) is dict and len(user) == len(answer) == 2):
        return None
    if user.get("from") != "human" or answer.get("from") != "gpt":
        return None
    asked, answered = user.get("value"), answer.get("value")
    if type(asked) is not str or type(answered) is not str:
        return None
    return told, asked, None, answered


def dialect_common_line(obj: Any) -> CommonLine | None:
    """The values of the vertex or the sharegpt dialect's text line; None for any other line.
    (The consistency keys of a line do not depend on its dialect.)"""
    return vertex_common_line(obj) or sharegpt_common_line(obj)


def _one_text(holder: dict[str, Any]) -> str | None:
    """The text of `{"parts": [{"text": ...}]}` (other keys aside); None for other parts."""
    parts = holder.get("parts")
    if type(parts) is not list or len(parts) != 1:
        return None
    part = parts[0]
    if type(part) is not dict or len(part) != 1:
        return None
    text = part.get("text")
    return text if type(text) is str else None


BASE64_MARK = b";base64,"


@dataclass(frozen=True, slots=True)
class CutImage:
    """A common image line read without its data URL's Base64 (`cut_image`)."""

    obj: Any
    """The line parsed with the Base64 left out: its URL ends at `;base64,`."""
    common: CommonLine
    """`common_line(obj)`."""
    rest: bytes
    """The line's bytes without the Base64."""
    base64: bytes
    """The Base64 as written: plain Base64 characters, no JSON escapes. Bytes, not a view
    of the line: the hash of a memoryview took twice as long as copying it and hashing the
    copy (45 against 20 us for 60 KB; it hashes the viewed line too)."""
    image: bytes
    """The Base64 decoded."""


def cut_image(raw: bytes) -> CutImage | None:
    """A common image line with its Base64 cut out, when the cut line means the same as the
    whole one; None for any other line, which the checks parse whole.

    The cut is taken only where it cannot change what the line says: the line holds
    `;base64,` once (a URL object with the key twice would hold it twice), in a data URL; the
    bytes before the cut end with `{"url":"` and the URL the cut line's parse gives, written
    without escapes (so this is the image's URL object: in valid JSON no string holds `{"`
    unescaped, and no other object of a common line has the key `url`); and the Base64 is
    plain Base64 (no quote, backslash, control or non-ASCII character, so the whole line is
    valid JSON exactly when the cut one is, and its URL is the cut one's followed by these
    bytes). `tests/test_checks_cut_image.py` holds the checks of cut lines to the findings of
    whole ones.
    """
    start = raw.find(BASE64_MARK)
    if start < 0:
        return None
    start += len(BASE64_MARK)
    end = raw.find(b'"', start)
    if end < 0 or raw.find(BASE64_MARK, end) >= 0:
        return None
    rest = raw[:start] + raw[end:]
    try:
        obj = orjson.loads(rest)
    except orjson.JSONDecodeError:
        return None
    common = common_line(obj)
    if common is None or common[2] is None:
        return None
    url: str = common[2]
    if not (url.isascii() and url.startswith("data:") and url.endswith(";base64,")):
        return None
    if not raw.endswith(b'{"url":"' + url.encode("ascii"), 0, start):
        return None
    base64 = raw[start:end]
    try:
        image = pybase64.b64decode(base64, validate=True)
    except (binascii.Error, ValueError):
        return None
    return CutImage(obj, common, rest, base64, image)
