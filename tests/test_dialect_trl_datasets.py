"""TRL output loads with Hugging Face `datasets` and its images decode, one per placeholder."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import datasets
import pytest

from annoconvert.model import Example
from annoconvert.options import Options
from annoconvert.registry import dialect
from tests.test_dialect_golden import detection, embedded_image, msg, text_classification


def _examples() -> list[Example]:
    one = detection(embedded_image())
    second = dataclasses.replace(embedded_image(), name="second.png")
    two_user = msg("user", embedded_image(), "Compare with the reference part.", second)
    two = dataclasses.replace(one, task_id=7, messages=(one.messages[0], two_user, one.messages[2]))
    return [one, two]


def _placeholders(messages: list[dict[str, object]]) -> int:
    count = 0
    for message in messages:
        content = message["content"]
        assert isinstance(content, list)
        count += sum(1 for part in content if part.get("type") == "image")
    return count


@pytest.mark.parametrize("mode", ["embed", "copy-images"])
def test_trl_jsonl_loads_with_datasets(
    mode: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    options = Options(copy_images="images" if mode == "copy-images" else None)
    out = tmp_path / "train.jsonl"
    out.write_bytes(b"".join(dialect("trl").render(e, options) + b"\n" for e in _examples()))

    ds = datasets.load_dataset("json", data_files=str(out), split="train")
    ds = ds.cast_column("images", datasets.List(datasets.Image()))
    assert len(ds) == 2
    for row in ds:
        assert len(row["images"]) == _placeholders(row["messages"])
        assert all(img.size == (4, 3) for img in row["images"])
    assert [len(row["images"]) for row in ds] == [1, 2]


def test_text_only_trl_loads_as_plain_conversations(tmp_path: Path) -> None:
    out = tmp_path / "text.jsonl"
    out.write_bytes(dialect("trl").render(text_classification(), Options()) + b"\n")
    ds = datasets.load_dataset("json", data_files=str(out), split="train")
    assert ds.column_names == ["messages"]
    assert ds[0]["messages"][-1] == {
        "role": "assistant",
        "content": "Classification: SALES_INQUIRY",
    }
