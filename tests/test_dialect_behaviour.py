"""What the vertex, trl and sharegpt dialects refuse, copy and register (beyond golden lines)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import orjson
import pytest

from annoconvert.errors import ConfigError, MediaError, RecipeError
from annoconvert.options import Options
from annoconvert.registry import dialect
from annoconvert.writers.sharegpt import dataset_info_entry
from tests.test_dialect_golden import (
    PNG,
    detection,
    embedded_image,
    msg,
    preference,
    referenced_image,
)


@pytest.mark.parametrize("name", ["vertex", "trl", "sharegpt"])
def test_registry_finds_dialect(name: str) -> None:
    found = dialect(name)
    assert found.name == name
    assert found.preset == name
    assert Options(dialect=name).effective_preset == name


@pytest.mark.parametrize("name", ["vertex", "trl", "sharegpt"])
def test_copy_images_writes_the_listed_file(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    options = Options(image_uri_prefix="gs://b/p", copy_images="upload")
    line = orjson.loads(dialect(name).render(detection(embedded_image()), options))
    assert (tmp_path / "upload" / "part.png").read_bytes() == PNG.read_bytes()
    if name == "vertex":
        part = line["contents"][0]["parts"][1]
        assert part == {"fileData": {"mimeType": "image/png", "fileUri": "gs://b/p/part.png"}}
    else:
        assert line["images"] == ["upload/part.png"]


def test_copy_images_reads_the_path_in_reference_mode(tmp_path: Path) -> None:
    options = Options(image_mode="reference", image_uri_prefix="gs://b/", copy_images=str(tmp_path))
    line = orjson.loads(dialect("vertex").render(detection(referenced_image()), options))
    assert line["contents"][0]["parts"][1]["fileData"]["fileUri"] == "gs://b/parts/part.png"
    assert (tmp_path / "parts" / "part.png").read_bytes() == PNG.read_bytes()


def test_copy_images_refuses_a_name_clash(tmp_path: Path) -> None:
    (tmp_path / "part.png").write_bytes(b"another image")
    options = Options(image_uri_prefix="gs://b/", copy_images=str(tmp_path))
    with pytest.raises(MediaError) as err:
        dialect("vertex").render(detection(embedded_image()), options)
    assert err.value.code == "image_name_clash"
    assert (tmp_path / "part.png").read_bytes() == b"another image"


def test_unsafe_image_name_is_refused(tmp_path: Path) -> None:
    image = dataclasses.replace(embedded_image(), name="../../etc/part.png")
    options = Options(image_uri_prefix="gs://b/", copy_images=str(tmp_path))
    with pytest.raises(MediaError) as err:
        dialect("vertex").render(detection(image), options)
    assert err.value.code == "unsafe_image_name"


def test_vertex_reference_needs_a_url() -> None:
    with pytest.raises(ConfigError, match="image-uri-prefix"):
        dialect("vertex").render(detection(referenced_image()), Options(image_mode="reference"))
    gs = dataclasses.replace(referenced_image(), uri="gs://bucket/part.png")
    line = orjson.loads(dialect("vertex").render(detection(gs), Options(image_mode="reference")))
    assert line["contents"][0]["parts"][1]["fileData"]["fileUri"] == "gs://bucket/part.png"


def test_vertex_refuses_image_preference() -> None:
    example = dataclasses.replace(
        preference(),
        messages=(msg("user", "Which is nicer?", embedded_image()),),
        multimodal=True,
    )
    with pytest.raises(RecipeError) as err:
        dialect("vertex").render(example, Options())
    assert err.value.code == "unsupported_by_dialect"
    assert "text only" in str(err.value)


def test_sharegpt_embed_needs_files() -> None:
    with pytest.raises(ConfigError, match="copy-images"):
        dialect("sharegpt").render(detection(embedded_image()), Options())


def test_sharegpt_refuses_literal_image_token() -> None:
    example = dataclasses.replace(
        preference(), messages=(msg("user", "What does <image> mean in HTML?"),)
    )
    with pytest.raises(RecipeError) as err:
        dialect("sharegpt").render(example, Options())
    assert err.value.code == "image_token_in_text"


def test_sharegpt_tokens_match_images(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    two = detection(embedded_image())
    second = dataclasses.replace(embedded_image(), name="other.png")
    user = msg("user", embedded_image(), "Compare the parts.", second)
    two = dataclasses.replace(two, messages=(two.messages[0], user, two.messages[2]))
    line = orjson.loads(dialect("sharegpt").render(two, Options(copy_images="img")))
    value = line["conversations"][0]["value"]
    assert value == "<image>\nCompare the parts.\n<image>"
    assert line["images"] == ["img/part.png", "img/other.png"]


def test_sharegpt_dataset_info_entry() -> None:
    assert dataset_info_entry("defects", "train.jsonl") == {
        "defects": {
            "file_name": "train.jsonl",
            "formatting": "sharegpt",
            "columns": {"messages": "conversations", "system": "system", "images": "images"},
        }
    }
    ranked = dataset_info_entry("prefs", "prefs.jsonl", ranking=True)["prefs"]
    assert ranked["ranking"] is True
    assert ranked["columns"]["chosen"] == "chosen"
    assert ranked["columns"]["rejected"] == "rejected"
