"""The Label Studio reader on real 1.23.2 exports (../shared/corpus/labelstudio, see its README)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from annoconvert.model import (
    Box,
    Choice,
    Mask,
    Number,
    Pairwise,
    Points,
    Polygon,
    Rating,
    Reject,
    Relation,
    Span,
    Task,
    Taxonomy,
    TextAnswer,
)
from annoconvert.readers.labelstudio import READER, read_file
from annoconvert.readers.labelstudio_config import parse_label_config
from tests.conftest import LABELSTUDIO_PROJECTS, corpus_path

PROJECTS = LABELSTUDIO_PROJECTS
EXPORTS = ["JSON.json", "JSON_MIN.json", "snapshot_full_JSON.json", "snapshot_full_JSON_MIN.json"]


def ls(project: str) -> Path:
    return corpus_path("labelstudio", project)


def tasks(project: str, export: str = "JSON.json", config: bool = True) -> list[Task]:
    folder = ls(project)
    cfg = parse_label_config(folder / "config.xml") if config else None
    out = list(read_file(str(folder / export), cfg))
    rejects = [o for o in out if isinstance(o, Reject)]
    assert rejects == []
    return [o for o in out if isinstance(o, Task)]


def by_id(items: list[Task]) -> dict[int | str, Task]:
    return {t.id: t for t in items}


@pytest.mark.parametrize("export", EXPORTS)
@pytest.mark.parametrize("project", PROJECTS)
def test_every_export_reads_without_rejects(project: str, export: str) -> None:
    items = tasks(project, export)
    assert items
    # JSON-MIN has one row per kept annotation: the same task ids as the JSON export
    plain = {t.id for t in tasks(project, "JSON.json")}
    if export.startswith("snapshot"):
        assert plain <= {t.id for t in items}
    else:
        assert {t.id for t in items} == plain
    for task in items:
        assert task.source.format == "labelstudio"
        assert task.fields["__controls__"]


def test_text_classification_annotators_flags_and_predictions() -> None:
    items = by_id(tasks("a_text_classification"))
    assert sorted(items) == list(range(1, 9))  # task 9 (prediction + draft only) is not exported
    assert all(len(t.annotations) == 3 for t in items.values())
    assert [a.annotator for a in items[1].annotations] == ["1", "2", "3"]
    assert [a.ground_truth for a in items[1].annotations] == [True, False, False]
    bob = items[8].annotations[2]
    assert (bob.annotator, bob.cancelled, bob.regions) == ("3", True, ())
    assert items[1].text == "Hi, my order #4521 arrived damaged. Can you send a replacement?"
    assert items[1].fields["email_id"] == "EM-1000" and "text" not in items[1].fields
    assert items[1].fields["__labels__"] == {
        "category": ["SUPPORT_REQUEST", "SALES_INQUIRY", "GENERAL_FEEDBACK"]
    }
    # the plain export lists prediction ids only: nothing to keep
    assert all(t.predictions == () for t in items.values())
    # task 5: bob disagrees with admin and alice
    labels5 = [
        a.regions[0].labels for a in items[5].annotations if isinstance(a.regions[0], Choice)
    ]
    assert labels5[0] == labels5[1] != labels5[2]


def test_snapshot_keeps_full_predictions_and_unannotated_task() -> None:
    items = by_id(tasks("a_text_classification", "snapshot_full_JSON.json"))
    assert len(items) == 9
    nine = items[9]
    assert nine.annotations == ()  # alice's draft is left out
    assert len(nine.predictions) == 1
    pred = nine.predictions[0]
    assert (pred.model_version, pred.score, pred.annotator) == ("email-clf-v1", 0.91, None)
    assert pred.regions == (Choice(field="category", labels=("SUPPORT_REQUEST",)),)
    # completed_by expanded to {"id": 1, "email": ...} still gives the id
    assert [a.annotator for a in items[1].annotations] == ["1", "2", "3"]


def test_json_min_groups_rows_into_annotation_sets() -> None:
    items = by_id(tasks("a_text_classification", "JSON_MIN.json"))
    assert len(items) == 8
    # newest first; bob's skipped task-8 annotation is not in JSON-MIN
    assert [a.annotator for a in items[1].annotations] == ["3", "2", "1"]
    assert [a.annotator for a in items[8].annotations] == ["2", "1"]
    assert items[1].annotations[2].id == "1"
    assert items[1].annotations[2].regions == (
        Choice(field="category", labels=("SUPPORT_REQUEST",)),
    )
    assert items[1].fields["email_id"] == "EM-1000"
    snap = by_id(tasks("a_text_classification", "snapshot_full_JSON_MIN.json"))
    assert snap[9].annotations == ()  # the "annotator": null row
    assert snap[1].annotations[0].annotator == "bob@example.com"


def test_json_min_without_config_needs_it_for_bare_strings() -> None:
    from annoconvert.errors import ConfigError

    with pytest.raises(ConfigError, match="--label-config"):
        tasks("a_text_classification", "JSON_MIN.json", config=False)
    # value dicts are unambiguous: NER reads without a config
    items = by_id(tasks("c_ner", "JSON_MIN.json", config=False))
    assert len(items[18].annotations) == 3


def test_multilabel_and_empty_result() -> None:
    items = tasks("b_multilabel_classification")
    sizes = sorted(len(r.labels) for t in items for a in t.annotations for r in a.regions)
    assert max(sizes) == 3
    assert any(a.regions == () and not a.cancelled for t in items for a in t.annotations)
    mins = tasks("b_multilabel_classification", "JSON_MIN.json")
    assert sorted(len(r.labels) for t in mins for a in t.annotations for r in a.regions) == sizes


def test_ner_code_point_offsets() -> None:
    for export in ("JSON.json", "JSON_MIN.json"):
        task = by_id(tasks("c_ner", export))[18]
        spans = [r for r in task.annotations[0].regions if isinstance(r, Span)]
        ana = [s for s in spans if s.text == "Ana Lía"]
        assert [(s.start, s.end, s.labels) for s in ana] == [(89, 96, ("PER",))]
        assert task.text is not None and task.text[89:96] == "Ana Lía"
    items = by_id(tasks("c_ner"))
    # bob labels Redmond ORG; overlapping ORG/LOC spans on task 17
    bob = items[15].annotations[2].regions
    assert any(isinstance(r, Span) and r.text == "Redmond" and r.labels == ("ORG",) for r in bob)
    admin17 = [(r.start, r.end) for r in items[17].annotations[0].regions if isinstance(r, Span)]
    assert (4, 23) in admin17 and (18, 23) in admin17
    assert len(items[20].annotations) == 2  # bob only drafted task 6


def test_summarization_and_dialogue() -> None:
    summ = by_id(tasks("d_summarization"))
    first = summ[min(summ)]
    assert len(first.annotations) == 2
    assert all(isinstance(a.regions[0], TextAnswer) for a in first.annotations)
    dia = tasks("e_dialogue")
    assert next((t.speaker, t.text) for t in dia[0].turns or ()) == (
        "customer",
        "Hi, my parcel has not arrived yet.",
    )
    assert "dialogue" not in dia[0].fields and dia[0].fields["conversation_id"] == "conv-0"
    reply = dia[0].annotations[0].regions[0]
    assert isinstance(reply, TextAnswer) and reply.field == "response"


def test_extraction_fields_and_per_region_textarea() -> None:
    f1 = tasks("f1_extraction_fields")
    fields_per_task = [{r.field for r in t.annotations[0].regions} for t in f1]
    assert {"invoice_id", "amount", "due_date"} in fields_per_task
    assert {"invoice_id", "amount"} in fields_per_task  # one task has no due_date
    task = by_id(tasks("f2_extraction_perregion"))[30]
    regions = task.annotations[0].regions
    spans = {r.id: r for r in regions if isinstance(r, Span)}
    answers = [r for r in regions if isinstance(r, TextAnswer)]
    linked = {spans[a.region_id].labels[0]: a.texts for a in answers if a.region_id}
    assert linked == {
        "INVOICE_ID": ("INV-2024-0042",),
        "AMOUNT": ("1234.50 EUR",),
        "DUE_DATE": ("2024-07-15",),
    }
    vendor = [s for s in spans.values() if s.labels == ("VENDOR",)]
    assert vendor and all(a.region_id != vendor[0].id for a in answers)


def test_object_detection_boxes() -> None:
    items = by_id(tasks("g_object_detection"))
    assert len(items) == 6 and all(len(t.annotations) == 3 for t in items.values())
    bumper = items[47]
    assert (bumper.images[0].width, bumper.images[0].height) == (1024, 768)
    box = bumper.annotations[0].regions[0]
    assert isinstance(box, Box) and box.labels == ("scratch",) and box.rotation == 30.0
    # LS stores the corner (x, y) = (19.53125% of 1024, 19.53125% of 768) = (200, 150) px, a
    # 300x40 px box (29.296875% x 5.2083%) turned 30 deg clockwise about that corner. Its
    # centre is the corner plus the half-diagonal (150, 20) turned by 30 deg:
    # (200 + 150 cos30 - 20 sin30, 150 + 150 sin30 + 20 cos30) = (319.904, 242.321) px.
    c, s = math.cos(math.radians(30)), math.sin(math.radians(30))
    cx, cy = 200 + 150 * c - 20 * s, 150 + 150 * s + 20 * c
    assert box.x * 1024 == pytest.approx(cx - 150)
    assert box.y * 768 == pytest.approx(cy - 20)
    assert (box.width * 1024, box.height * 768) == (pytest.approx(300), pytest.approx(40))
    # turning the unrotated box about its centre gives back LS's corner and the README's pixel
    # hull [180, 150, 279.8, 184.6] (x, y, w, h)
    from annoconvert.geometry import box_corners

    corners = box_corners(box.x, box.y, box.width, box.height, box.rotation, 1024, 768)
    assert corners[0] == (pytest.approx(200), pytest.approx(150))
    xs, ys = [p[0] for p in corners], [p[1] for p in corners]
    hull = (min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))
    assert hull == pytest.approx((180, 150, 279.8, 184.6), abs=0.05)
    # EXIF orientation 6: LS records the upright 480x640 size
    fender = items[50]
    assert (fender.images[0].width, fender.images[0].height) == (480, 640)
    dent = fender.annotations[0].regions[0]
    assert isinstance(dent, Box) and (dent.image_width, dent.image_height) == (480, 640)
    assert dent.x == pytest.approx(0.625) and dent.width == pytest.approx(1 / 6)
    # zero boxes on the clean roof; bob skipped the RGBA panel
    assert [a.regions for a in items[51].annotations] == [(), (), ()]
    assert [a.cancelled for a in items[49].annotations] == [False, False, True]
    # bob calls the hood dent a scratch
    assert [a.regions[0].labels for a in items[48].annotations] == [  # type: ignore[union-attr]
        ("dent",),
        ("dent",),
        ("scratch",),
    ]
    assert items[46].annotations[0].ground_truth


def test_json_min_boxes_match_json() -> None:
    full = by_id(tasks("g_object_detection"))
    mins = by_id(tasks("g_object_detection", "JSON_MIN.json", config=False))
    admin_full = full[47].annotations[0].regions
    admin_min = next(a for a in mins[47].annotations if a.annotator == "1").regions
    assert [(r.x, r.y, r.rotation) for r in admin_min if isinstance(r, Box)] == [
        (r.x, r.y, r.rotation) for r in admin_full if isinstance(r, Box)
    ]
    assert (mins[47].images[0].width, mins[47].images[0].height) == (1024, 768)


def test_polygons_and_keypoints() -> None:
    poly = by_id(tasks("h1_polygons"))[53].annotations[0].regions
    chip = poly[0]
    assert isinstance(chip, Polygon) and chip.labels == ("paint_chip",)
    # 68.359375% of 1024 = 700 px, 65.104166% of 768 = 500 px
    assert (chip.points[0][0] * 1024, chip.points[0][1] * 768) == (
        pytest.approx(700),
        pytest.approx(500),
    )
    assert len(chip.points) == 4 and (chip.image_width, chip.image_height) == (1024, 768)
    kp = by_id(tasks("h2_keypoints"))[54].annotations[0].regions
    assert [r.labels for r in kp] == [("corner",), ("corner",), ("bolt",)]  # type: ignore[union-attr]
    first = kp[0]
    assert isinstance(first, Points) and first.points == ((0.15625, 0.25),)
    assert first.attributes == {"width": 0.3125}


def _full_mask(mask: Mask) -> np.ndarray:
    """Expand the model's RLE (row-major over its box, background first) to the whole image."""
    flat = np.zeros(mask.mask_width * mask.mask_height, dtype=bool)
    pos, fg = 0, False
    for run in mask.counts:
        flat[pos : pos + run] = fg
        pos, fg = pos + run, not fg
    assert pos == flat.size
    full = np.zeros((mask.image_height, mask.image_width), dtype=bool)
    full[mask.top : mask.top + mask.mask_height, mask.left : mask.left + mask.mask_width] = (
        flat.reshape(mask.mask_height, mask.mask_width)
    )
    return full


@pytest.mark.parametrize("export", ["JSON.json", "JSON_MIN.json"])
def test_brush_masks_equal_label_studio_numpy_export(export: str) -> None:
    npy = ls("h3_brush") / "BRUSH_TO_NUMPY"
    items = by_id(tasks("h3_brush", export))
    compared = 0
    for task_id, annotation_id, label in [
        (56, 95, "rust"),
        (56, 95, "paint_chip"),
        (57, 96, "paint_chip"),
    ]:
        task = items[task_id]
        masks = [r for a in task.annotations for r in a.regions if isinstance(r, Mask)]
        (mask,) = [m for m in masks if m.labels == (label,)]
        truth = np.load(npy / f"task-{task_id}-annotation-{annotation_id}-by-1-brush-{label}-0.npy")
        assert truth.shape == (mask.image_height, mask.image_width)
        assert np.array_equal(_full_mask(mask), truth > 0)
        assert mask.counts[0] >= 0 and sum(mask.counts) == mask.mask_width * mask.mask_height
        compared += 1
    assert compared == 3


def test_relations_taxonomy_rating() -> None:
    items = by_id(tasks("j_taxonomy_rating_relations"))
    rels = [r for t in items.values() for r in t.annotations[0].regions if isinstance(r, Relation)]
    assert [(r.direction, r.labels) for r in rels] == [
        ("right", ("works_for",)),
        ("right", ("located_in",)),
        ("right", ("works_for",)),
        ("bi", ()),
    ]
    spans = {r.id: r.text for r in items[34].annotations[0].regions if isinstance(r, Span)}
    assert (spans[rels[3].from_id], spans[rels[3].to_id]) == ("AMD", "Santa Clara")
    tax = [r for r in items[34].annotations[0].regions if isinstance(r, Taxonomy)]
    assert tax[0].paths == (("Technology", "Hardware"), ("Business", "Finance"))
    ratings = [
        r.value for t in items.values() for r in t.annotations[0].regions if isinstance(r, Rating)
    ]
    assert ratings == [4, 2]


def test_pairwise() -> None:
    for export in ("JSON.json", "JSON_MIN.json"):
        items = by_id(tasks("k_pairwise", export))
        picks = {tid: t.annotations[0].regions[0] for tid, t in items.items()}
        assert picks[35] == Pairwise(field="comparison", selected="left", id=picks[35].id)
        assert isinstance(picks[36], Pairwise) and picks[36].selected == "right"
        assert items[35].text == "Explain photosynthesis in one sentence."
        assert items[35].fields["answer2"] == "Photosynthesis is when plants eat dirt."


def test_thermal_number_int_and_float() -> None:
    for export in ("JSON.json", "JSON_MIN.json"):
        items = by_id(tasks("l_thermal_multifield", export))
        n65 = next(r for r in items[65].annotations[0].regions if isinstance(r, Number))
        assert n65.value == 71 and type(n65.value) is int
        n63 = [r.value for a in items[63].annotations for r in a.regions if isinstance(r, Number)]
        assert n63 == [83.9, 83.9] and all(type(v) is float for v in n63)
        admin62 = {r.field for r in items[62].annotations[0].regions}
        assert admin62 == {"STATUS", "Max_Temp_C", "Severity"}  # no Location
        status64 = [
            r.labels
            for a in items[64].annotations
            for r in a.regions
            if isinstance(r, Choice) and r.field == "STATUS"
        ]
        assert sorted(status64) == [("Critical",), ("Warning",)]
    full = by_id(tasks("l_thermal_multifield"))
    alice = next(a for a in full[63].annotations if a.annotator == "2")
    assert [r.field for r in alice.regions] == ["STATUS", "Severity", "Max_Temp_C", "Location"]


def test_image_to_code_keeps_text_exactly() -> None:
    for export in ("JSON.json", "JSON_MIN.json"):
        items = by_id(tasks("m_image_to_code", export))
        code = items[67].annotations[0].regions[0]
        assert isinstance(code, TextAnswer) and code.texts[0].endswith("\n")
        others = [items[t].annotations[0].regions[0] for t in (66, 68)]
        assert all(isinstance(r, TextAnswer) and not r.texts[0].endswith("\n") for r in others)
        joined = "".join(r.texts[0] for r in [code, *others] if isinstance(r, TextAnswer))
        assert "\\n" in joined  # the literal backslash-n inside an f-string


def test_images_and_image_fields() -> None:
    cap = by_id(tasks("i2_image_captioning"))[40]
    assert cap.images[0].uri == "/data/local-files/?d=thermal/thermal_normal_160x120.png"
    assert cap.fields["sensor_id"] == "cam-0" and "image" not in cap.fields
    vqa = tasks("i3_vqa")[0]
    assert vqa.text is not None and vqa.text == vqa.fields["question"]
    assert vqa.images and vqa.images[0].field == "image"


@pytest.mark.parametrize("project", PROJECTS)
def test_label_config_of_every_project(project: str) -> None:
    cfg = parse_label_config(ls(project) / "config.xml")
    assert cfg.controls, project
    for control in cfg.controls.values():
        for target in control.to_name:
            assert target in cfg.objects or target == control.name
    json_tasks = tasks(project)
    used = {
        r.field
        for t in json_tasks
        for a in t.annotations
        for r in a.regions
        if not isinstance(r, Relation)
    }
    assert used <= set(cfg.controls)


def test_label_config_details() -> None:
    thermal = parse_label_config(ls("l_thermal_multifield") / "config.xml")
    assert thermal.control_types() == {
        "STATUS": "choices",
        "Max_Temp_C": "number",
        "Location": "textarea",
        "Severity": "choices",
    }
    assert thermal.declared_labels()["Severity"] == ["Low", "Medium", "High"]
    assert thermal.objects["image"].value_key == "image"
    f2 = parse_label_config(ls("f2_extraction_perregion") / "config.xml")
    assert f2.controls["normalized"].per_region and not f2.controls["field"].per_region
    j = parse_label_config(ls("j_taxonomy_rating_relations") / "config.xml")
    assert j.relation_labels == ("works_for", "located_in")
    assert ("Technology", "Hardware") in j.controls["taxonomy"].taxonomy_paths
    k = parse_label_config(ls("k_pairwise") / "config.xml")
    assert k.controls["comparison"].to_name == ("answer1", "answer2")
    e = parse_label_config(ls("e_dialogue") / "config.xml")
    assert (e.objects["chat"].type, e.objects["chat"].value_key) == ("paragraphs", "dialogue")


def test_ui_made_exports_read_the_same() -> None:
    ner = tasks("z_ui_check/z_ui_ner")
    spans = [r for t in ner for a in t.annotations for r in a.regions if isinstance(r, Span)]
    assert any((s.start, s.end, s.text) == (89, 96, "Ana Lía") for s in spans)
    boxes = [r for t in tasks("z_ui_check/z_ui_bbox") for a in t.annotations for r in a.regions]
    assert any(isinstance(b, Box) and b.rotation == pytest.approx(30.46554491946) for b in boxes)


def test_reader_protocol() -> None:
    from annoconvert.options import Options
    from annoconvert.registry import Reader

    assert isinstance(READER, Reader)
    assert READER.name == "labelstudio" and READER.default_image_roots(["x"]) == []
    assert [o.name for o in READER.options] == ["label-config"] and READER.options[0].is_path
    folder = ls("c_ner")
    opts = Options(label_config=str(folder / "config.xml"))
    out = list(READER.read([str(folder / "JSON.json"), str(folder / "JSON_MIN.json")], opts))
    assert len(out) == 12 and all(isinstance(t, Task) for t in out)
    assert out[0].fields["__labels__"] == {"label": ["PER", "ORG", "LOC", "DATE"]}
