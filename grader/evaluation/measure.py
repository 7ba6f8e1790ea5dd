"""Measuring the grader against human graders (`grader eval`) and against a rubric's own exemplars (`calibrate`).

Each answer becomes a GradingTask and goes through the GradingService (`agrade_task`), so what is measured is
exactly what `grader grade` does: the same preparation, judge, checks, scoring and cache, with either backend.
Nothing here prints.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from grader.bank.examples import ScoredRow, group_examples, normalized, score_maxima
from grader.bank.reference import reference_rubric
from grader.errors import GraderError
from grader.judges.base import GradedExample, GradingTask
from grader.metrics import Agreement, agreement
from grader.models import Grade, Question, Rubric

RubricSource = Callable[[str], tuple[Question, Rubric]]
"""Question and rubric of a bank question id (raises a GraderError for an unknown id)."""


class TaskGrader(Protocol):
    """What is measured: grader.grading.service.GradingService."""

    async def agrade_task(self, task: GradingTask) -> Grade:
        """Grade one task into the public Grade."""
        ...


async def _grade(grader: TaskGrader, task: GradingTask) -> Grade | str:
    """The grade, or the error of an answer the grader refused (an empty answer, an unusable rubric)."""
    try:
        return await grader.agrade_task(task)
    except GraderError as exc:
        return f"invalid_input: {exc}"


@dataclass(frozen=True)
class EvalItem:
    """One evaluated answer: the human and the grader's score, both as fractions of score_max."""

    where: str
    key: str
    human: float
    grader: float | None
    """None when the judge gave no usable verdict."""
    error: str | None = None


@dataclass(frozen=True)
class EvalResult:
    """What `grader eval` reports."""

    agreement: Agreement
    items: list[EvalItem]
    questions: int
    ungraded: int
    examples_used: int
    examples_excluded: int
    """Example rows dropped because they are identical to an evaluated row."""
    per_question: dict[str, Agreement] = field(default_factory=dict)


def synthetic_question(text: str) -> Question:
    """A Question for reference-only data; its id is derived from the text, so it is stable across runs."""
    digest = int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:12], 16) % 10**6
    return Question(id=f"q9{digest:06d}", section="reference answers", question=text)


def exclude_evaluated(examples: Sequence[ScoredRow], evaluated: Sequence[ScoredRow]) -> tuple[list[ScoredRow], int]:
    """Drop example rows repeating an evaluated answer of the same question; returns the rest and how many went."""
    seen = {(r.key, r.answer.strip()) for r in evaluated}
    kept = [r for r in examples if (r.key, r.answer.strip()) not in seen]
    return kept, len(examples) - len(kept)


def tasks_for(
    rows: Sequence[ScoredRow], rubric_for: RubricSource, examples: Sequence[ScoredRow] = ()
) -> tuple[dict[str, tuple[Question, Rubric]], dict[str, float]]:
    """Question and rubric per question key (bank rubric or reference rubric), and the default score_max per key.

    Without a rubric, the default score_max is the largest score seen for the question in the rows and the
    examples together, so both are put on the same scale.
    """
    rubrics: dict[str, tuple[Question, Rubric]] = {}
    for row in rows:
        if row.key in rubrics:
            continue
        if row.question_id is not None:
            rubrics[row.key] = rubric_for(row.question_id)
    bank_max = {key: rubric.max_score for key, (_, rubric) in rubrics.items()}
    maxima = score_maxima([*rows, *examples], bank_max)
    for row in rows:
        if row.key not in rubrics:
            question = synthetic_question(row.key)
            reference = row.reference_answer or ""
            rubrics[row.key] = (question, reference_rubric(question, reference, maxima[row.key] or 1.0))
    return rubrics, maxima


async def arun_eval(
    rows: Sequence[ScoredRow],
    grader: TaskGrader,
    rubric_for: RubricSource,
    *,
    examples: Sequence[ScoredRow] = (),
    bins: int = 5,
    resamples: int = 1000,
    seed: int = 0,
    concurrency: int = 8,
) -> EvalResult:
    """Grade every row and measure agreement with the human scores.

    Args:
        rows: The human-graded answers to evaluate.
        grader: The GradingService (either backend); called once per row.
        rubric_for: Looks up bank questions for rows with a question_id.
        examples: Graded answers the judge may learn from; rows identical to an evaluated row are dropped.
        bins: Equal bins of score/score_max for QWK, exact and adjacent agreement.
        resamples: Bootstrap resamples for the 95% intervals (0: none).
        seed: Bootstrap seed.
        concurrency: Judgements in flight at once (matters for the LLM judge).

    Returns:
        The agreement overall and per question, with every item.
    """
    kept, excluded = exclude_evaluated(examples, rows)
    rubrics, maxima = tasks_for(rows, rubric_for, kept)
    graded_examples = group_examples(kept, maxima)
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(row: ScoredRow) -> EvalItem:
        question, rubric = rubrics[row.key]
        task = GradingTask(question, rubric, row.answer, tuple(graded_examples.get(row.key, ())))
        human = normalized(row, maxima)
        async with gate:
            grade = await _grade(grader, task)
        if isinstance(grade, str) or grade.pct is None:
            return EvalItem(row.where, row.key, human, None, grade if isinstance(grade, str) else grade.error)
        return EvalItem(row.where, row.key, human, grade.pct)

    items = list(await asyncio.gather(*(one(row) for row in rows)))
    graded = [i for i in items if i.grader is not None]
    overall = agreement(
        [i.human for i in graded],
        [i.grader for i in graded if i.grader is not None],
        bins=bins,
        resamples=resamples,
        seed=seed,
    )
    per_question = {}
    for key in dict.fromkeys(i.key for i in graded):
        mine = [i for i in graded if i.key == key]
        per_question[key] = agreement(
            [i.human for i in mine], [i.grader for i in mine if i.grader is not None], bins=bins, resamples=0
        )
    used = sum(len(v) for k, v in graded_examples.items() if k in rubrics)
    return EvalResult(overall, items, len(rubrics), len(items) - len(graded), used, excluded, per_question)


def run_eval(
    rows: Sequence[ScoredRow],
    grader: TaskGrader,
    rubric_for: RubricSource,
    *,
    examples: Sequence[ScoredRow] = (),
    bins: int = 5,
    resamples: int = 1000,
    seed: int = 0,
    concurrency: int = 8,
) -> EvalResult:
    """Synchronous `arun_eval` (one event loop for the whole run); same arguments."""
    return asyncio.run(
        arun_eval(
            rows,
            grader,
            rubric_for,
            examples=examples,
            bins=bins,
            resamples=resamples,
            seed=seed,
            concurrency=concurrency,
        )
    )


@dataclass(frozen=True)
class ExemplarCheck:
    """One exemplar graded by the judge, against the score its author expects."""

    question_id: str
    index: int
    expected: float
    score: float | None
    max_score: float
    levels_expected: dict[str, int] | None
    levels: dict[str, int] | None
    error: str | None = None


@dataclass(frozen=True)
class Ordering:
    """Whether the grader ranks a rubric's exemplars as their author did."""

    concordant: int
    """Pairs with different expected scores that the grader puts in the same order."""
    discordant: int
    """… in the opposite order."""
    tied: int
    """… at the same score."""
    top_above_bottom: bool | None
    """The exemplar expected to score highest outscores the one expected lowest (None: nothing to compare)."""


def exemplar_ordering(checks: Sequence[ExemplarCheck]) -> Ordering:
    """Pure: pairwise order of graded exemplars against their expected scores."""
    graded = [c for c in checks if c.score is not None]
    concordant = discordant = tied = 0
    for i, a in enumerate(graded):
        for b in graded[i + 1 :]:
            if a.expected == b.expected:
                continue
            high, low = (a, b) if a.expected > b.expected else (b, a)
            assert high.score is not None and low.score is not None
            if high.score > low.score:
                concordant += 1
            elif high.score < low.score:
                discordant += 1
            else:
                tied += 1
    top = max(graded, key=lambda c: c.expected, default=None)
    bottom = min(graded, key=lambda c: c.expected, default=None)
    if top is None or bottom is None or top.expected == bottom.expected:
        return Ordering(concordant, discordant, tied, None)
    return Ordering(concordant, discordant, tied, (top.score or 0.0) > (bottom.score or 0.0))


@dataclass(frozen=True)
class RubricCalibration:
    """Agreement of the judge with one rubric's exemplars."""

    question_id: str
    checks: list[ExemplarCheck]
    mae_pct: float | None
    """Mean |score - expected| as a fraction of max_score."""
    level_exact: float | None
    """Share of (exemplar, criterion) levels the judge matched exactly, where the exemplar gives levels."""
    agreement: Agreement
    ordering: Ordering


@dataclass(frozen=True)
class CalibrationResult:
    """Per rubric, and over every exemplar of every rubric."""

    rubrics: list[RubricCalibration]
    overall: Agreement
    level_exact: float | None


async def acalibrate(
    items: Sequence[tuple[Question, Rubric]],
    grader: TaskGrader,
    *,
    examples: Mapping[str, Sequence[GradedExample]] | None = None,
    leave_one_out: bool = True,
    bins: int = 5,
    concurrency: int = 8,
) -> CalibrationResult:
    """Grade each rubric's exemplars and compare with their expected scores (and levels, where given).

    With leave_one_out, an exemplar is graded by a rubric without it, so a judge that learns from
    exemplars is not credited for recognising the very answer it was shown.
    """
    examples = examples or {}
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(question: Question, rubric: Rubric, index: int) -> ExemplarCheck:
        exemplar = rubric.exemplars[index]
        others = [e for i, e in enumerate(rubric.exemplars) if i != index]
        shown = rubric.model_copy(update={"exemplars": others}) if leave_one_out else rubric
        task = GradingTask(question, shown, exemplar.answer, tuple(examples.get(question.id, ())))
        async with gate:
            grade = await _grade(grader, task)
        common = (question.id, index, exemplar.expected_score)
        if isinstance(grade, str) or grade.score is None:
            error = grade if isinstance(grade, str) else grade.error
            return ExemplarCheck(*common, None, rubric.max_score, exemplar.levels, None, error)
        levels = {c.id: c.level for c in grade.criteria if c.level is not None}
        return ExemplarCheck(*common, grade.score, rubric.max_score, exemplar.levels, levels)

    results = []
    for question, rubric in items:
        checks = await asyncio.gather(*(one(question, rubric, i) for i in range(len(rubric.exemplars))))
        results.append(_rubric_calibration(question.id, list(checks), bins))
    every = [c for r in results for c in r.checks if c.score is not None]
    overall = agreement(
        [c.expected / c.max_score for c in every],
        [(c.score or 0.0) / c.max_score for c in every],
        bins=bins,
        resamples=0,
    )
    return CalibrationResult(results, overall, _level_exact([c for r in results for c in r.checks]))


def calibrate(
    items: Sequence[tuple[Question, Rubric]],
    grader: TaskGrader,
    *,
    examples: Mapping[str, Sequence[GradedExample]] | None = None,
    leave_one_out: bool = True,
    bins: int = 5,
) -> CalibrationResult:
    """Synchronous `acalibrate`; same arguments."""
    return asyncio.run(acalibrate(items, grader, examples=examples, leave_one_out=leave_one_out, bins=bins))


def _rubric_calibration(question_id: str, checks: list[ExemplarCheck], bins: int) -> RubricCalibration:
    graded = [c for c in checks if c.score is not None]
    human = [c.expected / c.max_score for c in graded]
    mine = [(c.score or 0.0) / c.max_score for c in graded]
    mae_pct = sum(abs(a - b) for a, b in zip(human, mine, strict=True)) / len(graded) if graded else None
    return RubricCalibration(
        question_id,
        checks,
        mae_pct,
        _level_exact(checks),
        agreement(human, mine, bins=bins, resamples=0),
        exemplar_ordering(checks),
    )


def _level_exact(checks: Sequence[ExemplarCheck]) -> float | None:
    pairs = [
        (expected, c.levels.get(cid))
        for c in checks
        if c.levels is not None and c.levels_expected
        for cid, expected in c.levels_expected.items()
    ]
    return sum(a == b for a, b in pairs) / len(pairs) if pairs else None
