"""CVAT XML reader against the corpus: every valid file reads, 1.0 files fail clearly, geometry
checked by hand, video frames, unsafe XML, zip and folder inputs."""

from __future__ import annotations

import time
import zipfile
from pathlib import Path

import pytest
from PIL import Image, ImageOps

from annoconvert import geometry
from annoconvert.errors import UnsafeInputError, UnsupportedVersionError
from annoconvert.model import Box, Mask, Points, Polyline, Reject, Task
from annoconvert.options import Options
from annoconvert.readers.cvat import READER
from tests.conftest import corpus_path

VALID = [
    "datumaro/converted_from_coco_all_tasks/default.xml",
    "datumaro/converted_from_coco_instances/default.xml",
    "datumaro/converted_from_coco_instances_allow_undeclared_attrs/default.xml",
    "datumaro/export_cvat_images_1.1/default.xml",
    "datumaro/export_cvat_two_subsets/train.xml",
    "datumaro/export_cvat_two_subsets/val.xml",
    "upstream/cvat-ai-datumaro/cvat_dataset/for_images/train.xml",
    "upstream/cvat-ai-datumaro/cvat_dataset/for_video/annotations.xml",
    "upstream/cvat-docs/example_doc-v1.1_2020-10_fmt1.1_annotation.xml",
    "upstream/cvat-docs/example_doc-v1.1_2020-10_fmt1.1_interpolation.xml",
    "upstream/cvat-docs/example_doc-v1.1_cvat-2.42_fmt1.1_annotation.xml",
    "upstream/cvat-docs/example_doc-v1.1_cvat-2.42_fmt1.1_interpolation.xml",
    "upstream/datumaro/cvat_dataset/for_images/export_project/annotations.xml",
    "upstream/datumaro/cvat_dataset/for_images/export_task/train.xml",
    "upstream/datumaro/cvat_dataset/for_video/annotations.xml",
]
VERSION_1_0 = [
    "upstream/cvat-docs/example_doc-v1.0_2018-06_fmt1_annotation.xml",
    "upstream/cvat-docs/example_doc-v1.0_2018-06_fmt1_interpolation.xml",
]


def read(path: Path | str) -> list[Task | Reject]:
    return list(READER.read([str(path)], Options()))


def tasks_by_id(path: Path | str) -> dict[object, Task]:
    items = read(path)
    assert not [i for i in items if isinstance(i, Reject)]
    return {t.id: t for t in items if isinstance(t, Task)}


def test_corpus_inventory_is_complete() -> None:
    root = corpus_path("cvat")
    on_disk = {p.relative_to(root).as_posix() for p in root.rglob("*.xml")}
    assert on_disk == set(VALID) | set(VERSION_1_0)


@pytest.mark.parametrize("rel", VALID)
def test_valid_corpus_file_converts(rel: str) -> None:
    items = read(corpus_path("cvat", rel))
    tasks = [i for i in items if isinstance(i, Task)]
    assert tasks and len(tasks) == len(items)
    for t in tasks:
        assert t.source.format == "cvat" and len(t.annotations) == 1
        assert t.annotations[0].annotator is None
        assert t.images[0].uri


@pytest.mark.parametrize("rel", VERSION_1_0)
def test_format_1_0_is_refused_by_name(rel: str) -> None:
    path = corpus_path("cvat", rel)
    with pytest.raises(UnsupportedVersionError) as info:
        read(path)
    assert "'1.0'" in str(info.value) and str(path) in str(info.value)


def test_rotated_box_and_exif_image_by_hand() -> None:
    tasks = tasks_by_id(corpus_path("cvat", "datumaro/export_cvat_images_1.1/default.xml"))
    # part_005.jpg (800x600): xtl=140 ytl=380 xbr=260 ybr=420 rotation=30 about the centre.
    box = next(r for r in tasks["part_005.jpg"].annotations[0].regions if isinstance(r, Box))
    assert (box.x, box.y, box.width, box.height) == pytest.approx(
        (140 / 800, 380 / 600, 120 / 800, 40 / 600)
    )
    assert box.rotation == 30.0
    # Centre (200, 400), half sizes (60, 20). The top-left corner offset (-60, -20) turned 30°
    # clockwise on screen (y down): x' = -60cos30 + 20sin30 = -41.96, y' = -60sin30 - 20cos30
    # = -47.32, so the corner is at (158.04, 352.68); the centre stays put.
    tl, _tr, br, _bl = geometry.box_corners(
        box.x, box.y, box.width, box.height, box.rotation, 800, 600
    )
    assert tl == pytest.approx((158.04, 352.68), abs=0.01)
    assert br == pytest.approx((241.96, 447.32), abs=0.01)
    # part_004_exif_orient6.jpg: stored 400x300 with EXIF orientation 6 (rotate 90° cw to view);
    # CVAT records the upright size 300x400 and the box xtl=50 ytl=40 xbr=150 ybr=100 in it.
    exif = tasks["part_004_exif_orient6.jpg"]
    assert (exif.images[0].width, exif.images[0].height) == (300, 400)
    img_path = corpus_path(
        "cvat", "datumaro/export_cvat_images_1.1/images/part_004_exif_orient6.jpg"
    )
    with Image.open(img_path) as img:
        assert img.size == (400, 300)
        assert ImageOps.exif_transpose(img).size == (300, 400)
    b = exif.annotations[0].regions[0]
    assert isinstance(b, Box)
    assert (b.x, b.y, b.width, b.height) == pytest.approx((50 / 300, 40 / 400, 100 / 300, 60 / 400))


def test_mask_rle_decodes_to_the_stain() -> None:
    tasks = tasks_by_id(corpus_path("cvat", "datumaro/export_cvat_images_1.1/default.xml"))
    masks = [r for r in tasks["part_003.png"].annotations[0].regions if isinstance(r, Mask)]
    bitmap = mask_bitmap(masks[0])
    ys, xs = bitmap.nonzero()
    # the COCO README verified this stain: x 120-190, y 100-160, 3291 pixels
    assert (xs.min(), xs.max(), ys.min(), ys.max(), len(xs)) == (120, 190, 100, 160, 3291)


def mask_bitmap(mask: Mask) -> object:
    """Full-image bitmap of a model Mask (row-major runs over its box, background first)."""
    import numpy as np

    flat = np.zeros(mask.mask_width * mask.mask_height, dtype=np.uint8)
    pos, value = 0, 0
    for run in mask.counts:
        flat[pos : pos + run] = value
        pos += run
        value ^= 1
    full = np.zeros((mask.image_height, mask.image_width), dtype=np.uint8)
    full[mask.top : mask.top + mask.mask_height, mask.left : mask.left + mask.mask_width] = (
        flat.reshape(mask.mask_height, mask.mask_width)
    )
    return full


def test_real_video_export_frames() -> None:
    path = corpus_path("cvat", "upstream/datumaro/cvat_dataset/for_video/annotations.xml")
    tasks = tasks_by_id(path)
    # frame 16: every shape written there is outside="1" -> no object, so no task (the issue:
    # one example per frame that has objects)
    assert list(tasks) == [10, 13]
    assert [t.images[0].uri for t in tasks.values()] == [
        "frame_000010.png",
        "frame_000013.png",
    ]
    for t in tasks.values():
        assert (t.images[0].width, t.images[0].height) == (25, 20)  # <original_size>
    f10 = tasks[10].annotations[0].regions
    assert [type(r) for r in f10] == [Box, Points]
    box = f10[0]
    assert isinstance(box, Box) and box.labels == ("II",)
    assert (box.x, box.y, box.width, box.height) == pytest.approx((3 / 25, 4 / 20, 7 / 25, 1 / 20))
    assert box.attributes and box.attributes["occluded"] is True
    assert f10[1].attributes and f10[1].attributes["hgl"] == "hgkf"
    # frame 13: the box and the points are outside="1" there; only the polyline is visible
    f13 = tasks[13].annotations[0].regions
    assert [type(r) for r in f13] == [Polyline]
    for root in READER.default_image_roots([str(path)]):
        assert (Path(root) / "frame_000010.png").is_file()


def test_skeleton_track_in_cvat_fork_video() -> None:
    path = corpus_path("cvat", "upstream/cvat-ai-datumaro/cvat_dataset/for_video/annotations.xml")
    tasks = tasks_by_id(path)
    skel = [r for r in tasks[13].annotations[0].regions if isinstance(r, Points) and r.names]
    # point "3" is outside from frame 13 on
    assert skel and skel[0].names == ("1", "2", "4")


def test_project_export_subsets_and_roots() -> None:
    path = corpus_path(
        "cvat", "upstream/datumaro/cvat_dataset/for_images/export_project/annotations.xml"
    )
    tasks = [t for t in read(path) if isinstance(t, Task)]
    assert sorted({t.subset for t in tasks}) == ["Test", "Train", "Validation"]
    roots = READER.default_image_roots([str(path)])
    assert any(r.endswith("images/Train") for r in roots)


def test_zip_input_and_zip_roots(tmp_path: Path) -> None:
    src = corpus_path("cvat", "datumaro/export_cvat_images_1.1")
    zpath = tmp_path / "task.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for p in sorted(src.rglob("*")):
            if p.is_file():
                zf.write(p, p.relative_to(src).as_posix())
    tasks = [t for t in read(zpath) if isinstance(t, Task)]
    assert len(tasks) == 7 and tasks[0].source.file == f"{zpath}!default.xml"
    assert READER.default_image_roots([str(zpath)]) == [f"{zpath}!images"]


def test_two_subset_files_in_one_folder_read_in_sorted_order() -> None:
    path = corpus_path("cvat", "datumaro/export_cvat_two_subsets")
    subsets = [t.subset for t in read(path) if isinstance(t, Task)]
    assert subsets == ["train"] * 4 + ["val"] * 3


XXE = """<?xml version="1.0"?>
<!DOCTYPE annotations [<!ENTITY xxe SYSTEM "file://{secret}">]>
<annotations><version>1.1</version><meta><task><labels/></task></meta>
<image id="0" name="&xxe;" width="10" height="10"><tag label="&xxe;"/></image></annotations>
"""
LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE annotations [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
        for i in range(1, 10)
    )
    + ']>\n<annotations><version>1.1</version><image id="0" name="&lol9;" width="1" height="1"/>'
    "</annotations>"
)


@pytest.mark.parametrize("kind", ["xxe", "laughs"])
def test_unsafe_xml_is_refused_fast_without_expansion(tmp_path: Path, kind: str) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-7f3a")
    doc = XXE.format(secret=secret) if kind == "xxe" else LAUGHS
    path = tmp_path / "annotations.xml"
    path.write_text(doc)
    start = time.perf_counter()
    with pytest.raises(UnsafeInputError) as info:
        read(path)
    assert time.perf_counter() - start < 1.0
    assert "TOPSECRET" not in str(info.value) and "lollol" not in str(info.value)
    assert info.value.file == str(path)


def _images_xml(path: Path, sizes: list[tuple[str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    images = "".join(
        f'<image id="{i}" name="{i:06d}.jpg" width="{w}" height="{h}">'
        f'<box label="car" occluded="0" xtl="1" ytl="2" xbr="5" ybr="6" z_order="0"/></image>\n'
        for i, (w, h) in enumerate(sizes)
    )
    path.write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n<annotations><version>1.1</version><meta><task>'
        "<labels><label><name>car</name></label></labels></task></meta>\n"
        f"{images}</annotations>",
        encoding="utf-8",
    )
    return path


def test_image_sizes_read_as_whole_pixels(tmp_path: Path) -> None:
    sizes = [("640", "480"), ("640.0", " 480 "), ("\uff16\uff14\uff10", "480")]
    items = read(_images_xml(tmp_path / "annotations.xml", sizes))
    assert all(isinstance(i, Task) for i in items)
    got = [(t.images[0].width, t.images[0].height) for t in items if isinstance(t, Task)]
    # full-width digits are digits to Python's int and float alike
    assert got == [(640, 480), (640, 480), (640, 480)]


@pytest.mark.parametrize(
    ("width", "shown"),
    [("0", "'0'"), ("12.5", "'12.5'"), ("-3", "'-3'"), ("9" * 5000, "'999")],
)
def test_image_size_that_is_not_whole_pixels_rejects_the_image(
    tmp_path: Path, width: str, shown: str
) -> None:
    items = read(_images_xml(tmp_path / "annotations.xml", [("640", "480"), (width, "480")]))
    assert isinstance(items[0], Task)
    reject = items[1]
    assert isinstance(reject, Reject)
    assert (reject.task, reject.code, reject.locator) == (
        "000001.jpg",
        "bad_image_size",
        "image[1]@width",
    )
    assert shown in reject.reason


def _peak_bytes_reading(path: Path) -> int:
    import tracemalloc

    for _ in READER.read([str(path)], Options()):  # warm up: lazy imports are not per image
        break
    tracemalloc.start()
    try:
        count = sum(1 for _ in READER.read([str(path)], Options()))
        return tracemalloc.get_traced_memory()[1] if count else 0
    finally:
        tracemalloc.stop()


def test_memory_stays_flat_as_images_grow(tmp_path: Path) -> None:
    """The reader keeps no per-image state: ten times the images, about the same peak."""
    small = _images_xml(tmp_path / "small" / "annotations.xml", [("640", "480")] * 1_000)
    big = _images_xml(tmp_path / "big" / "annotations.xml", [("640", "480")] * 10_000)
    assert _peak_bytes_reading(big) < 1.2 * _peak_bytes_reading(small) + 256 * 1024


def _one_box(tmp_path: Path, box_attrs: str) -> Task | Reject:
    path = tmp_path / "annotations.xml"
    path.write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n<annotations><version>1.1</version>'
        '<image id="0" name="a.jpg" width="200" height="100">'
        f'<box label="car" {box_attrs}/></image></annotations>',
        encoding="utf-8",
    )
    (item,) = read(path)
    return item


@pytest.mark.parametrize(
    ("attrs", "locator", "words"),
    [
        ('ytl="0" xbr="10" ybr="10"', "image[0].box[0]@xtl", "None"),
        ('xtl="0" ytl="abc" xbr="10" ybr="10"', "image[0].box[0]@ytl", "'abc'"),
        ('xtl="0" ytl="0" xbr="inf" ybr="10"', "image[0].box[0]@xbr", "'inf'"),
        ('xtl="0" ytl="0" xbr="10" ybr="nan"', "image[0].box[0]@ybr", "'nan'"),
        ('xtl="10" ytl="0" xbr="10" ybr="10"', "image[0].box[0]", "width (xbr - xtl)"),
        ('xtl="0" ytl="20" xbr="10" ybr="10"', "image[0].box[0]", "height (ybr - ytl)"),
        ('xtl="0" ytl="0" xbr="10" ybr="10" rotation=""', "image[0].box[0]@rotation", "''"),
        # the first wrong value is named, in reading order: corners, then size, then rotation
        ('xtl="x" ytl="0" xbr="-5" ybr="10" rotation="y"', "image[0].box[0]@xtl", "'x'"),
        ('xtl="10" ytl="0" xbr="0" ybr="10" rotation="y"', "image[0].box[0]", "width"),
    ],
)
def test_bad_box_value_rejects_the_image_naming_it(
    tmp_path: Path, attrs: str, locator: str, words: str
) -> None:
    item = _one_box(tmp_path, attrs)
    assert isinstance(item, Reject)
    assert (item.task, item.code, item.locator) == ("a.jpg", "bad_geometry", locator)
    assert words in item.reason


def test_box_values_at_the_float_limits_still_read(tmp_path: Path) -> None:
    # each value is finite though their sum is not: the box is read, not rejected
    item = _one_box(tmp_path, 'xtl="-1e308" ytl="-1e308" xbr="1e308" ybr="1e308" rotation="30"')
    assert isinstance(item, Task)
    (box,) = item.annotations[0].regions
    assert isinstance(box, Box) and box.rotation == 30.0
    item = _one_box(tmp_path, 'xtl="20" ytl="10" xbr="120" ybr="60"')
    assert isinstance(item, Task)
    (box,) = item.annotations[0].regions
    assert isinstance(box, Box)
    assert (box.x, box.y, box.width, box.height, box.rotation) == (0.1, 0.1, 0.5, 0.5, 0.0)
