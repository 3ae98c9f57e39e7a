"""Find an image named by an export under the image roots, and never outside them.

A root is a folder or a zip file (read in place through `inputs.InputSource`). A URI is matched,
in order, by its full relative path under a root, then by its base name, then by its Label Studio
upload name without the 8-hex prefix the server adds. Base-name lookups use one index of every
root, built on first need, not a walk per image. Two different files that answer the same
lookup are an error (`ambiguous_image`), not a guess.

Remote URLs (`http(s)://`, `s3://`, `gs://`) are references; only http(s) can be fetched, and
only when the user asked for it (`--fetch-remote`).
"""

from __future__ import annotations

import io
import os
import posixpath
import re
import stat
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO, Literal, TypeAlias

from annoconvert.errors import ConfigError, InputError, MediaError
from annoconvert.inputs import InputSource, open_input

DEFAULT_MAX_SOURCE_BYTES = 64 * 1024 * 1024
"""Largest image file read or fetched (the preset's limit applies after re-encoding)."""
FETCH_TIMEOUT = 10.0
"""Seconds before a remote fetch gives up."""

_UPLOAD_PREFIX = re.compile(r"^[0-9a-f]{8}-(.+)$")
_REMOTE_SCHEMES = ("http://", "https://", "s3://", "gs://", "azure-blob://", "ftp://")

Kind = Literal["file", "zip", "http", "remote"]


@dataclass(frozen=True)
class Located:
    """Where an image's bytes are: a file, a zip member, or a remote URL.

    `relpath` is the POSIX path relative to the root it was found under (for
    `--image-uri-prefix`); `display` names it in messages and in `PreparedImage.path`.
    """

    uri: str
    kind: Kind
    location: str
    member: str | None = None
    relpath: str | None = None

    @property
    def display(self) -> str:
        """`dir/a.jpg`, `images.zip!a.jpg`, or the URL."""
        if self.kind == "zip":
            return f"{self.location}!{self.member}"
        return self.location

    @property
    def is_remote(self) -> bool:
        """True for URLs (fetched only on request)."""
        return self.kind in ("http", "remote")


@dataclass(frozen=True, slots=True)
class _Folder:
    """A folder of the index, shared by every file in it: a file costs the index only its
    name and a reference, not a path string and an object of its own."""

    root: int
    prefix: str  # POSIX path under the root up to and with its last "/"; "" for the top


_Names: TypeAlias = dict[str, _Folder | list[_Folder]]
"""Base name -> the folder holding it, or the folders (in walk order) when several do."""


@dataclass(frozen=True)
class _Entry:
    """A file a lookup matched; its real path is worked out only then (`ImageStore._real`)."""

    root: int
    relpath: str


def is_remote(uri: str) -> bool:
    """True when the URI names a remote object (http(s), s3, gs, ...)."""
    return uri.lower().startswith(_REMOTE_SCHEMES)


def display_name(uri: str) -> str:
    """The image's file name as a person would call it (used by placeholder mode).

    Label Studio upload names lose the 8-hex prefix the server added.
    """
    parsed = _local_path(uri)
    path = parsed[0] if parsed else urllib.parse.urlsplit(uri).path or uri
    base = posixpath.basename(path.rstrip("/")) or path
    if parsed and parsed[1]:
        match = _UPLOAD_PREFIX.match(base)
        if match:
            return match.group(1)
    return base


def _local_path(uri: str) -> tuple[str, bool] | None:
    """The path part of a local URI and whether it is a Label Studio upload; None if remote."""
    if is_remote(uri):
        return None
    if uri.startswith("file://"):
        return urllib.parse.unquote(urllib.parse.urlsplit(uri).path), False
    if uri.startswith("/data/local-files/"):
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(uri).query)
        found = query.get("d")
        return (found[0] if found else ""), False
    if uri.startswith("/data/upload/"):
        return urllib.parse.unquote(uri.lstrip("/")), True
    return uri.replace("\\", "/"), False


def _split_zip_root(root: str) -> tuple[str, str]:
    """`export.zip!images/default` -> (`export.zip`, `images/default`); else (root, "")."""
    if "!" in root:
        path, _, prefix = root.partition("!")
        if path.lower().endswith(".zip"):
            return path, prefix.strip("/")
    return root, ""


def _inside(path: str, root: str) -> bool:
    """Whether a resolved absolute path lies in (or is) a resolved root."""
    if path == root:
        return True
    prefix = root if root.endswith(os.sep) else root + os.sep
    return path.startswith(prefix)


class ImageStore:
    """Resolves image URIs to bytes under the roots the user (or the reader) gave.

    Every file that is read is checked with `os.path.realpath` to lie inside its root, so
    neither `..`, an absolute path nor a symlink can lead out of the roots.
    """

    def __init__(
        self,
        roots: Sequence[str],
        *,
        fetch_remote: bool = False,
        max_bytes: int = DEFAULT_MAX_SOURCE_BYTES,
    ):
        self.fetch_remote = fetch_remote
        self.max_bytes = max_bytes
        self._sources: list[InputSource] = []
        self._real_roots: list[str] = []
        seen: set[tuple[str, str]] = set()
        self._prefixes: list[str] = []
        for root in roots:
            path, prefix = _split_zip_root(root)
            try:
                source = open_input(path)
            except InputError as err:
                raise ConfigError(f"--images-root {root}: no such folder or zip") from err
            if prefix and source.kind != "zip":
                raise ConfigError(f"--images-root {root}: '!' names a folder inside a zip")
            real = os.path.realpath(source.path)
            if (real, prefix) in seen:
                continue
            seen.add((real, prefix))
            if source.kind == "file":
                raise ConfigError(f"--images-root {root}: a file; give a folder or a zip")
            self._sources.append(source)
            self._real_roots.append(real)
            self._prefixes.append(prefix)
        self._index: _Names | None = None
        self._zip_members: list[set[str]] = []
        self._real_folders: dict[str, str] = {}
        self._is_folder: dict[str, bool] = {}
        """Whether a path a missing file was looked for in is a folder: no other file is looked
        for in one that is not (a CVAT-layout COCO export's subset hint, `default/x.jpg`, is
        tried under `images/default` first, where it is not: an lstat an image saved)."""

    @property
    def roots(self) -> list[str]:
        """The roots searched, in order."""
        return [
            f"{s.path}!{p}" if p else s.path
            for s, p in zip(self._sources, self._prefixes, strict=True)
        ]

    # --- lookup ------------------------------------------------------------------------------

    def resolve(self, uri: str, hint: str | None = None) -> Located:
        """Where the image named `uri` is; MediaError `missing_image`, `ambiguous_image` or
        `image_outside_roots` when it cannot be used. A safe relative `hint` (the reader's
        `<subset>/<name>`) is tried first."""
        if hint and not posixpath.isabs(hint) and ".." not in hint.split("/"):
            found = self._direct(uri, hint) if self._sources else None
            if found is None and self._sources and "/" in hint:
                found = self._by_suffix(uri, hint)
            if found is not None:
                return found
        if is_remote(uri):
            kind: Kind = "http" if uri.lower().startswith(("http://", "https://")) else "remote"
            return Located(uri, kind, uri)
        parsed = _local_path(uri)
        assert parsed is not None  # not remote, so a local path
        path, upload = parsed
        if not path:
            raise MediaError("missing_image", f"image URI {uri!r} names no file", uri=uri)
        if not self._sources:
            raise MediaError(
                "missing_image",
                f"image {uri!r} cannot be found: no image root; pass --images-root DIR",
                uri=uri,
            )
        escapes = posixpath.isabs(path) or ".." in path.split("/") or re.match(r"^[A-Za-z]:", path)
        if escapes:
            found = self._absolute(uri, path) if posixpath.isabs(path) else None
            if found is not None:
                return found
            # the export's path leads out of the roots; the same file name inside them is safe
            by_name = self._by_name(uri, posixpath.basename(path))
            if by_name is not None:
                return by_name
            raise MediaError(
                "image_outside_roots",
                f"image path {path!r} lies outside the image roots "
                f"({', '.join(self.roots)}); it is not read",
                uri=uri,
            )
        rel = path.lstrip("/")
        candidates = _upload_paths(rel) if upload else [rel]
        for candidate in candidates:
            found = self._direct(uri, candidate)
            if found is not None:
                return found
        if "/" in candidates[-1]:
            found = self._by_suffix(uri, candidates[-1])
            if found is not None:
                return found
        base = posixpath.basename(rel)
        found = self._by_name(uri, base)
        if found is not None:
            return found
        match = _UPLOAD_PREFIX.match(base) if upload else None
        if match:
            found = self._by_name(uri, match.group(1))
            if found is not None:
                return found
        raise MediaError(
            "missing_image",
            f"image {uri!r} not found under the image roots ({', '.join(self.roots)})",
            uri=uri,
        )

    def _absolute(self, uri: str, path: str) -> Located | None:
        real = os.path.realpath(path)
        for i, root in enumerate(self._real_roots):
            if self._sources[i].kind == "dir" and _inside(real, root):
                if not os.path.isfile(real):
                    return None
                rel = os.path.relpath(real, root).replace(os.sep, "/")
                return Located(uri, "file", real, relpath=rel)
        return None

    def _direct(self, uri: str, rel: str) -> Located | None:
        for i, source in enumerate(self._sources):
            if source.kind == "dir":
                real = self._real_file(os.path.join(source.path, *rel.split("/")))
                if real is not None:
                    return self._checked(uri, i, rel, real)
            elif rel in self._members(i):
                return Located(uri, "zip", source.path, member=self._member(i, rel), relpath=rel)
        return None

    def _real_file(self, path: str) -> str | None:
        """`os.path.realpath(path)` when `path` is a regular file (through links, as
        `os.path.isfile` says), else None. A file that is not itself a link is its resolved
        folder plus its name, each folder resolved once: one lstat in all, not one per path
        component and a stat besides."""
        folder, name = os.path.split(path)
        if self._is_folder.get(folder) is False:
            return None
        try:
            mode = os.lstat(path).st_mode
        except (OSError, ValueError):  # missing, or a name the system refuses (a NUL)
            if folder not in self._is_folder:
                self._is_folder[folder] = os.path.isdir(folder)
            return None
        if stat.S_ISLNK(mode):
            return os.path.realpath(path) if os.path.isfile(path) else None
        if not stat.S_ISREG(mode):
            return None
        real_folder = self._real_folders.get(folder)
        if real_folder is None:
            real_folder = self._real_folders[folder] = os.path.realpath(folder)
        return os.path.join(real_folder, name)

    def _checked(self, uri: str, root: int, rel: str, real: str) -> Located:
        if not _inside(real, self._real_roots[root]):
            raise MediaError(
                "image_outside_roots",
                f"image {uri!r} is a link to {real}, outside the image root "
                f"{self._sources[root].path}; it is not read",
                uri=uri,
            )
        return Located(uri, "file", real, relpath=rel)

    def _member(self, root: int, rel: str) -> str:
        prefix = self._prefixes[root]
        return f"{prefix}/{rel}" if prefix else rel

    def _real(self, entry: _Entry) -> str:
        """A matched file's identity: its real path (through links), or the zip's real path
        and the member. Only matched files need it, so the index does not hold it."""
        if self._sources[entry.root].kind == "zip":
            return f"{self._real_roots[entry.root]}!{self._member(entry.root, entry.relpath)}"
        path = os.path.join(self._sources[entry.root].path, *entry.relpath.split("/"))
        return os.path.realpath(path)

    def _located(self, uri: str, entry: _Entry, real: str) -> Located:
        source = self._sources[entry.root]
        if source.kind == "zip":
            member = self._member(entry.root, entry.relpath)
            return Located(uri, "zip", source.path, member=member, relpath=entry.relpath)
        return self._checked(uri, entry.root, entry.relpath, real)

    def _pick(self, uri: str, entries: list[_Entry], how: str) -> Located | None:
        """The one file `entries` name, merging the same file seen through several roots or
        links; None for none, `ambiguous_image` for several."""
        unique: dict[str, _Entry] = {}
        for entry in entries:
            unique.setdefault(self._real(entry), entry)
        if not unique:
            return None
        if len(unique) > 1:
            names = ", ".join(
                self._sources[e.root].display(e.relpath) for e in list(unique.values())[:3]
            )
            raise MediaError(
                "ambiguous_image",
                f"image {uri!r} matches several files by {how} ({names}); give the "
                "folder that holds it as --images-root",
                uri=uri,
            )
        real, entry = next(iter(unique.items()))
        return self._located(uri, entry, real)

    def _entries(self, name: str) -> list[_Entry]:
        """The files named `name` under the roots, in walk order."""
        found = self.index().get(name)
        if found is None:
            return []
        folders = found if isinstance(found, list) else [found]
        return [_Entry(f.root, f.prefix + name) for f in folders]

    def _by_suffix(self, uri: str, rel: str) -> Located | None:
        entries = self._entries(posixpath.basename(rel))
        tail = "/" + rel
        return self._pick(uri, [e for e in entries if e.relpath.endswith(tail)], "path")

    def _by_name(self, uri: str, name: str) -> Located | None:
        return self._pick(uri, self._entries(name), f"file name {name!r}")

    # --- index -------------------------------------------------------------------------------

    def _members(self, i: int) -> set[str]:
        self.index()
        return self._zip_members[i]

    def index(self) -> _Names:
        """Every file under every root by base name (built once, on first need).

        It holds each file's folder, not its path: the relative folder is worked out once per
        folder, and links are resolved only for the files a lookup matches (`_real`), so a
        root of a million files is indexed without a `realpath` per file.
        """
        if self._index is not None:
            return self._index
        index: _Names = {}
        members: list[set[str]] = []
        for i, source in enumerate(self._sources):
            names: set[str] = set()
            if source.kind == "zip":
                prefix = self._prefixes[i] + "/" if self._prefixes[i] else ""
                folders: dict[str, _Folder] = {}
                for member in source.members():
                    if not member.startswith(prefix):
                        continue
                    rel = member[len(prefix) :]
                    names.add(rel)
                    cut = rel.rfind("/") + 1
                    folder = folders.get(rel[:cut])
                    if folder is None:
                        folder = folders[rel[:cut]] = _Folder(i, rel[:cut])
                    _add(index, rel[cut:], folder)
            else:
                for dirpath, dirnames, filenames in os.walk(source.path):
                    dirnames.sort()
                    filenames.sort()
                    rel = os.path.relpath(dirpath, source.path)
                    folder = _Folder(i, "" if rel == os.curdir else rel.replace(os.sep, "/") + "/")
                    for filename in filenames:
                        _add(index, filename, folder)
            members.append(names)
        self._index = index
        self._zip_members = members
        return index

    # --- reading -----------------------------------------------------------------------------

    def read(self, located: Located, head: int | None = None) -> bytes:
        """The file's bytes (at most `max_bytes`); remote only with fetch_remote and http(s).

        `head` reads only the first bytes of a local file (enough for a header).
        """
        if located.kind == "file":
            try:
                if head:
                    with open(located.location, "rb") as fh:
                        return fh.read(head)
                return self._read_file(located)
            except OSError as err:
                raise MediaError(
                    "unreadable_image", f"cannot read {located.display}: {err}", uri=located.uri
                ) from err
        if located.kind == "zip":
            assert located.member is not None
            source = InputSource(located.location, "zip")
            try:
                with source.open(located.member) as fh:
                    return fh.read(head) if head else self._capped(fh.read, _size_of(fh), located)
            except (OSError, InputError) as err:
                raise MediaError(
                    "unreadable_image", f"cannot read {located.display}: {err}", uri=located.uri
                ) from err
        return self.fetch(located)

    def _read_file(self, located: Located) -> bytes:
        """A local file's bytes through the descriptor (`os.read`): no file object, which
        took 4 of an image's 11 us to open and read."""
        fd = os.open(located.location, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        try:
            return self._capped(lambda n: _read_up_to(fd, n), os.fstat(fd).st_size, located)
        finally:
            os.close(fd)

    def _capped(self, read: Callable[[int], bytes], size: int | None, located: Located) -> bytes:
        """At most `max_bytes` through `read`; `size` is what the file holds (None: unknown),
        read in one go, not the cap."""
        if size is None:
            size = self.max_bytes
        data = read(min(size, self.max_bytes) + 1)
        if len(data) > size and size < self.max_bytes:
            data += read(self.max_bytes + 1 - len(data))  # it grew while being read
        if len(data) > self.max_bytes:
            raise MediaError(
                "image_too_large",
                f"image {located.display} is over {self.max_bytes} bytes",
                uri=located.uri,
            )
        return data

    def fetch(self, located: Located) -> bytes:
        """Download an http(s) image with a timeout and a size cap (only with fetch_remote)."""
        if located.kind != "http":
            raise MediaError(
                "remote_image",
                f"image {located.uri!r} is a remote object that annoconvert does not download; "
                "use --image-mode reference, or copy the images locally and pass --images-root",
                uri=located.uri,
            )
        if not self.fetch_remote:
            raise MediaError(
                "remote_image",
                f"image {located.uri!r} is remote; pass --fetch-remote to download and embed "
                "it, or use --image-mode reference",
                uri=located.uri,
            )
        from annoconvert.media.fetch import open_url  # urllib.request: only when downloading

        try:
            with open_url(located.uri, FETCH_TIMEOUT) as response:
                return self._capped(response.read, None, located)
        except MediaError:
            raise
        except (OSError, ValueError) as err:  # urllib's URLError is an OSError
            raise MediaError(
                "missing_image", f"cannot fetch {located.uri!r}: {err}", uri=located.uri
            ) from err


def _add(index: _Names, name: str, folder: _Folder) -> None:
    """File `name` of `folder` into the index: the folder alone for the first file of that
    name (most names are unique), a list once a second one comes."""
    found = index.get(name)
    if found is None:
        index[name] = folder
    elif isinstance(found, list):
        found.append(folder)
    else:
        index[name] = [found, folder]


def _read_up_to(fd: int, count: int) -> bytes:
    """`count` bytes from `fd`, fewer only at the file's end."""
    chunks: list[bytes] = []
    while count > 0:
        chunk = os.read(fd, count)
        if not chunk:
            break
        chunks.append(chunk)
        count -= len(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _size_of(fh: IO[bytes]) -> int | None:
    """The size of the file behind `fh`, None when it has no descriptor (a zip member)."""
    try:
        return os.fstat(fh.fileno()).st_size
    except (AttributeError, OSError, io.UnsupportedOperation):
        return None


def _upload_paths(rel: str) -> list[str]:
    """`data/upload/13/a.jpg` -> itself, `upload/13/a.jpg`, `13/a.jpg` (longest first).

    Label Studio keeps uploads in `<data-dir>/media/upload/<project>/`, so a root may be any
    of those folders. The base name alone is left to the index, where duplicates show.
    """
    parts = rel.split("/")
    return ["/".join(parts[i:]) for i in range(max(1, len(parts) - 1))]
