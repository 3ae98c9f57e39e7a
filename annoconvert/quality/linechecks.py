"""The checks a conversion runs on every line it writes: validation and consistency.

Both read the written line (so they see exactly what a service will see, in any dialect) and
keep no line in memory. Consistency reports lines by their 0-based index; the writer maps
indexes to task ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from annoconvert.quality.common_line import common_line, cut_image, dialect_common_line
from annoconvert.quality.consistency import ConsistencyChecker, ConsistencyReport, Policy
from annoconvert.quality.validate import ValidationReport, Validator

LISTED_DUPLICATES = 1_000
"""Repeats the findings name (the summary names the first); all are counted."""
LISTED_TASKS = 100
"""Task ids the findings name for each conflicting input (the summary names ten); all are
counted."""


@dataclass(frozen=True)
class LineFindings:
    """What the checks found: the validation report (None with --no-validate), the
    consistency report with line indexes for task ids, and the line indexes to leave out."""

    validation: ValidationReport | None
    consistency: ConsistencyReport
    dropped: frozenset[int]


class LineChecks:
    """Validation (optional) and consistency over written lines, one line at a time."""

    def __init__(self, preset: str | None, policy: Policy, dedupe: bool):
        # the media layer made and checked every embedded image: no need to decode it again
        self.validator = Validator(preset, decode_images=False) if preset else None
        self.consistency = ConsistencyChecker(policy, dedupe)
        self.lines = 0

    def check_line(self, raw: bytes) -> None:
        """Check the next written line (without its newline); it is parsed, and told apart
        (`common_line`), once for both: an image line without its Base64 (`cut_image`)."""
        cut = cut_image(raw)
        if cut is not None:
            if self.validator is not None:
                self.validator.observe_line(self.lines + 1, raw, cut.obj, cut.common, cut.image)
            self.consistency.observe_cut(self.lines, cut)
            self.lines += 1
            return
        try:
            obj: Any = orjson.loads(raw)
        except orjson.JSONDecodeError:
            obj = None
        common = common_line(obj)
        if self.validator is not None:
            if obj is None:
                self.validator.observe_line(self.lines + 1, raw)
            else:
                self.validator.observe_line(self.lines + 1, raw, obj, common)
        if common is None:  # the validator tells these apart itself, in its dialect
            common = dialect_common_line(obj)
        self.consistency.observe_parsed(self.lines, raw, obj, common)
        self.lines += 1

    def finish(self) -> LineFindings:
        """The findings over every line checked."""
        findings = LineFindings(
            self.validator.finish() if self.validator is not None else None,
            self.consistency.report(
                listed=LISTED_DUPLICATES,
                # dropping conflicts, the run names each dropped task's reason from them all
                listed_tasks=None if self.consistency.policy == "drop" else LISTED_TASKS,
            ),
            self.consistency.dropped_lines(),
        )
        self.consistency.close()
        return findings
