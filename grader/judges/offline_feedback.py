"""The offline judge's verdict text: evidence, rationales and feedback that say what was matched and why.

Everything here follows from the levels already decided and the matches behind them, so what the card says
agrees with the score: a full-marks criterion lists no gap, a lowered one says which sentence lowered it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from grader.models import Criterion, CriterionVerdict, Feedback, Verdict
from grader.text.textsim import Span


class PointMatch(NamedTuple):
    """How well the answer states one key point, and the sentence that states it best."""

    score: float
    span: Span | None


class Error(NamedTuple):
    """A sentence that states something wrong: a rubric's wrong claim, or a correct text reversed or misquoted."""

    criterion: int
    claim: str
    """The wrong claim in the rubric's words; or the correct text (a key point, a figure) the sentence contradicts."""
    span: Span
    reversed_point: bool


class CriterionView(NamedTuple):
    """A criterion as the feedback needs it: its spec and its key points' texts."""

    spec: Criterion
    points: tuple[str, ...]


def build_verdict(
    criteria: Sequence[CriterionView],
    matches: Sequence[Sequence[PointMatch]],
    levels: Sequence[int],
    errors: Sequence[Error],
    found: float,
    partial: float,
) -> Verdict:
    """The verdict for decided levels: evidence quotes, a rationale per criterion, and feedback."""
    out: dict[str, CriterionVerdict] = {}
    strengths: list[str] = []
    gaps: list[str] = []
    todo: list[tuple[float, float, str, CriterionView, str]] = []
    for number, (crit, found_here, level) in enumerate(zip(criteria, matches, levels, strict=True)):
        ranked = sorted(zip(crit.points, found_here, strict=True), key=lambda pm: -pm[1].score)
        hit = [p for p, m in ranked if m.score >= found]
        part = [p for p, m in ranked if partial < m.score < found]
        miss = [p for p, m in ranked if m.score < found]
        top = len(crit.spec.levels) - 1
        # Quotes for what earned credit: found key points first, then partial ones.
        evidence = list(dict.fromkeys(m.span.text for _, m in ranked if m.span and m.score > partial))[:3]
        stated = [e for e in errors if e.criterion == number]
        evidence += [e.span.text for e in stated if e.span.text not in evidence]
        strengths += hit
        if level < top:
            gaps += miss
        if miss or level < top:
            weakest = miss[-1] if miss else ranked[-1][0]
            todo.append((level / top, -len(miss) / len(crit.points), crit.spec.id, crit, weakest))
        rationale = _rationale(crit, hit, part, miss, level)
        if stated:
            rationale += " Lowered: " + "; ".join(_error_text(e) for e in stated) + "."
        if not evidence:
            rationale += " No sentence of the answer states any of its key points."
        out[crit.spec.id] = CriterionVerdict(evidence=evidence, rationale=rationale, level=level)
    todo.sort(key=lambda t: t[:3])
    next_step = ""
    if todo:
        crit, gap = todo[0][3], todo[0][4]
        next_step = f"Work on {crit.spec.id} ({crit.spec.description.rstrip('.')}). Start with: {gap}"
        if all(out[c.spec.id].level == len(c.spec.levels) - 1 for c in criteria):
            next_step = f"Full marks on every criterion. To go further, on {crit.spec.id}: {gap}"
    return Verdict(
        criteria=out,
        feedback=Feedback(
            strengths=strengths,
            gaps=gaps,
            misconceptions=[f"“{e.span.text}”: {_error_text(e)}" for e in errors],
            next_step=next_step,
            follow_up_questions=[follow_up(t[3].spec, t[4]) for t in todo[:2]],
        ),
    )


def _error_text(error: Error) -> str:
    if error.reversed_point:
        return f"the answer appears to contradict the rubric (“{short(error.claim)}”)"
    return f"the answer appears to state “{short(error.claim)}”"


def short(text: str, words: int = 9) -> str:
    """The first words of a text, with an ellipsis when it was cut."""
    parts = text.split()
    return " ".join(parts[:words]) + (" …" if len(parts) > words else "")


def _rationale(crit: CriterionView, hit: list[str], part: list[str], miss: list[str], level: int) -> str:
    found = "; ".join(short(p) for p in hit) or "none"
    text = f"Level {level} of {len(crit.spec.levels) - 1}: {len(hit)} of {len(crit.points)} key points found ({found})"
    if part:
        text += f", {len(part)} in part ({'; '.join(short(p) for p in part)})"
    absent = [p for p in miss if p not in part]
    if absent:
        text += f"; missing: {'; '.join(short(p) for p in absent)}"
    return text + "."


def follow_up(spec: Criterion, gap: str) -> str:
    """A grammatical follow-up question on a criterion's missing key point, whatever the wording of either.

    Rubric descriptions start with any verb ("Explains", "Knows", "Places"), so turning them into questions
    produced "Could you know …"; a fixed frame around the key point reads right for every criterion.
    """
    point = gap.strip().rstrip(".")
    return f"On {spec.id.replace('_', ' ')}: how would you explain this point: “{short(point, 14)}”?"
