"""Agreement metrics: known values, and hostile input that must give None rather than NaN or a crash."""

from __future__ import annotations

import math

import pytest

from grader.metrics import (
    Interval,
    adjacent_agreement,
    agreement,
    bootstrap_ci,
    clean_pairs,
    confusion,
    exact_agreement,
    mae,
    pearson,
    qwk,
    ranks,
    ridge_line,
    spearman,
    to_bin,
)

NAN = float("nan")
INF = float("inf")


@pytest.mark.parametrize(
    ("x", "y", "expected"),
    [
        pytest.param([1, 2, 3], [2, 4, 6], 1.0, id="perfect_positive"),
        pytest.param([1, 2, 3], [3, 2, 1], -1.0, id="perfect_negative"),
        pytest.param([1, 2, 3, 4], [1, 3, 2, 4], 0.8, id="known_value"),
        pytest.param([1, 1, 1], [1, 2, 3], None, id="constant_x"),
        pytest.param([1, 2, 3], [5, 5, 5], None, id="constant_y"),
        pytest.param([1], [1], None, id="one_pair"),
        pytest.param([], [], None, id="empty"),
        pytest.param([1, 2, NAN, 3], [2, 4, 9, 6], 1.0, id="nan_pair_dropped"),
        pytest.param([NAN, NAN], [1, 2], None, id="all_nan"),
        pytest.param([1, INF, 2, 3], [1, 5, 2, 3], 1.0, id="infinite_pair_dropped"),
        pytest.param([0.1, 0.1 + 1e-15, 0.1], [1, 2, 3], None, id="near_constant_is_constant"),
    ],
)
def test_pearson(x: list[float], y: list[float], expected: float | None) -> None:
    result = pearson(x, y)
    if expected is None:
        assert result is None
    else:
        assert result == pytest.approx(expected)


@pytest.mark.parametrize(
    ("x", "y", "expected"),
    [
        pytest.param([1, 2, 3, 4], [1, 4, 9, 16], 1.0, id="monotone_not_linear"),
        pytest.param([1, 2, 3, 4], [4, 3, 2, 1], -1.0, id="reversed"),
        pytest.param([1, 1, 2, 2], [1, 1, 2, 2], 1.0, id="ties_on_both_sides"),
        pytest.param([1, 2, 2, 3], [1, 3, 2, 4], pytest.approx(0.9487, abs=1e-4), id="ties_known_value"),
        pytest.param([2, 2, 2], [1, 2, 3], None, id="constant"),
        pytest.param([1], [2], None, id="one_pair"),
    ],
)
def test_spearman(x: list[float], y: list[float], expected: object) -> None:
    assert spearman(x, y) == expected


def test_ranks_share_ties() -> None:
    assert ranks([10, 20, 20, 30]) == [1.0, 2.5, 2.5, 4.0]
    assert ranks([]) == []


@pytest.mark.parametrize(
    ("ratio", "bins", "expected"),
    [
        pytest.param(0.0, 5, 0, id="zero"),
        pytest.param(1.0, 5, 4, id="one_is_top_bin"),
        pytest.param(0.2, 5, 1, id="lower_edge_belongs_up"),
        pytest.param(0.19999, 5, 0, id="just_below_edge"),
        pytest.param(0.6, 5, 3, id="float_edge_0_6"),
        pytest.param(-0.3, 5, 0, id="negative_clamped"),
        pytest.param(1.7, 5, 4, id="above_one_clamped"),
        pytest.param(0.5, 2, 1, id="two_bins"),
    ],
)
def test_to_bin(ratio: float, bins: int, expected: int) -> None:
    assert to_bin(ratio, bins) == expected


def test_to_bin_rejects_no_bins() -> None:
    with pytest.raises(ValueError, match="bins"):
        to_bin(0.5, 0)


@pytest.mark.parametrize(
    ("x", "y", "bins", "expected"),
    [
        pytest.param([0.0, 0.5, 1.0], [0.0, 1.0, 1.0], 3, 0.8, id="hand_computed"),
        pytest.param([0.0, 0.5, 1.0], [0.0, 0.5, 1.0], 3, 1.0, id="perfect"),
        pytest.param([0.0, 1.0], [1.0, 0.0], 2, -1.0, id="opposite"),
        pytest.param([1.0, 1.0, 1.0], [1.0, 1.0, 1.0], 5, None, id="all_in_one_bin"),
        pytest.param([0.5], [0.5], 5, None, id="one_pair"),
        pytest.param([], [], 5, None, id="empty"),
        pytest.param([0.0, NAN, 1.0], [0.0, 0.3, 1.0], 2, 1.0, id="nan_dropped"),
    ],
)
def test_qwk(x: list[float], y: list[float], bins: int, expected: float | None) -> None:
    result = qwk(x, y, bins)
    if expected is None:
        assert result is None
    else:
        assert result == pytest.approx(expected)


@pytest.mark.parametrize(
    ("function", "x", "y", "expected"),
    [
        pytest.param(mae, [0.0, 0.5], [0.5, 0.5], 0.25, id="mae"),
        pytest.param(mae, [], [], None, id="mae_empty"),
        pytest.param(mae, [NAN], [0.1], None, id="mae_only_nan"),
        pytest.param(exact_agreement, [0.0, 0.5, 0.9], [0.1, 0.9, 0.85], 2 / 3, id="exact"),
        pytest.param(adjacent_agreement, [0.0, 0.5, 0.0], [0.3, 0.9, 0.9], 1 / 3, id="adjacent"),
        pytest.param(exact_agreement, [], [], None, id="exact_empty"),
    ],
)
def test_simple_figures(function, x, y, expected) -> None:  # type: ignore[no-untyped-def]
    result = function(x, y)
    assert result == (None if expected is None else pytest.approx(expected))


def test_confusion_counts_rows_as_first_series() -> None:
    assert confusion([0.0, 0.0, 1.0], [1.0, 0.0, 1.0], 2) == [[1, 1], [0, 1]]


def test_length_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError, match="length mismatch"):
        clean_pairs([1.0], [1.0, 2.0])


def test_bootstrap_is_seeded_and_brackets_the_estimate() -> None:
    x = [i / 40 for i in range(40)]
    y = [v + (0.2 if i % 3 else -0.2) for i, v in enumerate(x)]
    first = bootstrap_ci(pearson, x, y, resamples=300, seed=7)
    again = bootstrap_ci(pearson, x, y, resamples=300, seed=7)
    other = bootstrap_ci(pearson, x, y, resamples=300, seed=8)
    assert first == again and isinstance(first, Interval)
    assert first != other
    estimate = pearson(x, y)
    assert estimate is not None and first.low <= estimate <= first.high


@pytest.mark.parametrize(
    ("x", "y"),
    [
        pytest.param([1.0, 2.0], [1.0, 2.0], id="too_few_pairs"),
        pytest.param([1.0] * 10, [1.0] * 10, id="constant_everywhere"),
        pytest.param([NAN] * 10, [1.0] * 10, id="all_nan"),
    ],
)
def test_bootstrap_undefined(x: list[float], y: list[float]) -> None:
    assert bootstrap_ci(pearson, x, y, resamples=50) is None


def test_agreement_of_nothing_is_all_none() -> None:
    result = agreement([], [], bins=5, resamples=100)
    assert result.n == 0
    assert [result.pearson, result.spearman, result.qwk, result.mae, result.exact, result.mean_human] == [None] * 6
    assert result.confusion == [[0] * 5 for _ in range(5)]
    assert all(v is None for v in result.ci.values())


def test_agreement_collects_every_figure() -> None:
    human = [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    grader = [0.1, 0.2, 0.6, 0.7, 0.9, 1.0]
    result = agreement(human, grader, bins=5, resamples=200, seed=1)
    assert result.n == 6
    for name in ("pearson", "spearman", "qwk", "mae"):
        value = getattr(result, name)
        assert value is not None and math.isfinite(value)
    assert set(result.ci) == {"pearson", "spearman", "qwk", "mae"}
    assert sum(map(sum, result.confusion)) == 6
    assert result.mean_grader == pytest.approx(sum(grader) / 6)
    assert agreement(human, grader, resamples=0).ci == {}


@pytest.mark.parametrize(
    ("x", "y", "strength", "expected"),
    [
        pytest.param([0.0, 1.0], [1.0, 3.0], 0.0, (1.0, 2.0), id="exact_fit"),
        pytest.param([], [], 5.0, (0.0, 1.0), id="no_data_is_identity"),
        pytest.param([0.5, 0.5], [0.1, 0.9], 0.0, (0.0, 1.0), id="constant_x_unregularised"),
        pytest.param([0.0, 1.0], [1.0, 3.0], 1e9, (0.0, 1.0), id="strong_prior_is_identity"),
    ],
)
def test_ridge_line(x: list[float], y: list[float], strength: float, expected: tuple[float, float]) -> None:
    assert ridge_line(x, y, strength) == pytest.approx(expected, abs=1e-6)


def test_ridge_line_shrinks_towards_identity() -> None:
    x, y = [0.0, 0.5, 1.0], [0.5, 0.5, 0.5]
    free, pulled = ridge_line(x, y, 0.0), ridge_line(x, y, 3.0)
    assert free == pytest.approx((0.5, 0.0))
    assert 0.0 < pulled[1] < 1.0
