"""The converting process keeps nothing per written line or per task (writers/sink.py, output.py).

What a user relies on: a 3M-image export converts in about the memory of a 100k one. The sink
finds the lines it keeps at the end by reading its temporary file back, and each line's task is
found through an index on disk; both must give exactly what the in-memory offsets gave.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path

import pytest

from annoconvert.model import Source, Task
from annoconvert.output import _LineRefs
from annoconvert.writers.sink import JsonlSink, LineMeta
from tests.conftest import PRINT_OWN_PEAK_KIB, own_peak_kib


def _source(task: int) -> Source:
    return Source("test", f"file{task % 3}.json", f"tasks[{task}]")


def _refs_of(lines_per_task: list[int]) -> _LineRefs:
    """Refs with task t (id 100 + t) writing lines_per_task[t] lines: one-line tasks through
    `add`, the others through `append`."""
    refs = _LineRefs()
    for t, n in enumerate(lines_per_task):
        _note(refs, t, n)
    return refs


def _note(refs: _LineRefs, t: int, n: int) -> None:
    """Task t (id 100 + t) writes n lines: through `add` for one, `append` for more."""
    if n == 1:
        refs.add(100 + t, _source(t))
        return
    task = Task(100 + t, _source(t))
    for _ in range(n):
        refs.append(task)


def _task_lines(lines_per_task: list[int]) -> list[range]:
    out, first = [], 0
    for n in lines_per_task:
        out.append(range(first, first + n))
        first += n
    return out


def _assert_lookups(refs: _LineRefs, lines_per_task: list[int], tasks: list[int]) -> None:
    """The first and last line of each task in `tasks` map back to it and its lines."""
    expected = _task_lines(lines_per_task)
    for t in tasks:
        for line in (expected[t][0], expected[t][-1]):
            assert refs.get(line) == (100 + t, f"file{t % 3}.json", f"tasks[{t}]")
            assert refs.lines_of_task(line) == expected[t]


@pytest.mark.parametrize(
    "lines_per_task",
    [[1], [5], [1, 3, 1, 2, 1], [1 + t % 4 for t in range(3000)], [1] * 2500],
    ids=["one-line", "one-task", "mixed", "3000-tasks", "2500-one-line"],
)
def test_line_refs_find_the_first_and_last_line_of_first_middle_last_task(
    lines_per_task: list[int],
) -> None:
    refs = _refs_of(lines_per_task)
    try:
        last = len(lines_per_task) - 1
        _assert_lookups(refs, lines_per_task, sorted({0, last // 2, last}))
        _assert_lookups(refs, lines_per_task, sorted({last, 0}))  # from the map made above
    finally:
        refs.close()


def test_line_refs_lookups_between_writes_see_every_task() -> None:
    """A lookup maps the index; tasks written after it (in a new batch and in a pending one)
    are found by the next lookup."""
    lines_per_task = [1 + t % 3 for t in range(5000)]
    refs = _LineRefs()
    try:
        written: list[int] = []
        for stop in (10, 1500, 1501, 4000, 5000):
            for t in range(len(written), stop):
                _note(refs, t, lines_per_task[t])
                written.append(lines_per_task[t])
            _assert_lookups(refs, written, sorted({0, len(written) // 2, len(written) - 1}))
    finally:
        refs.close()


def test_line_refs_without_tasks_close_cleanly() -> None:
    refs = _LineRefs()
    with pytest.raises(IndexError):
        refs.lines_of_task(0)
    refs.close()
    refs.close()


def _lines(n: int, big: Collection[int] = ()) -> list[bytes]:
    """n JSON lines; those in `big` are 1.5 MiB (more than the sink's 1 MiB write buffer)."""
    pad = 3 * 512 * 1024
    return [b'{"n": %d, "pad": "%s"}' % (i, b"x" * (pad if i in big else i % 7)) for i in range(n)]


def _write(sink: JsonlSink, lines: list[bytes], metas: list[LineMeta] | None = None) -> None:
    for i, line in enumerate(lines):
        sink.write(line, None if metas is None else metas[i])


def _joined(lines: list[bytes], drop: set[int]) -> bytes:
    return b"".join(line + b"\n" for i, line in enumerate(lines) if i not in drop)


@pytest.mark.parametrize(
    "drop",
    [set(), {0}, {0, 1}, {4}, {3, 5, 6}, {9}, {0, 4, 9}, set(range(10))],
    ids=["none", "first", "first-two", "middle", "middles", "last", "all-places", "all"],
)
@pytest.mark.parametrize("big", [set(), {0, 4, 9}, {5}], ids=["small", "big-ends", "big-middle"])
def test_commit_leaves_out_dropped_lines(tmp_path: Path, drop: set[int], big: set[int]) -> None:
    lines = _lines(10, big)
    out = tmp_path / "out.jsonl"
    sink = JsonlSink(str(out))
    _write(sink, lines)
    assert sink.commit(drop=drop) == [str(out)]
    assert out.read_bytes() == _joined(lines, drop)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]  # no temporary left


def test_split_files_get_their_lines_in_order_without_dropped_ones(tmp_path: Path) -> None:
    lines = _lines(12, big={2})
    metas = [LineMeta(f"g{i}", "a" if i % 3 else "b", None) for i in range(12)]

    class ByLabel:
        """Label "a" to train, any other to val."""

        def __init__(self) -> None:
            self.which: list[int] = []

        def add(self, meta: LineMeta) -> None:
            self.which.append(0 if meta.label == "a" else 1)

        def assign(self) -> tuple[Sequence[str], Sequence[int]]:
            return ["train", "val"], self.which

    out = tmp_path / "out.jsonl"
    sink = JsonlSink(str(out), ByLabel())
    _write(sink, lines, metas)
    drop = {0, 1, 11}
    written = sink.commit(drop=drop)
    assert written == [str(tmp_path / "out.val.jsonl"), str(tmp_path / "out.train.jsonl")]
    val = {i for i in range(12) if i % 3 == 0}
    train = set(range(12)) - val
    assert (tmp_path / "out.val.jsonl").read_bytes() == _joined(lines, drop | train)
    assert (tmp_path / "out.train.jsonl").read_bytes() == _joined(lines, drop | val)
    assert not (tmp_path / "out.jsonl").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.train.jsonl", "out.val.jsonl"]


@pytest.mark.parametrize("drop", [set(), {0, 3, 7}], ids=["keep-all", "drop-some"])
def test_a_held_stream_gets_the_kept_lines_at_commit(
    capsysbinary: pytest.CaptureFixture[bytes], drop: set[int]
) -> None:
    lines = _lines(8, big={3, 4})
    sink = JsonlSink(None, hold=True)
    _write(sink, lines)
    sink.flush()
    assert capsysbinary.readouterr().out == b""  # held until the commit
    assert sink.commit(drop=drop) == ["-"]
    assert capsysbinary.readouterr().out == _joined(lines, drop)


def test_a_line_with_a_raw_newline_is_an_internal_error(tmp_path: Path) -> None:
    """The sink counts the lines it reads back; a miscount must not pass silently."""
    out = tmp_path / "out.jsonl"
    sink = JsonlSink(str(out))
    _write(sink, [b'{"a": 1}', b'{"a":\n2}', b'{"a": 3}'])
    with pytest.raises(RuntimeError, match="internal error"):
        sink.commit(drop={0})
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


PEAK = (
    """
import sys
from annoconvert.model import Source
from annoconvert.output import _LineRefs
from annoconvert.writers.sink import JsonlSink

n, out = int(sys.argv[1]), sys.argv[2]
sink, refs = JsonlSink(out), _LineRefs()
source = Source("test", "file.json", "tasks[0]")
for i in range(n):
    sink.write(b'{"n":%d}' % i)
    refs.add(i, source)
drop = {0, n // 2, n - 1}
for line in sorted(drop):
    assert refs.lines_of_task(line) == range(line, line + 1) and refs.get(line)[0] == line
sink.commit(drop=drop)
refs.close()
"""
    + PRINT_OWN_PEAK_KIB
)


def _peak_kib(n: int, out: Path) -> int:
    """Peak RSS (KiB) of a fresh process writing n lines through the sink and the refs."""
    return own_peak_kib(PEAK, str(n), str(out))


def test_2m_lines_need_about_the_memory_of_200k(tmp_path: Path) -> None:
    """Before, 1.8M more lines took 78 MiB more: the sink's offsets and the refs' arrays (24
    bytes a line), a split name per line and the temporary file read whole at the commit."""
    small = _peak_kib(200_000, tmp_path / "small.jsonl")
    big = _peak_kib(2_000_000, tmp_path / "big.jsonl")
    assert big - small < 4 * 1024, f"200k lines: {small} KiB, 2M lines: {big} KiB"
