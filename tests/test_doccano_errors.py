"""Bad and unusual Doccano input: what a user sees (rejects with codes, file-level errors)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from annoconvert.errors import ParseError, ShapeError
from annoconvert.model import Box, Reject, Span, Task, Warning_
from annoconvert.options import Options
from annoconvert.readers.doccano import READER
from annoconvert.readers.doccano_offsets import resolve_spans
from annoconvert.readers.doccano_records import parse_fasttext

ADA = "Meet 👩\u200d💻 Ada Lovelace in London 🇬🇧 tomorrow."


def _line(text: str, label: str) -> bytes:
    return (
        '{"id":1,"text":' + json.dumps(text, ensure_ascii=False) + ',"label":' + label + "}\n"
    ).encode()


def read(path: Path, **options: Any) -> tuple[list[Task], list[Reject], list[Warning_]]:
    warnings: list[Warning_] = []
    items = list(READER.read([str(path)], Options(**options), on_warning=warnings.append))
    tasks = [t for t in items if isinstance(t, Task)]
    return tasks, [r for r in items if isinstance(r, Reject)], warnings


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_bad_json_line_is_rejected_with_its_number_and_the_rest_converts(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "alice.jsonl",
        b'{"id":1,"text":"ok","label":["a"]}\n{"id":2,"text":\n{"id":3,"text":"b","label":[]}\n',
    )
    tasks, rejects, _ = read(path)
    assert [t.id for t in tasks] == [1, 3]
    assert [(r.code, r.locator) for r in rejects] == [("bad_line", "line 2")]
    assert str(path) == rejects[0].file


def test_non_utf8_line_is_a_bad_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "all.jsonl",
        b'{"id":1,"text":"caf\xe9","label":["a"]}\n{"id":2,"text":"ok","label":["a"]}\n',
    )
    tasks, rejects, _ = read(path)
    assert [t.id for t in tasks] == [2]
    assert rejects[0].code == "bad_line" and "UTF-8" in rejects[0].reason
    assert rejects[0].locator == "line 1"


def test_u2028_inside_a_text_does_not_split_the_line(tmp_path: Path) -> None:
    text = "first\u2028second\u00a0third"
    path = write(tmp_path, "all.jsonl", _line(text, '["a"]'))
    tasks, rejects, _ = read(path)
    assert rejects == [] and [t.text for t in tasks] == [text]


def test_out_of_range_span_rejects_the_task(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "bob.jsonl",
        b'{"id":7,"text":"short","label":[[0,5,"X"],[2,40,"Y"]]}\n'
        b'{"id":8,"text":"fine","label":[[0,4,"X"]]}\n',
    )
    tasks, rejects, _ = read(path)
    assert [t.id for t in tasks] == [8]
    (reject,) = rejects
    assert (reject.task, reject.code, reject.locator) == (7, "bad_span", "line 1.label[1]")
    assert "[2, 40)" in reject.reason


def test_span_fitting_neither_reading_is_bad(tmp_path: Path) -> None:
    # [6, 8) cuts the woman emoji's surrogate pair in UTF-16 units and is ZWJ+laptop in code
    # points: both readings exist, so it is placed; [7, 60) fits neither
    _, rejects, _ = read(write(tmp_path, "all.jsonl", _line(ADA, '[[7,60,"X"]]')))
    assert [r.code for r in rejects] == ["bad_span"]


def test_unknown_shape_is_a_shape_error(tmp_path: Path) -> None:
    path = write(tmp_path, "x.jsonl", b'{"id":1,"body":"no label keys here"}\n')
    with pytest.raises(ShapeError) as err:
        read(path)
    assert err.value.file == str(path) and err.value.locator == "line 1"


def test_json_array_in_a_jsonl_file_is_a_shape_error(tmp_path: Path) -> None:
    with pytest.raises(ShapeError):
        read(write(tmp_path, "x.jsonl", b'[{"id":1,"text":"a","label":[]}]\n'))


def test_json_file_that_does_not_parse_is_a_parse_error(tmp_path: Path) -> None:
    with pytest.raises(ParseError):
        read(write(tmp_path, "all.json", b'[{"id":1,"text":"a","label":[]}'))


def test_folder_mixing_formats_is_a_shape_error(tmp_path: Path) -> None:
    write(tmp_path, "alice.jsonl", b'{"id":1,"text":"a","label":[]}\n')
    write(tmp_path, "bob.csv", b"id,text,label\n1,a,\n")
    with pytest.raises(ShapeError, match="mixes export formats"):
        read(tmp_path)


def test_project_type_override_reads_short_strings_as_targets(tmp_path: Path) -> None:
    path = write(tmp_path, "all.jsonl", b'{"id":1,"text":"Hi","label":["yo"]}\n')
    tasks, _, warnings = read(path)
    assert tasks[0].annotations[0].regions[0].kind == "choice"
    tasks, _, warnings = read(path, project_type="seq2seq")
    assert tasks[0].annotations[0].regions[0].kind == "text"
    assert "Seq2seq (from --project-type)" in warnings[0].message


def test_offsets_option_forces_one_unit(tmp_path: Path) -> None:
    path = write(tmp_path, "alice.jsonl", _line(ADA, '[[11,23,"PERSON"]]'))
    tasks, _, _ = read(path, offsets="codepoint")
    span = tasks[0].annotations[0].regions[0]
    assert isinstance(span, Span) and span.text == "a Lovelace i"
    assert "__remapped_offsets__" not in tasks[0].fields
    tasks, _, _ = read(path, offsets="utf16")
    span = tasks[0].annotations[0].regions[0]
    assert isinstance(span, Span) and span.text == "Ada Lovelace"
    assert tasks[0].fields["__remapped_offsets__"] == 1


def test_zip_of_user_files_merges_by_id_even_when_users_list_other_examples(
    tmp_path: Path,
) -> None:
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("bob.jsonl", '{"id":2,"text":"two","label":["n"]}\n')
        zf.writestr(
            "alice.jsonl",
            '{"id":1,"text":"one","label":["p"]}\n{"id":2,"text":"two","label":["p"]}\n',
        )
    tasks, rejects, _ = read(path)
    assert rejects == []
    assert [(t.id, [a.annotator for a in t.annotations]) for t in tasks] == [
        (1, ["alice"]),
        (2, ["alice", "bob"]),
    ]


def test_same_id_with_another_text_in_two_user_files_is_rejected(tmp_path: Path) -> None:
    write(tmp_path, "alice.jsonl", b'{"id":1,"text":"one","label":["p"]}\n')
    write(tmp_path, "bob.jsonl", b'{"id":1,"text":"uno","label":["p"]}\n')
    _, rejects, _ = read(tmp_path)
    assert [r.code for r in rejects] == ["example_mismatch"]


def _image(folder: Path, name: str, size: tuple[int, int], orientation: int | None = None) -> None:
    image = Image.new("RGB", size)
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    image.save(folder / name, exif=exif)


def test_boxes_use_the_upright_size_of_an_exif_rotated_image(tmp_path: Path) -> None:
    _image(tmp_path, "photo.jpg", (200, 100), orientation=6)  # shown as 100 x 200
    line = (
        '{"id":1,"filename":"photo.jpg","bbox":[{"uuid":"u","x":10.0,"y":20.0,'
        '"width":50.0,"height":100.0,"label":"p"}],"Comments":[]}\n'
    )
    tasks, rejects, _ = read(
        write(tmp_path, "all.jsonl", line.encode()), images_root=(str(tmp_path),)
    )
    assert rejects == []
    box = tasks[0].annotations[0].regions[0]
    assert isinstance(box, Box)
    assert (box.image_width, box.image_height) == (100, 200)
    assert (box.x, box.y, box.width, box.height) == (0.1, 0.1, 0.5, 0.5)


def test_box_outside_the_found_image_is_rejected(tmp_path: Path) -> None:
    _image(tmp_path, "small.png", (20, 20))
    line = (
        '{"id":1,"filename":"small.png","bbox":[{"uuid":"u","x":10.0,"y":10.0,'
        '"width":50.0,"height":50.0,"label":"p"}]}\n'
    )
    _, rejects, _ = read(write(tmp_path, "all.jsonl", line.encode()), images_root=(str(tmp_path),))
    assert [(r.code, r.locator) for r in rejects] == [("bad_box", "line 1.bbox[0]")]


def test_duplicate_image_names_are_warned_and_kept(tmp_path: Path) -> None:
    lines = (
        b'{"id":1,"filename":"cat.png","label":["cat"]}\n'
        b'{"id":2,"filename":"cat.png","label":["dog"]}\n'
    )
    tasks, _, warnings = read(write(tmp_path, "all.jsonl", lines))
    assert [t.id for t in tasks] == [1, 2]
    (dup,) = [w for w in warnings if w.code == "duplicate_image_name"]
    assert dup.task == 2 and "'cat.png'" in dup.message


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ("__label__a __label__b some text ", (["a", "b"], "some text", [])),
        (" unlabelled text ", ([], "unlabelled text", [])),
        (
            "__label__a text, with comma __comment__x __comment__y z",
            (["a"], "text, with comma", ["x", "y z"]),
        ),
        ("exampleC", ([], "exampleC", [])),
        ("__label__positive", (["positive"], "", [])),
    ],
)
def test_fasttext_records(record: str, expected: tuple[list[str], str, list[str]]) -> None:
    assert parse_fasttext(record) == expected


def test_offsets_rule_prefers_the_reading_that_cuts_no_grapheme_or_word() -> None:
    def texts(spans: list[tuple[int, int]]) -> list[str]:
        return [
            ADA[r.start : r.end] if not isinstance(r, str) else r
            for r in resolve_spans(ADA, spans, "auto")
        ]

    # code points (import/API) and UTF-16 (web UI) for the same two entities
    assert texts([(9, 21), (25, 31)]) == ["Ada Lovelace", "London"]
    assert texts([(11, 23), (27, 33)]) == ["Ada Lovelace", "London"]
    # before any astral character both readings are one
    assert texts([(0, 4)]) == ["Meet"]


def test_offsets_tie_is_rejected_not_guessed() -> None:
    # both readings cut two "words" (CJK) and no grapheme: nothing tells the unit
    text = "😀漢字かなカナ x😀y"
    (result,) = resolve_spans(text, [(3, 5)], "auto")
    assert result == "ambiguous_offsets"
    # a span of the same set that only fits as UTF-16 decides the unit for the tied one
    tied, clear = resolve_spans(text, [(3, 5), (12, 13)], "auto")
    assert not isinstance(clear, str) and text[clear.start : clear.end] == "y"
    assert not isinstance(tied, str) and text[tied.start : tied.end] == "字か"


def test_unknown_project_type_option_is_a_config_error(tmp_path: Path) -> None:
    from annoconvert.errors import ConfigError

    path = write(tmp_path, "all.jsonl", b'{"id":1,"text":"a","label":[]}\n')
    with pytest.raises(ConfigError, match="SequenceLabeling"):
        read(path, project_type="ner")
