"""The `csv` reader: a CSV file with a header `text,label`, one labelled text per row.

A row whose text or label is empty is a task-level problem: it becomes a `Reject` with a code,
a locator (`rows[3]`) and a sentence, and the run goes on. A file without the two columns is a
file-level problem: `ShapeError` stops the run before anything is written.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence

from annoconvert.errors import ParseError, ShapeError
from annoconvert.model import AnnotationSet, Choice, Reject, Source, Task
from annoconvert.options import Options
from annoconvert.registry import ReaderOption


class CsvReader:
    """Reads `text,label` CSV files into classification tasks."""

    name = "csv"
    title = "CSV with text,label columns (example plugin)"
    options: tuple[ReaderOption, ...] = ()

    def read(self, inputs: Sequence[str], options: Options) -> Iterator[Task | Reject]:
        """Every row of every input, in order; the labels seen are declared per file."""
        for path in inputs:
            yield from self._read_file(path)

    def _read_file(self, path: str) -> Iterator[Task | Reject]:
        try:
            with open(path, encoding="utf-8", newline="") as fh:
                rows = list(csv.DictReader(fh))
        except UnicodeDecodeError as err:
            raise ParseError(f"not UTF-8: {err}", file=path, locator="rows") from err
        if rows and not {"text", "label"} <= set(rows[0]):
            raise ShapeError(
                f"expected the columns text,label; found {', '.join(rows[0])}",
                file=path,
                locator="header",
            )
        labels = sorted({row["label"] for row in rows if row.get("label")})
        for i, row in enumerate(rows):
            locator = f"rows[{i}]"
            text, label = (row.get("text") or "").strip(), (row.get("label") or "").strip()
            if not text or not label:
                yield Reject(i + 1, path, locator, "empty_cell", "the row has no text or label")
                continue
            yield Task(
                id=i + 1,
                source=Source(self.name, path, locator),
                text=text,
                fields={"__labels__": {"label": labels}, "__controls__": {"label": "choices"}},
                annotations=(AnnotationSet(regions=(Choice(field="label", labels=(label,)),)),),
            )

    def default_image_roots(self, inputs: Sequence[str]) -> list[str]:
        """A CSV of texts has no images."""
        return []


READER = CsvReader()
