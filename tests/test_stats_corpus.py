"""stats over real Label Studio exports, checked against counts taken from the raw JSON."""

from __future__ import annotations

import json
from collections import Counter

from click.testing import CliRunner

from annoconvert.commands.stats import command
from tests.conftest import corpus_path


def test_stats_detection_counts_match_the_export() -> None:
    path = corpus_path("labelstudio", "g_object_detection", "JSON.json")
    raw = json.loads(path.read_text(encoding="utf-8"))
    live = [a for t in raw for a in t["annotations"] if not a["was_cancelled"]]
    labels = Counter(
        lbl for a in live for r in a["result"] for lbl in r["value"]["rectanglelabels"]
    )
    result = CliRunner().invoke(command, ["labelstudio", str(path), "--json"])
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    assert stats["tasks"] == len(raw)
    assert stats["annotations"] == len(live)
    assert stats["cancelled"] == sum(a["was_cancelled"] for t in raw for a in t["annotations"])
    assert stats["labels"]["label"] == dict(labels)
    assert stats["region_kinds"] == {"box": sum(labels.values())}
    assert stats["annotators"] == dict(Counter(str(a["completed_by"]) for a in live))
    assert stats["images"] == len(raw)
    assert "640x480" in stats["image_sizes"]


def test_stats_text_lengths_and_table() -> None:
    path = corpus_path("labelstudio", "a_text_classification", "JSON.json")
    raw = json.loads(path.read_text(encoding="utf-8"))
    result = CliRunner().invoke(command, ["labelstudio", str(path), "--json"])
    stats = json.loads(result.stdout)
    lengths = [len(t["data"]["text"]) for t in raw]
    assert stats["text_chars"]["max"] == max(lengths)
    assert stats["text_chars"]["min"] == min(lengths)
    assert stats["labels"]["category"]["SALES_INQUIRY"] == 8
    table = CliRunner().invoke(command, ["labelstudio", str(path)])
    assert table.exit_code == 0
    assert "SALES_INQUIRY 8" in table.stdout
