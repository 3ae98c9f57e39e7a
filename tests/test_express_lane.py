"""The express lane writes exactly what the general path writes, or stands aside.

Every test converts the same export twice, with the lane and without it (`express.ENABLED`),
and compares the output bytes, the counts, the rejects and the warnings. The exports are
longer than the 200-task sample the recipe is chosen on and the lane's verified start, so
most common tasks go through the lane's own layout.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import orjson
import pytest

import annoconvert
from annoconvert import express, pipeline
from annoconvert.options import Options
from annoconvert.readers import labelstudio
from annoconvert.readers.labelstudio_config import parse_label_config
from annoconvert.readers.labelstudio_express import text_classification, without_config
from annoconvert.writers.sink import NO_META, LineMeta
from tests.conftest import SENTIMENT_CONFIG, corpus_path

CONFIG = SENTIMENT_CONFIG
LABELS = ["positive", "negative", "neutral"]
MAKE_LANE = pipeline._express_lane
TEXTS = [
    "The room was clean and the staff friendly.",
    "  leading and trailing spaces  ",
    "tabs\tand\nnewlines\r\ninside",
    "ünïcödé ＦＵＬＬ ｗｉｄｔｈ and the ﬁ ligature",
    "emoji 😀, a line separator \u2028 and a paragraph separator \u2029",
    'quotes " and a \\ backslash and a / slash',
    "template-looking {text} {label} {{braces}}",
    "   ",
    "a control character \u0001 and a nul \u0000",
    "long " * 2000,
    "<b>markup</b> &amp; entities",
    "Ünicode that NFKC changes: Ⅻ ㎏ ﬀ",
]


def _result(label: Any, **extra: Any) -> dict[str, Any]:
    return {
        "value": {"choices": [label]},
        "id": "r1",
        "from_name": "sentiment",
        "to_name": "text",
        "type": "choices",
        "origin": "manual",
        **extra,
    }


def _annotation(results: list[dict[str, Any]], cancelled: bool = False) -> dict[str, Any]:
    return {
        "id": 1,
        "completed_by": 1,
        "result": results,
        "was_cancelled": cancelled,
        "ground_truth": False,
        "created_at": "2026-01-05T10:00:00.000000Z",
        "updated_at": "2026-01-05T10:00:01.000000Z",
        "lead_time": 4.5,
    }


def _task(i: int) -> dict[str, Any]:
    """Task i: mostly the common shape, with every 50 tasks a run of odd ones."""
    text = TEXTS[i % len(TEXTS)] + f" #{i % 97}"
    label = LABELS[i % 3]
    task: dict[str, Any] = {
        "id": i,
        "annotations": [_annotation([_result(label)])],
        "predictions": [],
        "data": {"text": text},
        "meta": {},
        "inner_id": i,
    }
    odd = i % 50
    if odd == 7:  # two annotators
        task["annotations"].append(_annotation([_result(LABELS[(i + 1) % 3])]))
    elif odd == 13:  # skipped
        task["annotations"] = [_annotation([], cancelled=True)]
    elif odd == 17:  # a prediction
        task["predictions"] = [{"result": [_result("neutral")], "score": 0.5}]
    elif odd == 19:  # a scored result
        task["annotations"] = [_annotation([_result(label, score=0.9)])]
    elif odd == 23:  # a class the config does not declare
        task["annotations"] = [_annotation([_result("mixed")])]
    elif odd == 29:  # a string id
        task["id"] = f"t-{i}"
    elif odd == 31:  # no text
        task["data"] = {"other": "x"}
    elif odd == 37 and i > 250:  # two classes chosen (after the sample: auto stays single)
        task["annotations"] = [_annotation([{**_result(label), "value": {"choices": LABELS[:2]}}])]
    elif odd == 41:  # an empty result
        task["annotations"] = [_annotation([])]
    elif odd == 43:  # the text of task i-1 with another class: a conflict for the checks
        task["data"] = {"text": TEXTS[(i - 1) % len(TEXTS)] + f" #{(i - 1) % 97}"}
        task["annotations"] = [_annotation([_result(LABELS[(i + 2) % 3])])]
    elif odd == 47:  # the label is not a string
        task["annotations"] = [_annotation([_result(3)])]
    elif odd == 49:  # empty text
        task["data"] = {"text": ""}
    return task


def _common(i: int) -> bool:
    """Whether `_task(i)` has the lane's shape (task 43 of 50 has: a conflict is the checks'
    business)."""
    odd = i % 50
    return odd not in (7, 13, 17, 19, 23, 29, 31, 37, 41, 47, 49) or (odd == 37 and i <= 250)


def _export(
    tmp_path: Path, tasks: list[Any], config: str = CONFIG, indent: int | None = None
) -> tuple[Path, Path]:
    export = tmp_path / "export.json"
    export.write_text(json.dumps(tasks, ensure_ascii=False, indent=indent), encoding="utf-8")
    cfg = tmp_path / "config.xml"
    cfg.write_text(config, encoding="utf-8")
    return export, cfg


def _convert(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    export: Path,
    enabled: bool,
    source: str = "labelstudio",
    **options: Any,
) -> tuple[bytes, annoconvert.ConvertResult, list[express.Lane | None]]:
    """One run, the lane on or off: (output bytes, result, the lanes the run made)."""
    lanes: list[express.Lane | None] = []

    def recorded(*args: Any) -> express.Lane | None:
        lane = MAKE_LANE(*args)
        lanes.append(lane)
        return lane

    monkeypatch.setattr(express, "ENABLED", enabled)
    monkeypatch.setattr(pipeline, "_express_lane", recorded)
    out = tmp_path / f"out-{'lane' if enabled else 'general'}.jsonl"
    result = annoconvert.convert(source, export, out, **options)
    data = out.read_bytes() if out.exists() else b""
    return data, result, lanes


def _facts(result: annoconvert.ConvertResult) -> dict[str, Any]:
    """Everything a run reports, but its time."""
    facts = result.model_dump()
    facts.pop("seconds", None)
    facts["files"] = [Path(f).name.replace("-lane", "-general") for f in facts["files"]]
    return facts


def _split_files(result: annoconvert.ConvertResult) -> dict[str, bytes]:
    return {Path(f).name.replace("-lane", "-general"): Path(f).read_bytes() for f in result.files}


def both_split(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    export: Path,
    source: str = "labelstudio",
    **options: Any,
) -> list[express.Lane | None]:
    """`_both` under `--split`: every split file the same, byte for byte."""
    _, lane_result, lanes = _convert(tmp_path, monkeypatch, export, True, source, **options)
    _, general_result, _ = _convert(tmp_path, monkeypatch, export, False, source, **options)
    assert _facts(lane_result) == _facts(general_result)
    files = _split_files(lane_result)
    assert files == _split_files(general_result)
    assert len(files) >= 2 and all(files.values())
    return lanes


def _both(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    export: Path,
    source: str = "labelstudio",
    **options: Any,
) -> tuple[list[express.Lane | None], bytes]:
    """The run with the lane and without: the same bytes and facts; the lanes it made."""
    lane_out, lane_result, lanes = _convert(tmp_path, monkeypatch, export, True, source, **options)
    general_out, general_result, _ = _convert(
        tmp_path, monkeypatch, export, False, source, **options
    )
    assert lane_out == general_out
    assert _facts(lane_result) == _facts(general_result)
    return lanes, lane_out


def test_the_lane_writes_the_general_paths_bytes_counts_and_rejects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    export, cfg = _export(tmp_path, [_task(i) for i in range(1, 1201)])
    lanes, out = _both(tmp_path, monkeypatch, export, label_config=str(cfg))
    (lane,) = lanes
    assert lane is not None and lane.open
    # every common task after the 200-task sample went through the lane
    assert lane.lines == sum(1 for i in range(201, 1201) if _common(i))
    assert lane.verified == express.VERIFY
    assert len(out.splitlines()) > lane.lines


def test_a_task_jsonl_file_takes_the_lane(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One task a line (the reader's JSONL), with a line that is not JSON and lines that hold
    no task object (a list, a number) among them: rejected alike both ways."""
    lines = [json.dumps(_task(i), ensure_ascii=False) for i in range(1, 1001)]
    lines[600] = "{not json"
    lines[700] = json.dumps([[1, 2]])
    lines[701] = json.dumps([["a", {"id": 3}]])
    lines[702] = "42"
    export = tmp_path / "tasks.jsonl"
    export.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _, cfg = _export(tmp_path, [])
    lanes, out = _both(tmp_path, monkeypatch, export, label_config=str(cfg))
    (lane,) = lanes
    assert lane is not None and lane.open
    skipped = {601, 701, 702, 703}
    assert lane.lines == sum(1 for i in range(201, 1001) if _common(i) and i not in skipped)
    assert len(out.splitlines()) > lane.lines


def test_a_json_export_item_that_is_a_list_is_no_json_min_task_to_the_lane(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lane's test takes a JSON-MIN task as the reader's tuple of rows; a list in a JSON
    export (after the sample, with the lane open) is an item like any other the reader
    rejects."""
    tasks: list[Any] = [_task(i) for i in range(1, 601)]
    tasks[400] = [[1, {"text": "x", "id": 1, "sentiment": "positive", "annotator": 1}]]
    tasks[401] = [[0, 1]]
    tasks[402] = [7]
    export, cfg = _export(tmp_path, tasks)
    lanes, _ = _both(tmp_path, monkeypatch, export, label_config=str(cfg))
    (lane,) = lanes
    assert lane is not None and lane.open
    assert lane.lines == sum(1 for i in range(201, 601) if _common(i) and i not in (401, 402, 403))


@pytest.mark.parametrize("lie", ["class", "meta"])
def test_a_lane_that_disagrees_with_the_general_path_closes_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lie: str
) -> None:
    """A test that gives another class, or (under `--split`) another meta, than the general
    path's is caught on its first task."""
    real = labelstudio.text_classification

    def wrong(config: Any, options: Options) -> express.Extract | None:
        extract = real(config, options)
        assert extract is not None

        def lying(item: Any) -> tuple[int | str, tuple[str, ...], Any] | None:
            found = extract(item)
            if found is None:
                return None
            if lie == "meta":
                return found[0], found[1], LineMeta("x", "y", None)
            return found[0], (found[1][0], "neutral"), found[2]

        return lying

    monkeypatch.setattr(labelstudio, "text_classification", wrong)
    export, cfg = _export(tmp_path, [_task(i) for i in range(1, 601)])
    if lie == "meta":
        lanes = both_split(
            tmp_path, monkeypatch, export, label_config=str(cfg), split="a=0.5,b=0.5"
        )
    else:
        lanes, _ = _both(tmp_path, monkeypatch, export, label_config=str(cfg))
    (lane,) = lanes
    assert lane is not None
    assert not lane.open
    assert lane.lines <= (0 if lie == "meta" else 1)  # a "neutral" task may pass the check


@pytest.mark.parametrize(
    "options",
    [
        {"system": "Answer review {id} with one word."},
        {"prompt": "Review {id}: {text}"},
        {"answer_template": "{sentiment}"},  # the control's answer: the lane does not know it
        {"annotators": "ground-truth"},
    ],
)
def test_options_that_change_a_line_keep_the_general_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, options: dict[str, Any]
) -> None:
    export, cfg = _export(tmp_path, [_task(i) for i in range(1, 401)])
    lanes, _ = _both(tmp_path, monkeypatch, export, label_config=str(cfg), **options)
    assert lanes == [None]


TEMPLATES: list[dict[str, Any]] = [
    {"labels": {"positive": "pos", "neutral": ""}},  # renamed to nothing: rejected
    {"labels": {"positive": "pos"}, "answer_template": "Is {label}", "split": "a=0.5,b=0.5"},
    {"system": "Answer with one word."},
    {"prompt": "Review: {text}"},
    {"answer_template": "Sentiment: {label}"},
    {"prompt": "{text:.20}...", "answer_template": "{labels!r:>12}"},
    {
        "system": "You are an expert review classification system.",
        "answer_template": "Classification: {label}",
    },
]
"""Renames, and templates naming only the text and the class (or nothing): the lane writes
them."""


@pytest.mark.parametrize("with_config", [True, False])
@pytest.mark.parametrize("templates", TEMPLATES)
def test_renames_and_templates_of_the_text_and_class_keep_the_lane(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, templates: dict[str, Any], with_config: bool
) -> None:
    """The seed's own shape (a system message, `Classification: {label}`) is the common run:
    the lane renames the class and renders the prompt and the answer with the recipe's
    `rename` and `render`, and the system message, the same on every line, is in its layout.
    A class renamed to nothing is rejected by the general path."""
    tasks = [_task(i) for i in range(1, 601)]
    export, cfg = _export(tmp_path, tasks)
    config = {"label_config": str(cfg)} if with_config else {}
    if "split" in templates:
        lanes = both_split(tmp_path, monkeypatch, export, **config, **templates)
        out = b"".join(Path(f).read_bytes() for f in sorted(tmp_path.glob("out-lane.*.jsonl")))
    else:
        lanes, out = _both(tmp_path, monkeypatch, export, **config, **templates)
    (lane,) = lanes
    assert lane is not None and lane.open
    common = _common if with_config else (lambda i: _common(i) or i % 50 == 23)
    emptied = templates.get("labels", {}).get("neutral") == ""
    chosen = [task["annotations"][0]["result"][:1] for task in tasks]
    neutral = {i for i, r in enumerate(chosen, 1) if r and r[0]["value"]["choices"] == ["neutral"]}
    written = [i for i in range(201, 601) if common(i) and not (emptied and i in neutral)]
    assert lane.lines == len(written)
    if "labels" in templates:
        answers = [json.loads(line)["messages"][-1]["content"] for line in out.splitlines()]
        assert "positive" not in " ".join(answers) and "pos" in " ".join(answers)
    last = json.loads(out.splitlines()[-1])["messages"]
    if "answer_template" in templates:
        assert last[-1]["content"] != LABELS[600 % 3]
    if "system" in templates:
        assert last[0]["content"] == templates["system"]


@pytest.mark.parametrize("annotators", ["all", "majority", "agreed"])
def test_policies_that_choose_a_task_s_one_annotation_keep_the_lane(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, annotators: str
) -> None:
    """A lane task has one annotation, which these policies choose as `latest` does; the
    tasks of two annotators (case 7) go the general way, which applies the policy."""
    export, cfg = _export(tmp_path, [_task(i) for i in range(1, 601)])
    lanes, _ = _both(tmp_path, monkeypatch, export, label_config=str(cfg), annotators=annotators)
    (lane,) = lanes
    assert lane is not None and lane.open
    assert lane.lines == sum(1 for i in range(201, 601) if _common(i))


@pytest.mark.parametrize("with_config", [True, False])
@pytest.mark.parametrize("dialect", ["vertex", "trl", "sharegpt"])
def test_dialects_that_write_the_strings_as_they_are_keep_the_lane(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dialect: str, with_config: bool
) -> None:
    """Vertex's parts, TRL's messages and sharegpt's turns hold the text and the class as they
    are: the layout is cut from their line like the openai one (a template in the seed's shape
    too)."""
    export, cfg = _export(tmp_path, [_task(i) for i in range(1, 601)])
    config = {"label_config": str(cfg)} if with_config else {}
    lanes, out = _both(
        tmp_path, monkeypatch, export, dialect=dialect, answer_template="Class: {label}", **config
    )
    (lane,) = lanes
    assert lane is not None and lane.open
    common = _common if with_config else (lambda i: _common(i) or i % 50 == 23)
    assert lane.lines == sum(1 for i in range(201, 601) if common(i))
    assert (b'"contents":[' in out) == (dialect == "vertex")
    assert (b'"conversations":[' in out) == (dialect == "sharegpt")


def test_a_text_holding_sharegpt_s_image_token_goes_the_general_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """sharegpt rejects a text holding `<image>` (LLaMA-Factory would read it as an image):
    such a task, in the text or in its class, leaves the lane and is rejected as it is
    without the lane."""
    tasks = [_task(i) for i in range(1, 601)]
    for i in (260, 300, 340):  # common tasks past the lane's verification
        assert _common(i)
    tasks[259]["data"]["text"] = "see <image> here"
    tasks[299]["annotations"][0]["result"][0]["value"]["choices"] = ["<image>"]
    tasks[339]["data"]["text"] = "a <image"  # not the token: the lane keeps it
    export, _ = _export(tmp_path, tasks)
    lanes, out = _both(tmp_path, monkeypatch, export, dialect="sharegpt")
    (lane,) = lanes
    assert lane is not None and lane.open
    assert lane.lines == sum(1 for i in range(201, 601) if _common(i) or i % 50 == 23) - 2
    result = annoconvert.convert(
        "labelstudio", [str(export)], tmp_path / "again.jsonl", dialect="sharegpt"
    )
    assert [(r.task, r.code) for r in result.rejects if r.code == "image_token_in_text"] == [
        (260, "image_token_in_text"),
        (300, "image_token_in_text"),
    ]
    assert b'{"from":"human","value":"a <image"}' in out


def test_a_class_from_a_control_named_text_goes_the_general_way_under_a_text_template(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The template values name each control's answer by its name, after the task's text: a
    control named `text` makes `{text}` its class, so its tasks go the general way."""
    tasks = [_task(i) for i in range(1, 401) if _common(i)]
    for task in tasks[250:]:
        task["annotations"][0]["result"][0]["from_name"] = "text"
    export, _ = _export(tmp_path, tasks)
    lanes, out = _both(tmp_path, monkeypatch, export, prompt="Review: {text}")
    (lane,) = lanes
    assert lane is not None and lane.open
    assert lane.lines == 50
    last = json.loads(out.splitlines()[-1])["messages"]
    assert last[1]["content"] == f"Review: {last[2]['content']}"  # the class, as {text}


@pytest.mark.parametrize("with_config", [True, False])
def test_under_split_the_lane_tells_each_line_s_group_and_class(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, with_config: bool
) -> None:
    """`--split` keeps a text in one split and stratifies by class: a lane line tells the
    sink the text and the class the general path's example tells it, so the split files are
    the same (the conflicting copies of task 43 share their text's split)."""
    export, cfg = _export(tmp_path, [_task(i) for i in range(1, 1201)])
    config = {"label_config": str(cfg)} if with_config else {}
    split = {"split": "train=0.7,val=0.2,test=0.1", "seed": 3}
    lanes = both_split(tmp_path, monkeypatch, export, **config, **split)
    (lane,) = lanes
    assert lane is not None and lane.open
    common = _common if with_config else (lambda i: _common(i) or i % 50 == 23)
    assert lane.lines == sum(1 for i in range(201, 1201) if common(i))


def test_options_that_leave_lines_alone_keep_the_lane(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    export, cfg = _export(tmp_path, [_task(i) for i in range(1, 401)])
    lanes, _ = _both(
        tmp_path,
        monkeypatch,
        export,
        label_config=str(cfg),
        validate_output=False,
        conflicts="drop",
        dedupe=True,
        preset="together",
    )
    (lane,) = lanes
    assert lane is not None and lane.lines > 0


def test_a_config_that_is_not_plain_text_classification_has_no_lane(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = CONFIG.replace('choice="single">', 'choice="single" perRegion="true">')
    export, _ = _export(tmp_path, [_task(i) for i in range(1, 301)])
    cfg = tmp_path / "region.xml"
    cfg.write_text(config, encoding="utf-8")
    assert text_classification(parse_label_config(str(cfg)), Options()) is None
    lanes, _ = _both(tmp_path, monkeypatch, export, label_config=str(cfg))
    assert lanes == [None]


def test_without_a_config_the_lane_takes_any_class_and_writes_the_general_paths_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Label Studio's export does not hold the labeling config, so most runs have none. The
    reader then takes the text from `data["text"]` and declares no class, and the lane takes
    any class: task 23's, which the config does not declare, too."""
    export, _ = _export(tmp_path, [_task(i) for i in range(1, 1201)])
    lanes, out = _both(tmp_path, monkeypatch, export)
    (lane,) = lanes
    assert lane is not None and lane.open
    assert lane.lines == sum(1 for i in range(201, 1201) if _common(i) or i % 50 == 23)
    assert lane.verified == express.VERIFY
    assert b'"content":"Classify the text."' in out.splitlines()[-1]


def _odd_data(i: int) -> dict[str, Any]:
    """Data the reader without a config reads more of than the text, every fifth task."""
    text = TEXTS[i % len(TEXTS)] + f" #{i}"
    return [
        {"text": text, "turns": [{"author": "a", "text": "hi"}, {"author": "b", "text": "yo"}]},
        {"text": text, "__labels__": {"sentiment": ["positive", "odd"]}},
        {"text": text, "image": "https://example.com/a.jpg"},
        {"text": text, "meta": "a field a template could name", "n": 3},
        {"text": text},
    ][i % 5]


def test_without_a_config_data_the_reader_reads_more_of_goes_the_general_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a config the reader reads a list in `data` as dialogue turns, a reserved key
    (`__labels__`) as declared labels, and `image` as the task's image: such tasks go the
    general way. Other fields only fill templates, which keep the lane closed."""
    tasks = [_task(i) for i in range(1, 801) if _common(i)]
    for n in range(300, len(tasks)):  # after the sample (a dialogue in it picks that recipe)
        tasks[n]["data"] = _odd_data(n)
    export, _ = _export(tmp_path, tasks)
    lanes, out = _both(tmp_path, monkeypatch, export)
    (lane,) = lanes
    assert lane is not None and lane.open
    plain = ({"text"}, {"text", "meta", "n"})
    assert lane.lines == sum(1 for t in tasks[200:] if set(t["data"]) in plain)
    assert lane.lines < len(tasks) - 200
    assert len(out.splitlines()) == len(tasks)
    # the reserved key's labels reach the system message: a lane line would not have them
    assert b"Your response must be only one of the following: 'positive' or 'odd'" in out


@pytest.mark.parametrize("boxes_first", [False, True])
def test_without_a_config_the_lane_keeps_to_the_kind_of_its_first_task(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, boxes_first: bool
) -> None:
    """An export of classes and boxes, without a config: the run's one recipe is the first
    kind's (its 200-task sample), the lane's first task fixes its kind, and the tasks of the
    other kind go the general way (which rejects them), never into the first kind's layout."""
    from tests.test_express_lane_boxes import ODD
    from tests.test_express_lane_boxes import _task as box_task

    texts = [_task(i) for i in range(1, 401) if _common(i)]
    boxes = [box_task(i) for i in range(1, 401) if i % 40 not in ODD]
    first, second = (boxes, texts) if boxes_first else (texts, boxes)
    tasks = [{**task, "id": n} for n, task in enumerate([*first, *second], start=1)]
    export, _ = _export(tmp_path, tasks)
    options = {"image_mode": "reference"} if boxes_first else {}  # classes: no image option
    lanes, out = _both(tmp_path, monkeypatch, export, **options)
    (lane,) = lanes
    assert lane is not None and lane.open
    assert lane.lines == len(first) - 200
    assert len(out.splitlines()) == len(first)


def test_the_config_less_test_takes_one_kind_from_its_first_task() -> None:
    extract = without_config(Options(image_mode="reference"), express.Switch())
    text_task = _task(1)
    box_task = {
        "id": 2,
        "data": {"image": "https://example.com/a.jpg"},
        "annotations": [{"result": [], "was_cancelled": False}],
    }
    text = text_task["data"]["text"]
    assert extract(text_task) == (1, (text, LABELS[1]), NO_META)
    assert extract(box_task) is None  # the kind is fixed: classes
    assert extract({**text_task, "id": 3}) == (3, (text, LABELS[1]), NO_META)
    other = without_config(Options(image_mode="reference"), express.Switch())
    assert other(box_task) is not None
    assert other(text_task) is None


def repeated_export(real_export: Path, tmp_path: Path, count: int = 400) -> Path:
    """A real export's tasks repeated to `count` with new ids, each with its first annotation
    and no predictions (those go the general way, which reads them)."""
    real = json.loads(real_export.read_text(encoding="utf-8"))
    tasks = []
    for n in range(count):
        task = copy.deepcopy(real[n % len(real)])
        task["id"] = n + 1
        task["annotations"] = task["annotations"][:1]
        task["predictions"] = []
        tasks.append(task)
    export = tmp_path / "export.json"
    export.write_text(json.dumps(tasks), encoding="utf-8")
    return export


def test_a_real_label_studio_export_takes_the_lane(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The corpus's text-classification export as Label Studio wrote it (every field of a
    task and an annotation), its 8 tasks repeated to 400 with new ids: the first annotation
    of each, without the ML backend's predictions (a task with predictions goes the general
    way, which reads them)."""
    folder = corpus_path("labelstudio", "a_text_classification")
    export = repeated_export(folder / "JSON.json", tmp_path)
    lanes, out = _both(tmp_path, monkeypatch, export, label_config=str(folder / "config.xml"))
    (lane,) = lanes
    assert lane is not None and lane.lines == 200
    assert len(out.splitlines()) == 400
    lanes, out = _both(tmp_path, monkeypatch, export)  # and without its config
    (lane,) = lanes
    assert lane is not None and lane.lines == 200
    assert len(out.splitlines()) == 400


@pytest.mark.parametrize("count", [1, 2, 3])
def test_a_layout_cut_around_its_strings_puts_others_in_their_place(count: int) -> None:
    keys = ["a", "b", "c"][:count]
    line = orjson.dumps({k: f"value {k}" for k in keys})
    layout = express._cut(line, [f"value {k}" for k in keys])
    assert layout is not None
    other = {k: f'other "{k}" é' for k in keys}
    encoded = [orjson.dumps(v) for v in other.values()]
    assert express._fill(layout, encoded) == orjson.dumps(other)
    # a string found twice is ambiguous: no layout
    assert express._cut(orjson.dumps({"x": "same", "y": "same"}), ["same"]) is None


def test_a_file_that_breaks_after_the_lane_opened_fails_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A truncated export stops the run where it breaks, lane or not: nothing is written."""
    export, cfg = _export(tmp_path, [_task(i) for i in range(1, 401)])
    whole = export.read_bytes()
    export.write_bytes(whole[: len(whole) - 200])
    for enabled in (True, False):
        with pytest.raises(annoconvert.ParseError, match=r"truncated after 399 tasks") as err:
            _convert(tmp_path, monkeypatch, export, enabled, label_config=str(cfg))
        assert err.value.locator == "tasks[399]"
        assert not list(tmp_path.glob("out-*"))
        assert not list(tmp_path.glob(".out-*"))
