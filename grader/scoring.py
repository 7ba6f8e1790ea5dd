"""Pure scoring: check a verdict against its rubric and turn it into points.

The formula is fixed by the public contract, whichever judge decided the levels: a criterion with L levels
scored at level k earns k / (L-1) of its points; its points are max_score * weight / sum of weights; the
total is the sum, rounded to 2 decimals. No I/O here.
"""

from __future__ import annotations

import re
import statistics
import unicodedata
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from grader.models import CriterionResult, CriterionVerdict, Rubric, Verdict


def criterion_points(rubric: Rubric) -> dict[str, float]:
    """Return the maximum points of each criterion, by id."""
    total_weight = sum(c.weight for c in rubric.criteria)
    return {c.id: rubric.max_score * c.weight / total_weight for c in rubric.criteria}


def score_levels(rubric: Rubric, levels: Mapping[str, float]) -> float:
    """Total score for a level per criterion (levels may be fractional, e.g. a median of samples)."""
    points = criterion_points(rubric)
    total = 0.0
    for criterion in rubric.criteria:
        level = levels[criterion.id]
        total += points[criterion.id] * level / (len(criterion.levels) - 1)
    return round(total, 2)


def verdict_problems(verdict: Verdict, rubric: Rubric) -> list[str]:
    """Return what makes a verdict unusable for this rubric (each a line to show the model in a re-ask)."""
    problems = []
    known = {c.id for c in rubric.criteria}
    for criterion in rubric.criteria:
        decided = verdict.criteria.get(criterion.id)
        if decided is None:
            problems.append(f"criteria.{criterion.id}: missing")
        elif not 0 <= decided.level < len(criterion.levels):
            problems.append(f"criteria.{criterion.id}.level: {decided.level} is outside 0..{len(criterion.levels) - 1}")
    for extra in sorted(set(verdict.criteria) - known):
        problems.append(f"criteria.{extra}: not a criterion of this rubric")
    return problems


def normalize_for_match(text: str) -> str:
    """Fold case, Unicode forms, quotes, dashes and whitespace so quotes can be found in the answer."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = re.sub(r"[\u2018\u2019\u201b\u2032`]", "'", text)
    text = re.sub(r"[\u201c\u201d\u201f\u2033]", '"', text)
    text = re.sub(r"[\u2010-\u2015\u2212]", "-", text)
    text = re.sub(r"[\u200b-\u200f\u2060\ufeff]", "", text)
    return re.sub(r"\s+", " ", text).strip()


_ELLIPSIS = re.compile(r"\s*(?:\.\.\.|…|\[\.\.\.\])\s*")


def quote_in_answer(quote: str, normalized_answer: str) -> bool:
    """Whether a quote occurs in the answer; an ellipsis may stand for omitted text between parts."""
    parts = [normalize_for_match(p).strip(" \"'.,;:") for p in _ELLIPSIS.split(quote)]
    parts = [p for p in parts if p]
    if not parts:
        return True
    position = 0
    for part in parts:
        found = normalized_answer.find(part, position)
        if found < 0:
            return False
        position = found + len(part)
    return True


def missing_evidence(verdict: Verdict, answer: str) -> list[str]:
    """Return the evidence quotes that do not occur in the answer, as `criterion: "quote"`."""
    normalized = normalize_for_match(answer)
    return [
        f'{criterion_id}: "{quote}"'
        for criterion_id, decided in verdict.criteria.items()
        for quote in decided.evidence
        if not quote_in_answer(quote, normalized)
    ]


def criterion_results(verdict: Verdict, rubric: Rubric) -> list[CriterionResult]:
    """Score each criterion of a valid verdict, in rubric order."""
    points = criterion_points(rubric)
    results = []
    for criterion in rubric.criteria:
        decided = verdict.criteria[criterion.id]
        steps = len(criterion.levels) - 1
        results.append(
            CriterionResult(
                id=criterion.id,
                level=decided.level,
                levels=len(criterion.levels),
                score=round(points[criterion.id] * decided.level / steps, 2),
                max_score=round(points[criterion.id], 2),
                rationale=decided.rationale,
                evidence=decided.evidence,
                spread=decided.spread,
                level_probs=decided.level_probs,
            )
        )
    return results


def total_score(verdict: Verdict, rubric: Rubric) -> float:
    """Total of a valid verdict by the fixed formula."""
    return score_levels(rubric, {c.id: verdict.criteria[c.id].level for c in rubric.criteria})


class Combined(NamedTuple):
    """Several sampled verdicts combined into one."""

    verdict: Verdict
    max_spread: float


def combine_verdicts(verdicts: Sequence[Verdict], rubric: Rubric) -> Combined:
    """Combine sampled verdicts per criterion: the median level (low median on ties), and its spread.

    The low median keeps a split decision from rounding a candidate up. Feedback and evidence come from
    the sample whose levels are closest to the combined ones, so the text matches the score.
    """
    if not verdicts:
        raise ValueError("no verdicts to combine")
    combined: dict[str, CriterionVerdict] = {}
    max_spread = 0.0
    for criterion in rubric.criteria:
        levels = [v.criteria[criterion.id].level for v in verdicts]
        level = statistics.median_low(levels)
        spread = float(max(levels) - min(levels))
        max_spread = max(max_spread, spread)
        source = next(v.criteria[criterion.id] for v in verdicts if v.criteria[criterion.id].level == level)
        combined[criterion.id] = source.model_copy(update={"level": level, "spread": spread})

    def distance(v: Verdict) -> int:
        return sum(abs(v.criteria[cid].level - combined[cid].level) for cid in combined)

    closest = min(verdicts, key=distance)
    return Combined(Verdict(criteria=combined, feedback=closest.feedback), max_spread)


def expected_level(probs: Sequence[float]) -> float:
    """Probability-weighted level (G-Eval style) from per-level probabilities."""
    total = sum(probs)
    if total <= 0:
        raise ValueError("level probabilities sum to zero")
    return sum(i * p for i, p in enumerate(probs)) / total
