"""The preview page and notebook view, without a browser (see test_preview_browser.py)."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from annoconvert.commands.preview import command
from annoconvert.model import Example, ImagePart, Message, PreparedImage, Source, TextPart
from annoconvert.options import Options
from annoconvert.preview import build_page, example_html, parse_boxes, view_from_line
from annoconvert.registry import dialect
from tests.test_fuzz_checks import json_values

ROOT = Path(__file__).resolve().parent.parent
DIALECT_FIXTURES = ROOT / "fixtures" / "dialects"
# the test image: white 400x300 with a black 4-px frame whose outer edge is x 100..200, y 75..150
BOX_PX = (100, 75, 200, 150)
BOX_2D = [250, 250, 500, 500]  # [ymin, xmin, ymax, xmax] of that frame on the 0-1000 grid


def frame_png() -> bytes:
    img = Image.new("RGB", (400, 300), "white")
    x0, y0, x1, y1 = BOX_PX
    ImageDraw.Draw(img).rectangle((x0, y0, x1 - 1, y1 - 1), outline="black", width=4)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def detection_example(task_id: int, label: str, data: bytes) -> Example:
    image = PreparedImage("frame.png", "frame.png", 400, 300, mime="image/png", data=data)
    answer = orjson.dumps([{"box_2d": BOX_2D, "label": label}]).decode()
    return Example(
        task_id=task_id,
        source=Source("test", "t", f"tasks[{task_id}]"),
        messages=(
            Message("system", (TextPart("Find defects."),)),
            Message("user", (TextPart(f"Image {task_id}"), ImagePart(image))),
            Message("assistant", (TextPart(answer),)),
        ),
        multimodal=True,
    )


def write_jsonl(path: Path, count: int, data: bytes) -> list[str]:
    """`count` OpenAI detection lines sharing one image; every third is a 'dent'."""
    labels = ["dent" if i % 3 == 0 else "scratch" for i in range(count)]
    openai = dialect("openai")
    lines = [
        openai.render(detection_example(i, lb, data), Options()) for i, lb in enumerate(labels)
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return labels


@pytest.mark.parametrize(
    ("box_format", "values"),
    [
        ("box_2d", [250, 250, 500, 500]),
        ("qwen3-vl", [250, 250, 500, 500]),
        ("xyxy-px", [100, 75, 200, 150]),
        ("xywh-px", [100, 75, 100, 75]),
        # smart_resize(300, 400) with factor 28 -> 308 x 392; a quarter of each is 77 / 98
        ("qwen2.5-vl", [98, 77, 196, 154]),
    ],
)
def test_parse_boxes_every_format(box_format: str, values: list[int]) -> None:
    key = {"box_2d": "box_2d", "xyxy-px": "bbox", "xywh-px": "bbox"}.get(box_format, "bbox_2d")
    answer = orjson.dumps([{key: values, "label": "scratch"}]).decode()
    boxes, notes = parse_boxes(answer, box_format, 400, 300)
    assert notes == []
    assert len(boxes) == 1
    box = boxes[0]
    assert box.label == "scratch"
    assert (box.x0, box.y0, box.x1, box.y1) == pytest.approx((0.25, 0.25, 0.5, 0.5))


def test_parse_boxes_says_why_nothing_is_drawn() -> None:
    qwen = '[{"bbox_2d": [1, 2, 3, 4], "label": "a"}]'
    assert parse_boxes(qwen, "box_2d", 10, 10)[1] == [
        "the answer has bbox_2d boxes; choose --box-format to draw them"
    ]
    assert "need the image size" in parse_boxes(qwen, "qwen2.5-vl", None, None)[1][0]
    assert parse_boxes('[{"box_2d": [5, 5, 1, 1]}]', "box_2d", 1, 1)[1] == [
        "answer[0].box_2d has min >= max"
    ]
    assert parse_boxes("Classification: PASS", "box_2d", 1, 1) == ([], [])


@pytest.mark.parametrize("case", ["detection_embed", "detection_uri_prefix", "preference_text"])
@pytest.mark.parametrize("name", ["vertex", "trl", "sharegpt"])
def test_every_dialect_line_reads_back(
    case: str, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = DIALECT_FIXTURES / case / f"expected.{name}.jsonl"
    if not path.exists():  # sharegpt refuses embedded images (no golden line)
        assert (name, case) == ("sharegpt", "detection_embed")
        return
    monkeypatch.chdir(DIALECT_FIXTURES)  # copied images are listed as upload/part.png
    view = view_from_line(orjson.loads(path.read_bytes()), title="t", base_dirs=[DIALECT_FIXTURES])
    roles = [m.role for m in view.messages]
    if case == "preference_text":
        assert roles == ["system", "user", "assistant", "assistant"]
        assert [m.caption for m in view.messages[2:]] == ["preferred", "not preferred"]
        assert view.answer == "Plants use sunlight, water and CO2 to make glucose."
        return
    assert roles == ["system", "user", "assistant"]
    assert view.answer is not None and view.answer.startswith('[{"box_2d"')
    [image] = view.images
    if name == "vertex" and case == "detection_uri_prefix":
        assert image.src is None and "part.png" in image.ref and "gs://" not in image.ref
    elif case == "detection_uri_prefix":
        assert image.src is None and image.ref == "upload/part.png (file not found)"
    else:
        assert image.src is not None and (image.width, image.height) == (4, 3)
        assert len(view.boxes) == 1


def test_page_is_self_contained_and_stores_each_image_once(tmp_path: Path) -> None:
    data = frame_png()
    jsonl = tmp_path / "train.jsonl"
    write_jsonl(jsonl, 25, data)
    page = build_page(jsonl.open("rb"), title="train.jsonl")
    assert not re.search(r"""(?:src|href|url)\s*[=(]\s*['"]?\s*(?:https?:|//|ftp:)""", page, re.I)
    assert "http://" not in page and "https://" not in page
    assert "default-src 'none'" in page  # the browser may load nothing but data: images
    import pybase64

    assert page.count(pybase64.b64encode(data).decode()) == 1
    assert "25 examples, 1 distinct images" in page


def test_text_cannot_break_out_of_the_page(tmp_path: Path) -> None:
    line = {
        "messages": [
            {"role": "user", "content": "</script><script>alert(1)</script><b>x</b>"},
            {"role": "assistant", "content": "ok"},
        ]
    }
    page = build_page([orjson.dumps(line), b"{not json"], title="<t>")
    assert page.count("</script>") == 2  # the data block and the inline script only
    assert "<script>alert" not in page
    assert "<title>&lt;t&gt;</title>" in page
    assert "not valid JSON" in page  # a bad line is shown, not dropped


def test_example_html_for_notebooks() -> None:
    example = detection_example(1, "scratch", frame_png())
    fragment = example_html(example)
    assert example._repr_html_() == fragment
    assert "src='data:image/png;base64," in fragment
    assert "left:25.0000%;top:25.0000%;width:25.0000%;height:25.0000%" in fragment
    assert "data-label='scratch'" in fragment


def test_preview_command_writes_the_page(tmp_path: Path) -> None:
    jsonl = tmp_path / "train.jsonl"
    write_jsonl(jsonl, 3, frame_png())
    out = tmp_path / "out" / "page.html"
    result = CliRunner().invoke(command, [str(jsonl), "-o", str(out), "--per-page", "2"])
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert '"perPage":2' in page
    default = CliRunner().invoke(command, [str(jsonl)])
    assert default.exit_code == 0
    assert (tmp_path / "train.html").exists()
    bad = CliRunner().invoke(command, [str(jsonl), "--box-format", "nope"])
    assert bad.exit_code == 2


@settings(
    max_examples=800, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)
@given(obj=json_values, box_format=st.sampled_from(["box_2d", "qwen2.5-vl", "xyxy-px"]))
def test_any_json_line_is_shown_not_a_crash(obj: Any, box_format: str) -> None:
    """A line of any JSON (a list where the messages belong, a number for the images) gets
    its card on the page, as the validator gets its findings."""
    page = build_page([orjson.dumps(obj)], title="t", box_format=box_format)
    assert "line 1" in page


def _png_of_size(width: int, height: int) -> bytes:
    """A valid 1-bit PNG of any size, all background: about 100 KB for 30000 x 30000."""
    import struct
    import zlib

    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    body = zlib.compress(row * height, 9)

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    signature = b"\x89PNG\r\n\x1a\n"
    return signature + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def test_a_decompression_bomb_is_named_not_embedded_in_the_page(tmp_path: Path) -> None:
    """A 900-megapixel PNG of 100 KB in a line: the page says so and does not carry it (a
    browser would decode it in full); the command still writes the page."""
    import base64

    url = "data:image/png;base64," + base64.b64encode(_png_of_size(30000, 30000)).decode()
    line = {
        "messages": [
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]},
            {"role": "assistant", "content": "ok"},
        ]
    }
    source = tmp_path / "train.jsonl"
    source.write_bytes(orjson.dumps(line) + b"\n")
    out = tmp_path / "page.html"
    result = CliRunner().invoke(command, [str(source), "-o", str(out)])
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert "pixels, not shown" in page
    assert url[:200] not in page
