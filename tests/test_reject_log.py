"""The run's rejects past `KEPT` go to disk: the same rejects in the same order, the same
counts, and memory that does not grow with them."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from annoconvert import reject_log
from annoconvert.cli import main
from annoconvert.model import Reject
from annoconvert.reject_log import RejectLog
from tests.conftest import PRINT_OWN_PEAK_KIB, own_peak_kib

TASK_IDS = st.one_of(st.integers(-(2**70), 2**70), st.text(max_size=4), st.none())
REJECTS = st.builds(
    Reject,
    task=TASK_IDS,
    file=st.sampled_from(["a.json", "b.json"]),
    locator=st.sampled_from(["tasks[0]", "tasks[1]", "line 3"]),
    code=st.sampled_from(["missing_image", "bad_line", "empty_text"]),
    reason=st.text(max_size=8),
)


def _set_count(rejects: list[Reject]) -> int:
    """Tasks rejected as the run's stats counted them before the log: distinct (file, locator,
    task) of the rejects that are not unreadable lines, plus every unreadable line."""
    tasks = {(r.file, r.locator, r.task) for r in rejects if r.code != "bad_line"}
    return len(tasks) + sum(r.code == "bad_line" for r in rejects)


@given(st.lists(REJECTS, max_size=30))
def test_a_task_rejected_in_a_row_counts_once_as_before(rejects: list[Reject]) -> None:
    """A task's rejects come together in a run: grouped so, the count is the set's."""
    grouped = sorted(rejects, key=lambda r: (r.file, r.locator, repr(r.task)))
    log = RejectLog()
    for reject in grouped:
        log.append(reject)
    assert log.tasks == _set_count(grouped)


def test_a_run_rejecting_past_the_kept_ones_writes_and_counts_them_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every task's image is missing: 50 rejects through a log that keeps 7 and writes
    batches of 4; the rejects file and the summary are as without the log."""
    monkeypatch.setattr(reject_log, "KEPT", 7)
    monkeypatch.setattr(reject_log, "BATCH", 4)
    export = tmp_path / "instances.json"
    images = [{"id": i, "width": 4, "height": 4, "file_name": f"i{i}.jpg"} for i in range(50)]
    annotations = [
        {"id": i, "image_id": i, "category_id": 1, "bbox": [0, 0, 2, 2]} for i in range(50)
    ]
    categories = [{"id": 1, "name": "a"}]
    doc = {"images": images, "annotations": annotations, "categories": categories}
    export.write_text(json.dumps(doc), encoding="utf-8")
    rejects = tmp_path / "rejects.jsonl"
    out = tmp_path / "out.jsonl"
    args = ["coco", str(export), "-o", str(out), "--rejects", str(rejects)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "read 50 tasks; wrote 0 examples; rejected 50" in result.output
    assert "rejected 50 missing_image: tasks 0, 1, 2, 3, 4, ..." in result.output
    written = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert [r["task"] for r in written] == list(range(50))
    assert {r["code"] for r in written} == {"missing_image"}


MEMORY = (
    """
import sys
from annoconvert.model import Reject
from annoconvert.reject_log import RejectLog

count = int(sys.argv[1])
log = RejectLog()
for n in range(count):
    log.append(Reject(n, "export.json", f"images[{n}]", "missing_image",
                      f"image 'i{n}.jpg' not found under the image roots (/data/images)"))
assert len(log) == count and log.tasks == count and sum(1 for _ in log) == count
"""
    + PRINT_OWN_PEAK_KIB
)


def test_millions_of_rejects_take_the_memory_of_thousands() -> None:
    """In a list, 2M rejects took ~450 bytes each more than 200k: 800 MiB."""
    small, large = own_peak_kib(MEMORY, "200000"), own_peak_kib(MEMORY, "2000000")
    assert large - small < 8 * 1024, (small, large)


def test_a_reader_that_has_seen_all_but_the_newest_reads_no_batch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`to_examples` and the Dask workers ask for the new rejects after every task: that must
    not load a batch from disk each time (the batch written last stays in memory)."""
    monkeypatch.setattr(reject_log, "KEPT", 3)
    monkeypatch.setattr(reject_log, "BATCH", 4)
    loads: list[int] = []
    load = pickle.loads  # how a batch on disk is read back
    monkeypatch.setattr(pickle, "loads", lambda data: loads.append(len(data)) or load(data))
    log = RejectLog()
    rejects = [Reject(n, "a.json", f"tasks[{n}]", "empty_text", "") for n in range(14)]
    for n, reject in enumerate(rejects):
        log.append(reject)
        assert log.since(n) == [reject]
    assert loads == []  # 3 kept, two batches of 4 on disk, 3 pending: none was read back
    assert log.since(4) == rejects[4:] and len(loads) == 1  # from inside the first batch


@pytest.mark.parametrize("command", ["stats", "agreement"])
def test_stats_and_agreement_count_the_readers_rejects_past_the_kept_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    monkeypatch.setattr(reject_log, "KEPT", 2)
    monkeypatch.setattr(reject_log, "BATCH", 2)
    lines = ['{"id": 1, "text": "a", "label": ["x"]}', "not json", "{broken", "[", "]", "nul"]
    export = tmp_path / "all.jsonl"
    export.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = CliRunner().invoke(main, [command, "doccano", str(export)])
    assert "5 task(s) rejected by the reader (bad_line: 5)" in result.output


def test_the_summary_reads_back_only_the_rejects_it_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The summary names the first five ids of each code: with those found it stops, and the
    rest on disk is not read back (a million rejects took 1.5 s to read for it)."""
    from annoconvert.commands.summary import summary_lines
    from annoconvert.pipeline import RunStats

    monkeypatch.setattr(reject_log, "KEPT", 3)
    monkeypatch.setattr(reject_log, "BATCH", 4)
    stats = RunStats()
    for n in range(50):
        code = "missing_image" if n % 2 else "empty_text"
        stats.rejects.append(Reject(n, "a.json", f"tasks[{n}]", code, ""))
    loads: list[int] = []
    load = pickle.loads  # how a batch on disk is read back
    monkeypatch.setattr(pickle, "loads", lambda data: loads.append(len(data)) or load(data))
    lines = summary_lines(stats, None)
    assert "  rejected 25 empty_text: tasks 0, 2, 4, 6, 8, ..." in lines
    assert "  rejected 25 missing_image: tasks 1, 3, 5, 7, 9, ..." in lines
    assert len(loads) == 2  # rejects 3-6 and 7-10: the ten named end in the second batch
