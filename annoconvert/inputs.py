"""Inputs as the tools download them: a file, a folder holding one export, or a zip.

A zip is read in place (no extraction): members with unsafe names (absolute, `..`, drive letters)
and members whose uncompressed size is over the cap or whose compression ratio is absurd are
refused as `UnsafeInputError`. Members are opened as binary streams.
"""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from annoconvert.errors import InputError, UnsafeInputError

MAX_MEMBER_BYTES = 4 * 1024**3
"""Largest uncompressed zip member read (4 GiB)."""
MAX_RATIO = 1000
"""Largest uncompressed/compressed ratio accepted for a member over 1 MiB (zip bombs)."""


def safe_member_name(name: str) -> bool:
    """True when a zip member name stays inside the archive's folder."""
    if not name or name.startswith(("/", "\\")) or "\\" in name:
        return False
    parts = PurePosixPath(name).parts
    return ".." not in parts and not (parts and ":" in parts[0])


@dataclass(frozen=True)
class InputSource:
    """One input as given by the user: `kind` is 'file', 'dir' or 'zip'."""

    path: str
    kind: str

    def members(self) -> list[str]:
        """Relative POSIX paths of every file in the input (the file's own name for 'file')."""
        if self.kind == "file":
            return [os.path.basename(self.path)]
        if self.kind == "dir":
            # os.walk reads each folder once with scandir (no stat per file): a folder of
            # 10k images is listed in milliseconds
            out: list[str] = []
            for folder, _dirs, files in os.walk(self.path):
                rel = os.path.relpath(folder, self.path).replace(os.sep, "/")
                prefix = "" if rel == "." else rel + "/"
                out.extend(prefix + name for name in files)
            return sorted(out)
        with zipfile.ZipFile(self.path) as zf:
            names = []
            for info in zf.infolist():
                if info.is_dir():
                    continue
                check_member(self.path, info)
                names.append(info.filename)
            return names

    def size(self, member: str) -> int:
        """A member's size in bytes (uncompressed for a zip member)."""
        if self.kind == "file":
            return os.path.getsize(self.path)
        if self.kind == "dir":
            return os.path.getsize(os.path.join(self.path, member))
        with zipfile.ZipFile(self.path) as zf:
            return zf.getinfo(member).file_size

    def display(self, member: str) -> str:
        """How a member is named in messages: `export.zip!annotations.xml`, `dir/a.json`."""
        if self.kind == "file":
            return self.path
        if self.kind == "dir":
            return os.path.join(self.path, member)
        return f"{self.path}!{member}"

    @contextmanager
    def open(self, member: str) -> Iterator[IO[bytes]]:
        """Open a member as a binary stream."""
        if self.kind == "file":
            with open(self.path, "rb") as fh:
                yield fh
        elif self.kind == "dir":
            with open(os.path.join(self.path, member), "rb") as fh:
                yield fh
        else:
            with zipfile.ZipFile(self.path) as zf:
                info = zf.getinfo(member)
                check_member(self.path, info)
                with zf.open(info) as fh:
                    yield io.BufferedReader(_Capped(fh, info.file_size, self.display(member)))


class _Capped(io.RawIOBase):
    """A zip member stream that fails if it yields more bytes than its header declared."""

    def __init__(self, inner: IO[bytes], declared: int, name: str):
        self._inner = inner
        self._left = declared
        self._name = name

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._inner.read(len(buffer))
        self._left -= len(data)
        if self._left < 0:
            raise UnsafeInputError("zip member is larger than its header says", file=self._name)
        buffer[: len(data)] = data
        return len(data)


def check_member(zip_path: str, info: zipfile.ZipInfo) -> None:
    """Refuse unsafe member names and sizes (path traversal, zip bombs)."""
    if not safe_member_name(info.filename):
        raise UnsafeInputError(
            f"zip member {info.filename!r} has an unsafe path (absolute or '..')", file=zip_path
        )
    if info.file_size > MAX_MEMBER_BYTES:
        raise UnsafeInputError(
            f"zip member {info.filename!r} is {info.file_size} bytes uncompressed, over the "
            f"{MAX_MEMBER_BYTES}-byte cap",
            file=zip_path,
        )
    if info.file_size > 1024**2 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
        raise UnsafeInputError(
            f"zip member {info.filename!r} expands {info.file_size // max(info.compress_size, 1)}"
            "-fold (a zip bomb?)",
            file=zip_path,
        )


def open_input(path: str) -> InputSource:
    """Classify a user-given input path; InputError when it does not exist."""
    p = Path(path)
    if p.is_dir():
        return InputSource(str(p), "dir")
    if not p.exists():
        raise InputError("no such file or folder", file=path)
    if p.suffix.lower() == ".zip":
        if not zipfile.is_zipfile(p):
            raise InputError("not a readable zip file", file=path)
        return InputSource(str(p), "zip")
    return InputSource(str(p), "file")
