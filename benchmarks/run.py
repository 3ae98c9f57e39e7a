"""Benchmark annoconvert against the floor and the peers; write docs/performance.md's table.

    python benchmarks/run.py [--sizes 1k,10k,100k,150,2900k] [--quick] [--cases ls-text,cvat]
                             [--no-peers] [--no-docs]

Every measurement runs its command through `measure.py` in a fresh wrapper process: wall
time (perf_counter, start-up included) and the child's peak RSS (RUSAGE_CHILDREN). Times are
the median of the repeats (3; `--quick`: 1), run round by round: annoconvert, the floor, the
peer, then the next round, so that a drift of the machine's speed falls on every tool alike;
the cases of a scaling target (one worker against two) run in the same rounds.
Each case starts with one unmeasured run of the floor, which puts its files in the page cache.
Synthetic exports are generated once into benchmarks/_data/ (git-ignored). Peers run from the
separate venv /work/bench-venv (label-studio-sdk, datumaro); a missing peer is skipped and the
table says so.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / "_data"
OUT = DATA / "out"
DOC = ROOT / "docs" / "performance.md"
PY = sys.executable
ANNOCONVERT = [PY, "-m", "annoconvert"]
PEER_PY = Path(os.environ.get("BENCH_VENV", "/work/bench-venv")) / "bin" / "python"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"

sys.path.insert(0, str(HERE))
import gen  # noqa: E402


def size_name(n: int) -> str:
    return f"{n // 1000}k" if n % 1000 == 0 else str(n)


def parse_size(text: str) -> int:
    text = text.strip().lower()
    return int(float(text[:-1]) * 1000) if text.endswith("k") else int(text)


@dataclass
class Case:
    """One job: how to make its input, and the annoconvert / floor / peer commands."""

    name: str
    title: str
    sizes: tuple[int, ...]
    make: Callable[[int], dict[str, str]]
    tool: Callable[[dict[str, str], str], list[str]]
    floor: Callable[[dict[str, str], str], list[str]]
    peer: tuple[str, Callable[[dict[str, str], str], list[str]]] | None = None
    peer_sizes: tuple[int, ...] = (1000, 10_000, 100_000)
    repeat: int | None = None
    """Runs per measurement when not the default 3 (1 for a case of a minute a run, 5 for
    the short runs of a scaling ratio)."""
    together: str | None = None
    """Cases of the same `together` name run in the same rounds (their commands interleaved),
    for a target that is the ratio of two cases: a drift of the machine's speed then falls on
    both sides of it, as on a tool and its floor."""


def _ls_text(n: int) -> dict[str, str]:
    path = gen.ls_text(DATA / f"ls_text_{size_name(n)}" / "export.json", n)
    return {"export": str(path), "config": str(path.parent / "config.xml")}


def _ls_det(n: int, images: bool) -> dict[str, str]:
    folder = DATA / f"ls_det_{'img' if images else 'ref'}_{size_name(n)}"
    path = gen.ls_detection(folder / "export.json", n, images)
    return {
        "export": str(path),
        "config": str(folder / "config.xml"),
        "images": str(folder / "images"),
    }


def _coco(n: int, images: bool) -> dict[str, str]:
    folder = gen.coco(DATA / f"coco_{'img' if images else 'ref'}_{size_name(n)}", n, images)
    return {"folder": str(folder)}


def _coco_photos(n: int) -> dict[str, str]:
    return {"folder": str(gen.coco(DATA / f"coco_photo_{size_name(n)}", n, True, photo=True))}


def _photos_case(workers: int) -> Case:
    """COCO over distinct 12 MP photos, resized to 1024 px: pixel work that the pool runs."""
    w = str(workers)
    return Case(
        f"coco-photos-w{w}",
        f"COCO + 12 MP JPEG photos, --max-image-side 1024, --workers {w}",
        (PHOTOS,),
        _coco_photos,
        lambda i, o: [
            *ANNOCONVERT,
            "coco",
            i["folder"],
            "-o",
            o,
            *Q,
            "--max-image-side",
            "1024",
            "--workers",
            w,
        ],
        lambda i, o: [*FLOOR, "coco", i["folder"], o, "--max-side", "1024", "--workers", w],
        together="coco-photos",
    )


def _resize_case(workers: int) -> Case:
    """COCO over 1k 640x480 JPEGs, resized to 320 px: pixel work in batches for the pool.
    Five runs each (about a second a run), the two worker counts in the same rounds."""
    w = str(workers)
    return Case(
        f"coco-resize-w{w}",
        f"COCO + JPEGs, --max-image-side 320, --workers {w}",
        (1000,),
        lambda n: _coco(n, True),
        lambda i, o: [
            *ANNOCONVERT,
            "coco",
            i["folder"],
            "-o",
            o,
            *Q,
            "--max-image-side",
            "320",
            "--workers",
            w,
        ],
        lambda i, o: [*FLOOR, "coco", i["folder"], o, "--max-side", "320", "--workers", w],
        repeat=5,
        together="coco-resize",
    )


def _cvat(n: int) -> dict[str, str]:
    # the 1 GB export has no image files: no peer converts it here (Datumaro alone needs them)
    path = gen.cvat(DATA / f"cvat_{size_name(n)}" / "annotations.xml", n, image_files=n <= 100_000)
    return {"xml": str(path), "folder": str(path.parent)}


def _doccano(n: int) -> dict[str, str]:
    return {"jsonl": str(gen.doccano(DATA / f"doccano_{size_name(n)}" / "all.jsonl", n))}


FLOOR = [PY, str(HERE / "floor.py")]
PEERS = [str(PEER_PY), str(HERE / "peers.py")]
LSSDK = (
    "label-studio-sdk LS->COCO",
    lambda i, o: [*PEERS, "lssdk-coco", i["export"], i["config"], o + ".d"],
)
Q = ["-q"]
PHOTOS = 150
"""Photos in the coco-photos cases (~3 MB each; `--sizes 150`)."""
CVAT_1GB = 2_900_000
"""Images in the 1 GB CVAT export (`cvat-1gb`; about 370 bytes of XML an image)."""

CASES = [
    Case(
        "ls-text",
        "Label Studio text classification -> JSONL",
        (1000, 10_000, 100_000),
        _ls_text,
        lambda i, o: [
            *ANNOCONVERT,
            "labelstudio",
            i["export"],
            "-o",
            o,
            *Q,
            "--label-config",
            i["config"],
        ],
        lambda i, o: [*FLOOR, "ls-text", i["export"], o],
    ),
    Case(
        "ls-text-novalidate",
        "Label Studio text classification -> JSONL, --no-validate",
        (1000, 10_000, 100_000),
        _ls_text,
        lambda i, o: [
            *ANNOCONVERT,
            "labelstudio",
            i["export"],
            "-o",
            o,
            *Q,
            "--no-validate",
            "--label-config",
            i["config"],
        ],
        lambda i, o: [*FLOOR, "ls-text", i["export"], o],
    ),
    Case(
        "ls-det-embed",
        "Label Studio detection + embedded 640x480 JPEGs -> JSONL",
        (1000, 10_000),
        lambda n: _ls_det(n, True),
        lambda i, o: [
            *ANNOCONVERT,
            "labelstudio",
            i["export"],
            "-o",
            o,
            *Q,
            "--label-config",
            i["config"],
            "--images-root",
            i["images"],
        ],
        lambda i, o: [*FLOOR, "ls-detection", i["export"], o, "--images-root", i["images"]],
        LSSDK,
    ),
    Case(
        "ls-det-ref",
        "Label Studio detection, --image-mode reference -> JSONL",
        (1000, 10_000, 100_000),
        lambda n: _ls_det(n, False),
        lambda i, o: [
            *ANNOCONVERT,
            "labelstudio",
            i["export"],
            "-o",
            o,
            *Q,
            "--label-config",
            i["config"],
            "--image-mode",
            "reference",
        ],
        lambda i, o: [*FLOOR, "ls-detection", i["export"], o],
        LSSDK,
    ),
    Case(
        "coco-embed",
        "COCO detection + embedded JPEGs (no re-encode) -> JSONL",
        (1000, 10_000),
        lambda n: _coco(n, True),
        lambda i, o: [*ANNOCONVERT, "coco", i["folder"], "-o", o, *Q],
        lambda i, o: [*FLOOR, "coco", i["folder"], o, "--embed"],
    ),
    _resize_case(1),
    _resize_case(2),
    _photos_case(1),
    _photos_case(2),
    Case(
        "coco-ref",
        "COCO detection, --image-mode reference (no image bytes) -> JSONL",
        (1000, 10_000, 100_000),
        lambda n: _coco(n, False),
        lambda i, o: [*ANNOCONVERT, "coco", i["folder"], "-o", o, *Q, "--image-mode", "reference"],
        lambda i, o: [*FLOOR, "coco", i["folder"], o],
    ),
    Case(
        "cvat",
        "CVAT for images 1.1 XML (boxes), --image-mode reference -> JSONL",
        (1000, 10_000, 100_000),
        _cvat,
        lambda i, o: [*ANNOCONVERT, "cvat", i["xml"], "-o", o, *Q, "--image-mode", "reference"],
        lambda i, o: [*FLOOR, "cvat", i["xml"], o],
        ("Datumaro CVAT->COCO", lambda i, o: [*PEERS, "datumaro-cvat-coco", i["folder"], o + ".d"]),
    ),
    Case(
        "cvat-1gb",
        "CVAT for images 1.1 XML of 1 GB (boxes), --image-mode reference -> JSONL",
        (CVAT_1GB,),
        _cvat,
        lambda i, o: [*ANNOCONVERT, "cvat", i["xml"], "-o", o, *Q, "--image-mode", "reference"],
        lambda i, o: [*FLOOR, "cvat", i["xml"], o],
        repeat=1,
    ),
    Case(
        "doccano",
        "Doccano JSONL document classification -> JSONL",
        (1000, 10_000, 100_000),
        _doccano,
        lambda i, o: [*ANNOCONVERT, "doccano", i["jsonl"], "-o", o, *Q],
        lambda i, o: [*FLOOR, "doccano", i["jsonl"], o],
    ),
]


@dataclass
class Row:
    case: str
    size: int
    tool: str
    seconds: float | None = None
    peak_mib: float | None = None
    note: str = ""
    runs: list[float] = field(default_factory=list)


def measure_once(cmd: list[str]) -> tuple[float, float, str]:
    """Seconds and peak MiB of one run of `cmd` in a fresh wrapper ('' note, or why it failed)."""
    proc = subprocess.run(
        [PY, str(HERE / "measure.py"), "--", *cmd],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    result = json.loads(proc.stdout)
    if result["returncode"] != 0:
        return 0.0, 0.0, f"failed (exit {result['returncode']}): {result['stderr'][-300:]}"
    return result["seconds"], result["max_rss_mib"], ""


def _clean() -> None:
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)


def run_cases(cases: list[Case], size: int, repeat: int, peers: bool) -> list[Row]:
    """Measure the cases (one, or those run `together`) at `size`, round by round."""
    out = str(OUT / "out.jsonl")
    rows: list[Row] = []
    # (case, tool, command) in the order each round runs them
    runs: list[tuple[Case, str, list[str]]] = []
    for case in cases:
        inputs = case.make(size)
        runs.append((case, "annoconvert", case.tool(inputs, out)))
        runs.append((case, "floor", case.floor(inputs, out)))
        if case.peer is not None:
            label, command = case.peer
            if not peers or size not in case.peer_sizes:
                rows.append(Row(case.name, size, label, note="not run at this size"))
            elif not PEER_PY.exists():
                rows.append(Row(case.name, size, label, note=f"skipped: {PEER_PY} not installed"))
            else:
                runs.append((case, label, command(inputs, out)))
    # one run of the floor first, not measured: the case's files are then in the page cache
    # for every measured run (the first run of the 10k-image case read 450 MB from disk, 10 s)
    _clean()
    measure_once(runs[1][2])
    # round by round (annoconvert, floor, peer, then again): a drift of this shared machine's
    # speed during the case then falls on every tool alike, not on the one measured last
    measured = {(case.name, tool): Row(case.name, size, tool) for case, tool, _ in runs}
    for _ in range(repeat):
        for case, tool, cmd in runs:
            row = measured[case.name, tool]
            if row.note:
                continue  # it failed: not run again
            _clean()
            seconds, peak, note = measure_once(cmd)
            _clean()
            if note and "No module named" in note:
                note = "skipped: not installed in the bench venv"
            if note:
                row.note = note
                continue
            row.runs.append(seconds)
            row.peak_mib = max(row.peak_mib or 0.0, peak)
    for case, tool, _ in runs:
        row = measured[case.name, tool]
        if not row.note:
            row.seconds = statistics.median(row.runs)
        print(
            f"{case.name:20s} {size_name(size):>5s} {tool:28s} "
            + (row.note or f"{row.seconds:8.2f} s {row.peak_mib:8.1f} MiB"),
            flush=True,
        )
        rows.append(row)
    return rows


# --- report --------------------------------------------------------------------------------


def _find(rows: list[Row], case: str, size: int, tool: str) -> Row | None:
    for r in rows:
        if r.case == case and r.size == size and r.tool == tool and r.seconds:
            return r
    return None


def table(rows: list[Row]) -> str:
    lines = [
        "| case | tasks | tool | time (s) | peak RSS (MiB) | records/s | x floor "
        "| peer / annoconvert |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        if not r.seconds:
            lines.append(f"| {r.case} | {size_name(r.size)} | {r.tool} | {r.note} | | | | |")
            continue
        floor = _find(rows, r.case, r.size, "floor")
        x_floor = f"{r.seconds / floor.seconds:.2f}" if floor and r.tool != "floor" else ""
        vs_peer = ""
        if r.tool == "annoconvert":
            peers = [
                p
                for p in rows
                if p.case == r.case
                and p.size == r.size
                and p.seconds
                and p.tool not in ("annoconvert", "floor")
            ]
            vs_peer = ", ".join(f"{p.seconds / r.seconds:.1f}x" for p in peers)
        lines.append(
            f"| {r.case} | {size_name(r.size)} | {r.tool} | {r.seconds:.2f} | {r.peak_mib:.0f} "
            f"| {r.size / r.seconds:,.0f} | {x_floor} | {vs_peer} |"
        )
    return "\n".join(lines)


def _ratio(a: Row | None, b: Row | None, attr: str = "seconds") -> float | None:
    if a is None or b is None:
        return None
    x, y = getattr(a, attr), getattr(b, attr)
    return x / y if x and y else None


def targets(rows: list[Row]) -> str:
    """The DESIGN.md section 9 targets, each with the measured number and met / missed."""
    big, mid = 100_000, 10_000
    ac = "annoconvert"
    checks: list[tuple[str, float | None, Callable[[float], bool], str]] = []

    def add(text: str, value: float | None, ok: Callable[[float], bool], fmt: str) -> None:
        checks.append((text, value, ok, fmt))

    det = _find(rows, "ls-det-ref", big, ac)
    add(
        "LS detection 100k: time <= 1.5x floor",
        _ratio(det, _find(rows, "ls-det-ref", big, "floor")),
        lambda v: v <= 1.5,
        "{:.2f}x",
    )
    add(
        "LS detection 100k: >= 3x faster than label-studio-sdk",
        _ratio(_find(rows, "ls-det-ref", big, LSSDK[0]), det),
        lambda v: v >= 3,
        "{:.1f}x",
    )
    add(
        "LS detection 100k: peak <= 100 MiB",
        det.peak_mib if det else None,
        lambda v: v <= 100,
        "{:.0f} MiB",
    )
    for case in ("ls-text", "ls-text-novalidate"):
        text = _find(rows, case, big, ac)
        add(
            f"{case} 100k: time <= 1.5x floor",
            _ratio(text, _find(rows, case, big, "floor")),
            lambda v: v <= 1.5,
            "{:.2f}x",
        )
        add(
            f"{case}: peak 100k <= 1.3x peak 10k",
            _ratio(text, _find(rows, case, mid, ac), "peak_mib"),
            lambda v: v <= 1.3,
            "{:.2f}x",
        )
    add(
        "COCO + 10k embedded JPEGs: time <= 1.3x floor",
        _ratio(_find(rows, "coco-embed", mid, ac), _find(rows, "coco-embed", mid, "floor")),
        lambda v: v <= 1.3,
        "{:.2f}x",
    )
    add(
        "COCO resize 1k: --workers 2 >= 1.5x faster than --workers 1",
        _ratio(_find(rows, "coco-resize-w1", 1000, ac), _find(rows, "coco-resize-w2", 1000, ac)),
        lambda v: v >= 1.5,
        "{:.2f}x",
    )
    add(
        f"COCO {size_name(PHOTOS)} 12 MP photos resize: --workers 2 >= 1.5x faster than "
        "--workers 1",
        _ratio(
            _find(rows, "coco-photos-w1", PHOTOS, ac), _find(rows, "coco-photos-w2", PHOTOS, ac)
        ),
        lambda v: v >= 1.5,
        "{:.2f}x",
    )
    add(
        "COCO 100k reference: time <= 1.5x floor",
        _ratio(_find(rows, "coco-ref", big, ac), _find(rows, "coco-ref", big, "floor")),
        lambda v: v <= 1.5,
        "{:.2f}x",
    )
    add(
        "CVAT XML: peak 100k <= 1.3x peak 10k (flat)",
        _ratio(_find(rows, "cvat", big, ac), _find(rows, "cvat", mid, ac), "peak_mib"),
        lambda v: v <= 1.3,
        "{:.2f}x",
    )
    add(
        "CVAT XML of 1 GB: peak <= 1.3x the 100k one (flat)",
        _ratio(_find(rows, "cvat-1gb", CVAT_1GB, ac), _find(rows, "cvat", big, ac), "peak_mib"),
        lambda v: v <= 1.3,
        "{:.2f}x",
    )
    out = ["| target | measured | met |", "|---|---:|---|"]
    for text, value, ok, fmt in checks:
        if value is None:
            out.append(f"| {text} | not measured | |")
        else:
            out.append(f"| {text} | {fmt.format(value)} | {'yes' if ok(value) else 'NO'} |")
    return "\n".join(out)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"nproc {os.cpu_count()}, {cpu}, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}; load average before the run: {load}"
    )


def compile_bytecode() -> None:
    """Compile annoconvert's modules to bytecode before measuring, as `pip install` does.

    Without it a shell with PYTHONDONTWRITEBYTECODE set (or a read-only checkout) compiles
    every module from source on every run: about 0.15 s added to each annoconvert row, which
    a user's installed copy never pays (the peers' packages were compiled by pip)."""
    code = (
        "import annoconvert, compileall, os; "
        "compileall.compile_dir(os.path.dirname(annoconvert.__file__), quiet=1)"
    )
    subprocess.run([PY, "-c", code], check=True, cwd=ROOT)


def write_doc(rows: list[Row], command: str, header: str) -> None:
    block = "\n".join(
        [
            BEGIN,
            f"Reproduce: `{command}`  ",
            f"Machine: {header}",
            "",
            table(rows),
            "",
            "Targets (DESIGN.md section 9):",
            "",
            targets(rows),
            END,
        ]
    )
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Performance\n\n"
    if BEGIN in text and END in text:
        text = text[: text.index(BEGIN)] + block + text[text.index(END) + len(END) :]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(text, encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default=f"1k,10k,100k,{PHOTOS},{CVAT_1GB}")
    ap.add_argument("--quick", action="store_true", help="one run per measurement")
    ap.add_argument("--cases", help="comma-separated case names (default: all)")
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--no-docs", action="store_true", help="do not rewrite docs/performance.md")
    ap.add_argument(
        "--merge",
        action="store_true",
        help="keep the other cases' rows from the last run (benchmarks/_data/results.json)",
    )
    a = ap.parse_args()
    sizes = [parse_size(s) for s in a.sizes.split(",")]
    chosen = set(a.cases.split(",")) if a.cases else None
    header = machine()
    print(header, flush=True)
    compile_bytecode()
    rows: list[Row] = []
    grouped: set[str] = set()
    for case in CASES:
        if (chosen and case.name not in chosen) or case.name in grouped:
            continue
        group = [
            c
            for c in CASES
            if c is case or (case.together and c.together == case.together)
            if not chosen or c.name in chosen
        ]
        grouped.update(c.name for c in group)
        for size in sizes:
            if size not in case.sizes:
                continue
            repeat = 1 if a.quick else case.repeat or 3
            rows.extend(run_cases(group, size, repeat, not a.no_peers))
    shutil.rmtree(OUT, ignore_errors=True)
    if a.merge and (DATA / "results.json").exists():
        done = {(r.case, r.size) for r in rows}
        old = [Row(**r) for r in json.loads((DATA / "results.json").read_text())]
        order = {c.name: i for i, c in enumerate(CASES)}
        rows = [r for r in old if (r.case, r.size) not in done] + rows
        rows.sort(key=lambda r: (order.get(r.case, 99), r.size))
    (DATA / "results.json").write_text(json.dumps([r.__dict__ for r in rows], indent=1))
    print()
    print(table(rows))
    print()
    print(targets(rows))
    if not a.no_docs:
        command = "python benchmarks/run.py " + " ".join(sys.argv[1:])
        write_doc(rows, command.strip(), header)


if __name__ == "__main__":
    main()
