"""A run's warnings in order, past the first `KEPT` on disk (`record_log`), counted by code.

Why: a warning can come for every task (an export that recorded every image at another size
than the file's, or every transparent PNG flattened for JPEG), and the run held one object
each. The summary shows the first few and counts the rest by code.
"""

from __future__ import annotations

from collections import Counter

from annoconvert.model import Warning_
from annoconvert.record_log import RecordLog

KEPT = 1_000
"""Warnings held in memory (a few hundred KB) before the rest go to disk."""
BATCH = 1024
"""Warnings pickled together: one write, and one load when read back."""


class WarningLog(RecordLog[Warning_]):
    """The warnings, counted by code."""

    def __init__(self) -> None:
        super().__init__(KEPT, BATCH)
        self._codes: Counter[str] = Counter()

    def _count(self, warning: Warning_) -> None:
        self._codes[warning.code] += 1

    def codes(self) -> Counter[str]:
        """Warnings counted by code."""
        return Counter(self._codes)
