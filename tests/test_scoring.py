"""Pure scoring: the fixed formula, verdict checks, evidence matching, combining samples."""

from __future__ import annotations

import pytest

from grader.models import Criterion, CriterionVerdict, Feedback, Rubric, Verdict
from grader.scoring import (
    combine_verdicts,
    criterion_points,
    expected_level,
    missing_evidence,
    normalize_for_match,
    quote_in_answer,
    score_levels,
    total_score,
    verdict_problems,
)


def make_rubric(weights_levels: list[tuple[float, int]], max_score: float = 10) -> Rubric:
    return Rubric(
        question_id="q99",
        max_score=max_score,
        reference_answer="ref",
        criteria=[
            Criterion(id=f"c{i}", description="d", weight=w, levels=[f"l{k}" for k in range(n)], key_points=["k"])
            for i, (w, n) in enumerate(weights_levels)
        ],
    )


def verdict(**levels: int) -> Verdict:
    return Verdict(criteria={cid: CriterionVerdict(level=lv) for cid, lv in levels.items()})


@pytest.mark.parametrize(
    ("spec", "levels", "expected"),
    [
        pytest.param([(3, 4), (2, 4), (3, 4), (2, 4)], {"c0": 3, "c1": 3, "c2": 3, "c3": 2}, 9.33, id="q05_strong"),
        pytest.param([(1, 4), (1, 4)], {"c0": 0, "c1": 0}, 0.0, id="all_lowest"),
        pytest.param([(1, 4), (1, 4)], {"c0": 3, "c1": 3}, 10.0, id="all_highest"),
        pytest.param([(1, 3), (1, 5)], {"c0": 1, "c1": 1}, 3.75, id="mixed_level_counts"),
        pytest.param([(1, 2)], {"c0": 1}, 10.0, id="two_levels"),
        pytest.param([(0.5, 4), (1.5, 4)], {"c0": 3, "c1": 0}, 2.5, id="fractional_weights"),
        pytest.param([(1, 3), (1, 3), (1, 3)], {"c0": 1, "c1": 1, "c2": 1}, 5.0, id="thirds_round_to_2dp"),
        pytest.param([(1, 4)], {"c0": 1.5}, 5.0, id="fractional_level_median"),
    ],
)
def test_score_levels(spec: list[tuple[float, int]], levels: dict[str, float], expected: float) -> None:
    assert score_levels(make_rubric(spec), levels) == expected


def test_points_sum_to_max_score() -> None:
    rubric = make_rubric([(3, 4), (2, 4), (1, 3)], max_score=7)
    assert sum(criterion_points(rubric).values()) == pytest.approx(7)


@pytest.mark.parametrize(
    ("levels", "problems"),
    [
        pytest.param({"c0": 1, "c1": 2}, [], id="valid"),
        pytest.param({"c0": 1}, ["criteria.c1: missing"], id="missing_criterion"),
        pytest.param({"c0": 1, "c1": 4}, ["criteria.c1.level: 4 is outside 0..3"], id="level_too_high"),
        pytest.param({"c0": -1, "c1": 0}, ["criteria.c0.level: -1 is outside 0..3"], id="negative_level"),
        pytest.param({"c0": 1, "c1": 1, "bonus": 3}, ["criteria.bonus: not a criterion of this rubric"], id="invented"),
    ],
)
def test_verdict_problems(levels: dict[str, int], problems: list[str]) -> None:
    assert verdict_problems(verdict(**levels), make_rubric([(1, 4), (1, 4)])) == problems


ANSWER = (
    "The KL term — KL(q(z|x) ‖ p(z)) — pulls the posterior towards the “standard normal” prior.\nIt's not symmetric."
)


@pytest.mark.parametrize(
    ("quote", "found"),
    [
        pytest.param("pulls the posterior towards", True, id="exact"),
        pytest.param("PULLS THE   POSTERIOR", True, id="case_and_spaces"),
        pytest.param('"standard normal" prior', True, id="straight_quotes_for_curly"),
        pytest.param("It’s not symmetric", True, id="curly_apostrophe_for_straight"),
        pytest.param("The KL term ... standard normal", True, id="ellipsis_gap"),
        pytest.param("The KL term … prior. It's", True, id="unicode_ellipsis"),
        pytest.param("prior ... The KL term", False, id="ellipsis_wrong_order"),
        pytest.param("KL is symmetric", False, id="invented_quote"),
        pytest.param("", True, id="empty_quote_is_no_claim"),
        pytest.param("pulls the\u200b posterior", True, id="zero_width_in_quote"),
    ],
)
def test_quote_in_answer(quote: str, found: bool) -> None:
    assert quote_in_answer(quote, normalize_for_match(ANSWER)) is found


def test_missing_evidence_names_criterion_and_quote() -> None:
    v = Verdict(
        criteria={
            "c0": CriterionVerdict(level=1, evidence=["not symmetric", "made up"]),
            "c1": CriterionVerdict(level=0, evidence=[]),
        }
    )
    assert missing_evidence(v, ANSWER) == ['c0: "made up"']


def test_total_score_ignores_nothing_and_uses_rubric_order() -> None:
    rubric = make_rubric([(1, 4), (3, 4)])
    assert total_score(verdict(c1=3, c0=0), rubric) == 7.5


@pytest.mark.parametrize(
    ("samples", "level", "spread"),
    [
        pytest.param([2, 2, 2], 2, 0.0, id="unanimous"),
        pytest.param([0, 3, 3], 3, 3.0, id="majority_high_with_outlier"),
        pytest.param([1, 2], 1, 1.0, id="tie_takes_low_median"),
        pytest.param([0, 1, 2, 3, 3], 2, 3.0, id="median_of_five"),
    ],
)
def test_combine_verdicts(samples: list[int], level: int, spread: float) -> None:
    rubric = make_rubric([(1, 4)])
    verdicts = [
        Verdict(criteria={"c0": CriterionVerdict(level=lv, rationale=f"r{lv}")}, feedback=Feedback(next_step=f"n{lv}"))
        for lv in samples
    ]
    combined = combine_verdicts(verdicts, rubric)
    assert combined.verdict.criteria["c0"].level == level
    assert combined.verdict.criteria["c0"].spread == spread
    assert combined.verdict.criteria["c0"].rationale == f"r{level}"
    assert combined.verdict.feedback.next_step == f"n{level}"
    assert combined.max_spread == spread


def test_combine_nothing_is_an_error() -> None:
    with pytest.raises(ValueError):
        combine_verdicts([], make_rubric([(1, 4)]))


@pytest.mark.parametrize(
    ("probs", "expected"),
    [
        pytest.param([0, 0, 0, 1], 3.0, id="certain_top"),
        pytest.param([0.5, 0, 0, 0.5], 1.5, id="split"),
        pytest.param([1, 1, 1, 1], 1.5, id="unnormalised"),
    ],
)
def test_expected_level(probs: list[float], expected: float) -> None:
    assert expected_level(probs) == pytest.approx(expected)


def test_expected_level_rejects_zero_mass() -> None:
    with pytest.raises(ValueError):
        expected_level([0, 0])
