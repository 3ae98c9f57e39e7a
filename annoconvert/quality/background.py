"""Check the lines a conversion writes in a second process, while it writes them.

Why: `validate` re-reads every line (parse, roles, images, boxes, tokens); in the converting
process that cost adds to the conversion's, while the machine's second core sits idle. The
checker process follows the sink's temporary file as it grows (the page cache shares it, so no
line is copied between processes) and hands back one `ValidationReport` at the end.
"""

from __future__ import annotations

import multiprocessing
import time
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from typing import Any

from annoconvert.quality.validate import ValidationReport, Validator

POLL_SECONDS = 0.002
CHUNK = 1 << 20


def _follow(path: str, preset: str, done: Event, conn: Connection) -> None:
    """The checker process: validate every complete line of `path` until `done` and EOF."""
    validator = Validator(preset, decode_images=False)
    line_no = 0
    pending = b""
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(CHUNK)
            if not chunk:
                if done.is_set():
                    chunk = fh.read()
                    if not chunk:
                        break
                else:
                    time.sleep(POLL_SECONDS)
                    continue
            pending += chunk
            lines = pending.split(b"\n")
            pending = lines.pop()
            for line in lines:
                line_no += 1
                validator.check_line(line_no, line)
    if pending:
        line_no += 1
        validator.check_line(line_no, pending)
    conn.send(validator.finish())
    conn.close()


class BackgroundValidator:
    """Validates a growing JSONL file in another process; `finish` returns the report."""

    def __init__(self, path: str, preset: str):
        methods = multiprocessing.get_all_start_methods()
        ctx: Any = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        self._done = ctx.Event()
        self._conn, child = ctx.Pipe(duplex=False)
        self._proc = ctx.Process(
            target=_follow, args=(path, preset, self._done, child), daemon=True
        )
        self._proc.start()
        child.close()

    def finish(self) -> ValidationReport:
        """Call once every line is flushed to the file: the report of all of them."""
        self._done.set()
        report: ValidationReport = self._conn.recv()
        self._proc.join()
        return report

    def abort(self) -> None:
        """Stop the checker (the run failed or was interrupted)."""
        if self._proc.is_alive():
            self._proc.terminate()
        self._proc.join()
