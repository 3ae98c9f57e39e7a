"""The bad-input corpus (fixtures/bad/<reader>/<case>/) run through the command line.

Each case folder holds an input and `expected.json` (see fixtures/bad/make_cases.py for the
keys): a file-level error must exit 1 with one `annoconvert: error: ...` line and leave nothing
at -o; a task-level problem must be a reject with its code while the run goes on (exit 0).
No case may show a traceback. Large or explosive inputs are generated here, in a temporary
folder, never committed. Also: XXE never leaks a local file, remote images are never fetched
without --fetch-remote, and docs/reliability.md counts the cases per reader.
"""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import shutil
import socket
import struct
import subprocess
import sys
import urllib.request
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from annoconvert.cli import main

ROOT = Path(__file__).resolve().parent.parent
BAD = ROOT / "fixtures" / "bad"
READERS = ("labelstudio", "doccano", "cvat", "coco")
CASES = sorted(p for r in READERS for p in (BAD / r).iterdir() if (p / "expected.json").is_file())
FIFTY_MB = 50 * 1024 * 1024


# --- generators for inputs that are not committed ----------------------------------------------


def _text_task(tid: int, text: str) -> bytes:
    return json.dumps(
        {
            "id": tid,
            "data": {"text": text},
            "annotations": [
                {
                    "completed_by": 1,
                    "result": [
                        {
                            "type": "choices",
                            "from_name": "sentiment",
                            "to_name": "text",
                            "value": {"choices": ["positive"]},
                        }
                    ],
                }
            ],
        }
    ).encode()


def ls_huge_line(case: Path) -> None:
    """Line 1 a small task; line 2 one task whose text makes the line 50 MB."""
    big = _text_task(2, "x" * FIFTY_MB)
    (case / "input.jsonl").write_bytes(_text_task(1, "small") + b"\n" + big + b"\n")


def dc_huge_line(case: Path) -> None:
    small = json.dumps({"id": 1, "text": "Alice met Bob", "label": [[0, 5, "PER"]]}).encode()
    text = "Alice " + "y" * FIFTY_MB
    big = json.dumps({"id": 2, "text": text, "label": [[0, 5, "PER"]]}).encode()
    (case / "input.jsonl").write_bytes(small + b"\n" + big + b"\n")


def symlink_root(case: Path) -> None:
    """root/ok.jpg (a real image) and root/link.jpg -> ../outside.jpg (outside the root)."""
    root = case / "root"
    root.mkdir()
    shutil.copy(case.parent / "images" / "ok.jpg", root / "ok.jpg")
    os.symlink(case / "outside.jpg", root / "link.jpg")


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def png_header(width: int, height: int) -> bytes:
    """A PNG whose IHDR (valid CRC) claims the given size, with one tiny IDAT: a few hundred
    bytes that would decode to width x height x 3 bytes."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
    )


def huge_header_root(case: Path) -> None:
    root = case / "root"
    root.mkdir()
    for image in (case.parent / "images").iterdir():
        shutil.copy(image, root / image.name)
    (root / "huge.png").write_bytes(png_header(100_000, 100_000))


def _zip(path: Path, members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> None:
    with zipfile.ZipFile(path, "w", method) as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name), data, compress_type=method)


def _bomb(head: bytes, tail: bytes) -> bytes:
    return head + b" " * (64 * 1024 * 1024) + tail


def dc_zip_traversal(case: Path) -> None:
    line = b'{"id": 1, "text": "Alice", "label": [[0, 5, "PER"]]}\n'
    _zip(case / "input.zip", {"all.jsonl": line, "../../evil.jsonl": line})


def dc_zip_bomb(case: Path) -> None:
    _zip(case / "input.zip", {"all.jsonl": _bomb(b"", b"\n")}, zipfile.ZIP_BZIP2)


CVAT_HEAD = b'<?xml version="1.0" encoding="utf-8"?>\n<annotations><version>1.1</version>'


def cvat_zip_traversal(case: Path) -> None:
    xml = CVAT_HEAD + b"</annotations>\n"
    _zip(case / "input.zip", {"annotations.xml": xml, "../annotations.xml": xml})


def cvat_zip_absolute(case: Path) -> None:
    xml = CVAT_HEAD + b"</annotations>\n"
    _zip(case / "input.zip", {"/tmp/annotations.xml": xml})


def cvat_zip_bomb(case: Path) -> None:
    _zip(
        case / "input.zip",
        {"annotations.xml": _bomb(CVAT_HEAD, b"</annotations>\n")},
        zipfile.ZIP_BZIP2,
    )


COCO_EMPTY = b'{"images": [], "annotations": [], "categories": []}'


def coco_zip_traversal(case: Path) -> None:
    _zip(
        case / "input.zip",
        {"annotations/instances_x.json": COCO_EMPTY, "../instances_x.json": COCO_EMPTY},
    )


def coco_zip_bomb(case: Path) -> None:
    _zip(
        case / "input.zip",
        {"annotations/instances_default.json": _bomb(b'{"images": [], ', b'"annotations": []}')},
        zipfile.ZIP_BZIP2,
    )


GENERATORS: dict[str, Callable[[Path], None]] = {
    f.__name__: f
    for f in (
        ls_huge_line,
        dc_huge_line,
        symlink_root,
        huge_header_root,
        dc_zip_traversal,
        dc_zip_bomb,
        cvat_zip_traversal,
        cvat_zip_absolute,
        cvat_zip_bomb,
        coco_zip_traversal,
        coco_zip_bomb,
    )
}


# --- running a case ----------------------------------------------------------------------------


def case_id(path: Path) -> str:
    return path.relative_to(BAD).as_posix()


def prepare(case_dir: Path, tmp: Path) -> tuple[Path, dict[str, Any], list[str]]:
    """Copy the case (and the shared images) to tmp; generate inputs; the CLI arguments."""
    expected: dict[str, Any] = json.loads((case_dir / "expected.json").read_text())
    work = tmp / "case"
    shutil.copytree(case_dir, work)
    shutil.copytree(BAD / "_images", tmp / "images")
    if "generate" in expected:
        GENERATORS[expected["generate"]](work)
    name = expected.get("input")
    if name is None:
        (found,) = [p.name for p in work.iterdir() if p.name.startswith("input.")]
        name = found
    args = [
        a.replace("{case}", str(work)).replace("{images}", str(tmp / "images"))
        for a in expected.get("args", [])
    ]
    (tmp / "out").mkdir()
    reader = case_dir.parent.name
    argv = [
        reader,
        str(work / name),
        "-o",
        str(tmp / "out" / "out.jsonl"),
        "--rejects",
        str(tmp / "out" / "rejects.jsonl"),
        "--workers",
        "1",
        *args,
    ]
    return work, expected, argv


def check_outcome(
    expected: dict[str, Any], exit_code: int, stderr: str, out_dir: Path, label: str
) -> None:
    """Assert what a user would check after the run (shared by CliRunner and subprocess)."""
    out = out_dir / "out.jsonl"
    assert "Traceback" not in stderr, f"{label}: traceback on stderr:\n{stderr}"
    assert "internal error" not in stderr, f"{label}: internal error:\n{stderr}"
    assert exit_code == expected["exit"], f"{label}: exit {exit_code}, stderr:\n{stderr}"
    leftovers = [p.name for p in out_dir.iterdir() if p.name.endswith(".part")]
    assert not leftovers, f"{label}: temporary files left: {leftovers}"
    if expected["exit"] == 1:
        lines = stderr.strip().splitlines()
        assert len(lines) == 1, f"{label}: expected one error line, got:\n{stderr}"
        assert lines[0].startswith("annoconvert: error: "), lines[0]
        for part in expected["message_contains"]:
            assert part.lower() in lines[0].lower(), f"{label}: {part!r} not in {lines[0]!r}"
        assert not out.exists(), f"{label}: something was written at -o on exit 1"
        return
    rejects_path = out_dir / "rejects.jsonl"
    records = [json.loads(x) for x in rejects_path.read_text().splitlines()]
    for rec in records:
        assert set(rec) == {"task", "file", "locator", "code", "reason"}, rec
        assert rec["locator"] and rec["reason"] and rec["file"], rec
    got = [{"task": r["task"], "code": r["code"]} for r in records]
    assert got == expected["rejects"], f"{label}: rejects {got} != {expected['rejects']}"
    lines = out.read_bytes().splitlines() if out.exists() else []
    assert out.exists(), f"{label}: nothing at -o after a completed run"
    assert len(lines) == expected["written"], f"{label}: wrote {len(lines)} lines"
    for part in expected.get("warning_contains", []):
        assert part.lower() in stderr.lower(), f"{label}: warning {part!r} not in:\n{stderr}"


@pytest.mark.parametrize("case_dir", CASES, ids=case_id)
def test_bad_input(case_dir: Path, tmp_path: Path) -> None:
    _work, expected, argv = prepare(case_dir, tmp_path)
    result = CliRunner().invoke(main, argv, catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        pytest.fail(f"{case_id(case_dir)}: exception escaped: {result.exception!r}")
    check_outcome(expected, result.exit_code, result.stderr, tmp_path / "out", case_id(case_dir))


SUBPROCESS_CASES = [
    "labelstudio/truncated_json",
    "labelstudio/wrong_types_text",
    "doccano/bad_utf8_line",
    "doccano/zip_path_traversal",
    "cvat/billion_laughs",
    "cvat/wrong_types",
    "coco/results_list",
    "coco/image_truncated_jpeg",
]


@pytest.mark.parametrize("name", SUBPROCESS_CASES)
def test_bad_input_real_process(name: str, tmp_path: Path) -> None:
    """A few cases through `python -m annoconvert` in a real process (stderr as a user sees it)."""
    _work, expected, argv = prepare(BAD / name, tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "ANNOCONVERT_DEBUG"}
    proc = subprocess.run(
        [sys.executable, "-m", "annoconvert", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    check_outcome(expected, proc.returncode, proc.stderr, tmp_path / "out", name)


# --- the corpus itself ---------------------------------------------------------------------------


def test_every_reader_has_cases() -> None:
    for reader in READERS:
        names = {p.name for p in CASES if p.parent.name == reader}
        assert len(names) >= 20, reader
        assert any(n.startswith("empty") or n.startswith("zero_byte") for n in names), reader
        assert any("bom" in n for n in names) and any("crlf" in n for n in names), reader
        assert any("wrong_types" in n for n in names), reader
    cvat = {p.name for p in CASES if p.parent.name == "cvat"}
    assert {"xxe_external_entity", "billion_laughs", "version_2_0"} <= cvat


def test_no_large_input_committed() -> None:
    big = [p for p in BAD.rglob("*") if p.is_file() and p.stat().st_size > 64 * 1024]
    assert not big, f"large files belong in a generator: {big}"


def test_docs_count_cases_per_reader() -> None:
    """docs/reliability.md states the number of cases per reader; it must match the folders."""
    text = (ROOT / "docs" / "reliability.md").read_text()
    for reader in READERS:
        match = re.search(rf"^\|\s*`?{reader}`?\s*\|\s*(\d+)\s*\|", text, re.MULTILINE)
        assert match, f"docs/reliability.md has no count row for {reader}"
        count = sum(1 for p in CASES if p.parent.name == reader)
        assert int(match.group(1)) == count, f"{reader}: doc says {match.group(1)}, corpus {count}"


def test_docs_list_every_reject_code_of_the_corpus() -> None:
    text = (ROOT / "docs" / "reliability.md").read_text()
    codes = set()
    for case_dir in CASES:
        expected = json.loads((case_dir / "expected.json").read_text())
        codes.update(r["code"] for r in expected.get("rejects", []))
    missing = sorted(c for c in codes if f"`{c}`" not in text)
    assert not missing, f"reject codes not documented: {missing}"


# --- safe parsing: XXE never leaks, remote images are never fetched -----------------------------


def _xxe_xml(secret_path: Path) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<!DOCTYPE annotations [<!ENTITY xxe SYSTEM "file://{secret_path}">]>\n'
        "<annotations><version>1.1</version><meta><task><labels><label><name>&xxe;</name>"
        "</label></labels></task></meta>\n"
        '<image id="0" name="&xxe;.jpg" width="64" height="48">'
        '<box label="&xxe;" xtl="1" ytl="1" xbr="5" ybr="5"/><tag label="&xxe;"/></image>\n'
        "</annotations>\n"
    )


@pytest.mark.parametrize("wrap", ["file", "zip"])
def test_xxe_secret_never_appears(tmp_path: Path, wrap: str) -> None:
    token = "SECRET-" + secrets.token_hex(16)
    secret = tmp_path / "secret.txt"
    secret.write_text(token + "\n")
    xml = _xxe_xml(secret)
    if wrap == "file":
        src = tmp_path / "annotations.xml"
        src.write_text(xml)
    else:
        src = tmp_path / "task.zip"
        with zipfile.ZipFile(src, "w") as zf:
            zf.writestr("annotations.xml", xml)
    out = tmp_path / "out.jsonl"
    rejects = tmp_path / "rejects.jsonl"
    result = CliRunner().invoke(
        main,
        ["cvat", str(src), "-o", str(out), "--rejects", str(rejects), "--image-mode", "reference"],
    )
    assert result.exit_code == 1, result.output
    assert "DOCTYPE" in result.stderr
    seen = result.output + result.stderr
    for path in (out, rejects):
        if path.exists():
            seen += path.read_text()
    assert token not in seen
    assert not out.exists()
    # the library too: reading through the API raises, and its message holds no secret
    import annoconvert
    from annoconvert.errors import UnsafeInputError

    with pytest.raises(UnsafeInputError) as err:
        list(annoconvert.read("cvat", str(src)))
    assert token not in str(err.value)


def test_xxe_in_label_config_never_leaks(tmp_path: Path) -> None:
    token = "SECRET-" + secrets.token_hex(16)
    secret = tmp_path / "secret.txt"
    secret.write_text(token)
    config = tmp_path / "config.xml"
    config.write_text(
        f'<!DOCTYPE View [<!ENTITY xxe SYSTEM "file://{secret}">]>\n'
        '<View><Text name="text" value="$text"/><Choices name="c" toName="text">'
        '<Choice value="&xxe;"/></Choices></View>\n'
    )
    export = tmp_path / "export.json"
    export.write_text(json.dumps([_text_task_obj()]))
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(
        main, ["labelstudio", str(export), "-o", str(out), "--label-config", str(config)]
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("annoconvert: error: ")
    assert token not in result.output + result.stderr
    assert not out.exists()


def _text_task_obj() -> dict[str, Any]:
    return json.loads(_text_task(1, "hello"))


class NetworkUsed(AssertionError):
    """Raised by the patched network functions: nothing may touch the network."""


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []

    def refuse(name: str) -> Callable[..., Any]:
        def fn(*args: Any, **kwargs: Any) -> Any:
            calls.append(f"{name}{args[:2]!r}")
            raise NetworkUsed(f"{name} called")

        return fn

    monkeypatch.setattr(socket.socket, "connect", refuse("socket.connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", refuse("socket.connect_ex"))
    monkeypatch.setattr(socket, "create_connection", refuse("socket.create_connection"))
    monkeypatch.setattr(socket, "getaddrinfo", refuse("socket.getaddrinfo"))
    monkeypatch.setattr(urllib.request, "urlopen", refuse("urllib.request.urlopen"))
    monkeypatch.setattr(urllib.request.OpenerDirector, "open", refuse("OpenerDirector.open"))
    return calls


@pytest.mark.parametrize("mode", ["embed", "reference"])
def test_remote_images_not_fetched_without_flag(
    tmp_path: Path, no_network: list[str], mode: str
) -> None:
    box = {
        "type": "rectanglelabels",
        "from_name": "label",
        "to_name": "image",
        "value": {"x": 10, "y": 10, "width": 20, "height": 20, "rectanglelabels": ["cat"]},
    }
    tasks = [
        {
            "id": i,
            "data": {"image": url},
            "annotations": [{"completed_by": 1, "result": [box]}],
        }
        for i, url in enumerate(
            ["http://example.invalid/a.jpg", "https://127.0.0.1:9/b.png", "s3://bucket/c.jpg"],
            start=1,
        )
    ]
    export = tmp_path / "export.json"
    export.write_text(json.dumps(tasks))
    out = tmp_path / "out.jsonl"
    rejects = tmp_path / "rejects.jsonl"
    result = CliRunner().invoke(
        main,
        [
            "labelstudio",
            str(export),
            "-o",
            str(out),
            "--rejects",
            str(rejects),
            "--recipe",
            "detection",
            "--image-mode",
            mode,
            "--workers",
            "1",
        ],
    )
    assert not no_network, f"the network was used: {no_network}"
    assert "Traceback" not in result.stderr
    assert result.exit_code == 0, result.output
    codes = [json.loads(x)["code"] for x in rejects.read_text().splitlines()]
    if mode == "embed":
        assert codes == ["remote_image"] * 3
    else:
        # a reference is written as the URI; nothing is downloaded either way
        assert len(out.read_text().splitlines()) + len(codes) == 3


def test_xml_parser_settings_never_resolve() -> None:
    """Belt and braces: even a DOCTYPE-less document cannot pull a DTD or entity."""
    from annoconvert.xmlsafe import PARSER_SETTINGS

    assert PARSER_SETTINGS["resolve_entities"] is False
    assert PARSER_SETTINGS["no_network"] is True
    assert PARSER_SETTINGS["load_dtd"] is False


def test_png_header_generator_claims_size(monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import Image

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    with Image.open(io.BytesIO(png_header(100_000, 100_000))) as img:
        assert img.size == (100_000, 100_000)
