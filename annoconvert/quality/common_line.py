"""The two common chat lines, told apart once for both line checks.

Nearly every line a conversion writes is one of them: `{"messages": [system, user,
assistant]}` with string contents, or the image line with a `[text, image_url]` user message
and a `[text]` answer. The consistency keys of such a line, and the validator's findings and
token count where its texts are not blank, come from its four values; any other line takes
each check's general walk (`tests/test_checks_fast_paths.py` holds them to the same results).
"""

from __future__ import annotations

from typing import Any

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
