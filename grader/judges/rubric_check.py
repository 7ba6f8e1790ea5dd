"""Rubric checks made with the offline judge's own matcher: a rubric must not penalise what it rewards.

Two ways a rubric teaches the wrong calibration, both found by reading a rubric as the judge does:
- its reference answer or a top exemplar states one of its own misconceptions or red flags, so the judge would
  dock a correct answer that says the same (a misconception worded too broadly);
- an exemplar states the example claim a level-0 descriptor quotes ("e.g. the KL term is symmetric") but sits above
  level 0 on that criterion, teaching the LLM judge leniency to a confident error.
"""

from __future__ import annotations

from typing import NamedTuple

from grader.judges.offline import OfflineJudge
from grader.judges.offline_feedback import short
from grader.judges.offline_index import TOP_EXEMPLAR
from grader.judges.statements import level_zero_claims
from grader.models import Rubric


class RubricFinding(NamedTuple):
    """One problem, at the rubric field it concerns."""

    loc: tuple[str | int, ...]
    text: str


def self_contradictions(rubric: Rubric, question: str, judge: OfflineJudge | None = None) -> list[RubricFinding]:
    """Where the rubric's correct texts state its wrong claims, and exemplars above level 0 state level-0 claims."""
    judge = judge or OfflineJudge()
    findings = []
    correct = [(("reference_answer",), "the reference answer", rubric.reference_answer)]
    correct += [
        (("exemplars", i, "answer"), f"exemplar {i} (expected {e.expected_score:g})", e.answer)  # type: ignore[misc]
        for i, e in enumerate(rubric.exemplars)
        if e.expected_score >= TOP_EXEMPLAR * rubric.max_score
    ]
    for loc, name, text in correct:
        for error in judge.errors(rubric, question, text, veto=False):
            if error.reversed_point:
                continue
            findings.append(
                RubricFinding(
                    loc,
                    f"{name} states the rubric's own misconception or red flag “{short(error.claim)}” in "
                    f"“{short(error.span.text, 14)}”: word the claim so that correct text cannot match it",
                )
            )
    for criterion in rubric.criteria:
        for claim in level_zero_claims(criterion.levels):
            for i, exemplar in enumerate(rubric.exemplars):
                level = (exemplar.levels or {}).get(criterion.id, 0)
                if level == 0:
                    continue
                span = judge.stating(rubric, question, claim, exemplar.answer)
                if span is not None:
                    findings.append(
                        RubricFinding(
                            ("exemplars", i, "levels", criterion.id),
                            f"exemplar {i} states the level-0 example of {criterion.id} (“{short(claim)}”) in "
                            f"“{short(span.text, 14)}” but is at level {level}: an answer built on a level-0 claim "
                            "earns level 0 on that criterion",
                        )
                    )
    return findings
