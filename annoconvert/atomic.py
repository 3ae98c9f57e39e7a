"""Files that appear whole or not at all: written beside their target, renamed into place.

The temporary file gets the permissions a plain `open(path, "w")` would give (0666 less the
umask): `mkstemp` alone makes it 0600, and a training file nobody else can read is a surprise.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import IO

from annoconvert.errors import at_place


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


FILE_MODE = 0o666 & ~_umask()


def temp_beside(target: str | Path, suffix: str = ".part") -> tuple[IO[bytes], str]:
    """An open binary temporary file in the target's folder, and its path."""
    path = Path(target)
    folder = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=folder)
    os.fchmod(fd, FILE_MODE)
    return os.fdopen(fd, "wb", buffering=1024 * 1024), tmp


def write_atomic(target: str | Path, data: bytes) -> None:
    """Write `data` to `target`: nothing, or all of it, is ever there."""
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    fh, tmp = temp_beside(path)
    try:
        try:
            with fh:
                fh.write(data)
        except OSError as err:  # a full disk: say which file
            raise at_place(err, str(path)) from err
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
