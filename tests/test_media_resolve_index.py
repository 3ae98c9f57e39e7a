"""The base-name index of the image roots: found by name, merged by real path, refused
outside the roots, zips, and no `realpath` per indexed file."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from unittest import mock

import pytest

from annoconvert.errors import MediaError
from annoconvert.media import ImageStore


def _error(store: ImageStore, uri: str) -> MediaError:
    with pytest.raises(MediaError) as err:
        store.resolve(uri)
    return err.value


def test_a_file_in_a_subfolder_is_found_by_name_and_by_its_path_tail(tmp_path: Path) -> None:
    """The relative path is the folder's plus the name: wrong joins show here."""
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "x.jpg").write_bytes(b"abx")
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "x.jpg").write_bytes(b"cx")
    (tmp_path / "top.jpg").write_bytes(b"top")
    store = ImageStore([str(tmp_path)])
    found = store.resolve("b/x.jpg")  # the tail of `a/b/x.jpg`, not the ambiguous name
    assert found.kind == "file" and found.relpath == "a/b/x.jpg"
    assert found.location == os.path.realpath(tmp_path / "a" / "b" / "x.jpg")
    assert store.read(found) == b"abx"
    # a file at the top of the root, reached by name from a path outside the roots
    found = store.resolve("/elsewhere/top.jpg")
    assert found.relpath == "top.jpg"
    assert found.location == os.path.realpath(tmp_path / "top.jpg")
    found = store.resolve("../other/top.jpg")
    assert found.relpath == "top.jpg"


def test_the_same_file_through_links_is_one_file(tmp_path: Path) -> None:
    """A linked folder (not walked) and a linked file of the same name (merged by its real
    path) are the file they lead to, not a second one."""
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "x.jpg").write_bytes(b"x")
    (tmp_path / "alias").symlink_to(tmp_path / "real", target_is_directory=True)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x.jpg").symlink_to(tmp_path / "real" / "x.jpg")
    store = ImageStore([str(tmp_path), str(tmp_path / "real")])
    found = store.resolve("/elsewhere/x.jpg")
    assert found.relpath == "other/x.jpg"  # the first in walk order of the one file
    assert found.location == os.path.realpath(tmp_path / "real" / "x.jpg")
    assert store.read(found) == b"x"
    assert store.resolve("alias/x.jpg").location == found.location


def test_different_files_with_one_name_are_ambiguous_in_walk_order(tmp_path: Path) -> None:
    """The message names the first three files in walk order: a folder's own files, then
    its subfolders by name."""
    for sub in ("c", "a", "b"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "x.jpg").write_bytes(sub.encode())
    (tmp_path / "x.jpg").write_bytes(b"top")
    store = ImageStore([str(tmp_path)])
    err = _error(store, "/elsewhere/x.jpg")
    assert err.code == "ambiguous_image"
    names = ", ".join(os.path.join(tmp_path, rel) for rel in ("x.jpg", "a/x.jpg", "b/x.jpg"))
    assert f"({names})" in str(err)
    assert "c/x.jpg" not in str(err)


def test_a_link_out_of_the_root_found_by_name_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (tmp_path / "secret.jpg").write_bytes(b"s")
    (root / "sub" / "link.jpg").symlink_to(tmp_path / "secret.jpg")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "y.jpg").write_bytes(b"y")
    (root / "out").symlink_to(tmp_path / "outside", target_is_directory=True)
    store = ImageStore([str(root)])
    err = _error(store, "link.jpg")
    assert err.code == "image_outside_roots"
    assert os.path.realpath(tmp_path / "secret.jpg") in str(err)
    # a linked folder is not walked, so what lies behind it is not found by name
    assert _error(store, "y.jpg").code == "missing_image"


def test_zip_roots_resolve_by_name(tmp_path: Path) -> None:
    archive = tmp_path / "images.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("export/images/a.jpg", b"a")
        zf.writestr("top.jpg", b"top")
        zf.writestr("export/x.jpg", b"x1")
        zf.writestr("other/x.jpg", b"x2")
    store = ImageStore([str(archive)])
    found = store.resolve("/data/upload/3/a.jpg")
    assert (found.kind, found.member, found.relpath) == ("zip", "export/images/a.jpg", found.member)
    assert store.read(found) == b"a"
    found = store.resolve("/elsewhere/top.jpg")
    assert (found.member, found.relpath) == ("top.jpg", "top.jpg")
    err = _error(store, "/elsewhere/x.jpg")
    assert err.code == "ambiguous_image"
    assert f"{archive}!export/x.jpg, {archive}!other/x.jpg" in str(err)
    # under a folder of the zip, the relative path drops the folder but the member keeps it
    inner = ImageStore([f"{archive}!export"])
    found = inner.resolve("a.jpg")
    assert (found.member, found.relpath) == ("export/images/a.jpg", "images/a.jpg")
    assert inner.resolve("/elsewhere/x.jpg").member == "export/x.jpg"
    # the same member through the whole zip and a folder of it is one file
    twice = ImageStore([str(archive), f"{archive}!export"])
    assert twice.resolve("/elsewhere/a.jpg").relpath == "export/images/a.jpg"
    # a zip and a folder each holding a file of that name are two files
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "a.jpg").write_bytes(b"a")
    both = ImageStore([str(tmp_path / "dir"), f"{archive}!export"])
    assert _error(both, "/elsewhere/a.jpg").code == "ambiguous_image"


def test_the_index_resolves_links_only_for_the_files_a_lookup_matches(tmp_path: Path) -> None:
    """Building the index calls no `realpath` and one `relpath` per folder; a lookup by
    name resolves only what it matched."""
    (tmp_path / "images").mkdir()
    for i in range(50):
        (tmp_path / "images" / f"{i}.png").write_bytes(b"p")
    with (
        mock.patch("os.path.realpath", wraps=os.path.realpath) as realpath,
        mock.patch("os.path.relpath", wraps=os.path.relpath) as relpath,
    ):
        store = ImageStore([str(tmp_path)])
        store.index()
        assert realpath.call_count <= 1  # the root, when the store is made
        assert relpath.call_count <= 2  # the root and `images`
        found = store.resolve("7.png")
        assert realpath.call_count <= 3
    assert found.relpath == "images/7.png"
