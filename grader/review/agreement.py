"""Agreement between the grader and the reviewers, and between reviewers, from the latest review lines.

Per criterion (keyed `question_id.criterion_id`, since criteria belong to a rubric): the levels, with exact and
adjacent agreement and QWK over the criterion's own levels, and MAE in levels. Total: the scores as fractions of
the maximum in 5 equal bins (as `grader eval` does), and MAE in points. The metrics are those of `grader eval`.
A review whose levels no longer fit the current rubric counts for nothing on the criteria it does not fit.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from grader.review._grader import adjacent_agreement, exact_agreement, mae, qwk
from grader.review.store import Answer, Batch

TOTAL_BINS = 5


@dataclass
class _Pairs:
    """Paired values of two raters, with how to bin them."""

    bins: int
    scale: float
    """Divides values into 0 … 1 ratios."""
    left: list[float] = field(default_factory=list)
    right: list[float] = field(default_factory=list)

    def add(self, a: float, b: float) -> None:
        self.left.append(a)
        self.right.append(b)

    def figures(self) -> dict[str, Any]:
        x = [v / self.scale for v in self.left]
        y = [v / self.scale for v in self.right]
        return {
            "n": len(self.left),
            "exact": _round(exact_agreement(x, y, self.bins)),
            "adjacent": _round(adjacent_agreement(x, y, self.bins)),
            "qwk": _round(qwk(x, y, self.bins)),
            "mae": _round(mae(self.left, self.right)),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


class _Tally:
    """Pairs per criterion and for the total, for one comparison (grader vs reviewers, or reviewer vs reviewer)."""

    def __init__(self) -> None:
        self.criteria: dict[str, _Pairs] = {}
        self.total: dict[float, _Pairs] = {}

    def add(self, answer: Answer, a: Mapping[str, Any], b: Mapping[str, Any]) -> None:
        """Add one pair of ratings of an answer: each {"levels": {...}, "score": float | None}."""
        for criterion in answer.criteria:
            la, lb = _level(a, criterion.id, len(criterion.levels)), _level(b, criterion.id, len(criterion.levels))
            if la is None or lb is None:
                continue
            key = f"{answer.question_id}.{criterion.id}"
            steps = len(criterion.levels) - 1
            self.criteria.setdefault(key, _Pairs(bins=len(criterion.levels), scale=steps)).add(la, lb)
        sa, sb = a.get("score"), b.get("score")
        if isinstance(sa, int | float) and isinstance(sb, int | float):
            self.total.setdefault(answer.max_score, _Pairs(bins=TOTAL_BINS, scale=answer.max_score)).add(sa, sb)

    def figures(self) -> dict[str, Any]:
        merged = _Pairs(bins=TOTAL_BINS, scale=1.0)
        for pairs in self.total.values():  # scores as fractions, MAE in points
            for a, b in zip(pairs.left, pairs.right, strict=True):
                merged.add(a / pairs.scale, b / pairs.scale)
        total = merged.figures()
        total["mae"] = _round(mae([a for p in self.total.values() for a in p.left],
                                  [b for p in self.total.values() for b in p.right]))  # fmt: skip
        return {"total": total, "criteria": {k: self.criteria[k].figures() for k in sorted(self.criteria)}}


def _level(rating: Mapping[str, Any], criterion_id: str, levels: int) -> int | None:
    chosen = rating.get("levels")
    level = chosen.get(criterion_id) if isinstance(chosen, dict) else None
    if isinstance(level, int) and not isinstance(level, bool) and 0 <= level < levels:
        return level
    return None


def agreement(batch: Batch, latest: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> dict[str, Any]:
    """Agreement figures from the latest review per answer and reviewer (see the module docstring).

    Returns:
        `answers`, `reviewed` (answers with at least one review), `reviews` (latest lines counted), `reviewers`,
        `grader_vs_reviewers` and `between_reviewers`, each with `total` and `criteria`; `between_reviewers`
        also has `pairs`, the total per pair of reviewers.
    """
    grader = _Tally()
    between = _Tally()
    pairs: dict[tuple[str, str], _Tally] = {}
    reviewers: set[str] = set()
    for answer in batch.answers:
        by_reviewer = latest.get(answer.answer_id, {})
        reviewers.update(by_reviewer)
        grader_rating = {"levels": answer.grader_levels, "score": answer.score}
        for review in by_reviewer.values():
            grader.add(answer, grader_rating, review)
        for first, second in itertools.combinations(sorted(by_reviewer), 2):
            between.add(answer, by_reviewer[first], by_reviewer[second])
            pairs.setdefault((first, second), _Tally()).add(answer, by_reviewer[first], by_reviewer[second])
    return {
        "answers": len(batch.answers),
        "reviewed": sum(1 for a in batch.answers if latest.get(a.answer_id)),
        "reviews": sum(len(latest.get(a.answer_id, {})) for a in batch.answers),
        "reviewers": sorted(reviewers),
        "grader_vs_reviewers": grader.figures(),
        "between_reviewers": {
            **between.figures(),
            "pairs": [{"reviewers": list(k), "total": t.figures()["total"]} for k, t in sorted(pairs.items())],
        },
    }


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _row(name: str, figures: Mapping[str, Any], width: int) -> str:
    return (
        f"  {name:<{width}} {figures['n']:>4} {_pct(figures['exact']):>6} {_pct(figures['adjacent']):>9}"
        f" {_num(figures['qwk']):>6} {_num(figures['mae']):>6}"
    )


def agreement_text(report: Mapping[str, Any]) -> str:
    """The `--summary` report as text."""
    lines = [
        f"{report['reviewed']} of {report['answers']} answers reviewed; {report['reviews']} reviews "
        f"(latest per answer and reviewer) by {', '.join(report['reviewers']) or 'nobody yet'}.",
    ]
    for title, section in (
        ("Grader vs reviewers", report["grader_vs_reviewers"]),
        ("Reviewer vs reviewer", report["between_reviewers"]),
    ):
        names = [*section["criteria"], *(" vs ".join(p["reviewers"]) for p in section.get("pairs", []))]
        width = max([5, *map(len, names)])
        lines += ["", title, f"  {'':<{width}} {'n':>4} {'exact':>6} {'adjacent':>9} {'QWK':>6} {'MAE':>6}"]
        lines.append(_row("total", section["total"], width))
        lines += [_row(key, figures, width) for key, figures in section["criteria"].items()]
        for pair in section.get("pairs", []):
            lines.append(_row(" vs ".join(pair["reviewers"]), pair["total"], width))
    lines += [
        "",
        "Total: exact/adjacent/QWK over the score as a fraction of the maximum in 5 bins, MAE in points.",
        "Criteria: over the criterion's levels, MAE in levels.",
    ]
    return "\n".join(lines) + "\n"
