"""The Label Studio reader on bad or unusual inputs: file-level errors and task-level rejects."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from annoconvert.errors import ConfigError, ParseError, ShapeError, TaskError
from annoconvert.model import Box, Choice, Mask, Reject, Span, Task, TextAnswer
from annoconvert.readers.labelstudio import read_file
from annoconvert.readers.labelstudio_config import parse_label_config, parse_label_config_text
from annoconvert.readers.labelstudio_results import alpha_mask_rle, decode_brush_rle

CONFIG = b"""<View>
  <Text name="text" value="$text"/>
  <Choices name="sentiment" toName="text"><Choice value="pos"/><Choice value="neg"/></Choices>
  <Labels name="label" toName="text"><Label value="PER"/></Labels>
</View>"""


def task(results: list[dict[str, Any]], text: str = "Ana met Bob.", tid: int = 1) -> dict[str, Any]:
    return {
        "id": tid,
        "data": {"text": text},
        "annotations": [{"id": 10 + tid, "completed_by": 1, "result": results}],
    }


def choice(label: str = "pos") -> dict[str, Any]:
    return {
        "value": {"choices": [label]},
        "id": "c1",
        "from_name": "sentiment",
        "to_name": "text",
        "type": "choices",
    }


def rect(**value: Any) -> dict[str, Any]:
    v = {"x": 10, "y": 20, "width": 30, "height": 40, "rotation": 0, "rectanglelabels": ["car"]}
    v.update(value)
    return {
        "original_width": 200,
        "original_height": 100,
        "value": v,
        "id": "r1",
        "from_name": "label",
        "to_name": "image",
        "type": "rectanglelabels",
    }


def write(tmp_path: Path, content: Any, name: str = "export.json") -> str:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(json.dumps(content), encoding="utf-8")
    return str(path)


def read(path: str, config: bytes | None = None) -> list[Task | Reject]:
    cfg = parse_label_config_text(config, "config.xml") if config else None
    return list(read_file(path, cfg))


def only_reject(out: list[Task | Reject]) -> Reject:
    assert len(out) == 1 and isinstance(out[0], Reject), out
    return out[0]


# --- file-level --------------------------------------------------------------------------------


def test_truncated_json_says_where_it_broke(tmp_path: Path) -> None:
    whole = json.dumps([task([choice()], tid=i) for i in range(5)])
    path = write(tmp_path, whole[: len(whole) - 40].encode())
    it = read_file(path)
    got = [next(it) for _ in range(4)]
    assert all(isinstance(t, Task) for t in got)
    with pytest.raises(ParseError) as err:
        next(it)
    assert err.value.file == path and err.value.locator == "tasks[4]"


def test_not_json(tmp_path: Path) -> None:
    with pytest.raises(ParseError):
        read(write(tmp_path, b"<html>oops</html>"))
    with pytest.raises(ParseError):
        read(write(tmp_path, b'[{"id": 1,, }]'))


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ({"images": [], "annotations": [], "categories": []}, "COCO"),
        ({"id": 1, "title": "p", "label_config": "<View/>"}, "project"),
        ({"foo": 1}, "foo"),
        (42, "int"),
        ("text", "str"),
        ([{"image_id": 1, "category_id": 2, "bbox": [0, 0, 1, 1]}], "COCO"),
        ([1, 2, 3], "int"),
    ],
)
def test_wrong_shapes(tmp_path: Path, content: Any, says: str) -> None:
    with pytest.raises(ShapeError, match=says) as err:
        read(write(tmp_path, content))
    assert err.value.file and err.value.locator


def test_empty_list_bom_and_single_task(tmp_path: Path) -> None:
    assert read(write(tmp_path, b"[]")) == []
    bom = b"\xef\xbb\xbf" + json.dumps([task([choice()])]).encode()
    (one,) = read(write(tmp_path, bom))
    assert isinstance(one, Task) and one.annotations[0].regions[0] == Choice(
        "sentiment", ("pos",), id="c1"
    )
    pretty = json.dumps(task([choice("neg")], tid=7), indent=2).encode()
    (single,) = read(write(tmp_path, b"\xef\xbb\xbf" + pretty, "task.json"))
    assert isinstance(single, Task) and single.id == 7 and single.source.locator == "task"


def test_jsonl_bad_line_rejected_run_goes_on(tmp_path: Path) -> None:
    lines = [json.dumps(task([choice()], tid=1)), "{not json", "", json.dumps(task([], tid=3))]
    out = read(write(tmp_path, "\n".join(lines).encode(), "tasks.jsonl"))
    assert [type(o).__name__ for o in out] == ["Task", "Reject", "Task"]
    bad = out[1]
    assert isinstance(bad, Reject) and bad.code == "bad_line" and bad.locator == "line 2"
    assert "line 2" in bad.reason
    # a JSONL file named .json is recognised by its content too
    out2 = read(write(tmp_path, "\n".join(lines).encode(), "tasks.json"))
    assert [type(o).__name__ for o in out2] == ["Task", "Reject", "Task"]


# --- task-level ---------------------------------------------------------------------------------


def test_task_without_data_and_non_object(tmp_path: Path) -> None:
    out = read(write(tmp_path, [task([choice()]), {"id": 2, "annotations": []}, 5]))
    assert isinstance(out[0], Task)
    assert isinstance(out[1], Reject) and (out[1].code, out[1].task) == ("missing_data", 2)
    assert isinstance(out[2], Reject) and out[2].code == "not_a_task"
    assert out[2].locator == "tasks[2]"


def test_unknown_result_type(tmp_path: Path) -> None:
    item = {
        "value": {"x": 1},
        "id": "v",
        "from_name": "v",
        "to_name": "v",
        "type": "videorectangle",
    }
    rej = only_reject(read(write(tmp_path, [task([choice(), item])])))
    assert rej.code == "unknown_result_type"
    assert rej.locator == "tasks[0].annotations[0].result[1].type"
    assert rej.task == 1


@pytest.mark.parametrize(
    ("value", "code", "where"),
    [
        ({"width": "30"}, "bad_geometry", "value.width"),
        ({"x": "10"}, "bad_geometry", "value.x"),
        ({"height": None}, "bad_geometry", "value.height"),
        ({"width": -3}, "bad_geometry", "value.width"),
        ({"rectanglelabels": "car"}, "bad_result", "value.rectanglelabels"),
    ],
)
def test_bad_rectangle_values(tmp_path: Path, value: dict[str, Any], code: str, where: str) -> None:
    path = tmp_path / "export.json"
    path.write_text(json.dumps([task([rect(**value)])]))
    rej = only_reject(read(str(path)))
    assert rej.code == code
    assert rej.locator == f"tasks[0].annotations[0].result[0].{where}"


def test_bad_image_size_and_huge_or_integer_numbers(tmp_path: Path) -> None:
    item = rect()
    item["original_width"] = "200"
    rej = only_reject(read(write(tmp_path, [task([item])])))
    assert (rej.code, rej.locator) == (
        "bad_geometry",
        "tasks[0].annotations[0].result[0].original_width",
    )
    huge = json.dumps([task([rect(rotation=12345)])]).replace("12345", "1" + "0" * 400)
    rej = only_reject(read(write(tmp_path, huge.encode())))
    assert (rej.code, rej.locator) == (
        "bad_geometry",
        "tasks[0].annotations[0].result[0].value.rotation",
    )
    (turned,) = read(write(tmp_path, [task([rect(rotation=90, x=0, y=0, width=10, height=20)])]))
    assert isinstance(turned, Task)
    box = turned.annotations[0].regions[0]
    assert isinstance(box, Box) and box.rotation == 90.0 and type(box.rotation) is float


def test_nan_is_a_parse_error_in_a_list_and_bad_geometry_in_a_task(tmp_path: Path) -> None:
    # the list reader refuses the NaN literal (not JSON); a single task and JSONL accept it
    text = json.dumps(task([rect(y=float("nan"))]))
    with pytest.raises(ParseError):
        read(write(tmp_path, f"[{text}]".encode()))
    rej = only_reject(read(write(tmp_path, text.encode(), "task.json")))
    assert (rej.code, rej.locator) == ("bad_geometry", "task.annotations[0].result[0].value.y")


def test_result_without_value(tmp_path: Path) -> None:
    item = choice()
    del item["value"]
    rej = only_reject(read(write(tmp_path, [task([item])])))
    assert (rej.code, rej.locator) == ("bad_result", "tasks[0].annotations[0].result[0].value")


def test_rotated_box_without_image_size(tmp_path: Path) -> None:
    item = rect(rotation=30)
    del item["original_width"], item["original_height"]
    rej = only_reject(read(write(tmp_path, [task([item])])))
    assert rej.code == "missing_image_size"
    unrotated = rect()
    del unrotated["original_width"], unrotated["original_height"]
    (ok,) = read(write(tmp_path, [task([unrotated])]))
    assert isinstance(ok, Task)
    box = ok.annotations[0].regions[0]
    assert isinstance(box, Box) and (box.x, box.width, box.image_width) == (0.1, 0.3, None)


@pytest.mark.parametrize(
    ("start", "end", "text", "where"),
    [
        (8, 4, "Bob", "value"),  # inverted
        (8, 40, "Bob.", "value.end"),  # past the end
        (8, 11, "Rob", "value.text"),  # text does not match
        ("8", 11, "Bob", "value.start"),  # offsets must be integers
    ],
)
def test_bad_spans(tmp_path: Path, start: Any, end: Any, text: str, where: str) -> None:
    span = {
        "value": {"start": start, "end": end, "text": text, "labels": ["PER"]},
        "id": "s1",
        "from_name": "label",
        "to_name": "text",
        "type": "labels",
    }
    rej = only_reject(read(write(tmp_path, [task([span])])))
    assert rej.code == "bad_span" and rej.locator == f"tasks[0].annotations[0].result[0].{where}"
    good = dict(span, value={"start": 8, "end": 11, "text": "Bob", "labels": ["PER"]})
    (ok,) = read(write(tmp_path, [task([good])]))
    assert isinstance(ok, Task) and ok.annotations[0].regions[0] == Span(
        "label", 8, 11, ("PER",), "Bob", id="s1"
    )


def test_undeclared_label_and_unknown_control(tmp_path: Path) -> None:
    path = write(tmp_path, [task([choice("maybe")]), task([choice("neg")], tid=2)])
    out = read(path, CONFIG)
    rej = out[0]
    assert isinstance(rej, Reject) and rej.code == "undeclared_label"
    assert "'maybe'" in rej.reason and "'sentiment'" in rej.reason
    assert rej.locator == "tasks[0].annotations[0].result[0].value.choices"
    assert isinstance(out[1], Task)
    assert out[1].fields["__labels__"] == {"sentiment": ["pos", "neg"], "label": ["PER"]}
    assert out[1].fields["__controls__"] == {"sentiment": "choices", "label": "labels"}
    # without the config nothing is declared: the label is read as it is
    (free,) = read(path.replace("export", "export"))[:1]
    assert isinstance(free, Task)
    other = dict(choice(), from_name="mood")
    rej2 = only_reject(read(write(tmp_path, [task([other])]), CONFIG))
    assert rej2.code == "unknown_control"


def test_label_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"bad\.xml"):
        parse_label_config_text(b"<View><Text name=", "bad.xml")
    with pytest.raises(ConfigError, match="DOCTYPE"):
        parse_label_config_text(
            b'<!DOCTYPE x [<!ENTITY e "boom">]><View><Text name="t" value="&e;"/></View>', "e.xml"
        )
    with pytest.raises(ConfigError, match=r"missing\.xml"):
        parse_label_config(tmp_path / "missing.xml")


def test_drafts_left_out_predictions_kept_cancelled_kept(tmp_path: Path) -> None:
    t = task([choice()])
    t["annotations"].append(
        {"id": 99, "completed_by": {"id": 3, "email": "bob@x"}, "result": [], "was_cancelled": True}
    )
    t["drafts"] = [{"id": 1, "user": "a@x", "result": [choice("neg")]}]
    t["predictions"] = [{"id": 5, "model_version": "m1", "score": 0.5, "result": [choice("neg")]}]
    (out,) = read(write(tmp_path, [t]))
    assert isinstance(out, Task)
    assert [(a.annotator, a.cancelled) for a in out.annotations] == [("1", False), ("3", True)]
    assert [(p.model_version, p.score, p.regions[0].labels) for p in out.predictions] == [  # type: ignore[union-attr]
        ("m1", 0.5, ("neg",))
    ]


def test_chat_messages_become_turns(tmp_path: Path) -> None:
    t = {
        "id": 1,
        "data": {
            "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]
        },
        "annotations": [],
    }
    (out,) = read(write(tmp_path, [t]))
    assert isinstance(out, Task) and [(x.speaker, x.text) for x in out.turns or ()] == [
        ("user", "hi"),
        ("assistant", "yo"),
    ]


def test_json_min_value_shapes(tmp_path: Path) -> None:
    config = b"""<View><Text name="text" value="$text"/>
      <Choices name="topics" toName="text" choice="multiple">
        <Choice value="A"/><Choice value="B"/></Choices>
      <TextArea name="note" toName="text"/></View>"""
    rows = [
        {"text": "x", "id": 4, "topics": {"choices": ["A", "B"]}, "note": "hello",
         "annotator": 2, "annotation_id": 8, "created_at": "t2", "updated_at": "t2",
         "lead_time": 1},
        {"text": "x", "id": 4, "topics": "B", "annotator": 1, "annotation_id": 7,
         "created_at": "t1", "updated_at": "t1", "lead_time": 1},
        {"text": "y", "id": 5, "annotator": None, "annotation_id": None,
         "created_at": None, "updated_at": None, "lead_time": None},
    ]  # fmt: skip
    out = read(write(tmp_path, rows), config)
    assert [o.id for o in out if isinstance(o, Task)] == [4, 5]
    four = out[0]
    assert isinstance(four, Task) and four.text == "x"
    assert [a.annotator for a in four.annotations] == ["2", "1"]
    assert four.annotations[0].regions == (
        Choice("topics", ("A", "B")),
        TextAnswer("note", ("hello",)),
    )
    assert four.annotations[1].regions == (Choice("topics", ("B",)),)
    assert isinstance(out[1], Task) and out[1].annotations == ()


@pytest.mark.parametrize("value", ["calm", {"choices": ["calm"]}, ["calm"]])
def test_a_json_min_column_the_config_does_not_have_rejects_its_task(
    tmp_path: Path, value: Any
) -> None:
    # as a JSON export's result from an unknown control does; a bare string stopped the run
    # with "give the project's labeling config", which was given
    meta = {"annotator": 1, "annotation_id": 7, "created_at": "t", "updated_at": "t"}
    rows = [
        {"text": "x", "id": 4, "sentiment": "pos", "mood": value, **meta},
        {"text": "y", "id": 5, "sentiment": "neg", **meta},
    ]
    out = read(write(tmp_path, rows), CONFIG)
    reject = out[0]
    assert isinstance(reject, Reject) and reject.code == "unknown_control"
    assert reject.task == 4 and reject.locator == "rows[0].mood"
    assert "'mood'" in reject.reason and "config" in reject.reason
    assert isinstance(out[1], Task) and out[1].annotations[0].regions == (
        Choice("sentiment", ("neg",)),
    )


def test_brush_rle_round_trip_on_a_hand_made_stream() -> None:
    # 2x2 RGBA canvas: one repeat run of 12 zero bytes, then a literal run of 4 bytes
    # (pixel (1,1) opaque red). Header: 32-bit count 16, word size 8 (7 in 5 bits),
    # four 4-bit run-size fields of 4 bits (3).
    bits = f"{16:032b}" + f"{7:05b}" + f"{3:04b}" * 4
    bits += "1" + "00" + f"{11:04b}" + f"{0:08b}"  # repeat 12 x 0
    bits += "0" + "00" + f"{3:04b}" + "".join(f"{b:08b}" for b in (255, 0, 0, 255))
    bits += "0" * (-len(bits) % 8)
    data = int(bits, 2).to_bytes(len(bits) // 8, "big")
    canvas = decode_brush_rle(data, 16)
    assert list(canvas) == [0] * 12 + [255, 0, 0, 255]
    assert alpha_mask_rle(canvas, 2, 2) == (1, 1, 1, 1, (0, 1))
    with pytest.raises(ValueError):
        decode_brush_rle(data[:5], 16)
    with pytest.raises(ValueError, match="declares 16 bytes"):
        decode_brush_rle(data, 36)  # the stream of a 2x2 canvas for a 3x3 image


def test_a_brush_stream_declaring_gigabytes_is_refused_before_allocating(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Eight bytes can declare a canvas of 2**31 bytes: nothing is allocated for it."""
    import annoconvert.readers.labelstudio_results as results

    bits = f"{2**31:032b}" + f"{7:05b}" + f"{15:04b}" * 4
    bits += "0" * (-len(bits) % 8)
    bomb = int(bits, 2).to_bytes(len(bits) // 8, "big")
    allocated: list[int] = []
    monkeypatch.setattr(results, "bytearray", lambda n: allocated.append(n) or b"", raising=False)
    with pytest.raises(ValueError, match="declares 2147483648 bytes"):
        decode_brush_rle(bomb, 16)
    assert allocated == []


def test_a_brush_on_an_image_past_the_pixel_limit_is_refused(tmp_path: Path) -> None:
    from annoconvert.readers.labelstudio_results import Ctx, parse_brush

    ctx = Ctx("result", "brushlabels", "brush", "image", "b", 100_000, 100_000)
    with pytest.raises(TaskError) as err:
        parse_brush({"format": "rle", "rle": [0, 0, 0, 16], "brushlabels": ["x"]}, ctx)
    assert err.value.code == "image_too_large"


def test_brush_with_wrong_size_is_rejected(tmp_path: Path) -> None:
    from annoconvert.readers.labelstudio_results import parse_brush  # noqa: F401

    item = {
        "original_width": 3,
        "original_height": 3,
        "value": {"format": "rle", "rle": [0, 0, 0, 16, 57, 27, 255], "brushlabels": ["x"]},
        "id": "b",
        "from_name": "brush",
        "to_name": "image",
        "type": "brushlabels",
    }
    rej = only_reject(read(write(tmp_path, [task([item])])))
    assert rej.code == "bad_geometry" and rej.locator.endswith("value.rle")
    assert Mask  # the kind a good brush becomes


def test_streaming_memory_stays_flat(tmp_path: Path) -> None:
    """A 20 MB export is read task by task: peak traced memory stays far below the file size."""
    path = tmp_path / "big.json"
    one = task([choice(), rect()], text="Ana met Bob. " * 400)
    with path.open("w", encoding="utf-8") as fh:
        fh.write("[")
        n = 0
        while fh.tell() < 20 * 1024 * 1024:
            fh.write(("," if n else "") + json.dumps(dict(one, id=n)))
            n += 1
        fh.write("]")
    assert path.stat().st_size >= 20 * 1024 * 1024
    tracemalloc.start()
    try:
        count = 0
        for item in read_file(str(path)):
            assert isinstance(item, Task)
            count += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == n
    assert peak < 10 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"


def test_ids_every_json_writer_can_carry(tmp_path: Path) -> None:
    """An integer id past 64 bits keeps its digits, a lone surrogate in a string id its escape
    (orjson, which writes the line references and rejects, refuses both as they are)."""
    data = json.dumps([task([choice()], tid=1), task([choice()], tid=2)])
    data = data.replace('"id": 1,', '"id": 1180591620717411303424,', 1)
    data = data.replace('"id": 2,', '"id": "\\u00e9\\ud800",', 1)
    first, second = read(write(tmp_path, data.encode()))
    assert isinstance(first, Task) and first.id == "1180591620717411303424"
    assert isinstance(second, Task) and second.id == "é\\ud800"
