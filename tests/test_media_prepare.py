"""Preparing images: fast path, EXIF, modes, bombs, truncation, resize, byte limits, modes."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageOps, ImageStat

from annoconvert.errors import ConfigError, MediaError
from annoconvert.media import MediaPipeline, PrepSpec, data_url, encode, read_header
from annoconvert.model import ImageRef, PreparedImage
from annoconvert.options import Options
from tests.conftest import corpus_path

G = ("labelstudio", "g_object_detection", "images")
CAR = "/data/upload/13/e88b91ff-car_door_640x480.jpg"
BUMPER = "/data/upload/13/584cba2a-bumper_1024x768.png"
HOOD = "/data/upload/13/9b33f9ce-hood_gray_800x600.png"
PANEL = "/data/upload/13/fa8a434b-panel_rgba_512x512.png"
FENDER = "/data/upload/13/18c59e68-fender_exif6_640x480.jpg"


def _pipeline(roots: list[str] | None = None, **opts: Any) -> MediaPipeline:
    return MediaPipeline(Options(workers=1, **opts), roots or [str(corpus_path(*G))])


def _one(uri: str, **opts: Any) -> PreparedImage:
    [img] = _pipeline(**opts).prepare([ImageRef(uri)])
    return img


def _decode(img: PreparedImage) -> Image.Image:
    assert img.data is not None
    return Image.open(io.BytesIO(img.data))


def test_upright_jpeg_within_limits_is_embedded_byte_identical() -> None:
    img = _one(CAR)
    assert img.data == corpus_path(*G, "e88b91ff-car_door_640x480.jpg").read_bytes()
    assert (img.width, img.height, img.mime) == (640, 480, "image/jpeg")
    assert data_url(img).startswith("data:image/jpeg;base64,/9j/")


def test_rgba_png_stays_rgba() -> None:
    img = _one(PANEL)
    decoded = _decode(img)
    assert decoded.mode == "RGBA" and img.mime == "image/png"
    assert img.data == corpus_path(*G, "fa8a434b-panel_rgba_512x512.png").read_bytes()


def test_grayscale_png_becomes_rgb_png() -> None:
    img = _one(HOOD)
    decoded = _decode(img)
    assert (decoded.mode, decoded.format, decoded.size) == ("RGB", "PNG", (800, 600))
    source = Image.open(corpus_path(*G, "9b33f9ce-hood_gray_800x600.png"))
    assert decoded.convert("L").tobytes() == source.tobytes()


def test_exif_orientation_6_is_applied_and_the_box_area_matches() -> None:
    img = _one(FENDER)
    decoded = _decode(img)
    # images_meta.json: stored 640x480 with orientation 6, displayed 480x640
    assert (img.width, img.height) == (480, 640)
    assert decoded.size == (480, 640) and decoded.mode == "RGB"
    assert decoded.getexif().get(0x0112, 1) == 1
    # the dent drawn at displayed [300, 400, 380, 520] (reddish) is where the boxes say
    r, g, _ = ImageStat.Stat(decoded.crop((300, 400, 380, 520))).mean
    assert r - g > 20
    upright = ImageOps.exif_transpose(
        Image.open(corpus_path(*G, "18c59e68-fender_exif6_640x480.jpg"))
    )
    diff = np.abs(np.asarray(decoded, dtype=int) - np.asarray(upright.convert("RGB"), dtype=int))
    assert diff.mean() < 3  # the same picture, up to JPEG re-encoding noise


def test_mime_comes_from_the_bytes_not_the_name(tmp_path: Path) -> None:
    Image.new("RGB", (20, 10), "red").save(tmp_path / "photo.jpg", format="PNG")
    img = _one("photo.jpg", images_root=(str(tmp_path),))
    assert img.mime == "image/png"


def _bomb_png() -> bytes:
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    body = struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    end = struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))
    return b"\x89PNG\r\n\x1a\n" + body + end


def test_decompression_bomb_is_refused(tmp_path: Path) -> None:
    (tmp_path / "bomb.png").write_bytes(_bomb_png())
    with pytest.raises(MediaError) as err:
        _one("bomb.png", images_root=(str(tmp_path),))
    assert err.value.code == "image_too_large"


def test_a_lower_pixel_bound_is_configurable(tmp_path: Path) -> None:
    Image.new("RGB", (100, 100)).save(tmp_path / "a.png")
    pipeline = MediaPipeline(Options(workers=1), [str(tmp_path)], max_pixels=5000)
    with pytest.raises(MediaError) as err:
        pipeline.prepare([ImageRef("a.png")])
    assert err.value.code == "image_too_large"


@pytest.mark.parametrize("users_limit", [None, 10**12, 1000])
def test_a_conversion_leaves_pillows_global_limit_as_the_user_set_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, users_limit: int | None
) -> None:
    """Pillow's limit is the user's process-wide setting: a conversion decodes to its own
    (`max_pixels`) and leaves the global alone, so a notebook's later Image.open, or the
    output check in the same process, keeps its own limit."""
    Image.new("RGB", (100, 60)).save(tmp_path / "a.png")
    Image.new("RGB", (200, 100)).save(tmp_path / "b.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", users_limit)
    pipeline = MediaPipeline(
        Options(workers=1, max_image_side=32), [str(tmp_path)], max_pixels=10_000
    )
    if users_limit == 1000:  # Pillow refuses past twice its limit before our check
        with pytest.raises(MediaError):
            pipeline.prepare([ImageRef("a.png")])
    else:
        (image,) = pipeline.prepare([ImageRef("a.png")])
        assert (image.width, image.height) == (32, 19)
    with pytest.raises(MediaError) as err:
        pipeline.prepare([ImageRef("b.png")])
    assert err.value.code == "image_too_large"
    assert users_limit == Image.MAX_IMAGE_PIXELS


def test_truncated_jpeg_is_unreadable(tmp_path: Path) -> None:
    data = corpus_path(*G, "e88b91ff-car_door_640x480.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(MediaError) as err:
        _one("cut.jpg", images_root=(str(tmp_path),))
    assert err.value.code == "unreadable_image"


def test_not_an_image_is_unreadable(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n")
    with pytest.raises(MediaError) as err:
        _one("a.jpg", images_root=(str(tmp_path),))
    assert err.value.code == "unreadable_image"


def test_resize_makes_the_longer_side_n() -> None:
    img = _one(BUMPER, max_image_side=320)
    assert (img.width, img.height) == (320, 240)
    assert _decode(img).size == (320, 240)
    portrait = _one(FENDER, max_image_side=320)
    assert (portrait.width, portrait.height) == (240, 320)
    assert _decode(portrait).size == (240, 320)


def test_image_format_option_and_alpha_flattening() -> None:
    img = _one(PANEL, image_format="jpeg")
    assert img.mime == "image/jpeg" and _decode(img).mode == "RGB"
    with pytest.raises(ConfigError):
        _pipeline(image_format="webp", preset="fireworks")


def test_cmyk_and_palette_images_are_converted(tmp_path: Path) -> None:
    Image.new("CMYK", (30, 20), (0, 255, 255, 0)).save(tmp_path / "c.jpg")
    Image.new("P", (30, 20)).save(tmp_path / "p.png")
    c = _one("c.jpg", images_root=(str(tmp_path),))
    p = _one("p.png", images_root=(str(tmp_path),))
    assert _decode(c).mode == "RGB" and c.mime == "image/jpeg"
    assert _decode(p).mode == "RGB" and p.mime == "image/png"


def test_over_the_byte_limit_is_reencoded_smaller_with_a_warning() -> None:
    noise = Image.effect_noise((600, 600), 100).convert("RGB")
    out = io.BytesIO()
    noise.save(out, format="PNG")
    spec = PrepSpec(max_bytes=60_000)
    encoded = encode(out.getvalue(), spec, "noise.png")
    assert len(encoded.data) <= 60_000
    assert [code for code, _ in encoded.warnings] == ["image_reencoded_smaller"]
    assert Image.open(io.BytesIO(encoded.data)).size == (encoded.width, encoded.height)


def test_header_gives_upright_size_without_decoding() -> None:
    data = corpus_path(*G, "18c59e68-fender_exif6_640x480.jpg").read_bytes()
    header = read_header(data, "fender.jpg")
    assert (header.width, header.height, header.orientation) == (640, 480, 6)
    assert header.upright == (480, 640)


def test_reference_mode_keeps_the_uri_and_reads_only_a_missing_size() -> None:
    ref = ImageRef(CAR, width=640, height=480)
    [img] = _pipeline(image_mode="reference", box_format="xyxy-px").prepare([ref])
    assert (img.uri, img.data, img.width, img.height) == (CAR, None, 640, 480)
    [sized] = _pipeline(image_mode="reference", box_format="xyxy-px").prepare([ImageRef(FENDER)])
    assert (sized.width, sized.height) == (480, 640)
    [unsized] = _pipeline(image_mode="reference").prepare([ImageRef("/nowhere/x.jpg")])
    assert unsized.uri == "/nowhere/x.jpg"  # box_2d needs no size: nothing read


def test_reference_mode_with_a_uri_prefix() -> None:
    pipeline = _pipeline(image_mode="reference", image_uri_prefix="https://cdn.example.com/imgs/")
    [img] = pipeline.prepare([ImageRef(CAR)])
    assert img.uri == "https://cdn.example.com/imgs/e88b91ff-car_door_640x480.jpg"
    [remote] = pipeline.prepare([ImageRef("https://h.example/a.jpg")])
    assert remote.uri == "https://h.example/a.jpg"


def test_placeholder_mode_names_the_image() -> None:
    [img] = _pipeline(image_mode="placeholder").prepare([ImageRef(CAR, 640, 480)])
    assert (img.name, img.data, img.uri) == ("car_door_640x480.jpg", None, None)


def test_embed_of_a_remote_url_without_fetch_remote() -> None:
    with pytest.raises(MediaError) as err:
        _pipeline().prepare([ImageRef("https://h.example/a.jpg")])
    assert err.value.code == "remote_image"


def test_too_many_images_for_the_preset() -> None:
    with pytest.raises(MediaError) as err:
        _pipeline().prepare([ImageRef(CAR)] * 11)
    assert err.value.code == "too_many_images"


def test_recorded_size_mismatch_is_a_warning() -> None:
    pipeline = _pipeline()
    pipeline.prepare([ImageRef(FENDER, width=640, height=480)])
    assert [w.code for w in pipeline.warnings] == ["image_size_mismatch"]


def test_cvat_datumaro_exif_image() -> None:
    root = corpus_path("cvat", "datumaro", "_source_images")
    [img] = _pipeline([str(root)]).prepare([ImageRef("part_004_exif_orient6.jpg", 300, 400)])
    # CVAT README: stored 400x300 with orientation 6, recorded as 300x400
    assert (img.width, img.height) == (300, 400)
    assert _decode(img).size == (300, 400)


def _photo_jpeg(size: tuple[int, int], orientation: int = 1) -> bytes:
    """A noisy JPEG (so draft and full decodes differ in pixels) with an EXIF orientation."""
    img = Image.merge("RGB", [Image.effect_noise(size, 40) for _ in "RGB"])
    exif = Image.Exif()
    if orientation != 1:
        exif[0x0112] = orientation
    out = io.BytesIO()
    img.save(out, "JPEG", quality=85, exif=exif.tobytes())
    return out.getvalue()


@pytest.mark.parametrize(
    ("size", "orientation", "side", "expected"),
    [
        ((2001, 1003), 1, 300, (300, 150)),  # draft 1/4 to 501x251, then LANCZOS to 300x150
        ((1999, 1500), 1, 1024, (1024, 768)),  # 1999 // 1024 == 1: no draft reduction
        ((2003, 1001), 6, 250, (125, 250)),  # stored landscape, upright portrait
    ],
)
def test_jpeg_downscale_uses_draft_mode_and_gives_the_same_size_as_without(
    monkeypatch: pytest.MonkeyPatch,
    size: tuple[int, int],
    orientation: int,
    side: int,
    expected: tuple[int, int],
) -> None:
    from PIL import JpegImagePlugin

    data = _photo_jpeg(size, orientation)
    spec = PrepSpec(max_side=side)
    calls: list[tuple[int, int] | None] = []
    real_draft = JpegImagePlugin.JpegImageFile.draft

    def spy(self: Any, mode: str | None, want: tuple[int, int] | None) -> Any:
        calls.append(want)
        return real_draft(self, mode, want)

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    drafted = encode(data, spec, "photo.jpg")
    stored_want = expected[::-1] if orientation == 6 else expected
    assert calls == [stored_want]  # asked for the stored-orientation target size

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", lambda *a: None)
    full = encode(data, spec, "photo.jpg")
    assert (drafted.width, drafted.height) == (full.width, full.height) == expected
    a = Image.open(io.BytesIO(drafted.data))
    b = Image.open(io.BytesIO(full.data))
    assert a.size == b.size == expected
    diff = np.abs(np.asarray(a, dtype=int) - np.asarray(b, dtype=int))
    assert diff.mean() < 8  # the same picture; draft only changes the DCT-domain scaling


def test_preparing_images_loads_no_pillow_plugin_beyond_the_safe_formats(tmp_path: Path) -> None:
    """A conversion opens and writes images with the plugins of SAFE_FORMATS only: no EPS
    plugin (which can run Ghostscript) is even imported, and no time goes to loading the
    others. Run in a fresh interpreter, as this one has loaded plugins already."""
    import subprocess
    import sys

    script = """
import io, sys
from PIL import Image
from annoconvert.media import PrepSpec, encode
# JPEG first: its preparation registers the formats this script then saves its images in
for fmt, mode in (("JPEG", "RGB"), ("PNG", "RGBA"), ("WEBP", "RGB"), ("GIF", "P"),
                  ("BMP", "RGB"), ("TIFF", "RGB")):
    buf = io.BytesIO()
    Image.new(mode, (40, 30)).save(buf, fmt)
    encode(buf.getvalue(), PrepSpec(max_side=20), f"x.{fmt.lower()}")
loaded = sorted(m for m in sys.modules if m.startswith("PIL.") and m.endswith("ImagePlugin"))
print(" ".join(loaded))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    loaded = set(done.stdout.split())
    assert "PIL.EpsImagePlugin" not in loaded
    assert {"PIL.JpegImagePlugin", "PIL.PngImagePlugin", "PIL.TiffImagePlugin"} <= loaded
    assert len(loaded) <= 10  # Pillow has 40-odd plugins; Image.init() imports them all
