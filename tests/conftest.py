"""Shared test fixtures: where the real-export corpus and the project's fixtures live."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
CORPUS = ROOT.parent / "shared" / "corpus"


LABELSTUDIO_PROJECTS = [
    "a_text_classification",
    "b_multilabel_classification",
    "c_ner",
    "d_summarization",
    "e_dialogue",
    "f1_extraction_fields",
    "f2_extraction_perregion",
    "g_object_detection",
    "h1_polygons",
    "h2_keypoints",
    "h3_brush",
    "i1_image_classification",
    "i2_image_captioning",
    "i3_vqa",
    "j_taxonomy_rating_relations",
    "k_pairwise",
    "l_thermal_multifield",
    "m_image_to_code",
]
"""The real Label Studio projects in ../shared/corpus/labelstudio (see its README)."""

SENTIMENT_CONFIG = """<View>
  <Text name="text" value="$text"/>
  <Choices name="sentiment" toName="text" choice="single">
    <Choice value="positive"/><Choice value="negative"/><Choice value="neutral"/>
  </Choices>
</View>
"""
"""A plain Label Studio text-classification config (generated sentiment exports use it)."""


def corpus_path(*parts: str) -> Path:
    """A path inside ../shared/corpus; fails under CI when missing, skips elsewhere."""
    path = CORPUS.joinpath(*parts)
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"corpus file missing under CI: {path}")
        pytest.skip(f"../shared/corpus not present: {path}")
    return path


@pytest.fixture
def corpus() -> Path:
    """The root of ../shared/corpus (see corpus_path for the CI rule)."""
    return corpus_path()
