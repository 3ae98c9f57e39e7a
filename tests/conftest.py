"""Shared test fixtures: where the real-export corpus and the project's fixtures live."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
CORPUS = ROOT.parent / "shared" / "corpus"


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
