"""Golden cases: fixtures/cvat/<case>/input is read; the tasks must equal expected_tasks.json.

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

CASES = sorted(p for p in (FIXTURES / "cvat").iterdir() if (p / "input").is_dir())


def golden_tasks(name: str, case: Path) -> list[object]:
    """Read a case's input and dump the tasks as JSON values, file paths made relative."""
    out: list[object] = []
    for item in reader(name).read([str(case / "input")], Options()):
        assert isinstance(item, Task), item
        rel = os.path.relpath(item.source.file, case)
        item = dataclasses.replace(item, source=dataclasses.replace(item.source, file=rel))
        out.append(json.loads(TASK_ADAPTER.dump_json(item)))
    return out


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_cvat_golden(case: Path) -> None:
    got = golden_tasks("cvat", case)
    expected_file = case / "expected_tasks.json"
    if os.environ.get("ANNOCONVERT_REGEN_GOLDEN"):
        expected_file.write_text(json.dumps(got, indent=1, ensure_ascii=False) + "\n")
    expected = json.loads(expected_file.read_text())
    assert got == expected


def test_golden_cases_cover_every_shape_kind() -> None:
    kinds = set()
    for case in CASES:
        for task in json.loads((case / "expected_tasks.json").read_text()):
            for ann in task["annotations"]:
                kinds.update(r["kind"] for r in ann["regions"])
    assert {"box", "polygon", "polyline", "points", "mask", "ellipse", "cuboid", "choice"} <= kinds


def test_no_rejects_in_golden_inputs() -> None:
    for case in CASES:
        items = list(reader("cvat").read([str(case / "input")], Options()))
        assert not [i for i in items if isinstance(i, Reject)]
