"""Every real Doccano 1.8.4 export in ../shared/corpus/doccano converts, checked against the API.

The expected ids, texts, file names and project types come from the files Doccano's REST API
returned for the same projects (`examples_api.json`, `project.json`), not from the exports.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from annoconvert.model import Reject, Span, Task, Warning_
from annoconvert.options import Options
from annoconvert.readers.doccano import READER
from tests.conftest import CORPUS, corpus_path

DOCCANO = CORPUS / "doccano"


def _exports() -> list[tuple[str, str, str]]:
    """(project dir, mode, export name) for every zip and unzipped folder in the corpus."""
    if not DOCCANO.is_dir():
        return [("missing", "individual", "JSONL.zip")]
    out = []
    for project in sorted(p for p in DOCCANO.iterdir() if (p / "individual").is_dir()):
        for mode in ("individual", "collaborative"):
            folder = project / mode
            if not folder.is_dir():
                continue
            for entry in sorted(folder.iterdir()):
                if entry.suffix == ".zip" or (entry.is_dir()):
                    out.append((project.name, mode, entry.name))
    return out


def read_all(path: Path | str, **options: Any) -> tuple[list[Task], list[Reject], list[Warning_]]:
    warnings: list[Warning_] = []
    tasks: list[Task] = []
    rejects: list[Reject] = []
    for item in READER.read([str(path)], Options(**options), on_warning=warnings.append):
        (rejects if isinstance(item, Reject) else tasks).append(item)
    return tasks, rejects, warnings


def _expected_type(project: dict[str, Any]) -> str:
    if project.get("use_relation"):
        return "RelationExtraction"
    return str(project["project_type"])


def _detected(warnings: list[Warning_]) -> str | None:
    for w in warnings:
        if w.code == "detected_project_type":
            return w.message.split("detected project type ")[1].split(" ")[0]
    return None


@pytest.mark.parametrize(("project_dir", "mode", "export"), _exports())
def test_real_export_converts(project_dir: str, mode: str, export: str) -> None:
    path = corpus_path("doccano", project_dir, mode, export)
    folder = path.parent
    api = {e["id"]: e for e in json.loads((folder / "examples_api.json").read_text("utf-8"))}
    project_file = folder / "project.json"
    project = (
        json.loads(project_file.read_text("utf-8"))
        if project_file.exists()
        else {"project_type": "SequenceLabeling"}  # the re-import project (README §2 table)
    )
    images = folder.parent / "images"
    options = {"images_root": (str(images),)} if images.is_dir() else {}
    tasks, rejects, warnings = read_all(path, **options)

    assert rejects == []
    approved = "_approved" in export
    if tasks or not approved:
        assert _detected(warnings) == _expected_type(project)
    is_fasttext = export.startswith("fastText")
    reimported = project_dir.endswith("_reimport")
    by_text = {e["text"]: e for e in api.values()}
    seen = set()
    for task in tasks:
        # each example comes out once, with the input data the API shows for it
        example = by_text[task.text] if is_fasttext or reimported else api[task.id]
        seen.add(example["id"])
        if example["text"] is not None:
            assert task.text == example["text"]
        elif task.images:
            assert task.images[0].uri == example["upload_name"]
        else:
            assert task.fields["audio"] == example["upload_name"]
        for annotation in task.annotations:
            assert annotation.regions, "an empty label list is not an annotation"
            for region in annotation.regions:
                if isinstance(region, Span):
                    assert task.text is not None
                    assert task.text[region.start : region.end] == region.text
        assert (mode == "collaborative") == bool(task.fields.get("__collaborative__"))
    assert len(seen) == len(tasks)
    if not approved:
        assert seen == set(api)
    elif mode == "collaborative":
        assert seen == {i for i, e in api.items() if e["is_confirmed"]}


def test_empty_approved_files_give_no_tasks() -> None:
    folder = corpus_path("doccano", "DocumentClassification_single", "individual")
    for name in (
        "JSONL_approved/admin.jsonl",
        "CSV_approved/admin.csv",
        "JSON_approved/admin.json",
        "fastText_approved/admin.txt",
    ):
        tasks, rejects, warnings = read_all(folder / name)
        assert (tasks, rejects) == ([], [])
        assert any(w.code == "empty_export" for w in warnings)


def _spans(task: Task, annotator: str | None) -> list[tuple[str, str]]:
    (annotation,) = [a for a in task.annotations if a.annotator == annotator]
    return [(r.labels[0], r.text) for r in annotation.regions if isinstance(r, Span)]


def test_utf16_offsets_give_the_same_span_texts_as_code_points() -> None:
    # README §5: alice posted UTF-16 [11,23] [27,33], bob code points [9,21] [25,31]
    path = corpus_path("doccano", "SequenceLabeling", "individual", "JSONL.zip")
    tasks, _, _ = read_all(path)
    (ada,) = [t for t in tasks if t.id == 35]
    expected = [("PERSON", "Ada Lovelace"), ("LOC", "London")]
    assert _spans(ada, "alice") == expected
    assert _spans(ada, "bob") == expected
    assert ada.fields["__remapped_offsets__"] == 2


def test_collaborative_list_mixing_both_units_reads_each_span_right() -> None:
    path = corpus_path("doccano", "SequenceLabeling", "collaborative", "JSONL", "all.jsonl")
    tasks, _, _ = read_all(path)
    (ada,) = [t for t in tasks if t.id == 42]
    texts = [text for _, text in _spans(ada, None)]
    assert texts == ["Ada Lovelace", "Ada Lovelace", "London", "London"]
    assert ada.fields["__remapped_offsets__"] == 2


def test_individual_zip_merges_users_with_their_disagreements() -> None:
    # ANNOTATIONS.md: ex 3 alice 'neutral', bob 'negative'; ex 6 only alice; ex 7 nobody
    path = corpus_path("doccano", "DocumentClassification_single", "individual", "JSONL.zip")
    tasks, _, _ = read_all(path)
    by_id = {t.id: t for t in tasks}
    labels = {a.annotator: a.regions[0].labels for a in by_id[3].annotations}  # type: ignore[union-attr]
    assert labels == {"alice": ("neutral",), "bob": ("negative",)}
    assert [a.annotator for a in by_id[6].annotations] == ["alice"]
    assert by_id[7].annotations == ()
    # admin imported the labels of the import file (README §3): his set comes first
    assert [a.annotator for a in by_id[1].annotations] == ["admin", "alice", "bob"]


def test_relations_merge_keeps_each_users_relation() -> None:
    # ANNOTATIONS.md: ex 49 alice ceoOf, bob worksFor between the same two spans
    path = corpus_path("doccano", "SequenceLabeling_relations", "individual", "JSONL.zip")
    tasks, _, _ = read_all(path)
    (task,) = [t for t in tasks if t.id == 49]
    rel = {
        a.annotator: [(r.labels, r.from_id, r.to_id) for r in a.regions if r.kind == "relation"]
        for a in task.annotations
    }
    spans = {r.id: r.text for a in task.annotations for r in a.regions if isinstance(r, Span)}
    assert [lab for lab, _, _ in rel["alice"]] == [("ceoOf",)]
    assert [lab for lab, _, _ in rel["bob"]] == [("worksFor",)]
    for annotator in ("alice", "bob"):
        ((_, src, dst),) = rel[annotator]
        assert (spans[src], spans[dst]) == ("Satya Nadella", "Microsoft")


def test_images_missing_from_the_roots_reject_boxes_with_the_file_name(tmp_path: Path) -> None:
    path = corpus_path("doccano", "BoundingBox", "individual", "JSONL.zip")
    tasks, rejects, _ = read_all(path, images_root=(str(tmp_path),))
    assert {r.code for r in rejects} == {"missing_image_size"}
    assert any("'dog.jpg'" in r.reason for r in rejects)
    # examples without boxes need no size and still come through
    assert {t.images[0].uri for t in tasks} == {"scan_001.JPEG", "unlabeled.png", "café_☕.png"}


def test_image_size_callback_is_used_instead_of_the_files() -> None:
    path = corpus_path("doccano", "BoundingBox", "collaborative", "JSONL", "all.jsonl")
    asked: list[str] = []

    def size(uri: str) -> tuple[int, int]:
        asked.append(uri)
        return (100, 200)

    tasks = [t for t in READER.read([str(path)], Options(), image_size=size) if isinstance(t, Task)]
    (dog,) = [t for t in tasks if t.images[0].uri == "dog.jpg"]
    box = dog.annotations[0].regions[0]
    assert (box.x, box.y, box.image_width, box.image_height) == (0.05, 0.03, 100, 200)  # type: ignore[union-attr]
    assert "dog.jpg" in asked


UPSTREAM_LEGACY = [
    ("doccano-transformer/tests/data/labeling/labeling.jsonl", "SequenceLabeling"),
    (
        "doccano-transformer/tests/data/classification/classification.jsonl",
        "DocumentClassification",
    ),
    ("doccano-transformer/tests/data/seq2seq/seq2seq.jsonl", "Seq2seq"),
    (
        "doccano@v1.6.0/frontend/static/formats/sequence_labeling/download/example.jsonl",
        "SequenceLabeling",
    ),
]


@pytest.mark.parametrize(("name", "project_type"), UPSTREAM_LEGACY)
def test_legacy_upstream_exports_convert(name: str, project_type: str) -> None:
    path = corpus_path("doccano", "upstream", *name.split("/"))
    tasks, rejects, warnings = read_all(path)
    assert rejects == []
    assert tasks and _detected(warnings) == project_type
    lines = [json.loads(x) for x in path.read_text("utf-8").splitlines() if x.strip()]
    for task, line in zip(tasks, lines, strict=True):
        users = list(dict.fromkeys(str(a["user"]) for a in line["annotations"]))
        assert [a.annotator for a in task.annotations] == users
        for ann_set in task.annotations:
            for region in ann_set.regions:
                if isinstance(region, Span):
                    assert task.text is not None
                    assert region.text == task.text[region.start : region.end]


def test_legacy_user_sets_hold_each_users_spans() -> None:
    path = corpus_path(
        "doccano", "upstream", "doccano-transformer", "tests", "data", "labeling", "labeling.jsonl"
    )
    tasks, _, _ = read_all(path)
    first = tasks[0]
    assert [a.annotator for a in first.annotations] == ["1", "2"]
    # label ids stay ids: the legacy export carries no label names
    assert [(r.labels, r.text) for r in first.annotations[0].regions][:2] == [  # type: ignore[union-attr]
        (("12",), "JAPAN"),
        (("13",), "CHINA"),
    ]


def test_legacy_text_label_shape_rejects_its_out_of_range_span() -> None:
    # the v1.6 'labels' sample truncates its first text to "EU rejects ..." but keeps spans
    path = corpus_path(
        "doccano",
        "upstream",
        "doccano@v1.6.0",
        "frontend",
        "static",
        "formats",
        "sequence_labeling",
        "download",
        "example_text.jsonl",
    )
    tasks, rejects, _ = read_all(path)
    assert [(r.task, r.code, r.locator) for r in rejects] == [(1, "bad_span", "line 1.labels[1]")]
    assert [t.annotations[0].regions[0].text for t in tasks] == ["Peter Blackburn", "Obama"]  # type: ignore[union-attr]
