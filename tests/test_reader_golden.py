"""Golden cases: fixtures/<reader>/<case>/input is read; the tasks must equal
expected_tasks.json (CVAT and COCO; Doccano's goldens have their own test).

Regenerate with ANNOCONVERT_REGEN_GOLDEN=1 (then read the file: it must be right, not just new).
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest

from annoconvert.model import TASK_ADAPTER, Reject, Task
from annoconvert.options import Options
from annoconvert.registry import reader
from tests.conftest import FIXTURES

READERS = ("cvat", "coco")
CASES = [
    (name, case)
    for name in READERS
    for case in sorted((FIXTURES / name).iterdir())
    if (case / "input").is_dir()
]
KINDS = {
    "cvat": {"box", "polygon", "polyline", "points", "mask", "ellipse", "cuboid", "choice"},
    "coco": {"box", "polygon", "points", "mask", "text", "choice"},
}


def golden_tasks(name: str, case: Path) -> list[object]:
    """Read a case's input and dump the tasks as JSON values, file paths made relative."""
    out: list[object] = []
    for item in reader(name).read([str(case / "input")], Options()):
        assert isinstance(item, Task), item
        rel = os.path.relpath(item.source.file, case)
        item = dataclasses.replace(item, source=dataclasses.replace(item.source, file=rel))
        out.append(json.loads(TASK_ADAPTER.dump_json(item)))
    return out


@pytest.mark.parametrize(("name", "case"), CASES, ids=[f"{n}/{c.name}" for n, c in CASES])
def test_reader_golden(name: str, case: Path) -> None:
    got = golden_tasks(name, case)
    expected_file = case / "expected_tasks.json"
    if os.environ.get("ANNOCONVERT_REGEN_GOLDEN"):
        expected_file.write_text(json.dumps(got, indent=1, ensure_ascii=False) + "\n")
    assert got == json.loads(expected_file.read_text())


@pytest.mark.parametrize("name", READERS)
def test_golden_cases_cover_every_region_kind(name: str) -> None:
    kinds = set()
    for reader_name, case in CASES:
        if reader_name != name:
            continue
        for task in json.loads((case / "expected_tasks.json").read_text()):
            for ann in task["annotations"]:
                kinds.update(r["kind"] for r in ann["regions"])
    assert KINDS[name] <= kinds


@pytest.mark.parametrize(("name", "case"), CASES, ids=[f"{n}/{c.name}" for n, c in CASES])
def test_no_rejects_in_golden_inputs(name: str, case: Path) -> None:
    items = list(reader(name).read([str(case / "input")], Options()))
    assert not [i for i in items if isinstance(i, Reject)]
