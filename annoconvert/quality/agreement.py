"""Inter-annotator agreement over the Task stream, before any annotator policy is applied.

Why here: a team measures agreement on a pilot sample and fixes its guidelines before labelling the
rest (the seed asks for >= 80%). Every coefficient is implemented in this module (no SciPy/sklearn
at run time); the tests check each against the reference implementations.

Units and values:
- a *unit* is one (task, field); an annotator's *value* for a unit comes from their latest
  non-cancelled annotation set of the task (cancelled/skipped sets are not annotations);
- `labels` fields (choices, ratings, numbers, pairwise, taxonomy) are nominal: the value is the
  set of chosen labels (empty when the annotator submitted the task without choosing);
- `spans` are compared as (start, end, label) sets: exact match, and overlap when the character
  IoU is >= 0.5 (greedy one-to-one, best IoU first);
- `shapes` (boxes, polygons) are matched per label by greedy IoU >= 0.5; unrotated boxes use the
  exact rectangle IoU, rotated boxes and polygons are rasterized with pycocotools on the image's
  pixel grid (a 1000x1000 grid when the size is unknown);
- `text` answers are compared by normalized edit similarity (1 - Levenshtein / longer length).

Percent agreement is pairwise: per unit, the share of annotator pairs whose whole answers are equal
(spans: the same set; shapes: every shape matched with the same label), averaged over units.
"""

from __future__ import annotations

import itertools
import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from annoconvert.model import (
    Box,
    Choice,
    Number,
    Pairwise,
    Polygon,
    Rating,
    Region,
    Span,
    Task,
    Taxonomy,
    TextAnswer,
)

FieldKind = Literal["labels", "spans", "shapes", "text"]
IOU_THRESHOLD = 0.5
_UNKNOWN_GRID = 1000


# --- the report -------------------------------------------------------------------------------


class LabelAgreement(BaseModel):
    """Agreement on one label of a field (the per-label bars of the HTML report)."""

    model_config = ConfigDict(frozen=True)

    label: str
    count: int = Field(description="how many times annotators used the label")
    agreement: float | None = Field(
        default=None,
        description="labels: share of this label's pairable values matched by the same label "
        "(o_cc / n_c of Krippendorff's coincidence matrix); spans/shapes: F1",
    )
    f1: float | None = None
    f1_overlap: float | None = None
    mean_iou: float | None = None


class FieldAgreement(BaseModel):
    """Agreement on one control/field; numbers that do not apply to the kind are None."""

    model_config = ConfigDict(frozen=True)

    field: str
    kind: FieldKind
    units: int = Field(description="tasks where two or more annotators answered this field")
    percent_agreement: float | None = None
    unanimous: float | None = Field(default=None, description="share of units all agree on")
    krippendorff_alpha: float | None = None
    fleiss_kappa: float | None = None
    cohen_kappa: dict[str, float | None] = Field(default_factory=dict)
    f1: float | None = Field(default=None, description="spans: exact match; shapes: IoU >= 0.5")
    f1_overlap: float | None = Field(default=None, description="spans: character IoU >= 0.5")
    mean_iou: float | None = None
    mean_similarity: float | None = None
    score: float | None = Field(
        default=None, description="the headline number --min-agreement compares"
    )
    score_metric: str = ""
    labels: list[LabelAgreement] = Field(default_factory=list)


class OverallAgreement(BaseModel):
    """All fields pooled: pairwise agreement over every unit; alpha over the label fields."""

    model_config = ConfigDict(frozen=True)

    units: int
    percent_agreement: float | None = None
    krippendorff_alpha: float | None = None


class Disputed(BaseModel):
    """A unit where annotators disagree, worst first, for review."""

    model_config = ConfigDict(frozen=True)

    task: int | str
    field: str
    disagreement: float
    answers: dict[str, str]


class AnnotatorAgreement(BaseModel):
    """How often one annotator agrees with the others (pair scores averaged over units)."""

    model_config = ConfigDict(frozen=True)

    annotator: str
    tasks: int
    agreement: float | None = None
    cohen_kappa: float | None = Field(
        default=None, description="mean Cohen's kappa with each other annotator, label fields"
    )


class AgreementReport(BaseModel):
    """The result of `agreement(tasks)`; `--json` prints it."""

    model_config = ConfigDict(frozen=True)

    tasks: int = Field(description="tasks with two or more non-cancelled annotations")
    tasks_read: int
    annotators: list[str]
    fields: list[FieldAgreement]
    overall: OverallAgreement
    disputed: list[Disputed]
    per_annotator: list[AnnotatorAgreement]
    notes: list[str] = Field(default_factory=list)

    def below(self, threshold: float) -> list[FieldAgreement]:
        """Fields whose headline score is under `threshold` (None counts as not measured)."""
        return [f for f in self.fields if f.score is not None and f.score < threshold]


# --- coefficients (pure functions) -------------------------------------------------------------


def krippendorff_alpha_nominal(units: Iterable[Sequence[Hashable]]) -> float | None:
    """Krippendorff's alpha for nominal data; each unit lists the values it got (missing left out).

    Units with fewer than two values are not pairable and are ignored (Krippendorff 2011, §C).
    None when fewer than two values are pairable or only one category occurs (alpha undefined).
    """
    coincidence: dict[tuple[Hashable, Hashable], float] = defaultdict(float)
    for values in units:
        m = len(values)
        if m < 2:
            continue
        counts = Counter(values)
        for c, n_c in counts.items():
            for k, n_k in counts.items():
                pairs = n_c * (n_c - 1) if c == k else n_c * n_k
                coincidence[(c, k)] += pairs / (m - 1)
    n_c_totals: dict[Hashable, float] = defaultdict(float)
    for (c, _k), o in coincidence.items():
        n_c_totals[c] += o
    n = sum(n_c_totals.values())
    if n <= 1:
        return None
    disagree_observed = sum(o for (c, k), o in coincidence.items() if c != k)
    expected = n * n - sum(v * v for v in n_c_totals.values())
    if expected <= 0:
        return None
    return 1.0 - (n - 1) * disagree_observed / expected


def cohen_kappa(a: Sequence[Hashable], b: Sequence[Hashable]) -> float | None:
    """Cohen's kappa of two annotators over the same items; None when chance agreement is 1."""
    if len(a) != len(b):
        raise ValueError("cohen_kappa needs two sequences of the same length")
    n = len(a)
    if n == 0:
        return None
    observed = sum(1 for x, y in zip(a, b, strict=True) if x == y) / n
    ca, cb = Counter(a), Counter(b)
    expected = sum(ca[c] * cb.get(c, 0) for c in ca) / (n * n)
    if expected >= 1.0:
        return None
    return (observed - expected) / (1.0 - expected)


def fleiss_kappa(units: Sequence[Sequence[Hashable]]) -> float | None:
    """Fleiss' kappa; every unit must have the same number (>= 2) of ratings, else None."""
    if not units:
        return None
    raters = {len(u) for u in units}
    if len(raters) != 1:
        return None
    r = raters.pop()
    if r < 2:
        return None
    n_units = len(units)
    totals: Counter[Hashable] = Counter()
    p_bar = 0.0
    for values in units:
        counts = Counter(values)
        totals.update(counts)
        p_bar += (sum(c * c for c in counts.values()) - r) / (r * (r - 1))
    p_bar /= n_units
    p_e = sum((t / (n_units * r)) ** 2 for t in totals.values())
    if p_e >= 1.0:
        return None
    return (p_bar - p_e) / (1.0 - p_e)


def pairwise_agreement(values: Sequence[Hashable]) -> float | None:
    """Share of annotator pairs that gave the same value (None for fewer than two values)."""
    pairs = list(itertools.combinations(values, 2))
    if not pairs:
        return None
    return sum(1 for x, y in pairs if x == y) / len(pairs)


def levenshtein(a: str, b: str) -> int:
    """Edit distance (insert, delete, substitute; cost 1 each)."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def normalize_text(text: str) -> str:
    """NFKC, whitespace runs collapsed to one space, stripped: layout is not disagreement."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip()


def text_similarity(a: str, b: str) -> float:
    """1 - Levenshtein / longer length of the normalized texts (1.0 for two empty texts)."""
    a, b = normalize_text(a), normalize_text(b)
    longest = max(len(a), len(b))
    if longest == 0:
        return 1.0
    return 1.0 - levenshtein(a, b) / longest


def span_iou(a: tuple[int, int], b: tuple[int, int]) -> float:
    """Character IoU of two half-open ranges."""
    inter = max(0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union > 0 else 0.0


def greedy_match(
    left: Sequence[Any], right: Sequence[Any], iou: Any, threshold: float = IOU_THRESHOLD
) -> list[tuple[int, int, float]]:
    """One-to-one matches (i, j, iou) taking the best IoU first, keeping those >= threshold."""
    candidates: list[tuple[float, int, int]] = []
    for i, a in enumerate(left):
        for j, b in enumerate(right):
            value = float(iou(a, b))
            if value >= threshold:
                candidates.append((value, i, j))
    candidates.sort(key=lambda c: (-c[0], c[1], c[2]))
    used_left: set[int] = set()
    used_right: set[int] = set()
    matches: list[tuple[int, int, float]] = []
    for value, i, j in candidates:
        if i in used_left or j in used_right:
            continue
        used_left.add(i)
        used_right.add(j)
        matches.append((i, j, value))
    return matches


# --- shapes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    """A box or polygon reduced to what matching needs: label, outline, grid size."""

    label: str
    points: tuple[tuple[float, float], ...]
    rect: tuple[float, float, float, float] | None  # x0, y0, x1, y1 when axis-aligned
    grid: tuple[int, int]


def _shape(region: Box | Polygon) -> list[Shape]:
    width = region.image_width or _UNKNOWN_GRID
    height = region.image_height or _UNKNOWN_GRID
    labels = region.labels or ("",)
    if isinstance(region, Box):
        x0, y0 = region.x, region.y
        x1, y1 = x0 + region.width, y0 + region.height
        if region.rotation % 360.0 == 0:
            rect_pts = ((x0, y0), (x1, y0), (x1, y1), (x0, y1))
            return [Shape(lbl, rect_pts, (x0, y0, x1, y1), (width, height)) for lbl in labels]
        from annoconvert.geometry import box_corners

        corners = box_corners(
            region.x, region.y, region.width, region.height, region.rotation, width, height
        )
        pts = tuple((px / width, py / height) for px, py in corners)
        return [Shape(lbl, pts, None, (width, height)) for lbl in labels]
    return [Shape(lbl, region.points, None, (width, height)) for lbl in labels]


def _rect_iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def shape_iou(a: Shape, b: Shape) -> float:
    """IoU of two shapes: exact for two axis-aligned boxes, rasterized (pycocotools) otherwise."""
    if a.rect is not None and b.rect is not None:
        return _rect_iou(a.rect, b.rect)
    from pycocotools import mask as mask_utils

    width, height = a.grid
    polys = []
    for s in (a, b):
        polys.append([coord for x, y in s.points for coord in (x * width, y * height)])
    rles = mask_utils.frPyObjects(polys, height, width)
    result = mask_utils.iou([rles[0]], [rles[1]], [0])
    return float(result[0][0])


# --- collecting units from tasks ---------------------------------------------------------------

_LABEL_REGIONS = (Choice, Rating, Number, Pairwise, Taxonomy)


def _kind_of(region: Region) -> FieldKind | None:
    if isinstance(region, _LABEL_REGIONS):
        return "labels"
    if isinstance(region, Span):
        return "spans"
    if isinstance(region, Box | Polygon):
        return "shapes"
    if isinstance(region, TextAnswer):
        return "text" if region.region_id is None else None
    return None


def _label_value(regions: Sequence[Region]) -> str:
    """The nominal value: the sorted chosen labels joined by ' + ' ('' for nothing chosen)."""
    items: set[str] = set()
    for r in regions:
        if isinstance(r, Choice):
            items.update(r.labels)
        elif isinstance(r, Rating | Number):
            items.add(str(r.value))
        elif isinstance(r, Pairwise):
            items.add(r.selected)
        elif isinstance(r, Taxonomy):
            items.update(" / ".join(p) for p in r.paths)
    return " + ".join(sorted(items))


@dataclass
class _Unit:
    task: int | str
    field: str
    kind: FieldKind
    answers: dict[str, list[Region]]


def _annotator_sets(task: Task) -> dict[str, tuple[Region, ...]]:
    """Each annotator's latest non-cancelled regions (unnamed sets get '#<n>')."""
    chosen: dict[str, tuple[Region, ...]] = {}
    for index, annotation in enumerate(task.annotations):
        if annotation.cancelled:
            continue
        name = annotation.annotator if annotation.annotator is not None else f"#{index}"
        chosen[name] = annotation.regions
    return chosen


def _units_of(task: Task, kinds: dict[str, FieldKind]) -> list[_Unit]:
    sets = _annotator_sets(task)
    if len(sets) < 2:
        return []
    by_field: dict[str, dict[str, list[Region]]] = defaultdict(dict)
    for annotator, regions in sets.items():
        for region in regions:
            kind = _kind_of(region)
            if kind is None:
                continue
            kinds.setdefault(region.field, kind)
            by_field[region.field].setdefault(annotator, []).append(region)
    controls = task.fields.get("__controls__") if isinstance(task.fields, dict) else None
    declared = set(controls) if isinstance(controls, dict) else set()
    units: list[_Unit] = []
    for field_name in sorted(set(by_field) | (declared & set(kinds))):
        kind = kinds.get(field_name)
        if kind is None:
            continue
        # an annotator who submitted the task but left this field empty answered "nothing"
        answers = {a: by_field[field_name].get(a, []) for a in sets}
        units.append(_Unit(task.id, field_name, kind, answers))
    return units


# --- per-kind pair comparison ---------------------------------------------------------------


@dataclass
class _PairResult:
    score: float  # 0..1, 1 = the same answer
    equal: bool


@dataclass
class _Tally:
    matched: float = 0.0
    total: float = 0.0  # |A| + |B|
    matched_overlap: float = 0.0
    iou_sum: float = 0.0
    iou_n: int = 0

    def f1(self) -> float | None:
        return 2 * self.matched / self.total if self.total else None

    def f1_overlap(self) -> float | None:
        return 2 * self.matched_overlap / self.total if self.total else None

    def mean_iou(self) -> float | None:
        return self.iou_sum / self.iou_n if self.iou_n else None


def _span_items(regions: Sequence[Region]) -> list[tuple[int, int, str]]:
    items: list[tuple[int, int, str]] = []
    for r in regions:
        if isinstance(r, Span):
            for label in r.labels or ("",):
                items.append((r.start, r.end, label))
    return sorted(set(items))


def _compare_spans(
    a: Sequence[Region], b: Sequence[Region], per_label: dict[str, _Tally], tally: _Tally
) -> _PairResult:
    left, right = _span_items(a), _span_items(b)
    labels = {s[2] for s in left} | {s[2] for s in right}
    pair_matched = 0
    for label in labels:
        la = [s for s in left if s[2] == label]
        rb = [s for s in right if s[2] == label]
        exact = len(set(la) & set(rb))
        overlap = greedy_match(la, rb, lambda x, y: span_iou((x[0], x[1]), (y[0], y[1])))
        for t in (per_label[label], tally):
            t.matched += exact
            t.matched_overlap += len(overlap)
            t.total += len(la) + len(rb)
        pair_matched += exact
    size = len(left) + len(right)
    score = 2 * pair_matched / size if size else 1.0
    return _PairResult(score, left == right)


def _compare_shapes(
    a: Sequence[Region], b: Sequence[Region], per_label: dict[str, _Tally], tally: _Tally
) -> _PairResult:
    left = [s for r in a if isinstance(r, Box | Polygon) for s in _shape(r)]
    right = [s for r in b if isinstance(r, Box | Polygon) for s in _shape(r)]
    labels = {s.label for s in left} | {s.label for s in right}
    pair_matched = 0
    for label in labels:
        la = [s for s in left if s.label == label]
        rb = [s for s in right if s.label == label]
        matches = greedy_match(la, rb, shape_iou)
        for t in (per_label[label], tally):
            t.matched += len(matches)
            t.total += len(la) + len(rb)
            t.iou_sum += sum(m[2] for m in matches)
            t.iou_n += len(matches)
        pair_matched += len(matches)
    size = len(left) + len(right)
    score = 2 * pair_matched / size if size else 1.0
    return _PairResult(score, 2 * pair_matched == size)


def _text_of(regions: Sequence[Region]) -> str:
    return "\n".join(t for r in regions if isinstance(r, TextAnswer) for t in r.texts)


def _describe(kind: FieldKind, regions: Sequence[Region]) -> str:
    """A short human rendering of one answer for the disputed list."""
    if kind == "labels":
        return _label_value(regions) or "(none)"
    if kind == "spans":
        return ", ".join(f"{s}-{e} {lbl}" for s, e, lbl in _span_items(regions)) or "(none)"
    if kind == "shapes":
        counts = Counter(
            s.label for r in regions if isinstance(r, Box | Polygon) for s in _shape(r)
        )
        return ", ".join(f"{n}x {lbl}" for lbl, n in sorted(counts.items())) or "(none)"
    text = normalize_text(_text_of(regions))
    return text if len(text) <= 80 else text[:77] + "..."


# --- the main entry point -----------------------------------------------------------------


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _pair_key(a: str, b: str) -> str:
    return f"{a}|{b}"


def _sort_key(name: str) -> tuple[int, int | str]:
    return (0, int(name)) if name.isdigit() else (1, name)


def agreement(tasks: Iterable[Task], top: int = 10) -> AgreementReport:
    """Measure agreement over every task holding two or more non-cancelled annotations.

    Memory grows with the number of units (task x field), not with the regions' input data:
    each unit keeps only the regions it compares.
    """
    kinds: dict[str, FieldKind] = {}
    units: list[_Unit] = []
    tasks_read = 0
    for task in tasks:
        tasks_read += 1
        units.extend(_units_of(task, kinds))

    annotators = sorted({a for u in units for a in u.answers}, key=_sort_key)
    by_field: dict[str, list[_Unit]] = defaultdict(list)
    for unit in units:
        by_field[unit.field].append(unit)

    pair_scores: dict[str, list[float]] = defaultdict(list)
    annotator_units: dict[str, set[tuple[int | str, str]]] = defaultdict(set)
    annotator_kappas: dict[str, list[float]] = defaultdict(list)
    unit_scores: list[float] = []
    disputed: list[Disputed] = []
    fields: list[FieldAgreement] = []
    pooled_alpha_units: list[list[Hashable]] = []

    for field_name in sorted(by_field):
        field_units = by_field[field_name]
        kind = kinds[field_name]
        per_unit_pa: list[float] = []
        unanimous: list[bool] = []
        per_label: dict[str, _Tally] = defaultdict(_Tally)
        tally = _Tally()
        similarities: list[float] = []
        label_units: list[list[str]] = []
        for unit in field_units:
            names = sorted(unit.answers, key=_sort_key)
            pair_results: list[_PairResult] = []
            for a, b in itertools.combinations(names, 2):
                ra, rb = unit.answers[a], unit.answers[b]
                if kind == "labels":
                    same = _label_value(ra) == _label_value(rb)
                    result = _PairResult(1.0 if same else 0.0, same)
                elif kind == "spans":
                    result = _compare_spans(ra, rb, per_label, tally)
                elif kind == "shapes":
                    result = _compare_shapes(ra, rb, per_label, tally)
                else:
                    sim = text_similarity(_text_of(ra), _text_of(rb))
                    similarities.append(sim)
                    result = _PairResult(sim, sim == 1.0)
                pair_results.append(result)
                for who in (a, b):
                    pair_scores[who].append(result.score)
                    annotator_units[who].add((unit.task, field_name))
            if kind == "labels":
                values = [_label_value(unit.answers[n]) for n in names]
                label_units.append(values)
                pooled_alpha_units.append([(field_name, v) for v in values])
            equal_share = sum(r.equal for r in pair_results) / len(pair_results)
            per_unit_pa.append(equal_share)
            unanimous.append(all(r.equal for r in pair_results))
            mean_score = sum(r.score for r in pair_results) / len(pair_results)
            unit_scores.append(equal_share)
            if mean_score < 1.0:
                disputed.append(
                    Disputed(
                        task=unit.task,
                        field=field_name,
                        disagreement=round(1.0 - mean_score, 6),
                        answers={n: _describe(kind, unit.answers[n]) for n in names},
                    )
                )

        summary = _field_summary(
            field_name, kind, field_units, per_unit_pa, unanimous, label_units, per_label, tally
        )
        if kind == "text":
            summary = summary.model_copy(
                update={"mean_similarity": _mean(similarities), "score": _mean(similarities)}
            )
        fields.append(summary)
        for key, value in summary.cohen_kappa.items():
            if value is None:
                continue
            a, b = key.split("|", 1)
            annotator_kappas[a].append(value)
            annotator_kappas[b].append(value)

    disputed.sort(key=lambda d: (-d.disagreement, str(d.task), d.field))
    per_annotator = [
        AnnotatorAgreement(
            annotator=name,
            tasks=len({t for t, _f in annotator_units[name]}),
            agreement=_mean(pair_scores[name]),
            cohen_kappa=_mean(annotator_kappas[name]),
        )
        for name in annotators
    ]
    notes: list[str] = []
    if any(f.kind == "shapes" for f in fields):
        notes.append(
            "shapes: axis-aligned boxes use exact IoU; rotated boxes and polygons are "
            "rasterized on the image's pixel grid"
        )
    return AgreementReport(
        tasks=len({u.task for u in units}),
        tasks_read=tasks_read,
        annotators=annotators,
        fields=fields,
        overall=OverallAgreement(
            units=len(unit_scores),
            percent_agreement=_mean(unit_scores),
            krippendorff_alpha=krippendorff_alpha_nominal(pooled_alpha_units),
        ),
        disputed=disputed[:top] if top >= 0 else disputed,
        per_annotator=per_annotator,
        notes=notes,
    )


def _field_summary(
    field_name: str,
    kind: FieldKind,
    field_units: Sequence[_Unit],
    per_unit_pa: Sequence[float],
    unanimous: Sequence[bool],
    label_units: Sequence[Sequence[str]],
    per_label: Mapping[str, _Tally],
    tally: _Tally,
) -> FieldAgreement:
    base: dict[str, Any] = {
        "field": field_name,
        "kind": kind,
        "units": len(field_units),
        "percent_agreement": _mean(per_unit_pa),
        "unanimous": _mean([1.0 if u else 0.0 for u in unanimous]),
    }
    if kind == "labels":
        alpha = krippendorff_alpha_nominal(label_units)
        base.update(
            krippendorff_alpha=alpha,
            fleiss_kappa=fleiss_kappa(label_units),
            cohen_kappa=_cohen_pairs(field_units),
            labels=_nominal_labels(label_units),
            score=alpha if alpha is not None else base["percent_agreement"],
            score_metric="krippendorff_alpha" if alpha is not None else "percent_agreement",
        )
    elif kind in ("spans", "shapes"):
        labels = [
            LabelAgreement(
                label=label,
                count=int(t.total),
                agreement=t.f1(),
                f1=t.f1(),
                f1_overlap=t.f1_overlap() if kind == "spans" else None,
                mean_iou=t.mean_iou() if kind == "shapes" else None,
            )
            for label, t in sorted(per_label.items())
        ]
        f1 = tally.f1()
        base.update(
            f1=f1,
            f1_overlap=tally.f1_overlap() if kind == "spans" else None,
            mean_iou=tally.mean_iou() if kind == "shapes" else None,
            labels=labels,
            score=f1 if f1 is not None else base["percent_agreement"],
            score_metric="f1" if f1 is not None else "percent_agreement",
        )
    else:
        base.update(score_metric="mean_similarity")
    return FieldAgreement(**base)


def _cohen_pairs(field_units: Sequence[_Unit]) -> dict[str, float | None]:
    """Cohen's kappa for every annotator pair, over the units both answered."""
    names = sorted({a for u in field_units for a in u.answers}, key=_sort_key)
    result: dict[str, float | None] = {}
    for a, b in itertools.combinations(names, 2):
        xs: list[str] = []
        ys: list[str] = []
        for unit in field_units:
            if a in unit.answers and b in unit.answers:
                xs.append(_label_value(unit.answers[a]))
                ys.append(_label_value(unit.answers[b]))
        if xs:
            value = cohen_kappa(xs, ys)
            result[_pair_key(a, b)] = None if value is None or math.isnan(value) else value
    return result


def _nominal_labels(label_units: Sequence[Sequence[str]]) -> list[LabelAgreement]:
    """Per category: o_cc / n_c, the share of its pairable values matched by the same value."""
    same: dict[str, float] = defaultdict(float)
    total: dict[str, float] = defaultdict(float)
    used: Counter[str] = Counter()
    for values in label_units:
        used.update(values)
        m = len(values)
        if m < 2:
            continue
        counts = Counter(values)
        for c, n_c in counts.items():
            same[c] += n_c * (n_c - 1) / (m - 1)
            total[c] += n_c
    return [
        LabelAgreement(
            label=label or "(none)",
            count=used[label],
            agreement=same[label] / total[label] if total[label] else None,
        )
        for label in sorted(used)
    ]
