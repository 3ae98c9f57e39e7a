"""The line checks read any JSON line without crashing: `annoconvert validate` takes files
from anywhere, and a role that is a list or an object must be a finding, not a traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
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


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(obj=json_values)
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
