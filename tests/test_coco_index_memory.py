"""DESIGN.md: COCO memory grows with the annotation file only, the index under 2x its size."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

MEASURE = """
import gc, sys
from annoconvert.inputs import open_input
from annoconvert.readers import coco

def status_kib(field):  # VmRSS now, VmHWM the peak (ru_maxrss would count the parent's)
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith(field))

def rss_kib():
    return status_kib("VmRSS:")

source = open_input(sys.argv[1])
member = coco.annotation_files(source)[0]
gc.collect()
before = rss_kib()
parsed = coco._load(source, member, "x")
peak = status_kib("VmHWM:")
print(len(parsed.images), peak - before, rss_kib() - before)
"""


def _write_export(folder: Path, images: int) -> Path:
    """A CVAT-style COCO export: every image with two or three boxes, as CVAT writes them."""
    path = folder / "annotations" / "instances_default.json"
    path.parent.mkdir(parents=True)
    anns = []
    for i in range(1, images + 1):
        for k in range(2 + i % 2):
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": i,
                    "category_id": 1 + k,
                    "segmentation": [],
                    "area": 1234.5,
                    "bbox": [10.5 + k, 20.25, 30.0, 40.75],
                    "iscrowd": 0,
                    "attributes": {"occluded": False},
                }
            )
    doc = {
        "licenses": [{"name": "", "id": 0, "url": ""}],
        "info": {"description": "memory"},
        "categories": [{"id": c, "name": f"c{c}", "supercategory": ""} for c in (1, 2, 3)],
        "images": [
            {"id": i, "width": 640, "height": 480, "file_name": f"{i:06d}.jpg", "license": 0}
            for i in range(1, images + 1)
        ],
        "annotations": anns,
    }
    path.write_text(json.dumps(doc, separators=(",", ":")))
    return path


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_index_of_a_large_file_stays_under_twice_its_size(tmp_path: Path) -> None:
    path = _write_export(tmp_path, 40_000)
    size_kib = path.stat().st_size // 1024
    assert size_kib > 8 * 1024  # large enough to see a full load (about 10x the file)
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, str(tmp_path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    images, peak_kib, held_kib = (int(v) for v in out)
    assert images == 40_000
    assert peak_kib < 2 * size_kib, (peak_kib, size_kib)
    assert held_kib < 2 * size_kib, (held_kib, size_kib)
