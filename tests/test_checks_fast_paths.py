"""The line checks' shortcuts for the common chat line give what their general code gives."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from annoconvert.quality import consistency
from annoconvert.quality.tokens import TokenCounter, estimate_text_tokens

texts = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)),  # JSON cannot carry lone surrogates
    max_size=80,
)


def _line(system: str, user: str, answer: str, **extra: Any) -> dict[str, Any]:
    return {
        "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": user},
            {"role": "assistant", "content": answer},
        ],
        **extra,
    }


def _general_keys(
    monkeypatch: pytest.MonkeyPatch, obj: Any, raw: bytes
) -> tuple[int, int, int, str]:
    with monkeypatch.context() as m:
        m.setattr(consistency, "_plain_chat", lambda _obj: None)
        return consistency.line_keys(obj, raw)


@settings(max_examples=300, deadline=None)
@given(system=texts, user=texts, answer=texts)
def test_plain_chat_lines_get_the_general_keys(system: str, user: str, answer: str) -> None:
    obj = _line(system, user, answer)
    raw = orjson.dumps(obj)
    assert consistency._plain_chat(obj) == (user, answer)
    with pytest.MonkeyPatch.context() as mp:
        assert consistency.line_keys(obj, raw) == _general_keys(mp, obj, raw)


@pytest.mark.parametrize(
    "obj",
    [
        _line("s", "u", "a", metadata={"k": 1}),  # another top-level key
        {"messages": [{"role": "user", "content": "u"}, {"role": "assistant", "content": "a"}]},
        {
            "messages": [
                {"role": "system", "content": "s"},
                {"role": "user", "content": "u"},
                {"role": "assistant", "content": "a", "weight": 1},
            ]
        },
        {
            "messages": [
                {"role": "system", "content": "s"},
                {"role": "user", "content": [{"type": "text", "text": "u"}]},
                {"role": "assistant", "content": "a"},
            ]
        },
        {
            "messages": [
                {"role": "system", "content": "s"},
                {"role": "assistant", "content": "u"},
                {"role": "user", "content": "a"},
            ]
        },
    ],
)
def test_other_lines_take_the_general_walk(
    monkeypatch: pytest.MonkeyPatch, obj: dict[str, Any]
) -> None:
    assert consistency._plain_chat(obj) is None
    raw = orjson.dumps(obj)
    assert consistency.line_keys(obj, raw) == _general_keys(monkeypatch, obj, raw)


@settings(max_examples=200, deadline=None)
@given(system=texts, user=texts, answer=texts)
def test_token_count_of_plain_messages_follows_the_cookbook(
    system: str, user: str, answer: str
) -> None:
    messages = _line(system, user, answer)["messages"]
    expected = 3 + sum(  # reply priming, then 3 per message plus its role and content
        3 + estimate_text_tokens(m["role"]) + estimate_text_tokens(m["content"]) for m in messages
    )
    assert TokenCounter(allow_exact=False).messages(messages) == expected
    # the same message with a name goes the general way: one token more, plus the name
    named = [*messages[:1], {**messages[1], "name": "ann"}, *messages[2:]]
    assert TokenCounter(allow_exact=False).messages(named) == expected + 1 + estimate_text_tokens(
        "ann"
    )
