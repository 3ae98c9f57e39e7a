"""Golden task dumps of every real Label Studio project: each result type the reader parses
(choices, labels, textarea and per-region textarea, rating, taxonomy, relation, pairwise,
number, rectanglelabels with rotation, polygonlabels, keypointlabels, brushlabels) as the task
model holds it. Regenerate with ANNOCONVERT_REGEN_GOLDEN=1, then read the diff.
"""

from __future__ import annotations

import dataclasses
import json
import os

import pytest

from annoconvert.model import TASK_ADAPTER, Task
from annoconvert.options import Options
from annoconvert.registry import reader
from tests.conftest import FIXTURES, LABELSTUDIO_PROJECTS, corpus_path

GOLDEN = FIXTURES / "labelstudio_golden"
PROJECTS = LABELSTUDIO_PROJECTS


def _dump(project: str) -> list[object]:
    folder = corpus_path("labelstudio", project)
    options = Options(label_config=str(folder / "config.xml"))
    out: list[object] = []
    for item in reader("labelstudio").read([str(folder / "snapshot_full_JSON.json")], options):
        assert isinstance(item, Task), item
        item = dataclasses.replace(
            item, source=dataclasses.replace(item.source, file="snapshot_full_JSON.json")
        )
        out.append(json.loads(TASK_ADAPTER.dump_json(item)))
    return out


@pytest.mark.parametrize("project", PROJECTS)
def test_labelstudio_tasks_golden(project: str) -> None:
    got = _dump(project)
    golden = GOLDEN / f"{project}.json"
    if os.environ.get("ANNOCONVERT_REGEN_GOLDEN"):
        golden.write_text(json.dumps(got, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    assert got == json.loads(golden.read_text(encoding="utf-8"))


def test_golden_files_cover_every_result_type() -> None:
    kinds = set()
    for project in PROJECTS:
        for task in json.loads((GOLDEN / f"{project}.json").read_text(encoding="utf-8")):
            for ann in task["annotations"] + task["predictions"]:
                kinds.update(r["kind"] for r in ann["regions"])
    assert kinds >= {
        "choice",
        "span",
        "text",
        "rating",
        "taxonomy",
        "relation",
        "pairwise",
        "number",
        "box",
        "polygon",
        "points",
        "mask",
    }
