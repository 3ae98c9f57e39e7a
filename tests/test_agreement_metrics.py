"""Agreement coefficients against reference implementations and hand-checked cases."""

from __future__ import annotations

import math
import random

import krippendorff
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss

from annoconvert.quality.agreement import (
    Shape,
    cohen_kappa,
    fleiss_kappa,
    greedy_match,
    krippendorff_alpha_nominal,
    levenshtein,
    shape_iou,
    span_iou,
    text_similarity,
)

NAN = float("nan")

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 observers,
# 12 units, nominal data with missing values; the paper gives alpha = 0.743.
KRIPPENDORFF_2011 = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
    [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
]


def _units(matrix: list[list[float]]) -> list[list[int]]:
    """Observer x unit matrix (NaN = missing) -> per unit the values it got."""
    return [
        [int(row[u]) for row in matrix if not math.isnan(row[u])] for u in range(len(matrix[0]))
    ]


def test_krippendorff_2011_worked_example() -> None:
    alpha = krippendorff_alpha_nominal(_units(KRIPPENDORFF_2011))
    assert alpha is not None
    assert round(alpha, 3) == 0.743
    reference = krippendorff.alpha(
        reliability_data=np.array(KRIPPENDORFF_2011), level_of_measurement="nominal"
    )
    assert alpha == pytest.approx(reference, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(min_value=2, max_value=5),
    st.integers(min_value=3, max_value=30),
    st.integers(min_value=2, max_value=4),
    st.integers(min_value=0, max_value=2**31),
)
def test_alpha_matches_the_krippendorff_package(
    raters: int, units: int, cats: int, seed: int
) -> None:
    rng = random.Random(seed)
    matrix = [
        [float(rng.randrange(cats)) if rng.random() > 0.25 else NAN for _ in range(units)]
        for _ in range(raters)
    ]
    ours = krippendorff_alpha_nominal(_units(matrix))
    pairable = [u for u in _units(matrix) if len(u) >= 2]
    values = {v for u in pairable for v in u}
    if len(values) < 2:
        assert ours is None  # alpha is undefined with one category (the package raises)
        return
    reference = krippendorff.alpha(
        reliability_data=np.array(matrix), level_of_measurement="nominal"
    )
    assert ours == pytest.approx(reference, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("ABC"), st.sampled_from("ABC")), min_size=2, max_size=40))
def test_cohen_matches_sklearn(pairs: list[tuple[str, str]]) -> None:
    a = [x for x, _ in pairs]
    b = [y for _, y in pairs]
    ours = cohen_kappa(a, b)
    if set(a) == set(b) and len(set(a)) == 1:
        assert ours is None  # chance agreement is 1: kappa undefined (sklearn gives nan)
        return
    assert ours == pytest.approx(cohen_kappa_score(a, b), abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(min_value=2, max_value=5),
    st.integers(min_value=2, max_value=25),
    st.integers(min_value=0, max_value=2**31),
)
def test_fleiss_matches_statsmodels(raters: int, n_units: int, seed: int) -> None:
    rng = random.Random(seed)
    units = [[rng.choice("xyz") for _ in range(raters)] for _ in range(n_units)]
    ours = fleiss_kappa(units)
    codes = {"x": 0, "y": 1, "z": 2}
    if ours is None:
        assert len({v for u in units for v in u}) == 1  # one category: kappa undefined
        return
    table, _ = aggregate_raters(np.array([[codes[v] for v in u] for u in units]))
    assert ours == pytest.approx(sm_fleiss(table, method="fleiss"), abs=1e-9)


def test_fleiss_needs_the_same_number_of_raters() -> None:
    assert fleiss_kappa([["a", "a"], ["a", "b", "b"]]) is None


def test_perfect_agreement_is_one() -> None:
    units = [["a", "a", "a"], ["b", "b", "b"], ["c", "c", "c"]]
    assert krippendorff_alpha_nominal(units) == 1.0
    assert fleiss_kappa(units) == 1.0
    assert cohen_kappa(["a", "b", "c"], ["a", "b", "c"]) == 1.0


def test_chance_level_agreement_is_near_zero() -> None:
    rng = random.Random(7)
    a = [rng.choice("ABCD") for _ in range(20000)]
    b = [rng.choice("ABCD") for _ in range(20000)]
    assert abs(cohen_kappa(a, b) or 0.0) < 0.02
    alpha = krippendorff_alpha_nominal(list(zip(a, b, strict=True)))
    assert alpha is not None and abs(alpha) < 0.02


def test_edit_similarity_textbook_case() -> None:
    assert levenshtein("kitten", "sitting") == 3
    assert text_similarity("kitten", "sitting") == pytest.approx(1 - 3 / 7)
    assert text_similarity("  Same   text\n", "Same text") == 1.0


def test_span_iou_and_greedy_matching() -> None:
    assert span_iou((0, 10), (5, 15)) == pytest.approx(5 / 15)
    assert span_iou((0, 10), (0, 10)) == 1.0
    # best IoU first, one-to-one: (0,10) goes to (0,10) not (1,10)
    left, right = [(0, 10), (1, 10)], [(0, 10)]
    matches = greedy_match(left, right, span_iou)
    assert matches == [(0, 0, 1.0)]


def _rect(x0: float, y0: float, x1: float, y1: float) -> Shape:
    pts = ((x0, y0), (x1, y0), (x1, y1), (x0, y1))
    return Shape("a", pts, (x0, y0, x1, y1), (1000, 1000))


def test_box_iou_exact_and_rasterized() -> None:
    a, b = _rect(0.0, 0.0, 0.5, 0.5), _rect(0.25, 0.0, 0.75, 0.5)
    assert shape_iou(a, b) == pytest.approx(1 / 3)
    # the same boxes as polygons go through the rasterized path and agree to a pixel
    pa, pb = Shape("a", a.points, None, a.grid), Shape("a", b.points, None, b.grid)
    assert shape_iou(pa, pb) == pytest.approx(1 / 3, abs=0.01)
