"""Finding images under the roots: Label Studio URIs, zips, ambiguity, escapes, remote URLs."""

from __future__ import annotations

import http.server
import os
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from annoconvert.errors import ConfigError, MediaError
from annoconvert.media import ImageStore, display_name
from annoconvert.media import resolve as resolve_mod
from tests.conftest import corpus_path


def _code(store: ImageStore, uri: str) -> str:
    with pytest.raises(MediaError) as err:
        store.resolve(uri)
    return err.value.code


def test_label_studio_upload_found_by_its_upload_name() -> None:
    root = corpus_path("labelstudio", "g_object_detection", "images")
    store = ImageStore([str(root)])
    found = store.resolve("/data/upload/13/e88b91ff-car_door_640x480.jpg")
    assert found.kind == "file"
    assert found.location == os.path.realpath(root / "e88b91ff-car_door_640x480.jpg")
    assert found.relpath == "e88b91ff-car_door_640x480.jpg"


def test_label_studio_upload_found_without_its_hash_prefix() -> None:
    root = corpus_path("labelstudio", "source_images")
    store = ImageStore([str(root)])
    found = store.resolve("/data/upload/13/18c59e68-fender_exif6_640x480.jpg")
    assert Path(found.location).name == "fender_exif6_640x480.jpg"


def test_label_studio_local_files_url_is_decoded() -> None:
    root = corpus_path("labelstudio", "source_images")
    store = ImageStore([str(root)])
    found = store.resolve("/data/local-files/?d=thermal%2Fthermal_hot_320x240.jpg")
    assert found.relpath == "thermal/thermal_hot_320x240.jpg"
    assert store.read(found) == (root / "thermal" / "thermal_hot_320x240.jpg").read_bytes()


def test_upload_under_a_label_studio_media_folder(tmp_path: Path) -> None:
    (tmp_path / "upload" / "13").mkdir(parents=True)
    (tmp_path / "upload" / "13" / "0123abcd-a.jpg").write_bytes(b"x")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "0123abcd-a.jpg").write_bytes(b"y")
    store = ImageStore([str(tmp_path)])
    # the full relative path wins over the (here ambiguous) base name
    assert store.resolve("/data/upload/13/0123abcd-a.jpg").relpath == "upload/13/0123abcd-a.jpg"


def test_relative_path_under_a_parent_root(tmp_path: Path) -> None:
    (tmp_path / "export" / "images").mkdir(parents=True)
    (tmp_path / "export" / "images" / "a.png").write_bytes(b"x")
    store = ImageStore([str(tmp_path)])
    assert store.resolve("images/a.png").relpath == "export/images/a.png"


def test_two_files_with_one_base_name_are_ambiguous(tmp_path: Path) -> None:
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "x.jpg").write_bytes(sub.encode())
    store = ImageStore([str(tmp_path)])
    assert _code(store, "x.jpg") == "ambiguous_image"
    assert store.resolve("a/x.jpg").relpath == "a/x.jpg"


def test_the_same_file_through_two_roots_is_not_ambiguous(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x.jpg").write_bytes(b"x")
    store = ImageStore([str(tmp_path), str(tmp_path / "d")])
    assert store.resolve("x.jpg").relpath == "x.jpg"


def test_missing_image(tmp_path: Path) -> None:
    store = ImageStore([str(tmp_path)])
    assert _code(store, "nope.jpg") == "missing_image"
    assert _code(ImageStore([]), "nope.jpg") == "missing_image"


def test_dot_dot_outside_roots(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "secret.jpg").write_bytes(b"s")
    store = ImageStore([str(root)])
    assert _code(store, "../secret.jpg") == "image_outside_roots"
    assert _code(store, "sub/../../secret.jpg") == "image_outside_roots"


def test_absolute_path_outside_and_inside_roots(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "in.jpg").write_bytes(b"i")
    (tmp_path / "out.jpg").write_bytes(b"o")
    store = ImageStore([str(root)])
    assert _code(store, str(tmp_path / "out.jpg")) == "image_outside_roots"
    assert store.resolve(str(root / "in.jpg")).relpath == "in.jpg"


def test_dot_dot_path_may_still_name_a_file_inside_the_roots(tmp_path: Path) -> None:
    # Label Studio's COCO export writes machine paths like ../ls-work/data/media/upload/13/x
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "0123abcd-a.jpg").write_bytes(b"x")
    store = ImageStore([str(tmp_path)])
    found = store.resolve("../ls-work/data/media/upload/13/0123abcd-a.jpg")
    assert found.relpath == "images/0123abcd-a.jpg"


def test_symlink_escaping_the_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "secret.jpg").write_bytes(b"s")
    (root / "link.jpg").symlink_to(tmp_path / "secret.jpg")
    (root / "dir").symlink_to(tmp_path, target_is_directory=True)
    store = ImageStore([str(root)])
    assert _code(store, "link.jpg") == "image_outside_roots"
    assert _code(store, "dir/secret.jpg") == "image_outside_roots"


def test_links_inside_the_root_are_followed_and_what_is_not_a_file_is_missing(
    tmp_path: Path,
) -> None:
    """Only regular files are images, through links that stay inside the root: a folder, a
    link to a folder or a name with a NUL is not there, and a dangling link cannot be read."""
    root = tmp_path / "root"
    (root / "real").mkdir(parents=True)
    (root / "real" / "a.jpg").write_bytes(b"a" * 10)
    (root / "alias.jpg").symlink_to(root / "real" / "a.jpg")
    (root / "folder.jpg").mkdir()
    (root / "dangling.jpg").symlink_to(root / "nowhere.jpg")
    (root / "to_folder.jpg").symlink_to(root / "real", target_is_directory=True)
    store = ImageStore([str(root)])
    found = store.resolve("alias.jpg")
    assert found.location == os.path.realpath(root / "real" / "a.jpg")
    assert store.read(found) == b"a" * 10
    for name in ("folder.jpg", "to_folder.jpg", "a\x00.jpg"):
        assert _code(store, name) == "missing_image", name
    with pytest.raises(MediaError) as err:
        store.read(store.resolve("dangling.jpg"))
    assert err.value.code == "unreadable_image"


@pytest.mark.parametrize("size", [0, 1, 99, 100])
def test_a_file_up_to_the_cap_is_read_whole(tmp_path: Path, size: int) -> None:
    data = bytes(range(256)) * (size // 256 + 1)
    (tmp_path / "a.jpg").write_bytes(data[:size])
    store = ImageStore([str(tmp_path)], max_bytes=100)
    assert store.read(store.resolve("a.jpg")) == data[:size]


def test_zip_root_is_read_in_place(tmp_path: Path) -> None:
    archive = tmp_path / "images.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("export/images/a.jpg", b"jpeg bytes")
    store = ImageStore([str(archive)])
    found = store.resolve("/data/upload/3/0123abcd-a.jpg")
    assert found.kind == "zip" and found.member == "export/images/a.jpg"
    assert store.read(found) == b"jpeg bytes"
    assert found.display == f"{archive}!export/images/a.jpg"
    assert not (tmp_path / "export").exists()


def test_roots_are_indexed_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(5):
        (tmp_path / f"{i}.jpg").write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "deep.jpg").write_bytes(b"x")
    calls: list[str] = []
    real_walk = os.walk

    def counting_walk(top: str) -> Iterator[tuple[str, list[str], list[str]]]:
        calls.append(top)
        return real_walk(top)

    monkeypatch.setattr(resolve_mod.os, "walk", counting_walk)
    store = ImageStore([str(tmp_path)])
    for _ in range(3):
        assert store.resolve("deep.jpg").relpath == "sub/deep.jpg"
        store.resolve("other/3.jpg")
    assert calls == [str(tmp_path)]


def test_no_file_is_looked_for_twice_in_a_folder_that_is_not_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a CVAT-layout COCO export: the roots are images/default and images, and the reader's
    # hint default/<name> is tried under images/default first, where it is not
    images = tmp_path / "images"
    (images / "default").mkdir(parents=True)
    for i in range(20):
        (images / "default" / f"{i}.jpg").write_bytes(b"x")
    store = ImageStore([str(images / "default"), str(images)])
    looked: list[str] = []
    real_lstat = os.lstat

    def counting_lstat(path: str) -> os.stat_result:
        looked.append(path)
        return real_lstat(path)

    monkeypatch.setattr(resolve_mod.os, "lstat", counting_lstat)
    found = [store.resolve(f"{i}.jpg", hint=f"default/{i}.jpg").location for i in range(20)]
    files = [p for p in looked if p.endswith(".jpg")]  # (realpath lstats each folder too)
    assert found == [os.path.realpath(images / "default" / f"{i}.jpg") for i in range(20)]
    nested = str(images / "default" / "default")
    assert [p for p in files if p.startswith(nested + os.sep)] == [os.path.join(nested, "0.jpg")]
    assert len(files) == 20 + 1  # each file once, and the first miss
    looked.clear()
    # a missing file in a folder that is there is looked for again each time it is asked for
    absent = str(images / "default" / "absent.jpg")
    counts = []
    for _ in range(2):
        with pytest.raises(MediaError):
            store.resolve("absent.jpg", hint="default/absent.jpg")
        counts.append(looked.count(absent))
    assert counts[0] >= 1 and counts[1] == 2 * counts[0]


def test_bad_root_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        ImageStore([str(tmp_path / "absent")])


def test_read_is_capped(tmp_path: Path) -> None:
    (tmp_path / "big.jpg").write_bytes(b"x" * 101)
    store = ImageStore([str(tmp_path)], max_bytes=100)
    with pytest.raises(MediaError) as err:
        store.read(store.resolve("big.jpg"))
    assert err.value.code == "image_too_large"


def test_display_name_drops_the_upload_prefix() -> None:
    assert display_name("/data/upload/13/e88b91ff-car_door.jpg") == "car_door.jpg"
    assert display_name("/data/local-files/?d=thermal/hot.jpg") == "hot.jpg"
    assert display_name("https://h/x/product_001.jpg?sig=1") == "product_001.jpg"
    assert display_name("images/0123abcd-a.jpg") == "0123abcd-a.jpg"


def test_remote_urls_need_fetch_remote() -> None:
    store = ImageStore([])
    located = store.resolve("https://example.invalid/a.jpg")
    with pytest.raises(MediaError) as err:
        store.read(located)
    assert err.value.code == "remote_image"
    assert "--fetch-remote" in str(err.value) and "--image-mode reference" in str(err.value)
    fetching = ImageStore([], fetch_remote=True)
    for uri in ("s3://bucket/a.jpg", "gs://bucket/a.jpg"):
        with pytest.raises(MediaError) as err:
            fetching.read(fetching.resolve(uri))
        assert err.value.code == "remote_image"


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "a.jpg").write_bytes(b"remote bytes")
    (tmp_path / "big.jpg").write_bytes(b"x" * 5000)

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(tmp_path), **kwargs)  # type: ignore[arg-type]

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_fetch_remote_over_http_with_a_cap(http_root: str) -> None:
    store = ImageStore([], fetch_remote=True, max_bytes=1000)
    assert store.read(store.resolve(f"{http_root}/a.jpg")) == b"remote bytes"
    with pytest.raises(MediaError) as err:
        store.read(store.resolve(f"{http_root}/big.jpg"))
    assert err.value.code == "image_too_large"
    with pytest.raises(MediaError) as err:
        store.read(store.resolve(f"{http_root}/absent.jpg"))
    assert err.value.code == "missing_image"
