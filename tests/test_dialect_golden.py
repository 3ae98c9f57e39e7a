"""Golden tests for the vertex, trl and sharegpt dialects.

Each case's Example is built here (fixtures/dialects/<case>/ holds only the expected lines, one
file per dialect). Regenerate with `ANNOCONVERT_UPDATE_GOLDEN=1 pytest tests/test_dialect_golden.py`
and read the diff before committing.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from annoconvert.model import Example, ImagePart, Message, PreparedImage, Source, TextPart
from annoconvert.options import Options
from annoconvert.registry import dialect

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures" / "dialects"
PNG = FIXTURES / "images" / "red_4x3.png"
SOURCE = Source("labelstudio", "export.json", "tasks[0]")
DIALECTS = ("vertex", "trl", "sharegpt")

SEED_SYSTEM = (
    "You are an expert email classification system. Your response must be only one of the "
    "following: 'SUPPORT_REQUEST', 'SALES_INQUIRY', or 'GENERAL_FEEDBACK'."
)
DETECTION_ANSWER = '[{"box_2d": [150, 200, 250, 300], "label": "scratch"}]'


def msg(role: str, *parts: str | PreparedImage, weight: int | None = None) -> Message:
    built = tuple(TextPart(p) if isinstance(p, str) else ImagePart(p) for p in parts)
    return Message(role, built, weight)  # type: ignore[arg-type]


def embedded_image() -> PreparedImage:
    return PreparedImage(
        source_uri="/data/upload/13/part.png",
        name="part.png",
        width=4,
        height=3,
        mime="image/png",
        data=PNG.read_bytes(),
        path=str(PNG),
    )


def referenced_image() -> PreparedImage:
    return PreparedImage(
        source_uri="/data/local-files/?d=parts/part.png",
        name="parts/part.png",
        width=4,
        height=3,
        mime="image/png",
        uri="parts/part.png",
        path=str(PNG),
    )


def text_classification() -> Example:
    return Example(
        task_id=1,
        source=SOURCE,
        messages=(
            msg("system", SEED_SYSTEM),
            msg("user", "Hi, can you tell me more about the pricing for your pro plan? Thanks!"),
            msg("assistant", "Classification: SALES_INQUIRY"),
        ),
        label="SALES_INQUIRY",
    )


def detection(image: PreparedImage) -> Example:
    return Example(
        task_id=2,
        source=SOURCE,
        messages=(
            msg("system", "You find defects."),
            msg("user", "List the defects of the part.", image),
            msg("assistant", DETECTION_ANSWER),
        ),
        multimodal=True,
    )


def dialogue() -> Example:
    return Example(
        task_id=3,
        source=SOURCE,
        messages=(
            msg("system", "You are a helpful customer support assistant."),
            msg("user", "My order #12345 has not arrived."),
            msg("assistant", "Sorry to hear that. Which address?", weight=0),
            msg("user", "Rue de l'Église 3, Zürich."),
            msg("assistant", "Thanks, I am checking the shipping status now."),
        ),
    )


def preference() -> Example:
    return Example(
        task_id=35,
        source=SOURCE,
        messages=(
            msg("system", "Answer briefly."),
            msg("user", "Explain photosynthesis in one sentence."),
        ),
        preferred=(msg("assistant", "Plants use sunlight, water and CO2 to make glucose."),),
        non_preferred=(msg("assistant", "Photosynthesis is when plants eat dirt."),),
    )


# case name -> (example factory, options)
CASES: dict[str, tuple[Callable[[], Example], Options]] = {
    "text_classification": (text_classification, Options()),
    "dialogue_weights": (dialogue, Options()),
    "preference_text": (preference, Options(recipe="preference")),
    "detection_embed": (lambda: detection(embedded_image()), Options()),
    "detection_reference": (
        lambda: detection(referenced_image()),
        Options(image_mode="reference"),
    ),
    "detection_uri_prefix": (
        lambda: detection(embedded_image()),
        Options(image_uri_prefix="gs://bucket/tuning/", copy_images="upload"),
    ),
}
# combinations a dialect refuses on purpose (tested below, no golden line)
REFUSED = {("sharegpt", "detection_embed"), ("vertex", "detection_reference")}


def render_case(name: str, dialect_name: str) -> bytes:
    factory, options = CASES[name]
    return dialect(dialect_name).render(factory(), options)


GOLDEN = [(c, d) for c in sorted(CASES) for d in DIALECTS if (d, c) not in REFUSED]


@pytest.mark.parametrize(("case", "dialect_name"), GOLDEN)
def test_golden_line(
    case: str, dialect_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # --copy-images "upload" is relative to the working directory
    line = render_case(case, dialect_name)
    expected_file = FIXTURES / case / f"expected.{dialect_name}.jsonl"
    if os.environ.get("ANNOCONVERT_UPDATE_GOLDEN"):
        expected_file.parent.mkdir(parents=True, exist_ok=True)
        expected_file.write_bytes(line + b"\n")
    assert line + b"\n" == expected_file.read_bytes()
    assert orjson.loads(line)  # one JSON object per line
    assert b"\n" not in line


SFT_GOLDEN = [(c, d) for c, d in GOLDEN if not c.startswith("preference")]


@pytest.mark.parametrize(("case", "dialect_name"), SFT_GOLDEN)
def test_golden_line_passes_validate(case: str, dialect_name: str) -> None:
    """Each supervised golden line passes `annoconvert validate --preset <dialect>`."""
    from annoconvert.quality.validate import validate_lines

    line = (FIXTURES / case / f"expected.{dialect_name}.jsonl").read_bytes()
    report = validate_lines([line], preset=dialect_name)
    assert report.errors == []
    assert report.images == (1 if case.startswith("detection") else 0)
