"""Annotator policies: which annotation(s) of a task count (DESIGN.md §6b).

- `latest`: the ground-truth annotation if one is marked, else the most recently updated
  non-cancelled one (file order breaks ties and stands in where there are no timestamps);
- `ground-truth`: only tasks with a ground-truth annotation;
- `all`: one example per non-cancelled annotation;
- `majority`: the answer most annotators gave; a tie rejects the task (`annotator_tie`);
- `agreed`: only tasks where every annotator gave the same answer (`annotators_disagree`).

Answers are compared whole: the normalized label set, span set, text, or geometry rounded to
the 0..1000 output grid with a tolerance of one unit.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, replace

from annoconvert.errors import TaskError
from annoconvert.model import (
    GEOMETRY_KINDS,
    AnnotationSet,
    Box,
    Choice,
    Ellipse,
    Mask,
    Points,
    Polygon,
    Polyline,
    Region,
    Task,
)

GRID = 1000


@dataclass(slots=True)
class Selection:
    """The annotation sets a policy chose, and whether the task's annotators disagreed."""

    chosen: tuple[AnnotationSet, ...]
    disagreed: bool


def _grid(value: float) -> float:
    """The value on the answer grid; one past the float range (a huge box's far edge) stays
    infinite, which still compares (`round` would raise)."""
    scaled = value * GRID
    return round(scaled) if math.isfinite(scaled) else scaled


def region_key(region: Region) -> tuple[Hashable, ...]:
    """A hashable, order-free description of one region's answer (ids and metadata left out)."""
    if isinstance(region, Choice):
        return ("choice", region.field, tuple(sorted(region.labels)))
    if isinstance(region, Box):
        return (
            "box",
            region.field,
            tuple(sorted(region.labels)),
            _grid(region.x),
            _grid(region.y),
            _grid(region.x + region.width),
            _grid(region.y + region.height),
            round(region.rotation),
        )
    if isinstance(region, Polygon | Polyline | Points):
        pts = tuple((_grid(x), _grid(y)) for x, y in region.points)
        return (region.kind, region.field, tuple(sorted(region.labels)), pts)
    if isinstance(region, Ellipse):
        return (
            "ellipse",
            region.field,
            tuple(sorted(region.labels)),
            _grid(region.cx),
            _grid(region.cy),
            _grid(region.rx),
            _grid(region.ry),
        )
    if isinstance(region, Mask):
        return (
            "mask",
            region.field,
            tuple(sorted(region.labels)),
            region.left,
            region.top,
            region.counts,
        )
    out: list[Hashable] = [region.kind]
    for name in region.__slots__:
        if name in ("id", "attributes", "kind"):
            continue
        value = getattr(region, name)
        if isinstance(value, str):
            value = value.strip()
        elif isinstance(value, tuple):
            value = tuple(v.strip() if isinstance(v, str) else v for v in value)
        elif isinstance(value, dict):
            value = tuple(sorted((k, str(v)) for k, v in value.items()))
        out.append(value)
    return tuple(out)


def answer_key(annotation: AnnotationSet) -> tuple[Hashable, ...]:
    """The whole answer of an annotation set as a sorted tuple of region keys."""
    return tuple(sorted((region_key(r) for r in annotation.regions), key=repr))


def _points_close(a: Hashable, b: Hashable) -> bool:
    """Two point tuples on the grid within one unit each."""
    if not (isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b)):
        return False
    return all(
        isinstance(pa, tuple)
        and isinstance(pb, tuple)
        and all(abs(int(x) - int(y)) <= 1 for x, y in zip(pa, pb, strict=True))
        for pa, pb in zip(a, b, strict=True)
    )


def _region_close(ra: Hashable, rb: Hashable) -> bool:
    if ra == rb:
        return True
    if not (isinstance(ra, tuple) and isinstance(rb, tuple)) or len(ra) != len(rb):
        return False
    if ra[:3] != rb[:3] or ra[0] not in GEOMETRY_KINDS:
        return False  # kind, field and labels must match; only geometry has a tolerance
    for va, vb in zip(ra[3:], rb[3:], strict=True):
        if va == vb:
            continue
        if isinstance(va, int) and isinstance(vb, int) and abs(va - vb) <= 1:
            continue
        if not _points_close(va, vb):
            return False
    return True


def _close(a: tuple[Hashable, ...], b: tuple[Hashable, ...]) -> bool:
    """Equal answers, allowing one unit of the output grid on geometry."""
    if a == b:
        return True
    if len(a) != len(b):
        return False
    return all(_region_close(ra, rb) for ra, rb in zip(a, b, strict=True))


def group_answers(sets: Sequence[AnnotationSet]) -> list[list[AnnotationSet]]:
    """Annotation sets grouped by equal answer, groups in order of first appearance."""
    groups: list[tuple[tuple[Hashable, ...], list[AnnotationSet]]] = []
    for annotation in sets:
        key = answer_key(annotation)
        for rep, members in groups:
            if _close(rep, key):
                members.append(annotation)
                break
        else:
            groups.append((key, [annotation]))
    return [members for _, members in groups]


def _collaborative_votes(annotation: AnnotationSet, policy: str) -> AnnotationSet:
    """Doccano collaborative mode keeps every user's label in one list: count them as votes."""
    regions: list[Region] = []
    for region in annotation.regions:
        if isinstance(region, Choice) and len(region.labels) > 1:
            counts = Counter(region.labels).most_common()
            if policy == "agreed" and len(counts) > 1:
                raise TaskError(
                    "annotators_disagree",
                    f"annotators chose different labels for {region.field!r}: "
                    + ", ".join(lb for lb, _ in counts),
                )
            if policy == "majority" and len(counts) > 1 and counts[0][1] == counts[1][1]:
                raise TaskError(
                    "annotator_tie",
                    f"labels for {region.field!r} tie: {counts[0][0]!r} and {counts[1][0]!r}",
                )
            if policy in ("majority", "agreed"):
                region = replace(region, labels=(counts[0][0],))
        regions.append(region)
    return replace(annotation, regions=tuple(regions))


def _latest(sets: Sequence[AnnotationSet]) -> AnnotationSet:
    for annotation in sets:
        if annotation.ground_truth:
            return annotation
    best = sets[0]
    for annotation in sets[1:]:
        if (annotation.updated_at or annotation.created_at or "") >= (
            best.updated_at or best.created_at or ""
        ):
            best = annotation
    return best


class PolicyReject(TaskError):
    """A policy's reject; `disagreed` says whether the task's annotators disagreed, which the
    run counts for rejected tasks too."""

    def __init__(self, code: str, message: str, *, disagreed: bool = False):
        super().__init__(code, message)
        self.disagreed = disagreed


def select(task: Task, policy: str) -> Selection:
    """Apply an annotator policy to a task; PolicyReject (a TaskError) when it yields nothing.

    The answers are grouped once here; `Selection.disagreed` and `PolicyReject.disagreed`
    carry what the grouping found."""
    live = [a for a in task.annotations if not a.cancelled]
    if not live:
        if task.annotations:
            raise PolicyReject("not_annotated", "every annotator skipped (cancelled) this task")
        raise PolicyReject("not_annotated", "the task has no annotation")
    groups = group_answers(live) if len(live) > 1 else [live]
    disagreed = len(groups) > 1
    if task.fields.get("__collaborative__") and policy in ("majority", "agreed"):
        return Selection((_collaborative_votes(live[-1], policy),), disagreed)
    if policy == "latest":
        return Selection((_latest(live),), disagreed)
    if policy == "ground-truth":
        truth = [a for a in live if a.ground_truth]
        if not truth:
            raise PolicyReject(
                "no_ground_truth",
                "no annotation of this task is marked ground truth",
                disagreed=disagreed,
            )
        return Selection((truth[0],), disagreed)
    if policy == "all":
        return Selection(tuple(live), disagreed)
    if policy == "agreed":
        if disagreed:
            raise PolicyReject(
                "annotators_disagree",
                f"{len(live)} annotators gave {len(groups)} different answers",
                disagreed=disagreed,
            )
        return Selection((_latest(live),), disagreed)
    if policy == "majority":
        sizes = sorted((len(g) for g in groups), reverse=True)
        if len(sizes) > 1 and sizes[0] == sizes[1]:
            raise PolicyReject(
                "annotator_tie",
                f"{len(live)} annotators split {'/'.join(map(str, sizes))} with no majority",
                disagreed=disagreed,
            )
        winner = max(groups, key=len)
        return Selection((_latest(winner),), disagreed)
    raise PolicyReject("bad_policy", f"unknown annotator policy {policy!r}", disagreed=disagreed)
