"""The line checks' shortcuts for the common chat line give what their general code gives."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from annoconvert.quality import consistency, validate
from annoconvert.quality.common_line import (
    common_line,
    dialect_common_line,
    sharegpt_common_line,
    vertex_common_line,
)
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
        m.setattr(consistency, "common_line", lambda _obj: None)
        return consistency.line_keys(obj, raw)


@settings(max_examples=300, deadline=None)
@given(system=texts, user=texts, answer=texts)
def test_plain_chat_lines_get_the_general_keys(system: str, user: str, answer: str) -> None:
    obj = _line(system, user, answer)
    raw = orjson.dumps(obj)
    assert common_line(obj) is not None
    with pytest.MonkeyPatch.context() as mp:
        assert consistency.line_keys(obj, raw) == _general_keys(mp, obj, raw)


def _image_line(system: str, prompt: str, url: str, answer: str) -> dict[str, Any]:
    return {
        "messages": [
            {"role": "system", "content": [{"type": "text", "text": system}]},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": prompt},
                    {"type": "image_url", "image_url": {"url": url}},
                ],
            },
            {"role": "assistant", "content": [{"type": "text", "text": answer}]},
        ]
    }


@settings(max_examples=300, deadline=None)
@given(system=texts, prompt=texts, url=texts, answer=texts)
def test_image_lines_get_the_general_keys(system: str, prompt: str, url: str, answer: str) -> None:
    obj = _image_line(system, prompt, url, answer)
    raw = orjson.dumps(obj)
    assert common_line(obj) is not None
    with pytest.MonkeyPatch.context() as mp:
        assert consistency.line_keys(obj, raw) == _general_keys(mp, obj, raw)


def _changed(obj: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    out: Any = orjson.loads(orjson.dumps(obj))
    target = out
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return dict(out)


IMAGE = _image_line("s", "p", "https://x/a.jpg", "[]")


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("messages", 1, "content", 1, "image_url", "detail"), "low"),
        (("messages", 1, "content", 1, "type"), "image"),
        (("messages", 1, "content", 0, "type"), "input_text"),
        (("messages", 1, "content", 2), {"type": "text", "text": "more"}),
        (("messages", 2, "content", 1), {"type": "text", "text": "more"}),
        (("messages", 2, "weight"), 0),
        (("messages", 1, "content", 1, "image_url"), "https://x/a.jpg"),
        (("messages", 0, "role"), "developer"),
        (("messages", 1, "content", 0, "text"), 5),
    ],
)
def test_other_image_lines_take_the_general_walk(
    monkeypatch: pytest.MonkeyPatch, path: tuple[Any, ...], value: Any
) -> None:
    if path[-2] == "content" and path[-1] == len(IMAGE["messages"][path[1]]["content"]):
        obj = orjson.loads(orjson.dumps(IMAGE))
        obj["messages"][path[1]]["content"].append(value)  # one more part
    else:
        obj = _changed(IMAGE, path, value)
    raw = orjson.dumps(obj)
    assert common_line(obj) is None
    assert consistency.line_keys(obj, raw) == _general_keys(monkeypatch, obj, raw)


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
    assert common_line(obj) is None
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


_roles = st.sampled_from(["system", "developer", "user", "assistant", "tool", "function", "bot"])
_box_answers = st.lists(
    st.tuples(
        st.integers(-5, 1200), st.integers(-5, 1200), st.integers(-5, 1200), st.integers(0, 1)
    ),
    max_size=3,
).map(lambda boxes: orjson.dumps([{"box_2d": [*b[:3], b[3] * 900]} for b in boxes]).decode())
_urls = st.sampled_from(
    [
        "https://e.x/a.jpg",
        "000001.jpg",
        "data:image/png;base64,iVBORw0KGgo=",
        "data:image/jpeg;base64,not base64!",
        "data:;base64,AAAA",
    ]
)
_image_urls = st.one_of(
    st.fixed_dictionaries({"url": _urls}),
    st.fixed_dictionaries({"url": _urls, "detail": st.sampled_from(["low", "high", "auto"])}),
    st.fixed_dictionaries({"url": _urls, "detail": st.sampled_from(["bogus", None, 1])}),
    st.sampled_from(
        [{"url": 5}, {"url": "https://e.x/a.jpg", "other": 1}, {}, "https://e.x/a.jpg"]
    ),
)
"""Image parts the image shortcut takes (a URL, a valid detail) and ones it turns down."""
_contents = st.one_of(
    texts,
    st.sampled_from(["", "   ", "\n", "[]", "not [a list", "x" * 3]),
    _box_answers,
    st.lists(
        st.one_of(
            st.fixed_dictionaries({"type": st.just("text"), "text": texts}),
            st.fixed_dictionaries(
                {
                    "type": st.just("text"),
                    "text": st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)),
                }
            ),
            st.fixed_dictionaries({"type": st.just("image_url"), "image_url": _image_urls}),
            st.fixed_dictionaries({"type": st.just("text"), "text": _box_answers}),
            st.fixed_dictionaries({"type": st.just("text"), "text": texts, "extra": st.just(1)}),
            st.just("a string part"),
        ),
        max_size=3,
    ),
    st.none(),
    st.integers(-(2**63), 2**63 - 1),
)
_plain_messages = st.fixed_dictionaries({"role": _roles, "content": _contents})
"""Role and content only: the shape the shortcut takes (or turns down for its content)."""
_other_messages = st.fixed_dictionaries(
    {"role": st.one_of(_roles, st.none(), st.just(["user"]), st.integers(-(2**63), 2**63 - 1))},
    optional={
        "content": _contents,
        "weight": st.sampled_from([0, 1, 2]),
        "name": st.just("n"),
        "tool_call_id": st.just("c1"),
    },
)
_messages = st.one_of(_plain_messages, _plain_messages, _other_messages)


@settings(max_examples=600, deadline=None)
@given(
    messages=st.lists(
        st.one_of(_messages, st.integers(-(2**63), 2**63 - 1)), min_size=1, max_size=4
    )
)
def test_plain_messages_and_text_parts_get_the_general_findings(messages: list[Any]) -> None:
    """The validator's shortcuts for a plain message, a message of plain parts and a plain
    text part find what the general walk finds, in the same order, for any message list."""
    raw = orjson.dumps({"messages": messages})
    fast = validate.Validator("openai").check_line(1, raw)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(validate, "_plain_content", lambda _m: None)
        mp.setattr(validate, "_plain_text_part", lambda _p: False)
        general = validate.Validator("openai").check_line(1, raw)
    assert fast == general


@settings(max_examples=400, deadline=None)
@given(
    messages=st.lists(
        st.one_of(_messages, st.integers(-(2**63), 2**63 - 1)), min_size=1, max_size=4
    )
)
def test_token_count_shortcuts_count_what_the_general_walk_counts(messages: list[Any]) -> None:
    """A message of role and content (text or parts) is counted as the walk over its keys
    counts it (a key the count ignores sends a message the walk's way)."""
    counter = TokenCounter(allow_exact=False)
    walked = [{**m, "ignored": 1} if isinstance(m, dict) else m for m in messages]
    assert counter.messages(messages) == counter.messages(walked)


_systems = st.one_of(
    texts,
    st.sampled_from(["", "  ", [], [{"type": "text", "text": ""}], [{"type": "text"}], None, 3]),
    st.lists(st.fixed_dictionaries({"type": st.just("text"), "text": texts}), max_size=2),
)
_answers = st.one_of(texts, _box_answers, st.sampled_from(["", " ", "[", " [] "]))


def _common_findings(line: dict[str, Any], preset: str = "openai") -> tuple[object, object]:
    """A line's findings and the report over it, with the validator's common-line shortcut
    and without it (its other shortcuts stay: the test above holds them to the walk)."""
    raw = orjson.dumps(line)
    found = []
    for shortcut in (True, False):
        with pytest.MonkeyPatch.context() as mp:
            if not shortcut:
                mp.setattr(validate, "common_line", lambda _obj: None)
            validator = validate.Validator(preset)
            found.append((validator.check_line(1, raw), validator.finish()))
    return found[0], found[1]


@pytest.mark.parametrize("preset", ["openai", "trl"])  # an image line is not TRL's shape
@settings(max_examples=400, deadline=None)
@given(system=_systems, prompt=texts, url=_urls, answer=_answers)
def test_common_image_lines_get_the_general_findings_and_tokens(
    preset: str, system: Any, prompt: str, url: str, answer: str
) -> None:
    line = _image_line("s", prompt, url, answer)
    line["messages"][0]["content"] = system
    assert common_line(line) is not None
    fast, general = _common_findings(line, preset)
    assert fast == general


@settings(max_examples=300, deadline=None)
@given(system=texts, user=texts, answer=_answers)
def test_common_text_lines_get_the_general_findings_and_tokens(
    system: str, user: str, answer: str
) -> None:
    line = _line(system, user, answer)
    assert common_line(line) is not None
    fast, general = _common_findings(line)
    assert fast == general


def test_common_line_findings_are_the_lines_own() -> None:
    """The shortcut finds what a user needs to see: the image's URL and a wrong box."""
    line = _image_line("s", "p", "000001.jpg", '[{"box_2d": [10, 20, 5, 40], "label": "a"}]')
    findings = validate.Validator("openai").check_line(1, orjson.dumps(line))
    assert [(f.code, f.message.split(":")[0]) for f in findings] == [
        ("invalid_image_url", "messages[1].content[1]"),
        ("invalid_box", "messages[2] answer[0].box_2d"),
    ]


@settings(max_examples=500, deadline=None)
@given(
    text=st.one_of(
        st.text(alphabet=st.characters(max_codepoint=127), max_size=40),
        st.text(alphabet=st.sampled_from("aB \t\n\r\x0b\x0c\x1c\x1f\x85\xa0é"), max_size=12),
    )
)
def test_normalize_shortcut_for_plain_ascii_collapses_as_the_split_does(text: str) -> None:
    import unicodedata

    expected = " ".join(unicodedata.normalize("NFKC", text).split()).casefold()
    assert consistency.normalize(text) == expected


@pytest.mark.parametrize(
    ("line", "preview"),
    [
        (
            lambda answer: _image_line("s", "Find  the CARS", "a.jpg", answer),
            "[image] find the cars",
        ),
        (
            lambda answer: _line("s", "Is this " + "long " * 20, answer),
            ("is this " + "long " * 10)[:57] + "...",
        ),
    ],
)
def test_conflict_of_common_lines_names_its_input(line: Any, preview: str) -> None:
    """The checks of the written lines report a conflict with the input's preview."""
    from annoconvert.quality.linechecks import LineChecks

    checks = LineChecks("openai", "report", False)
    for answer in ("yes", "no"):
        checks.check_line(orjson.dumps(line(answer)))
    (conflict,) = checks.finish().consistency.conflicts
    assert conflict.input == preview
    assert conflict.answers == 2


def _vertex_line(system: str, user: str, answer: str) -> dict[str, Any]:
    return {
        "systemInstruction": {"parts": [{"text": system}]},
        "contents": [
            {"role": "user", "parts": [{"text": user}]},
            {"role": "model", "parts": [{"text": answer}]},
        ],
    }


def _sharegpt_line(system: str, user: str, answer: str) -> dict[str, Any]:
    return {
        "conversations": [{"from": "human", "value": user}, {"from": "gpt", "value": answer}],
        "system": system,
        "images": [],
    }


DIALECT_LINES: dict[str, tuple[Any, str, str]] = {
    "vertex": (_vertex_line, "vertex_common_line", "contents[1]"),
    "sharegpt": (_sharegpt_line, "sharegpt_common_line", "conversations[1]"),
}
"""Per dialect with a text line the checks tell apart: how to write one, the validator's
function that tells it apart, and where its answer is."""
_dialect_texts = st.one_of(texts, st.sampled_from(["<image>", "a <image> b", "<image"]))


def _dialect_general_keys(obj: Any, raw: bytes) -> tuple[int, int, int, str]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(consistency, "dialect_common_line", lambda _obj: None)
        return consistency.line_keys(obj, raw)


@pytest.mark.parametrize("dialect", DIALECT_LINES)
@settings(max_examples=300, deadline=None)
@given(system=texts, user=_dialect_texts, answer=_dialect_texts)
def test_dialect_text_lines_get_the_general_keys(
    dialect: str, system: str, user: str, answer: str
) -> None:
    make, _, _ = DIALECT_LINES[dialect]
    obj = make(system, user, answer)
    raw = orjson.dumps(obj)
    assert dialect_common_line(obj) == (system, user, None, answer)
    assert consistency.line_keys(obj, raw) == _dialect_general_keys(obj, raw)


VALIDATED_LINES = {**DIALECT_LINES, "trl": (_line, "common_line", "messages[2]")}
"""The lines the validator tells apart in its dialect: TRL writes a classification as the
openai text line."""


@pytest.mark.parametrize("dialect", VALIDATED_LINES)
@settings(max_examples=300, deadline=None)
@given(system=texts, user=_dialect_texts, answer=st.one_of(_answers, _dialect_texts))
def test_dialect_text_lines_get_the_general_findings_and_tokens(
    dialect: str, system: str, user: str, answer: str
) -> None:
    make, tells, _ = VALIDATED_LINES[dialect]
    raw = orjson.dumps(make(system, user, answer))
    found = []
    for shortcut in (True, False):
        with pytest.MonkeyPatch.context() as mp:
            if not shortcut:
                mp.setattr(validate, tells, lambda _obj: None)
            validator = validate.Validator(dialect)
            found.append((validator.check_line(1, raw), validator.finish()))
    assert found[0] == found[1]


@pytest.mark.parametrize("dialect", VALIDATED_LINES)
def test_a_dialect_line_s_findings_are_its_own(dialect: str) -> None:
    """The shortcut finds what a user needs to see: a wrong box in the answer."""
    make, _, answer_at = VALIDATED_LINES[dialect]
    line = make("s", "p", '[{"box_2d": [10, 20, 5, 40], "label": "a"}]')
    findings = validate.Validator(dialect).check_line(1, orjson.dumps(line))
    assert [(f.code, f.message.split(":")[0]) for f in findings] == [
        ("invalid_box", f"{answer_at} answer[0].box_2d")
    ]


VERTEX = _vertex_line("s", "u", "a")
SHAREGPT = _sharegpt_line("s", "u", "a")


@pytest.mark.parametrize(
    ("line", "path", "value"),
    [
        (VERTEX, ("systemInstruction", "parts", 0, "extra"), 1),
        (VERTEX, ("systemInstruction", "role"), "system"),
        (VERTEX, ("contents", 0, "role"), "model"),
        (VERTEX, ("contents", 1, "role"), "assistant"),
        (VERTEX, ("contents", 0, "parts", 0, "text"), 5),
        (
            VERTEX,
            ("contents", 1, "parts", 0),
            {"inlineData": {"mimeType": "image/png", "data": "AA=="}},
        ),
        (VERTEX, ("contents", 0, "weight"), 1),
        (VERTEX, ("labels",), {"k": "v"}),
        (SHAREGPT, ("conversations", 0, "from"), "gpt"),
        (SHAREGPT, ("conversations", 1, "from"), "assistant"),
        (SHAREGPT, ("conversations", 0, "value"), 5),
        (SHAREGPT, ("conversations", 1, "weight"), 0),
        (SHAREGPT, ("system",), None),
        (SHAREGPT, ("images",), ["a.jpg"]),
        (SHAREGPT, ("tools",), "[]"),
    ],
)
def test_other_dialect_lines_take_the_general_walk(
    line: dict[str, Any], path: tuple[Any, ...], value: Any
) -> None:
    obj = _changed(line, path, value)
    raw = orjson.dumps(obj)
    assert vertex_common_line(obj) is None and sharegpt_common_line(obj) is None
    assert consistency.line_keys(obj, raw) == _dialect_general_keys(obj, raw)


@pytest.mark.parametrize(
    "obj",
    [
        {"system_instruction": VERTEX["systemInstruction"], "contents": VERTEX["contents"]},
        {"contents": VERTEX["contents"]},
        {**VERTEX, "contents": [*VERTEX["contents"], {"role": "user", "parts": [{"text": "u"}]}]},
        {**VERTEX, "contents": [VERTEX["contents"][0], {"role": "model", "parts": []}]},
        {**VERTEX, "systemInstruction": {"parts": [{"text": "s"}, {"text": "t"}]}},
        {
            **SHAREGPT,
            "conversations": [*SHAREGPT["conversations"], {"from": "human", "value": "u"}],
        },
    ],
)
def test_other_dialect_shapes_take_the_general_walk(obj: dict[str, Any]) -> None:
    raw = orjson.dumps(obj)
    assert dialect_common_line(obj) is None
    assert consistency.line_keys(obj, raw) == _dialect_general_keys(obj, raw)
