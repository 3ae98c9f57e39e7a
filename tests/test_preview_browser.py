"""The preview page in a real headless Chromium: paging, label filter, boxes where they belong.

Needs Debian's chromium + chromium-driver (/usr/bin/chromium, /usr/bin/chromedriver). Under CI
(CI set) a missing browser fails the test; elsewhere it skips.
"""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from annoconvert.preview import build_page
from tests.test_preview_page import BOX_PX, frame_png, write_jsonl

WINDOW = (1200, 1000)


def _binary(*names: str) -> str | None:
    for name in names:
        found = shutil.which(name) or (
            f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None
        )
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    chromium = _binary("chromium", "chromium-browser", "google-chrome")
    driver_path = _binary("chromedriver")
    if chromium is None or driver_path is None:
        if os.environ.get("CI"):
            pytest.fail(
                "chromium / chromedriver missing under CI: apt-get install chromium chromium-driver"
            )
        pytest.skip("chromium / chromedriver not installed")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--force-device-scale-factor=1",
        "--hide-scrollbars",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    driver.set_page_load_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    folder = tmp_path_factory.mktemp("preview")
    jsonl = folder / "train.jsonl"
    labels = write_jsonl(jsonl, 25, frame_png())
    html_file = folder / "preview.html"
    html_file.write_text(build_page(jsonl.open("rb"), title="train.jsonl"), encoding="utf-8")
    return html_file, labels


def _count(driver: Any) -> int:
    return int(
        driver.execute_script("return document.querySelectorAll('#examples .example').length")
    )


def test_paging_and_label_filter(browser: Any, page: tuple[Path, list[str]]) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    html_file, labels = page
    browser.get(html_file.as_uri())
    assert _count(browser) == 20
    assert browser.find_element(By.ID, "pageinfo").text == "page 1 / 2 · 25 examples"
    browser.find_element(By.ID, "next").click()
    assert _count(browser) == 5
    Select(browser.find_element(By.ID, "filter")).select_by_value("dent")
    assert _count(browser) == labels.count("dent") == 9
    boxes = browser.execute_script(
        "return [...document.querySelectorAll('#examples .box')].map(b => b.dataset.label)"
    )
    assert boxes == ["dent"] * 9
    # nothing was fetched: no resource entries other than inline data
    fetched = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
        ".filter(n => !n.startsWith('data:'))"
    )
    assert fetched == []


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    h = hex_colour.lstrip("#")
    return (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16))


def test_box_is_drawn_over_the_source_box(browser: Any, page: tuple[Path, list[str]]) -> None:
    html_file, _ = page
    browser.get(html_file.as_uri())
    rect = browser.execute_script(
        """
        const img = document.querySelector('#examples .example img');
        img.scrollIntoView({block: 'center'});
        const r = img.getBoundingClientRect();
        return {left: r.left, top: r.top, width: r.width, height: r.height,
                natural: [img.naturalWidth, img.naturalHeight], dpr: window.devicePixelRatio,
                colour: JSON.parse(document.getElementById('preview-data').textContent)
                        .colours[document.querySelector('#examples .box').dataset.label]};
        """
    )
    assert rect["dpr"] == 1
    assert rect["natural"] == [400, 300]
    assert (rect["width"], rect["height"]) == (400, 300)  # shown at its natural size
    shot = Image.open(io.BytesIO(browser.get_screenshot_as_png())).convert("RGB")
    left, top = round(rect["left"]), round(rect["top"])
    colour = _rgb(rect["colour"])
    x0, y0, x1, y1 = BOX_PX  # where the frame is in the image's own pixels
    mid_y, mid_x = top + (y0 + y1) // 2, left + (x0 + x1) // 2
    # the drawn 2-px border lies on the outer 2 px of the image's 4-px black frame ...
    assert shot.getpixel((left + x0, mid_y)) == colour
    assert shot.getpixel((left + x0 + 1, mid_y)) == colour
    assert shot.getpixel((left + x1 - 1, mid_y)) == colour
    assert shot.getpixel((mid_x, top + y1 - 1)) == colour
    # ... the inner 2 px of the frame still show black, and outside / inside is white
    assert shot.getpixel((left + x0 + 3, mid_y)) == (0, 0, 0)
    assert shot.getpixel((left + x1 - 4, mid_y)) == (0, 0, 0)
    assert shot.getpixel((left + x0 - 2, mid_y)) == (255, 255, 255)
    assert shot.getpixel((mid_x, mid_y)) == (255, 255, 255)
