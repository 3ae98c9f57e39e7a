"""The real Label Studio pairwise export (corpus k_pairwise) converted with --recipe preference.

config.xml says `<Pairwise name="comparison" toName="answer1,answer2">`: left is answer1, right
is answer2. Task 35 selected left, task 36 selected right.
"""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest

from annoconvert.api import convert
from tests.conftest import FIXTURES, corpus_path

GOLDEN = FIXTURES / "preference" / "k_pairwise"
DIALECTS = ("openai", "trl", "vertex", "sharegpt")


def _convert(tmp_path: Path, dialect: str, export: str, with_config: bool) -> bytes:
    folder = corpus_path("labelstudio", "k_pairwise")
    out = tmp_path / f"{dialect}.jsonl"
    result = convert(
        "labelstudio",
        str(folder / export),
        str(out),
        recipe="preference",
        dialect=dialect,
        label_config=str(folder / "config.xml") if with_config else None,
    )
    assert result.written == 2
    assert result.rejected == 0
    return out.read_bytes()


@pytest.mark.parametrize("dialect", DIALECTS)
def test_k_pairwise_golden(dialect: str, tmp_path: Path) -> None:
    written = _convert(tmp_path, dialect, "JSON.json", with_config=True)
    expected = GOLDEN / f"expected.{dialect}.jsonl"
    if os.environ.get("ANNOCONVERT_UPDATE_GOLDEN"):
        expected.parent.mkdir(parents=True, exist_ok=True)
        expected.write_bytes(written)
    assert written == expected.read_bytes()


@pytest.mark.parametrize(
    ("export", "with_config"),
    [("JSON.json", False), ("JSON_MIN.json", True), ("JSON_MIN.json", False)],
)
def test_k_pairwise_same_pairs_from_every_export(
    export: str, with_config: bool, tmp_path: Path
) -> None:
    written = _convert(tmp_path, "openai", export, with_config)
    assert written == (GOLDEN / "expected.openai.jsonl").read_bytes()


def test_k_pairwise_selected_side_is_preferred(tmp_path: Path) -> None:
    folder = corpus_path("labelstudio", "k_pairwise")
    tasks = orjson.loads((folder / "JSON.json").read_bytes())
    lines = [orjson.loads(x) for x in (GOLDEN / "expected.openai.jsonl").read_bytes().splitlines()]
    assert len(lines) == len(tasks) == 2
    for task, line in zip(tasks, lines, strict=True):
        data = task["data"]
        side = task["annotations"][0]["result"][0]["value"]["selected"]
        chosen, other = (
            (data["answer1"], data["answer2"])
            if side == "left"
            else (data["answer2"], data["answer1"])
        )
        assert line["input"]["messages"] == [{"role": "user", "content": data["prompt"]}]
        assert line["preferred_output"] == [{"role": "assistant", "content": chosen}]
        assert line["non_preferred_output"] == [{"role": "assistant", "content": other}]


def test_k_pairwise_trl_loads_as_a_preference_dataset(tmp_path: Path) -> None:
    import datasets

    ds = datasets.load_dataset("json", data_files=str(GOLDEN / "expected.trl.jsonl"), split="train")
    assert ds.column_names == ["prompt", "chosen", "rejected"]
    assert ds[1]["chosen"][0]["content"].startswith("Soft rain on the roof")
    assert ds[1]["rejected"] == [{"role": "assistant", "content": "Rain."}]


def test_k_pairwise_openai_dpo_passes_validate() -> None:
    from annoconvert.quality.validate import validate_lines

    report = validate_lines((GOLDEN / "expected.openai.jsonl").read_bytes().splitlines(True))
    assert report.examples == 2
    assert set(report.error_counts) == {"too_few_examples"}  # 2 lines; OpenAI wants 10
