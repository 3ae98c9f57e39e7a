"""Counts over a Task stream: what an export holds before it is converted.

One pass, counters only: memory grows with the number of distinct labels, annotators, image
sizes and text lengths (a histogram), not with the tasks. The token estimate is the task text's
characters / 4 (the same rule as `tokens.estimate_text_tokens`), a rough budget, not a count of
the output file.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field

from annoconvert.model import Task
from annoconvert.quality.tokens import distribution_of_counts, estimate_text_tokens


class StatsReport(BaseModel):
    """What `annoconvert stats` prints."""

    model_config = ConfigDict(frozen=True)

    tasks: int
    annotations: int = Field(description="non-cancelled annotation sets")
    cancelled: int
    predictions: int
    tasks_without_annotation: int
    labels: dict[str, dict[str, int]] = Field(description="field -> label -> uses")
    annotators: dict[str, int] = Field(description="annotator -> non-cancelled annotation sets")
    region_kinds: dict[str, int]
    images: int
    image_sizes: dict[str, int] = Field(description='"WxH" -> images (as the tool recorded them)')
    images_without_size: int
    text_chars: dict[str, float] = Field(description="distribution of task text lengths")
    tokens_estimate: int


def _labels_of(region: object) -> tuple[str, ...]:
    labels = getattr(region, "labels", None)
    if isinstance(labels, tuple):
        return tuple(str(x) for x in labels)
    for attr in ("selected", "value"):
        value = getattr(region, attr, None)
        if value is not None and not isinstance(value, dict):
            return (str(value),)
    paths = getattr(region, "paths", None)
    if isinstance(paths, tuple):
        return tuple(" / ".join(p) for p in paths)
    return ()


def compute_stats(tasks: Iterable[Task]) -> StatsReport:
    """Count labels, annotators, region kinds, image sizes and text lengths."""
    n_tasks = annotations = cancelled = predictions = unannotated = 0
    images = no_size = 0
    labels: dict[str, Counter[str]] = {}
    annotators: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    sizes: Counter[str] = Counter()
    lengths: Counter[int] = Counter()  # length -> tasks: a list took 8 bytes a task
    tokens = 0
    for task in tasks:
        n_tasks += 1
        predictions += len(task.predictions)
        live = [a for a in task.annotations if not a.cancelled]
        cancelled += len(task.annotations) - len(live)
        annotations += len(live)
        if not live:
            unannotated += 1
        for annotation in live:
            annotators[annotation.annotator or "(unnamed)"] += 1
            for region in annotation.regions:
                kinds[region.kind] += 1
                field_labels = labels.setdefault(region.field, Counter())
                field_labels.update(_labels_of(region))
        for image in task.images:
            images += 1
            if image.width and image.height:
                sizes[f"{image.width}x{image.height}"] += 1
            else:
                no_size += 1
        text = task.text or ""
        if task.turns:
            text = "\n".join([text, *(t.text for t in task.turns)]).strip()
        if text:
            lengths[len(text)] += 1
            tokens += estimate_text_tokens(text)
    return StatsReport(
        tasks=n_tasks,
        annotations=annotations,
        cancelled=cancelled,
        predictions=predictions,
        tasks_without_annotation=unannotated,
        labels={f: dict(c.most_common()) for f, c in sorted(labels.items()) if c},
        annotators=dict(sorted(annotators.items())),
        region_kinds=dict(kinds.most_common()),
        images=images,
        image_sizes=dict(sizes.most_common()),
        images_without_size=no_size,
        text_chars=distribution_of_counts(lengths),
        tokens_estimate=tokens,
    )


def render_stats(report: StatsReport) -> str:
    """The default console output of `annoconvert stats`."""
    out = [
        f"tasks: {report.tasks} ({report.tasks_without_annotation} without annotation), "
        f"annotations: {report.annotations}, cancelled: {report.cancelled}, "
        f"predictions: {report.predictions}"
    ]
    for field_name, counts in report.labels.items():
        out.append(f"labels [{field_name}]: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    if report.annotators:
        out.append("annotators: " + ", ".join(f"{k} {v}" for k, v in report.annotators.items()))
    if report.region_kinds:
        out.append("regions: " + ", ".join(f"{k} {v}" for k, v in report.region_kinds.items()))
    if report.images:
        sizes = ", ".join(f"{k} ({v})" for k, v in report.image_sizes.items()) or "none recorded"
        out.append(
            f"images: {report.images}; sizes: {sizes}"
            + (
                f"; {report.images_without_size} without a size"
                if report.images_without_size
                else ""
            )
        )
    if report.text_chars:
        d = report.text_chars
        out.append(
            f"text length (chars): min {d['min']:.0f}, median {d['median']:.0f}, "
            f"mean {d['mean']:.0f}, max {d['max']:.0f}; tokens (estimate, chars/4): "
            f"{report.tokens_estimate}"
        )
    return "\n".join(out) + "\n"
