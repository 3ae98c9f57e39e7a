"""The express lane for CVAT detection writes what the general path writes, or stands aside.

As in test_express_lane.py, every export is converted with the lane and without it, and the
bytes, counts, rejects and warnings must match. The lane takes images whose shapes are all
plain boxes, in the first XML file only.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import pytest
from lxml import etree

from annoconvert import express
from annoconvert.options import Options
from annoconvert.readers import cvat_express
from tests.conftest import corpus_path
from tests.test_express_lane import _both, both_split
from tests.test_express_lane_boxes import BOX_OPTIONS, LANE_CLOSERS

REFERENCE = {"image_mode": "reference"}
SAMPLE = 200
"""Tasks read before the recipe is chosen and the lane opens (pipeline.AUTO_SAMPLE)."""
LABELS = ("scratch", "dent", "paint chip")


def _box(i: int, k: int, label: str, extra: str = "") -> str:
    xtl = (i * 7 + k * 13) % 500 + 0.25
    ytl = (i * 11 + k * 5) % 400 + 1 / 3
    xbr = xtl + 10 + (i + k) % 90 + 0.5
    ybr = ytl + 8 + (i * k) % 60
    return (
        f'<box label={quoteattr(label)} source="manual" occluded="{k % 2}" '
        f'xtl="{xtl:.2f}" ytl="{ytl:.2f}" xbr="{xbr:.2f}" ybr="{ybr:.2f}" z_order="{k}"{extra}>'
        '<attribute name="severity">high</attribute></box>'
    )


ODD_SHAPES: dict[int, str] = {
    1: '<polygon label="dent" points="10,10;50,10;30,40" occluded="0"/>',
    3: '<tag label="scratch" source="manual"/>',
    5: '<box label="dent" xtl="10" ytl="10" xbr="50" ybr="40" rotation="30"/>',
    7: '<box label="dent" xtl="10" ytl="10" xbr="50" ybr="40" rotation="360"/>',
    9: '<box label="dent" xtl="10" ytl="10" xbr="50" ybr="40" outside="1"/>',
    11: '<box label="rust" xtl="10" ytl="10" xbr="50" ybr="40"/>',  # undeclared: rejected
    13: '<box label="" xtl="10" ytl="10" xbr="50" ybr="40"/>',  # no label: rejected
    15: '<box label="dent" xtl="x" ytl="10" xbr="50" ybr="40"/>',  # rejected
    17: '<box label="dent" xtl="60" ytl="10" xbr="50" ybr="40"/>',  # inverted: rejected
    19: '<box label="dent" xtl="700" ytl="500" xbr="750" ybr="540"/>',  # off the image: rejected
    21: '<box label="dent" xtl="600.5" ytl="450.25" xbr="700" ybr="550"/>',  # across the edge
    23: "<!-- a comment -->",
    25: '<points label="scratch" points="30,40"/>',
    27: '<ellipse label="dent" cx="100" cy="100" rx="20" ry="10"/>',
    29: '<box label="dent" xtl="1" ytl="2" xbr="3" ybr="4"/>',  # thinner than a grid unit
    31: '<box label="dent" xtl="1e308" ytl="1e308" xbr="inf" ybr="inf"/>',  # rejected
}
"""Shapes put in image i when i % 40 is the key (beside its plain boxes)."""


def _image(i: int) -> str:
    """Image i: 0-3 plain boxes, and every 40 images a run of odd shapes and attributes."""
    odd = i % 40
    name = f"img_{i}.jpg"
    size = 'width="640" height="480"'
    shapes = [_box(i, k, LABELS[(i + k) % 3]) for k in range(i % 4)]
    if odd in ODD_SHAPES:
        shapes.append(ODD_SHAPES[odd])
    extra = ""
    if odd == 33:
        name = f"sub dir/ünï {i}.jpg"
    elif odd == 35:
        size = 'width="640.5" height="480"'  # rejected: not whole pixels
    elif odd == 37:
        size = ""  # no size to normalize its box by: rejected
    elif odd == 39:
        extra = ' subset="Train"'
    return f'<image id="{i - 1}" name={quoteattr(name)} {size}{extra}>{"".join(shapes)}</image>'


def _document(images: range, labels: tuple[str, ...] = LABELS) -> str:
    declared = "".join(f"<label><name>{quoteattr(lb)[1:-1]}</name></label>" for lb in labels)
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<annotations><version>1.1</version>'
        f"<meta><task><labels>{declared}</labels></task></meta>"
        + "\n".join(_image(i) for i in images)
        + "</annotations>"
    )


def _export(path: Path, images: range, labels: tuple[str, ...] = LABELS) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_document(images, labels), encoding="utf-8")
    return path


def _number(line: str) -> int:
    url: str = json.loads(line)["messages"][1]["content"][1]["image_url"]["url"]
    return int(url.rsplit("_", 1)[-1].rsplit(" ", 1)[-1].removesuffix(".jpg"))


def test_the_cvat_lane_writes_the_general_paths_bytes_counts_and_rejects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    export = _export(tmp_path / "export" / "annotations.xml", range(1, 1201))
    answered: list[bool] = []
    plain = cvat_express.plain_answer

    def counted(*args: Any) -> str | None:
        found = plain(*args)
        answered.append(found is not None)
        return found

    monkeypatch.setattr(cvat_express, "plain_answer", counted)
    lanes, out = _both(tmp_path, monkeypatch, export, "cvat", **REFERENCE)
    (lane,) = lanes
    assert lane is not None and lane.open and lane.verified == express.VERIFY
    lines = out.decode().splitlines()
    written = {_number(line) % 40 for line in lines}
    assert {1, 3, 5, 7, 9, 21, 23, 25, 27, 29, 33, 39} <= written
    assert not written & {11, 13, 15, 17, 19, 31, 35, 37}
    # the lane took every written image after the sample whose shapes are plain boxes
    plain_odd = {7, 9, 21, 23, 29, 33, 39}
    lane_images = [n for n in map(_number, lines) if n > SAMPLE]
    expected = [n for n in lane_images if n % 40 not in ODD_SHAPES or n % 40 in plain_odd]
    assert lane.lines == len(expected) > 600
    assert answered.count(True) >= lane.lines


def test_the_lane_takes_the_first_file_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A project export's two subsets declare other labels: the second file's system message
    names its own, and its images go the general way."""
    folder = tmp_path / "export"
    _export(folder / "a.xml", range(1, 601))
    _export(folder / "b.xml", range(601, 1201), tuple(lb.upper() for lb in LABELS))
    lanes, out = _both(tmp_path, monkeypatch, folder, "cvat", **REFERENCE)
    (lane,) = lanes
    assert lane is not None and lane.open
    lines = out.decode().splitlines()
    assert 0 < lane.lines < sum(1 for line in lines if SAMPLE < _number(line) <= 600)
    systems = {json.loads(line)["messages"][0]["content"][0]["text"] for line in lines}
    assert len(systems) == 2 and any("'PAINT CHIP'" in s for s in systems)


@pytest.mark.parametrize("split", ["by-subset", "train=0.8,test=0.2"])
def test_under_split_the_cvat_lane_tells_each_line_s_image_and_subset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, split: str
) -> None:
    """Images of no subset and, every 40, of subset `Train`; by subset or by fractions."""
    export = _export(tmp_path / "export" / "annotations.xml", range(1, 1001))
    lanes = both_split(tmp_path, monkeypatch, export, "cvat", split=split, **REFERENCE)
    (lane,) = lanes
    assert lane is not None and lane.open and lane.lines > 500


def test_under_a_uri_prefix_the_cvat_lane_writes_the_general_paths_uris_and_rejects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    export = _export(tmp_path / "export" / "annotations.xml", range(1, 601))
    images = tmp_path / "export" / "images"
    (images / "sub dir").mkdir(parents=True)
    (images / "Train").mkdir()
    for i in range(1, 601):
        if i % 7:
            name = f"sub dir/ünï {i}.jpg" if i % 40 == 33 else f"img_{i}.jpg"
            folder = images / "Train" if i % 40 == 39 else images
            (folder / name).write_bytes(b"not read in reference mode")
    lanes, out = _both(
        tmp_path, monkeypatch, export, "cvat", image_uri_prefix="gs://bucket/data", **REFERENCE
    )
    (lane,) = lanes
    assert lane is not None and lane.open and lane.lines > 200
    urls = [
        json.loads(line)["messages"][1]["content"][1]["image_url"]["url"]
        for line in out.decode().splitlines()
    ]
    assert "gs://bucket/data/img_1.jpg" in urls
    assert "gs://bucket/data/sub dir/ünï 73.jpg" in urls
    assert "gs://bucket/data/Train/img_79.jpg" in urls  # found by the image's subset
    assert not [u for u in urls if int(u.rsplit("_", 1)[-1].rsplit(" ", 1)[-1][:-4]) % 7 == 0]


@pytest.mark.parametrize("options", [*LANE_CLOSERS, *BOX_OPTIONS])
def test_the_cvat_lane_runs_under_the_options_it_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, options: dict[str, Any]
) -> None:
    """The box options keep it open, but for other box formats than box_2d (its plain answer
    writes box_2d rows only); the others keep the general path."""
    export = _export(tmp_path / "export" / "annotations.xml", range(1, 601))
    lanes, _ = _both(tmp_path, monkeypatch, export, "cvat", **options)
    if options in LANE_CLOSERS or options.get("box_format", "box_2d") != "box_2d":
        assert lanes == [None]
    else:
        (lane,) = lanes
        assert lane is not None and lane.open and lane.lines > 200


CORPUS_XML = [
    "datumaro/export_cvat_images_1.1/default.xml",
    "datumaro/converted_from_coco_instances/default.xml",
    "datumaro/converted_from_coco_all_tasks/default.xml",
    "datumaro/export_cvat_two_subsets/train.xml",
    "upstream/datumaro/cvat_dataset/for_images/export_project/annotations.xml",
    "upstream/cvat-docs/example_doc-v1.1_cvat-2.42_fmt1.1_annotation.xml",
]
"""CVAT for images files as Datumaro and CVAT write them: boxes with attributes, polygons,
masks, points, skeletons, tags, subsets."""


def _repeated(tmp_path: Path, rel: str, plain_only: bool = False) -> Path:
    """The corpus file with its images (only those of boxes alone, if `plain_only`)
    repeated to 420 or more under new names."""
    tree = etree.parse(str(corpus_path("cvat", *rel.split("/"))))
    root = tree.getroot()
    images = root.findall("image")
    for image in images:
        root.remove(image)
    if plain_only:
        images = [i for i in images if all(child.tag == "box" for child in i)]
        assert images, "the export has images of boxes only"
    for n in range(-(-420 // len(images))):
        for image in images:
            copy = etree.fromstring(etree.tostring(image))
            copy.set("name", f"{n}/{image.get('name')}")
            root.append(copy)
    export = tmp_path / "export" / "annotations.xml"
    export.parent.mkdir(parents=True)
    tree.write(str(export), encoding="utf-8", xml_declaration=True)
    return export


@pytest.mark.parametrize("rel", CORPUS_XML)
def test_a_real_cvat_export_gives_the_general_paths_lines_with_the_lane(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rel: str
) -> None:
    """A corpus file, its images repeated to 420 or more under new names: the same bytes,
    rejects and warnings with the lane as without it."""
    lanes, _ = _both(tmp_path, monkeypatch, _repeated(tmp_path, rel), "cvat", **REFERENCE)
    (lane,) = lanes
    assert lane is not None and lane.open


def test_a_real_box_export_takes_the_lane(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Datumaro's CVAT export of a box project: its plain-box images go through the lane."""
    export = _repeated(tmp_path, "datumaro/export_cvat_images_1.1/default.xml", plain_only=True)
    lanes, out = _both(tmp_path, monkeypatch, export, "cvat", **REFERENCE)
    (lane,) = lanes
    assert lane is not None and lane.open
    assert lane.lines == len(out.splitlines()) - SAMPLE > 200


def test_a_cvat_lane_that_disagrees_with_the_general_path_closes_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = cvat_express.box_detection

    def wrong(options: Options, switch: express.Switch) -> express.Extract:
        extract = real(options, switch)

        def lying(item: Any) -> tuple[int | str, tuple[str, ...], Any] | None:
            found = extract(item)
            return None if found is None else (found[0], (str(found[1][0]), "[]"), found[2])

        return lying

    monkeypatch.setattr(cvat_express, "box_detection", wrong)
    export = _export(tmp_path / "export" / "annotations.xml", range(1, 601))
    lanes, _ = _both(tmp_path, monkeypatch, export, "cvat", **REFERENCE)
    (lane,) = lanes
    assert lane is not None and not lane.open
    assert lane.lines <= 1  # an image with nothing to find may pass the check


HOSTILE = [
    "", " ", "x", "nan", "inf", "-inf", "1e308", "-1", "0", "1e-300", "10**20", "640.0",
    "0x10", "1_000", "٣", "1,5", "+3", " 12 ", "true", "360", "-0", "1e400",
]  # fmt: skip
"""Values put where an image's or a box's attribute belongs."""


def _hostile_export(path: Path, seed: int) -> Path:
    """400 small images with boxes in and around the frame; one attribute in ten of the
    boxes and one in twenty of the images replaced by an odd value."""
    pick = random.Random(seed)
    parts = []
    for i in range(1, 401):
        image = {"id": str(i), "name": f"i{i}.jpg", "width": "64", "height": "48"}
        if pick.random() < 0.05:
            image[pick.choice(["width", "height", "name"])] = pick.choice(HOSTILE)
        boxes = []
        for _ in range(pick.randint(0, 3)):
            xtl, ytl = pick.uniform(-10, 70), pick.uniform(-10, 50)
            box = {
                "label": pick.choice(["a", "b"]),
                "xtl": f"{xtl:.3f}",
                "ytl": f"{ytl:.3f}",
                "xbr": f"{xtl + pick.uniform(0.1, 30):.3f}",
                "ybr": f"{ytl + pick.uniform(0.1, 30):.3f}",
                "occluded": "0",
            }
            if pick.random() < 0.1:
                box[pick.choice(["xtl", "ytl", "xbr", "ybr", "rotation", "outside", "label"])] = (
                    pick.choice(HOSTILE)
                )
            boxes.append("<box " + " ".join(f"{k}={quoteattr(v)}" for k, v in box.items()) + "/>")
        attrs = " ".join(f"{k}={quoteattr(v)}" for k, v in image.items())
        parts.append(f"<image {attrs}>{''.join(boxes)}</image>")
    path.parent.mkdir(parents=True)
    path.write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n<annotations><version>1.1</version>'
        "<meta><task><labels><label><name>a</name></label><label><name>b</name></label>"
        "</labels></task></meta>" + "\n".join(parts) + "</annotations>",
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_boxes_of_any_value_get_the_same_lines_and_rejects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    export = _hostile_export(tmp_path / "export" / "annotations.xml", seed)
    lanes, _ = _both(tmp_path, monkeypatch, export, "cvat", **REFERENCE)
    (lane,) = lanes
    assert lane is not None and lane.open and lane.lines > 100
