"""The line checks read any JSON line without crashing: `annoconvert validate` takes files
from anywhere, and a role that is a list or an object must be a finding, not a traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from annoconvert.cli import main
from annoconvert.quality.linechecks import LineChecks
from annoconvert.quality.validate import Validator

PRESETS = ["openai", "together", "fireworks", "azure", "vertex", "trl", "sharegpt"]
KEYS = [
    "messages", "role", "content", "type", "text", "image_url", "url", "detail", "weight",
    "tool_calls", "function", "name", "arguments", "id", "tool_call_id", "input",
    "preferred_output", "non_preferred_output", "contents", "parts", "systemInstruction",
    "fileData", "inlineData", "mimeType", "fileUri", "data", "conversations", "from", "value",
    "system", "images", "prompt", "chosen", "rejected", "completion", "completions",
]  # fmt: skip
WORDS = [
    "user", "assistant", "system", "developer", "tool", "model", "human", "gpt", "text",
    "image_url", "function", "data:image/png;base64,iVBORw0KGgo=", "https://e.x/a.jpg",
    '[{"box_2d": [1, 2, 3, 4], "label": "x"}]', "<image>",
]  # fmt: skip
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 1001)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=4)
    | st.sampled_from(WORDS),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=4)
    ),
    max_leaves=14,
)


@settings(
    max_examples=1500,
    deadline=None,
    derandomize=True,  # the same lines on every run: CI stays bounded and repeatable
    suppress_health_check=list(HealthCheck),
)
@given(obj=json_values)
@example(obj={"messages": [{"role": "user", "content": [{"inlineData": 5, "fileData": True}]}]})
@example(obj={"input": {"messages": 1.5}, "messages": {}})
@example(obj={"conversations": [{"from": ["human"], "value": "hi"}]})
def test_no_json_line_crashes_the_checks(obj: Any) -> None:
    raw = orjson.dumps(obj)
    for preset in PRESETS:
        findings = Validator(preset).check_line(1, raw)
        assert all(f.line == 1 for f in findings)
    checks = LineChecks("openai", "report", dedupe=True)
    checks.check_line(raw)
    checks.finish()


@pytest.mark.parametrize(
    ("preset", "line"),
    [
        ("openai", {"messages": [{"role": ["user"], "content": "hi"}]}),
        ("openai", {"messages": [{"role": {"is": "user"}, "content": "hi"}]}),
        ("sharegpt", {"conversations": [{"from": ["human"], "value": "hi"}]}),
        ("vertex", {"contents": [{"role": ["user"], "parts": [{"text": "hi"}]}]}),
    ],
)
def test_a_role_that_is_not_a_string_is_an_unrecognized_role(
    tmp_path: Path, preset: str, line: dict[str, Any]
) -> None:
    path = tmp_path / "train.jsonl"
    path.write_bytes(orjson.dumps(line) + b"\n")
    result = CliRunner().invoke(main, ["validate", str(path), "--preset", preset])
    assert result.exit_code == 1
    assert "unrecognized_role" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("pillows_limit", ["unchanged", None])
@pytest.mark.parametrize(("width", "height", "refused"), [(9500, 9500, False), (20000, 9000, True)])
def test_validate_decodes_up_to_the_pixel_limit_quietly_and_refuses_past_it(
    width: int,
    height: int,
    refused: bool,
    pillows_limit: str | None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A 1-bit PNG of 90 megapixels (where Pillow starts to warn) is decoded and says nothing;
    one of 180 megapixels (past the limit the conversion decodes to) is image_undecodable,
    also where the user's process turned Pillow's own limit off."""
    import base64
    import warnings

    from PIL import Image

    if pillows_limit is None:
        monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)

    from tests.test_preview_page import _png_of_size

    url = "data:image/png;base64," + base64.b64encode(_png_of_size(width, height)).decode()
    line = {
        "messages": [
            {"role": "system", "content": "s"},
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]},
            {"role": "assistant", "content": "ok"},
        ]
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning escaping the check fails the test
        findings = Validator("openai").check_line(1, orjson.dumps(line))
    codes = [f.code for f in findings if f.code == "image_undecodable"]
    assert codes == (["image_undecodable"] if refused else [])
