"""A run's rejects in input order, past the first `KEPT` on disk (`record_log`), counted by
code (as every record log) and by task as they come."""

from __future__ import annotations

from annoconvert.model import Reject
from annoconvert.record_log import RecordLog

KEPT = 10_000
"""Rejects held in memory (a few MB) before the rest go to disk."""
BATCH = 1024
"""Rejects pickled together: one write, and one load when read back."""


class RejectLog(RecordLog[Reject]):
    """The rejects, counted by code and by task."""

    def __init__(self) -> None:
        super().__init__(KEPT, BATCH)
        self._tasks = 0
        self._last: tuple[str, str, object] | None = None

    def _count(self, reject: Reject) -> None:
        if reject.code == "bad_line":
            self._tasks += 1  # every unreadable line counts
        else:
            key = (reject.file, reject.locator, reject.task)
            self._tasks += key != self._last
            self._last = key

    @property
    def tasks(self) -> int:
        """Tasks rejected: a task's rejects come together, so one with several (the same
        file, locator and id in a row, unreadable lines between them aside) counts once, as
        a set of them did; every unreadable line counts."""
        return self._tasks
