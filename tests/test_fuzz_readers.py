"""Fuzzing every reader with valid-shaped but hostile exports (hypothesis).

Property, for each reader: converting a generated export either completes with every task
accounted for (read = rejected + tasks written) or raises an AnnoconvertError subclass; any
other exception escaping is a bug. Derandomized with a fixed number of examples so the file
runs in well under a minute in CI.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from annoconvert.errors import AnnoconvertError
from annoconvert.options import build_options
from annoconvert.pipeline import RunStats, run

FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    # no shrinking: a failure is reported as generated, so a failing CI run stays bounded
    # (run locally with phases including Phase.shrink to minimize an example)
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# --- hostile building blocks -------------------------------------------------------------------

HUGE_INTS = st.sampled_from([0, -1, 2**31, -(2**63), 2**64, 10**30])
FLOATS = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [0.0, -0.0, 1e-320, 1e308, -1e308, 100.0000001]
)
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12) | st.sampled_from(
    ["", "\u202e", "😀👍🏽", "a\u0000b", "\r\n", "NaN", "1e999", "-5", "../x"]
)
NUMBERISH = st.one_of(
    st.integers(-5, 200),
    HUGE_INTS,
    FLOATS,
    TEXT,
    st.none(),
    st.booleans(),
    st.lists(st.integers(), max_size=2),
)
LEAF = st.one_of(st.none(), st.booleans(), st.integers(), FLOATS, TEXT)
JSONISH = st.recursive(
    LEAF,
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(TEXT, kids, max_size=3),
    max_leaves=8,
)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Usually the plausible value, sometimes anything at all."""
    return st.one_of(strategy, strategy, strategy, JSONISH)


def optional_dict(
    required: dict[str, st.SearchStrategy[Any]], optional: dict[str, st.SearchStrategy[Any]]
) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(required, optional=optional)


def convert(reader: str, path: Path, **options: Any) -> RunStats | None:
    """Run the pipeline; None when it stopped with an AnnoconvertError (allowed)."""
    opts = build_options(None, workers=1, **options)
    try:
        return run(reader, [str(path)], opts, str(path.parent / "out.jsonl"))
    except AnnoconvertError:
        assert not (path.parent / "out.jsonl").exists()
        return None


def check(stats: RunStats | None, path: Path) -> None:
    if stats is None:
        return
    assert stats.read == stats.rejected + stats.tasks_written, (
        stats.read,
        stats.rejected,
        stats.tasks_written,
    )
    lines = (path.parent / "out.jsonl").read_bytes().splitlines()
    assert len(lines) == stats.written
    for line in lines:
        json.loads(line)  # every written line is JSON


def dumps(value: Any) -> str:
    """JSON as Python writes it (NaN/Infinity included: real exports contain them)."""
    return json.dumps(value, ensure_ascii=False)


# --- Label Studio ------------------------------------------------------------------------------

LS_TYPES = st.sampled_from(
    [
        "choices",
        "labels",
        "textarea",
        "rating",
        "number",
        "rectanglelabels",
        "rectangle",
        "polygonlabels",
        "keypointlabels",
        "ellipselabels",
        "brushlabels",
        "taxonomy",
        "pairwise",
        "ranker",
        "relation",
        "datetime",
        "hologram",
    ]
)
LS_VALUE = optional_dict(
    {},
    {
        "x": NUMBERISH,
        "y": NUMBERISH,
        "width": NUMBERISH,
        "height": NUMBERISH,
        "rotation": NUMBERISH,
        "start": NUMBERISH,
        "end": NUMBERISH,
        "text": maybe(TEXT),
        "choices": maybe(st.lists(TEXT, max_size=3)),
        "labels": maybe(st.lists(TEXT, max_size=2)),
        "rectanglelabels": maybe(st.lists(TEXT, max_size=2)),
        "points": maybe(st.lists(st.lists(NUMBERISH, max_size=3), max_size=4)),
        "rating": NUMBERISH,
        "number": NUMBERISH,
        "radiusX": NUMBERISH,
        "radiusY": NUMBERISH,
        "rle": maybe(st.lists(st.integers(-1, 300), max_size=20)),
        "taxonomy": JSONISH,
        "selected": maybe(st.sampled_from(["left", "right", "middle"])),
        "ranker": JSONISH,
    },
)
LS_RESULT = optional_dict(
    {"type": maybe(LS_TYPES), "value": maybe(LS_VALUE)},
    {
        "from_name": maybe(st.sampled_from(["label", "sentiment", "ner"])),
        "to_name": maybe(st.sampled_from(["image", "text"])),
        "id": maybe(TEXT),
        "original_width": NUMBERISH,
        "original_height": NUMBERISH,
        "from_id": maybe(TEXT),
        "to_id": maybe(TEXT),
        "score": NUMBERISH,
    },
)
LS_ANNOTATION = optional_dict(
    {"result": maybe(st.lists(LS_RESULT, max_size=3))},
    {
        "completed_by": maybe(st.integers(0, 3)),
        "ground_truth": JSONISH,
        "was_cancelled": JSONISH,
        "updated_at": maybe(TEXT),
    },
)
LS_TASK = optional_dict(
    {
        "id": maybe(st.integers(1, 5)),
        "data": maybe(
            optional_dict({}, {"text": maybe(TEXT), "image": maybe(TEXT), "dialogue": JSONISH})
        ),
    },
    {
        "annotations": maybe(st.lists(LS_ANNOTATION, max_size=2)),
        "predictions": maybe(st.lists(LS_ANNOTATION, max_size=1)),
    },
)


@FUZZ
@given(tasks=st.lists(maybe(LS_TASK), min_size=1, max_size=5), jsonl=st.booleans())
def test_fuzz_labelstudio(tasks: list[Any], jsonl: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("export.jsonl" if jsonl else "export.json")
        if jsonl:
            path.write_text("\n".join(dumps(t) for t in tasks) + "\n")
        else:
            path.write_text(dumps(tasks))
        check(convert("labelstudio", path, image_mode="placeholder"), path)


# --- Doccano -----------------------------------------------------------------------------------

DC_SPAN = st.lists(NUMBERISH, min_size=0, max_size=4) | st.tuples(
    st.integers(-3, 30), st.integers(-3, 30), TEXT
).map(list)
DC_RECORD = optional_dict(
    {"id": maybe(st.integers(1, 6)), "text": maybe(TEXT)},
    {
        "label": maybe(st.lists(DC_SPAN, max_size=3) | st.lists(TEXT, max_size=2)),
        "entities": maybe(
            st.lists(
                optional_dict(
                    {},
                    {
                        "id": NUMBERISH,
                        "label": maybe(TEXT),
                        "start_offset": NUMBERISH,
                        "end_offset": NUMBERISH,
                    },
                ),
                max_size=3,
            )
        ),
        "relations": maybe(
            st.lists(
                optional_dict(
                    {}, {"id": NUMBERISH, "from_id": NUMBERISH, "to_id": NUMBERISH, "type": TEXT}
                ),
                max_size=2,
            )
        ),
        "cats": maybe(st.lists(TEXT, max_size=2)),
        "Comments": JSONISH,
        "meta": JSONISH,
    },
)
PROJECT_TYPES = st.sampled_from(
    [None, "SequenceLabeling", "DocumentClassification", "Seq2seq", "RelationExtraction"]
)


@FUZZ
@given(
    records=st.lists(maybe(DC_RECORD), min_size=1, max_size=5),
    project_type=PROJECT_TYPES,
    as_json=st.booleans(),
)
def test_fuzz_doccano(records: list[Any], project_type: str | None, as_json: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("export.json" if as_json else "all.jsonl")
        if as_json:
            path.write_text(dumps(records))
        else:
            path.write_text("\n".join(dumps(r) for r in records) + "\n")
        extra = {"project_type": project_type} if project_type else {}
        check(convert("doccano", path, **extra), path)


# --- CVAT --------------------------------------------------------------------------------------

XML_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff"),
    max_size=8,
) | st.sampled_from(["nan", "inf", "-1e999", "1e999", "-5", "0", "", "1,2;3", "abc"])
NUM_ATTR = st.one_of(st.integers(-10, 100).map(str), st.floats().map(repr), XML_TEXT)


def _attrs(d: dict[str, str]) -> str:
    return " ".join(f"{k}={quoteattr(v)}" for k, v in d.items())


SHAPE = st.one_of(
    st.builds(
        lambda a: f"<box {_attrs(a)}/>",
        st.fixed_dictionaries(
            {},
            optional={
                "label": st.sampled_from(["cat", "dog", "unicorn"]),
                "xtl": NUM_ATTR,
                "ytl": NUM_ATTR,
                "xbr": NUM_ATTR,
                "ybr": NUM_ATTR,
                "rotation": NUM_ATTR,
                "occluded": XML_TEXT,
                "z_order": XML_TEXT,
            },
        ),
    ),
    st.builds(
        lambda tag, a: f"<{tag} {_attrs(a)}/>",
        st.sampled_from(["polygon", "polyline", "points", "tag", "circle"]),
        st.fixed_dictionaries({"label": st.sampled_from(["cat", "dog"]), "points": XML_TEXT}),
    ),
    st.builds(
        lambda a: f"<mask {_attrs(a)}/>",
        st.fixed_dictionaries(
            {"label": st.just("cat")},
            optional={
                "rle": XML_TEXT,
                "left": NUM_ATTR,
                "top": NUM_ATTR,
                "width": NUM_ATTR,
                "height": NUM_ATTR,
            },
        ),
    ),
    st.builds(
        lambda a: f"<ellipse {_attrs(a)}/>",
        st.fixed_dictionaries(
            {"label": st.just("cat")},
            optional={"cx": NUM_ATTR, "cy": NUM_ATTR, "rx": NUM_ATTR, "ry": NUM_ATTR},
        ),
    ),
)
IMAGE = st.builds(
    lambda a, shapes: f"<image {_attrs(a)}>{''.join(shapes)}</image>",
    st.fixed_dictionaries(
        {"id": st.integers(0, 5).map(str)},
        optional={"name": XML_TEXT, "width": NUM_ATTR, "height": NUM_ATTR},
    ),
    st.lists(SHAPE, max_size=3),
)


@FUZZ
@given(images=st.lists(IMAGE, max_size=4), version=st.sampled_from(["1.1", "1.1", "1.0", "x"]))
def test_fuzz_cvat(images: list[str], version: str) -> None:
    xml = (
        '<?xml version="1.0" encoding="utf-8"?>\n<annotations>'
        f"<version>{version}</version><meta><task><labels>"
        "<label><name>cat</name></label><label><name>dog</name></label>"
        f"</labels></task></meta>{''.join(images)}</annotations>\n"
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "annotations.xml"
        path.write_text(xml, encoding="utf-8")
        check(convert("cvat", path, image_mode="reference"), path)


# --- COCO --------------------------------------------------------------------------------------

COCO_IMAGE = optional_dict(
    {"id": maybe(st.integers(1, 4)), "file_name": maybe(TEXT)},
    {"width": NUMBERISH, "height": NUMBERISH},
)
COCO_ANN = optional_dict(
    {"id": maybe(st.integers(1, 9)), "image_id": maybe(st.integers(1, 4))},
    {
        "category_id": maybe(st.integers(1, 3)),
        "bbox": maybe(st.lists(NUMBERISH, max_size=5)),
        "segmentation": maybe(
            st.lists(st.lists(NUMBERISH, max_size=8), max_size=2)
            | st.fixed_dictionaries({"size": JSONISH, "counts": JSONISH})
        ),
        "keypoints": maybe(st.lists(NUMBERISH, max_size=6)),
        "iscrowd": JSONISH,
        "attributes": JSONISH,
        "caption": maybe(TEXT),
    },
)
COCO_CAT = optional_dict(
    {"id": maybe(st.integers(1, 3)), "name": maybe(TEXT)},
    {"keypoints": maybe(st.lists(TEXT, max_size=3))},
)


def _finite(value: Any) -> Any:
    """COCO files are strict JSON (orjson): replace NaN/inf so the document still parses."""
    if isinstance(value, float) and not math.isfinite(value):
        return 1e308
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return value


@FUZZ
@given(
    images=maybe(st.lists(COCO_IMAGE, max_size=4)),
    anns=maybe(st.lists(COCO_ANN, max_size=5)),
    cats=maybe(st.lists(COCO_CAT, max_size=3)),
    name=st.sampled_from(["instances_default.json", "person_keypoints_x.json", "data.json"]),
)
def test_fuzz_coco(images: Any, anns: Any, cats: Any, name: str) -> None:
    doc = _finite({"images": images, "annotations": anns, "categories": cats})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_text(json.dumps(doc, ensure_ascii=False))
        check(convert("coco", path, image_mode="reference"), path)
