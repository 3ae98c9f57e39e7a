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


PRINT_OWN_PEAK_KIB = """
import resource as _resource, sys as _sys
try:  # this process's own peak: Linux's ru_maxrss keeps the parent's RSS across the exec
    with open("/proc/self/status") as _status:
        print(next(int(l.split()[1]) for l in _status if l.startswith("VmHWM:")))  # KiB
except OSError:
    _peak = _resource.getrusage(_resource.RUSAGE_SELF).ru_maxrss
    print(_peak // 1024 if _sys.platform == "darwin" else _peak)  # KiB
"""
"""Appended to a `python -c` script measuring memory: prints that process's peak RSS in KiB.
(A child's `ru_maxrss` on Linux starts at its parent's RSS, kept across `execve`: under a
pytest worker of 100 MiB every child would read at least 100 MiB and a test could not fail.)"""


def own_peak_kib(script: str, *args: str, env: dict[str, str] | None = None) -> int:
    """Peak RSS (KiB) of a fresh `python -c script args...` (`script` ends with
    `PRINT_OWN_PEAK_KIB`)."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        env=env,
    )
    return int(done.stdout.strip())
