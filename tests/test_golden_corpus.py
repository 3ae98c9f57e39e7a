"""Golden lines: every real export in ../shared/corpus through the command line, per recipe.

Regenerate with `UPDATE_GOLDEN=1 pytest tests/test_golden_corpus.py`, then read the diff.
Images use reference or placeholder mode here (Base64 payloads are checked elsewhere), so the
files stay small and the box numbers are still those of the upright image.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from annoconvert.cli import main
from tests.conftest import FIXTURES, corpus_path

GOLDEN = FIXTURES / "golden"
LS = "labelstudio"


def _ls(project: str, export: str = "JSON.json", config: bool = True) -> list[str]:
    folder = corpus_path(LS, project)
    args = [LS, str(folder / export)]
    if config:
        args += ["--label-config", str(folder / "config.xml")]
    if (folder / "images").is_dir():
        args += ["--images-root", str(folder / "images"), "--image-mode", "reference"]
    return args


def _doccano(project: str, member: str = "individual/JSONL.zip") -> list[str]:
    folder = corpus_path("doccano", project)
    args = ["doccano", str(folder / member)]
    for sub in ("images", "audio"):
        if (folder / sub).is_dir():
            args += ["--images-root", str(folder / sub), "--image-mode", "reference"]
    return args


CASES: dict[str, tuple[list[str], list[str]]] = {
    # Label Studio, text
    "ls_a_classification": (
        ["a_text_classification"],
        ["--answer-template", "Classification: {label}"],
    ),
    "ls_a_classification_json_min": (["a_text_classification", "JSON_MIN.json"], []),
    "ls_a_all_annotators": (["a_text_classification"], ["--annotators", "all"]),
    "ls_b_multilabel_json": (["b_multilabel_classification"], ["--multilabel-format", "json"]),
    "ls_c_ner": (["c_ner"], []),
    "ls_c_ner_list": (["c_ner"], ["--ner-format", "list"]),
    "ls_d_summarization": (["d_summarization"], []),
    "ls_e_dialogue": (
        ["e_dialogue"],
        ["--system", "You are a helpful customer support assistant."],
    ),
    "ls_e_dialogue_train_all": (["e_dialogue"], ["--train-on", "all"]),
    "ls_f1_extraction": (["f1_extraction_fields"], []),
    "ls_f2_extraction_per_region": (["f2_extraction_perregion"], []),
    "ls_f2_ner": (["f2_extraction_perregion"], ["--recipe", "ner"]),
    "ls_j_relations": (["j_taxonomy_rating_relations"], []),
    "ls_k_preference": (["k_pairwise"], []),
    # Label Studio, images
    "ls_g_detection": (["g_object_detection"], []),
    "ls_g_detection_qwen3": (["g_object_detection"], ["--box-format", "qwen3-vl"]),
    "ls_g_detection_xyxy": (["g_object_detection"], ["--box-format", "xyxy-px"]),
    "ls_h1_polygons": (["h1_polygons"], []),
    "ls_h2_keypoints": (["h2_keypoints"], []),
    "ls_h3_brush": (["h3_brush"], []),
    "ls_i1_image_classification": (
        ["i1_image_classification"],
        [
            "--image-mode",
            "placeholder",
            "--prompt",
            "Inspect the following item:",
            "--answer-template",
            "Classification: {label}",
        ],
    ),
    "ls_i2_captioning": (["i2_image_captioning"], []),
    "ls_i3_vqa": (["i3_vqa"], ["--prompt", "{question}"]),
    "ls_l_thermal": (
        ["l_thermal_multifield"],
        [
            "--answer-template",
            "STATUS: {STATUS}\nMax_Temp_C: {Max_Temp_C}\nLocation: {Location}\n"
            "Severity: {Severity}",
        ],
    ),
    "ls_m_image_to_code": (
        ["m_image_to_code"],
        [
            "--system",
            "You are a helpful assistant converting images to CAD code.",
            "--prompt",
            "Generate the CADQuery code needed to create the CAD for the provided image. "
            "Just the code, no other words.",
        ],
    ),
}
DOCCANO: dict[str, tuple[list[str], list[str]]] = {
    "doccano_classification_single": (["DocumentClassification_single"], []),
    "doccano_classification_single_collab": (
        ["DocumentClassification_single", "collaborative/JSONL/all.jsonl"],
        [],
    ),
    "doccano_classification_multi": (["DocumentClassification_multi"], []),
    "doccano_classification_multi_majority": (
        ["DocumentClassification_multi", "collaborative/JSONL/all.jsonl"],
        ["--annotators", "majority"],
    ),
    "doccano_classification_csv": (["DocumentClassification_single", "individual/CSV.zip"], []),
    "doccano_sequence_labeling": (["SequenceLabeling"], []),
    "doccano_relations": (["SequenceLabeling_relations"], []),
    "doccano_seq2seq": (["Seq2seq"], []),
    "doccano_seq2seq_first": (["Seq2seq"], ["--targets", "first"]),
    "doccano_intent": (["IntentDetectionAndSlotFilling"], []),
    "doccano_image_classification": (["ImageClassification"], []),
    "doccano_bounding_box": (["BoundingBox"], []),
    "doccano_segmentation": (["Segmentation"], []),
    "doccano_captioning": (["ImageCaptioning"], []),
    "doccano_speech2text": (["Speech2text"], []),
}
OTHER: dict[str, list[str]] = {
    "cvat_images": ["cvat", "cvat/datumaro/export_cvat_images_1.1"],
    "cvat_two_subsets": ["cvat", "cvat/datumaro/export_cvat_two_subsets"],
    "cvat_video_2020": ["cvat", "cvat/upstream/datumaro/cvat_dataset/for_video"],
    "coco_instances": ["coco", "coco/datumaro/export_coco_instances"],
    "coco_roboflow": ["coco", "coco/upstream/datumaro/coco_dataset/coco_roboflow"],
    "coco_captions": ["coco", "coco/upstream/datumaro/coco_dataset/coco_captions"],
}


def _args(name: str) -> list[str]:
    if name in CASES:
        where, extra = CASES[name]
        return _ls(*where) + extra
    if name in DOCCANO:
        where, extra = DOCCANO[name]
        return _doccano(*where) + extra
    reader, path = OTHER[name]
    return [reader, str(corpus_path(*path.split("/"))), "--image-mode", "reference"]


def _stable(text: str) -> str:
    """Absolute corpus paths differ between machines: keep them relative to the corpus."""
    return text.replace(str(corpus_path()) + "/", "corpus/")


@pytest.mark.parametrize("name", [*CASES, *DOCCANO, *OTHER])
def test_golden(name: str, tmp_path: Path) -> None:
    out, rejects = tmp_path / "out.jsonl", tmp_path / "rejects.jsonl"
    result = CliRunner().invoke(main, [*_args(name), "-o", str(out), "--rejects", str(rejects)])
    assert result.exit_code == 0, result.output
    got = _stable(out.read_text(encoding="utf-8"))
    got_rejects = _stable(rejects.read_text(encoding="utf-8"))
    golden, golden_rejects = GOLDEN / f"{name}.jsonl", GOLDEN / f"{name}.rejects.jsonl"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(got, encoding="utf-8")
        golden_rejects.write_text(got_rejects, encoding="utf-8")
    assert got == golden.read_text(encoding="utf-8")
    assert got_rejects == golden_rejects.read_text(encoding="utf-8")
    # nothing silently lost: every task is written or rejected
    read = int(result.stderr.split("read ")[1].split(" tasks")[0])
    written_tasks = read - len(got_rejects.splitlines())
    assert written_tasks <= len(got.splitlines()) or read == 0
