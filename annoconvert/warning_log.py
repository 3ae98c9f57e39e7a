"""A run's warnings in order, past the first `KEPT` on disk (`record_log`), counted by code.

Why: a warning can come for every task (an export that recorded every image at another size
than the file's, or every transparent PNG flattened for JPEG), and the run held one object
each. The summary shows the first few and counts the rest by code.
"""

from __future__ import annotations

from annoconvert.model import Warning_
from annoconvert.record_log import RecordLog

KEPT = 1_000
"""Warnings held in memory (a few hundred KB) before the rest go to disk."""
BATCH = 1024
"""Warnings pickled together: one write, and one load when read back."""


class WarningLog(RecordLog[Warning_]):
    """The warnings (`codes()` counts them by code)."""

    def __init__(self) -> None:
        super().__init__(KEPT, BATCH)
