"""Golden cases: fixtures/doccano/<case>/ holds a real export (copied from the corpus, see
`case.json` -> corpus_source), optional `images/`, and `expected_tasks.json` (the tasks as
`TASK_ADAPTER.dump_json` writes them). Regenerate with ANNOCONVERT_UPDATE_GOLDEN=1, then read
the diff before committing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from annoconvert.model import TASK_ADAPTER, Reject, Task, Warning_
from annoconvert.options import Options
from annoconvert.readers.doccano import READER
from tests.conftest import FIXTURES

CASES = sorted(p for p in (FIXTURES / "doccano").glob("*/case.json"))
UPDATE = os.environ.get("ANNOCONVERT_UPDATE_GOLDEN") == "1"


def _dump(tasks: list[Task]) -> bytes:
    return b"[\n" + b",\n".join(TASK_ADAPTER.dump_json(t) for t in tasks) + b"\n]\n"


@pytest.mark.parametrize("case_file", CASES, ids=[p.parent.name for p in CASES])
def test_golden(case_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    case = json.loads(case_file.read_text("utf-8"))
    folder = case_file.parent
    monkeypatch.chdir(folder)  # relative paths keep Source.file free of machine paths
    warnings: list[Warning_] = []
    roots = (case["images_root"],) if "images_root" in case else ("no-images-here",)
    items = list(
        READER.read([case["input"]], Options(images_root=roots), on_warning=warnings.append)
    )
    tasks = [t for t in items if isinstance(t, Task)]
    assert [r for r in items if isinstance(r, Reject)] == []
    detected = [w.message for w in warnings if w.code == "detected_project_type"]
    assert len(detected) == 1
    assert f"detected project type {case['project_type']} " in detected[0]
    expected_file = folder / "expected_tasks.json"
    if UPDATE:
        expected_file.write_bytes(_dump(tasks))
    expected = [TASK_ADAPTER.validate_python(t) for t in json.loads(expected_file.read_bytes())]
    assert tasks == expected
