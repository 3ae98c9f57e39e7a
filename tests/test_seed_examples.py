"""The service guide's text examples come out exactly, from Label Studio exports holding them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import annoconvert
from annoconvert.cli import main

SEED = Path(__file__).resolve().parent.parent / "fixtures" / "seed"
CASES = sorted(p.name for p in SEED.iterdir() if p.is_dir())


@pytest.mark.parametrize("case", CASES)
def test_seed_line_equals_guide(case: str, tmp_path: Path) -> None:
    folder = SEED / case
    options = json.loads((folder / "options.json").read_text())
    out = tmp_path / "train.jsonl"
    result = annoconvert.convert(
        "labelstudio",
        folder / "export.json",
        out,
        label_config=str(folder / "config.xml"),
        **options,
    )
    assert (result.read, result.written, result.rejected) == (1, 1, 0)
    expected = [json.loads(line) for line in (folder / "expected.jsonl").read_text().splitlines()]
    written = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert written == expected


def test_extraction_answer_is_valid_json(tmp_path: Path) -> None:
    folder = SEED / "extraction"
    out = tmp_path / "x.jsonl"
    annoconvert.convert("labelstudio", folder / "export.json", out, recipe="extraction")
    answer = json.loads(out.read_text())["messages"][-1]["content"]
    assert json.loads(answer) == {
        "invoice_id": "4567",
        "amount": "129.99 EUR",
        "due_date": "2025-11-15",
    }


def test_seed_classification_through_cli(tmp_path: Path) -> None:
    folder = SEED / "email_classification"
    options = json.loads((folder / "options.json").read_text())
    out = tmp_path / "train.jsonl"
    args = [
        "labelstudio",
        str(folder / "export.json"),
        "-o",
        str(out),
        "--label-config",
        str(folder / "config.xml"),
        "--recipe",
        options["recipe"],
        "--system",
        options["system"],
        "--answer-template",
        options["answer_template"],
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "read 1 tasks; wrote 1 examples; rejected 0" in result.output
    expected = json.loads((folder / "expected.jsonl").read_text())
    assert json.loads(out.read_text()) == expected


def test_default_system_names_the_allowed_labels(tmp_path: Path) -> None:
    """Without --system the classification system message lists the config's labels."""
    folder = SEED / "email_classification"
    out = tmp_path / "train.jsonl"
    annoconvert.convert(
        "labelstudio", folder / "export.json", out, label_config=str(folder / "config.xml")
    )
    system = json.loads(out.read_text())["messages"][0]["content"]
    assert system.endswith(
        "Your response must be only one of the following: "
        "'SUPPORT_REQUEST', 'SALES_INQUIRY', or 'GENERAL_FEEDBACK'."
    )
