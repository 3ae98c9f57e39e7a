"""A 100k-task Label Studio conversion needs about the memory of a 10k-task one (streaming),
and a million-line Doccano conversion about that of 120k lines.

Each conversion runs through the CLI in a fresh wrapper process whose RUSAGE_CHILDREN peak
RSS is that one conversion's (tracemalloc would miss ijson's and orjson's C allocations).
The exports are written as JSON text from a template, which takes about a second per 100k.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SENTIMENT_CONFIG

LABELS = ("positive", "negative", "neutral")
TASK = (
    '{{"id":{i},"annotations":[{{"id":{i},"completed_by":1,"result":[{{"value":{{"choices":'
    '["{label}"]}},"id":"c{i}","from_name":"sentiment","to_name":"text","type":"choices",'
    '"origin":"manual"}}],"was_cancelled":false,"ground_truth":false,'
    '"created_at":"2026-01-05T10:00:00.000000Z","updated_at":"2026-01-05T10:00:00.000000Z",'
    '"lead_time":4.5,"prediction":{{}},"result_count":1,"task":{i},"project":1}}],'
    '"drafts":[],"predictions":[],"data":{{"text":"Review {i}: the room was {word} and the '
    'staff answered every question we had about the area and the trains."}},"meta":{{}},'
    '"created_at":"2026-01-05T09:00:00.000000Z","updated_at":"2026-01-05T10:00:00.000000Z",'
    '"project":1}}'
)
WORDS = ("clean", "noisy", "small", "bright", "cold")
WRAPPER = (
    "import resource, subprocess, sys\n"
    "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
)


def write_export(path: Path, n: int) -> Path:
    with open(path, "w", encoding="utf-8", buffering=1 << 20) as fh:
        fh.write("[")
        for i in range(1, n + 1):
            if i > 1:
                fh.write(",\n")
            fh.write(TASK.format(i=i, label=LABELS[i % 3], word=WORDS[i % 5]))
        fh.write("]")
    return path


def peak_kib(export: Path, out: Path, *flags: str, source: str = "labelstudio") -> int:
    """Peak RSS (KiB) of one `annoconvert` run, measured by a fresh wrapper."""
    cmd = [sys.executable, "-m", "annoconvert", source, str(export), "-o", str(out)]
    proc = subprocess.run(
        [sys.executable, "-c", WRAPPER, *cmd, "-q", *flags],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return int(proc.stdout.strip())


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    folder = tmp_path_factory.mktemp("memory")
    return {n: write_export(folder / f"ls_{n}.json", n) for n in (10_000, 100_000)}


@pytest.mark.parametrize("mode", ["no-validate", "validate", "express-lane"])
def test_100k_tasks_need_at_most_1_3x_the_memory_of_10k(
    exports: dict[int, Path], tmp_path: Path, mode: str
) -> None:
    """With the label config the tasks take the express lane; its memory is as flat."""
    flags: tuple[str, ...] = ("--no-validate",) if mode == "no-validate" else ()
    if mode == "express-lane":
        config = tmp_path / "config.xml"
        config.write_text(SENTIMENT_CONFIG, encoding="utf-8")
        flags = ("--label-config", str(config))
    small = peak_kib(exports[10_000], tmp_path / "small.jsonl", *flags)
    big = peak_kib(exports[100_000], tmp_path / "big.jsonl", *flags)
    lines = (tmp_path / "big.jsonl").read_bytes().splitlines()
    assert len(lines) == 100_000
    assert json.loads(lines[-1])["messages"][-1]["content"] == LABELS[100_000 % 3]
    assert big <= 1.3 * small, f"peak {big / 1024:.1f} MiB for 100k vs {small / 1024:.1f} for 10k"


DOCCANO_LINE = (
    '{{"id": {i}, "text": "Review {i}: the room was {word} and the staff friendly.", '
    '"label": ["{label}"]}}\n'
)


def test_a_million_lines_peak_like_a_hundred_thousand(tmp_path: Path) -> None:
    """1.2M Doccano lines against 120k: what a run keeps grows with nothing but its findings
    (the lines' tasks, the consistency hashes, the token counts are on disk or bounded).
    Before the twelfth round the 1.2M run kept about 110 bytes a line more: 110 MiB."""
    peaks = []
    for n in (120_000, 1_200_000):
        export = tmp_path / f"doccano_{n}.jsonl"
        with open(export, "w", encoding="utf-8", buffering=1 << 20) as fh:
            for i in range(n):
                fh.write(DOCCANO_LINE.format(i=i, word=WORDS[i % 5], label=LABELS[i % 3]))
        peaks.append(peak_kib(export, tmp_path / f"out_{n}.jsonl", source="doccano"))
    small, big = peaks
    assert big - small < 8 * 1024, f"peak {big / 1024:.1f} MiB for 1.2M vs {small / 1024:.1f}"
