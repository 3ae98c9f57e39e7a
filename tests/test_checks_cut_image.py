"""The line checks read an image line without its Base64 (`cut_image`) and find what they
find in the whole line: the same validation report and the same conflicts and duplicates.
The cut is refused wherever the line without the Base64 could mean something else."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

import annoconvert
from annoconvert.quality import linechecks
from annoconvert.quality.common_line import cut_image
from annoconvert.quality.linechecks import LineChecks, LineFindings

JPEG = base64.b64encode(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 3).decode()
"""Base64 of 772 bytes that begin as a JPEG does (the validator tells the kind from them)."""


def _image_line(url: str, prompt: str = "Find the cars.", answer: str = "[]") -> bytes:
    return orjson.dumps(
        {
            "messages": [
                {"role": "system", "content": [{"type": "text", "text": "Detect."}]},
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": prompt},
                        {"type": "image_url", "image_url": {"url": url}},
                    ],
                },
                {"role": "assistant", "content": [{"type": "text", "text": answer}]},
            ]
        }
    )


def _findings(lines: list[bytes], cut: bool, preset: str) -> LineFindings:
    with pytest.MonkeyPatch.context() as mp:
        if not cut:
            mp.setattr(linechecks, "cut_image", lambda _raw: None)
        checks = LineChecks(preset, "report", False)
        for raw in lines:
            checks.check_line(raw)
        return checks.finish()


def _same_with_and_without_the_cut(lines: list[bytes], preset: str = "openai") -> LineFindings:
    found = _findings(lines, True, preset)
    assert found == _findings(lines, False, preset)
    return found


def _encoded(image: Image.Image, kind: str) -> str:
    buffer = io.BytesIO()
    image.save(buffer, kind)
    return base64.b64encode(buffer.getvalue()).decode()


PNG = _encoded(Image.new("RGB", (4, 4)), "PNG")
SMALL_JPEG = _encoded(Image.new("RGB", (4, 4)), "JPEG")


def test_the_lines_a_conversion_writes_are_cut(tmp_path: Path) -> None:
    """Every embedded image line annoconvert writes takes the cut, and the cut line with its
    Base64 is the whole line's URL and image."""
    images = tmp_path / "images"
    images.mkdir()
    records = []
    for i in range(3):
        buffer = io.BytesIO()
        Image.new("RGB", (40 + i, 30), (i * 60, 90, 200)).save(buffer, "JPEG")
        (images / f"{i}.jpg").write_bytes(buffer.getvalue())
        records.append({"id": i + 1, "file_name": f"{i}.jpg", "width": 40 + i, "height": 30})
    export = tmp_path / "instances.json"
    annotation = {"id": 1, "image_id": 1, "category_id": 1, "bbox": [2, 3, 10, 8], "area": 80}
    export.write_text(
        json.dumps(
            {
                "images": records,
                "annotations": [annotation],
                "categories": [{"id": 1, "name": "car"}],
            }
        )
    )
    for preset in ("openai", "together", "fireworks", "azure"):
        out = tmp_path / f"{preset}.jsonl"
        result = annoconvert.convert("coco", export, out, images_root=str(images), preset=preset)
        assert result.written == 3
        for raw in out.read_bytes().splitlines():
            found = cut_image(raw)
            assert found is not None, preset
            url = orjson.loads(raw)["messages"][1]["content"][1]["image_url"]["url"]
            head = found.common[2]
            assert head is not None and url == head + found.base64.decode()
            assert found.image == base64.b64decode(url.partition(",")[2])


_payloads = st.one_of(
    st.binary(max_size=40).map(lambda b: base64.b64encode(b).decode()),
    st.sampled_from([PNG, SMALL_JPEG]),  # images whose kind the validator tells
    st.text(alphabet='AB+/=\\"!é \x01', max_size=12),
    st.sampled_from(["", "QUJD", "QUJ", "QU=D", "QUJD;base64,QUJD", "not base64!"]),
)
_heads = st.sampled_from(
    [
        "data:image/jpeg;base64,",
        "data:image/png;base64,",
        "data:;base64,",
        "data:x,y;base64,",
        "https://e.x/a;base64,",
    ]
)
_texts = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["", " "]),  # a blank text: the validator's general walk
    st.sampled_from(
        [
            ";base64,QUJD",
            'x {"url":"data:image/jpeg;base64,QUJD',
            '{"url":"data:image/jpeg;base64,',
            "\\",
            '"',
        ]
    ),
)
_answers = st.one_of(
    _texts, st.sampled_from(['[{"box_2d": [1, 2, 3, 4], "label": "a"}]', "[", "yes", "no"])
)


@settings(max_examples=400, deadline=None)
@given(
    lines=st.lists(
        st.tuples(_heads, _payloads, _texts, _answers).map(
            lambda parts: _image_line(parts[0] + parts[1], parts[2], parts[3])
        ),
        min_size=1,
        max_size=4,
    ),
    repeats=st.lists(st.integers(0, 3), max_size=3),
    preset=st.sampled_from(["openai", "together", "vertex", "trl", "sharegpt"]),
)
def test_cut_lines_get_the_findings_of_whole_lines(
    lines: list[bytes], repeats: list[int], preset: str
) -> None:
    """Lines written as annoconvert writes them, with any URL, prompt and answer; some again
    (duplicates, and conflicts where only the answer differs); under any preset's checks."""
    lines = lines + [lines[i % len(lines)] for i in repeats]
    _same_with_and_without_the_cut(lines, preset)


WHOLE = _image_line("data:image/jpeg;base64," + JPEG)
"""A line that takes the cut."""


@pytest.mark.parametrize(
    "raw",
    [
        # the Base64 written with JSON escapes: the URL is the same, the bytes are not Base64
        WHOLE.replace(JPEG[:8].encode(), JPEG[:8].encode().replace(b"/", b"\\/")),
        WHOLE.replace(b"data:image/jpeg;base64,", b"data:image/jpeg\\u003bbase64,"),
        # the prompt holds the mark; the URL holds it escaped
        _image_line("data:image/jpeg;base64," + JPEG, prompt="see ;base64,QUJD").replace(
            b"data:image/jpeg;base64,", b"data:image/jpeg\\u003bbase64,"
        ),
        # the mark twice
        _image_line("data:image/jpeg;base64," + JPEG, prompt="a;base64,QUJD"),
        # written with spaces, or with the URL's key twice
        WHOLE.replace(b'{"url":"', b'{"url": "'),
        WHOLE.replace(b'{"url":"', b'{"url":"data:image/png;base64,","url":"'),
        WHOLE.replace(b'{"url":"', b'{"url":"data:image/jpeg;base64,QUJD","url":"'),
        WHOLE.replace(JPEG.encode() + b'"', JPEG.encode() + b'","url":"data:image/jpeg;base64,"'),
        # Base64 with a control character, a space or a non-ASCII character
        WHOLE.replace(JPEG[:4].encode(), b"\x01AAA"),
        WHOLE.replace(JPEG[:4].encode(), b"A AA"),
        WHOLE.replace(JPEG[:4].encode(), "AéAA".encode()),
        # not JSON once cut, or not JSON at all
        WHOLE[:-3],
        WHOLE.replace(b'"type":"text","text":"Find', b'"type":"text","text":Find'),
        # an image URL that is not a data URL, or an image part with a detail
        _image_line("https://example.com/a.jpg;base64,QUJD"),
        WHOLE.replace(b'{"url":"', b'{"detail":"low","url":"'),
    ],
)
def test_the_cut_is_refused_where_the_cut_line_could_mean_something_else(raw: bytes) -> None:
    assert cut_image(raw) is None
    _same_with_and_without_the_cut([raw, WHOLE, raw])


def test_a_cut_line_conflicts_with_the_same_input_read_whole() -> None:
    """The image's input key is the same whether its line is cut or read whole (written with
    a space here): the two answers are a conflict, and the exact repeat a duplicate."""
    cut_yes = _image_line("data:image/jpeg;base64," + JPEG, answer="yes")
    whole_no = _image_line("data:image/jpeg;base64," + JPEG, answer="no").replace(
        b'{"url":"', b'{"url": "'
    )
    assert cut_image(cut_yes) is not None and cut_image(whole_no) is None
    found = _same_with_and_without_the_cut([cut_yes, whole_no, cut_yes])
    (conflict,) = found.consistency.conflicts
    assert conflict.answers == 2 and conflict.input == "[image] find the cars."
    assert found.consistency.duplicate_count == 1
    assert found.validation is not None and found.validation.images == 3


@pytest.mark.parametrize("prompt", ["Find the cars.", ""], ids=["shortcut", "general-walk"])
def test_a_cut_line_reports_its_image(prompt: str) -> None:
    """The checks of a cut line still read its image: a PNG declared as JPEG is found, by
    the validator's common-line shortcut, and by its general walk (a blank prompt)."""
    raw = _image_line("data:image/jpeg;base64," + PNG, prompt=prompt)
    assert cut_image(raw) is not None
    found = _same_with_and_without_the_cut([raw])
    assert found.validation is not None
    assert found.validation.error_counts["image_mime_mismatch"] == 1
