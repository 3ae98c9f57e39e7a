"""validate: one broken line per check (fixtures/validate/cases), good lines pass."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from annoconvert.commands.validate import command
from annoconvert.quality import validate as validate_mod
from annoconvert.quality.validate import Validator, validate_file, validate_lines
from tests.conftest import FIXTURES

CASES = FIXTURES / "validate" / "cases"
GOOD = FIXTURES / "validate" / "good"
EXPECTED = json.loads((FIXTURES / "validate" / "expected.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_each_check_has_a_case_and_finds_exactly_its_code(case: str) -> None:
    spec = EXPECTED[case]
    validator = Validator(spec["preset"])
    raw = (CASES / f"{case}.jsonl").read_bytes()
    findings = validator.check_line(1, raw)
    report = validator.finish()
    line_errors = {f.code for f in report.errors if f.line is not None}
    line_warnings = {f.code for f in report.warnings}
    assert line_errors == set(spec["errors"])
    assert line_warnings == set(spec["warnings"])
    assert {f.code for f in findings} == set(spec["errors"]) | set(spec["warnings"])
    assert all(f.line == 1 and f.message for f in findings)


def test_seed_examples_pass_openai() -> None:
    report = validate_file(GOOD / "seed_openai.jsonl", "openai")
    assert report.ok, report.errors
    assert report.examples == 11
    assert report.images == 4  # the seed's four image examples, each one image
    assert report.warnings == []


@pytest.mark.parametrize("preset", ["together", "azure"])
def test_seed_examples_pass_other_openai_presets(preset: str) -> None:
    assert validate_file(GOOD / "seed_openai.jsonl", preset).ok


def test_seed_examples_pass_fireworks() -> None:
    # JPEG images and 11 examples: Fireworks (PNG/JPEG, >= 3 examples) accepts the seed too
    assert validate_file(GOOD / "seed_openai.jsonl", "fireworks").ok


@pytest.mark.parametrize("preset", ["vertex", "trl", "sharegpt"])
def test_good_dialect_lines_pass(preset: str) -> None:
    report = validate_file(GOOD / f"{preset}.jsonl", preset)
    assert report.ok, report.errors
    assert report.images >= 1


def test_too_few_examples_is_a_file_level_error() -> None:
    lines = (GOOD / "seed_openai.jsonl").read_bytes().splitlines()[:9]
    report = validate_lines(lines, "openai")
    assert not report.ok
    assert report.error_counts == {"too_few_examples": 1}
    assert report.errors[-1].line is None
    assert validate_lines(lines[:3], "fireworks").ok
    assert not validate_lines(lines[:2], "fireworks").ok


def test_empty_file_has_too_few_examples(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    report = validate_file(path, "trl")
    assert report.error_counts == {"too_few_examples": 1}


def test_image_too_large_and_token_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    small = replace(
        validate_mod.PRESET_LIMITS["openai"], max_image_bytes=50, max_tokens_per_example=40
    )
    monkeypatch.setitem(validate_mod.PRESET_LIMITS, "openai", small)
    seed = (GOOD / "seed_openai.jsonl").read_bytes().splitlines()
    validator = Validator("openai")
    for number, raw in enumerate(seed, 1):
        validator.check_line(number, raw)
    report = validator.finish()
    assert report.error_counts == {"image_too_large": 4}
    # every seed example is over 40 estimated tokens: all are listed, as warnings
    assert report.tokens.over_limit == list(range(1, 12))
    assert report.warning_counts == {"example_over_token_limit": 11}


def test_token_estimate_follows_the_cookbook_formula() -> None:
    raw = (
        b'{"messages":[{"role":"user","content":"abcdefgh"},{"role":"assistant","content":"abcd"}]}'
    )
    report = validate_lines([raw] * 10, "openai")
    assert report.tokens.method == "estimate"  # no tiktoken encoding cached offline here
    # 3 (priming) + 2 messages x 3 + roles ceil(4/4)=1 + ceil(9/4)=3 + texts 2 + 1
    assert report.tokens.distribution["max"] == 3 + 2 * 3 + 1 + 3 + 2 + 1


def test_cli_exit_codes_and_json() -> None:
    runner = CliRunner()
    good = runner.invoke(command, [str(GOOD / "seed_openai.jsonl"), "--json"])
    assert good.exit_code == 0, good.output
    payload = json.loads(good.output)
    assert payload["ok"] is True and payload["examples"] == 11
    bad = runner.invoke(command, [str(CASES / "invalid_json.jsonl")])
    assert bad.exit_code == 1
    assert "invalid_json" in bad.output
    missing = runner.invoke(command, ["/nonexistent/file.jsonl"])
    assert missing.exit_code == 1
    assert missing.output.strip().splitlines() == ["Error: /nonexistent/file.jsonl: file not found"]
    assert "Traceback" not in missing.output


def test_cli_vertex_preset() -> None:
    result = CliRunner().invoke(command, [str(GOOD / "vertex.jsonl"), "--preset", "vertex"])
    assert result.exit_code == 0, result.output
    wrong = CliRunner().invoke(command, [str(GOOD / "vertex.jsonl"), "--preset", "openai"])
    assert wrong.exit_code == 1
    assert "missing_messages_list" in wrong.output


DIALECT_GOLDENS = sorted((FIXTURES / "dialects").glob("*/expected.*.jsonl")) + sorted(
    (FIXTURES / "seed").glob("*/expected.jsonl")
)


@pytest.mark.parametrize(
    "path", DIALECT_GOLDENS, ids=[str(p.relative_to(FIXTURES)) for p in DIALECT_GOLDENS]
)
def test_the_writers_golden_lines_pass(path: Path) -> None:
    """Every line the dialect writers' golden files hold passes its own dialect's checks."""
    suffix = path.name.split(".")[-2]
    preset = suffix if suffix in ("vertex", "trl", "sharegpt") else "openai"
    validator = Validator(preset)
    findings = []
    for number, raw in enumerate(path.read_bytes().splitlines(), 1):
        findings += validator.check_line(number, raw)
    assert [f for f in findings if f.code != "missing_system_message"] == []


def test_a_line_nested_past_the_readers_depth_is_invalid_json() -> None:
    """orjson stops at 1024 levels and json at the stack's depth: the line is reported, the
    run goes on."""
    deep = b'{"messages": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    findings = Validator("openai").check_line(1, deep)
    assert [(f.code, f.message) for f in findings] == [
        ("invalid_json", "the line nests its values too deep to read")
    ]


def test_bytes_in_no_image_format_are_named_without_pillows_buffer() -> None:
    line = json.dumps(
        {
            "messages": [
                {"role": "system", "content": "s"},
                {
                    "role": "user",
                    "content": [
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
                    ],
                },
                {"role": "assistant", "content": "a"},
            ]
        }
    ).encode()
    found = [f.message for f in Validator("openai").check_line(1, line)]
    assert "messages[1].content[0]: the bytes are in no image format Pillow reads" in found
