"""Agreement on the real multi-annotator exports (Label Studio, Doccano) through the readers."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import krippendorff
import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss

from annoconvert import registry
from annoconvert.commands.agreement import command
from annoconvert.model import Task
from annoconvert.options import build_options
from annoconvert.quality.agreement import agreement
from tests.conftest import corpus_path


def _tasks(source: str, path: Path) -> list[Task]:
    return [
        t for t in registry.reader(source).read([str(path)], build_options()) if isinstance(t, Task)
    ]


def _raw_choices(path: Path) -> dict[int, dict[str, str]]:
    """task id -> annotator id -> chosen label, straight from the export JSON (skips excluded)."""
    out: dict[int, dict[str, str]] = {}
    for task in json.loads(path.read_text(encoding="utf-8")):
        for ann in task["annotations"]:
            if not ann["was_cancelled"]:
                out.setdefault(task["id"], {})[str(ann["completed_by"])] = ann["result"][0][
                    "value"
                ]["choices"][0]
    return out


def test_label_studio_text_classification_matches_references() -> None:
    path = corpus_path("labelstudio", "a_text_classification", "JSON.json")
    report = agreement(_tasks("labelstudio", path))
    raw = _raw_choices(path)
    assert report.tasks == 8
    assert report.annotators == ["1", "2", "3"]
    (field,) = report.fields
    assert (field.field, field.kind) == ("category", "labels")
    for a, b in itertools.combinations(["1", "2", "3"], 2):
        both = [t for t in sorted(raw) if a in raw[t] and b in raw[t]]
        expected = cohen_kappa_score([raw[t][a] for t in both], [raw[t][b] for t in both])
        assert field.cohen_kappa[f"{a}|{b}"] == pytest.approx(expected)
    labels = sorted({v for t in raw.values() for v in t.values()})
    matrix = [
        [labels.index(raw[t][a]) if a in raw[t] else np.nan for t in sorted(raw)]
        for a in ["1", "2", "3"]
    ]
    expected_alpha = krippendorff.alpha(
        reliability_data=np.array(matrix), level_of_measurement="nominal"
    )
    assert field.krippendorff_alpha == pytest.approx(expected_alpha)
    # bob (3) skipped task 8: raters differ per task, so Fleiss is not defined over all tasks
    assert field.fleiss_kappa is None
    # the disagreements the corpus README lists: task 5 (bob) and task 6 (alice)
    assert {(d.task, d.field) for d in report.disputed} == {(5, "category"), (6, "category")}
    assert (
        report.disputed[0].answers["3"] == "GENERAL_FEEDBACK"
        or report.disputed[1].answers["3"] == "GENERAL_FEEDBACK"
    )
    # 6 of 8 tasks unanimous; tasks 5 and 6 have 1 agreeing pair of 3
    assert field.unanimous == pytest.approx(6 / 8)
    assert field.percent_agreement == pytest.approx((6 + 2 / 3) / 8)


def test_label_studio_fleiss_on_the_fully_rated_tasks() -> None:
    path = corpus_path("labelstudio", "a_text_classification", "JSON.json")
    tasks = [t for t in _tasks("labelstudio", path) if t.id != 8]
    (field,) = agreement(tasks).fields
    raw = _raw_choices(path)
    labels = sorted({v for t in raw.values() for v in t.values()})
    rows = [[labels.index(raw[t][a]) for a in ["1", "2", "3"]] for t in sorted(raw) if t != 8]
    table, _ = aggregate_raters(np.array(rows))
    assert field.fleiss_kappa == pytest.approx(sm_fleiss(table, method="fleiss"))


def test_doccano_alice_and_bob() -> None:
    folder = corpus_path("doccano", "DocumentClassification_single", "individual", "JSONL")
    report = agreement(_tasks("doccano", folder))
    raw: dict[str, dict[int, str]] = {}
    for name in ("alice", "bob"):
        for line in (folder / f"{name}.jsonl").read_text(encoding="utf-8").split("\n"):
            if line.strip():
                rec = json.loads(line)
                if rec["label"]:
                    raw.setdefault(name, {})[rec["id"]] = rec["label"][0]
    both = sorted(set(raw["alice"]) & set(raw["bob"]))
    expected = cohen_kappa_score([raw["alice"][i] for i in both], [raw["bob"][i] for i in both])
    (field,) = report.fields
    assert field.cohen_kappa["alice|bob"] == pytest.approx(expected)
    assert "alice" in report.annotators and "bob" in report.annotators


def test_label_studio_ner_spans() -> None:
    path = corpus_path("labelstudio", "c_ner", "JSON.json")
    report = agreement(_tasks("labelstudio", path))
    (field,) = report.fields
    assert field.kind == "spans"
    # exact-match F1 recomputed here from the raw JSON: sum 2|A∩B| / sum(|A|+|B|) over pairs
    matched = total = 0
    for task in json.loads(path.read_text(encoding="utf-8")):
        sets = [
            {(r["value"]["start"], r["value"]["end"], r["value"]["labels"][0]) for r in a["result"]}
            for a in task["annotations"]
            if not a["was_cancelled"]
        ]
        for a, b in itertools.combinations(sets, 2):
            matched += 2 * len(a & b)
            total += len(a) + len(b)
    assert field.f1 == pytest.approx(matched / total)
    per = {lbl.label: lbl for lbl in field.labels}
    assert per["PER"].f1 == 1.0  # every annotator agrees on every person
    assert per["ORG"].f1 is not None and per["ORG"].f1 < per["LOC"].f1  # type: ignore[operator]
    # README: bob Redmond=ORG (task 15), alice misses a DATE (16), alice "Paris" ORG (17)
    assert {15, 16, 17} <= {d.task for d in report.disputed}


def test_label_studio_object_detection_boxes() -> None:
    path = corpus_path("labelstudio", "g_object_detection", "JSON.json")
    report = agreement(_tasks("labelstudio", path))
    (field,) = report.fields
    assert field.kind == "shapes"
    per = {lbl.label: lbl for lbl in field.labels}
    assert per["paint_chip"].f1 == 1.0 and per["paint_chip"].mean_iou == pytest.approx(1.0)
    disputed = {d.task for d in report.disputed}
    # bob labels the hood dent "scratch" (48); admin's rotated scratch (47) is not matched
    assert {47, 48} <= disputed
    assert field.f1 is not None and 0 < field.f1 < 1
    assert field.mean_iou is not None and 0.5 <= field.mean_iou <= 1


def test_cli_json_html_and_threshold(tmp_path: Path) -> None:
    path = str(corpus_path("labelstudio", "a_text_classification", "JSON.json"))
    html = tmp_path / "report.html"
    result = CliRunner().invoke(command, ["labelstudio", path, "--json", "--html", str(html)])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["tasks"] == 8 and payload["annotators"] == ["1", "2", "3"]
    field = payload["fields"][0]
    for key in (
        "field",
        "kind",
        "percent_agreement",
        "krippendorff_alpha",
        "fleiss_kappa",
        "cohen_kappa",
        "f1",
        "mean_iou",
    ):
        assert key in field
    assert field["fleiss_kappa"] is None and set(field["cohen_kappa"]) == {"1|2", "1|3", "2|3"}
    assert {(d["task"], d["field"]) for d in payload["disputed"]} == {
        (5, "category"),
        (6, "category"),
    }
    page = html.read_text(encoding="utf-8")
    assert "SALES_INQUIRY" in page and 'class="bar"' in page and "<script" not in page
    low = CliRunner().invoke(command, ["labelstudio", path, "--min-agreement", "0.8"])
    assert low.exit_code == 1
    assert "category" in low.stderr
    ok = CliRunner().invoke(command, ["labelstudio", path, "--min-agreement", "0.7", "--top", "1"])
    assert ok.exit_code == 0
    assert ok.stdout.count("GENERAL_FEEDBACK;") + ok.stdout.count("GENERAL_FEEDBACK\n") >= 1


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("[{", encoding="utf-8")
    for args in (["nosuchtool", str(bad)], ["labelstudio", str(bad)]):
        result = CliRunner().invoke(command, args)
        assert result.exit_code == 1
        assert "Traceback" not in result.output
        assert len(result.output.strip().splitlines()) == 1
        assert result.output.startswith("Error: ")
