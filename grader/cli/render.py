"""Human-readable forms of one grade: a text card for the terminal, and Markdown.

A grade made for the candidate (`--audience candidate`) is rendered without what only the panel should see:
flags, usage and cost, follow-up questions, the judge's rationales (grader/audience.py prepares the Grade
itself the same way).
"""

from __future__ import annotations

import textwrap

from grader.grading.audience import candidate_view, is_candidate_view
from grader.models import CriterionResult, Grade, Question
from grader.scoring import agreement_threshold, expected_level
from grader.vocabulary import KEY_POINT_ESTIMATE, LOW_AGREEMENT

WIDTH = 88


def _bar(fraction: float, width: int = 20) -> str:
    filled = round(max(0.0, min(1.0, fraction)) * width)
    return "█" * filled + "░" * (width - filled)


def _wrap(text: str, indent: str, hang: int = 2) -> str:
    """Fill text; continuation lines align under the text, past any bullet in the indent."""
    return textwrap.fill(text, WIDTH, initial_indent=indent, subsequent_indent=" " * (len(indent) + hang))


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def _usage_line(grade: Grade) -> str | None:
    usage = grade.usage
    if usage.prompt_tokens is None and usage.completion_tokens is None:
        return None
    cost = f", ${usage.cost_usd:.4f}" if usage.cost_usd is not None else ", cost unknown"
    cached = " (cached)" if grade.provenance.cached else ""
    return f"Usage: {usage.prompt_tokens or 0} prompt + {usage.completion_tokens or 0} completion tokens{cost}{cached}"


def grade_text(grade: Grade, question: Question | None = None, answer: str | None = None) -> str:
    """A card for the terminal; given the answer, each evidence quote not found in it is marked on its line."""
    from grader.scoring import normalize_for_match, quote_in_answer

    normalized = normalize_for_match(answer) if answer is not None else None
    lines = []
    title = f"{grade.question_id}" + (f" · {question.question}" if question else "")
    lines.append(_shorten(title, WIDTH))
    judge = grade.backend + (f" · {grade.model}" if grade.model else "")
    if grade.status == "ungraded" or grade.score is None:
        lines.append(f"UNGRADED  ({judge})")
        lines.append(_wrap(f"Reason: {grade.error}", ""))
    else:
        pct = grade.score / grade.max_score
        lines.append(f"Score {grade.score:g} / {grade.max_score:g}  {_bar(pct)} {pct:.0%}   ({judge})")
    for_candidate = is_candidate_view(grade)
    if grade.flags and not for_candidate:
        lines.append("Flags: " + ", ".join(grade.flags))
        review = _review_line(grade)
        if review:
            lines.append(_wrap(review, ""))
    judged = _judged_line(grade)
    if judged and not for_candidate:
        lines.append(judged)
    if grade.criteria:
        lines.append("")
        lines.append("Criteria")
        for c in grade.criteria:
            level = f"level {c.level}/{c.levels - 1}" if c.level is not None else "no level"
            lines.append(f"  {c.id:<24} {level:<11} {c.score or 0:>5.2f} / {c.max_score:.2f}{_spread_text(grade, c)}")
            if c.level_probs and not for_candidate:
                lines.append(f"      {_probs_text(c.level_probs)}")
            if c.rationale and not for_candidate:
                lines.append(_wrap(c.rationale, "      "))
            for quote in c.evidence[:3]:
                missing = normalized is not None and not quote_in_answer(quote, normalized)
                lines.append(
                    _wrap(f"“{quote}”" + (" [NOT FOUND in the answer]" if missing else ""), "      › ", hang=1)
                )
    fb = grade.feedback
    for heading, items in (("Strengths", fb.strengths), ("Gaps", fb.gaps), ("Misconceptions", fb.misconceptions)):
        if items:
            lines.append("")
            lines.append(heading)
            lines.extend(_wrap(item, "  - ", hang=0) for item in items)
    if fb.next_step:
        lines.append("")
        lines.append(_wrap(f"Next step: {fb.next_step}", ""))
    if fb.follow_up_questions and not for_candidate:
        lines.append("")
        lines.append("Follow-up questions")
        lines.extend(_wrap(item, "  ? ", hang=0) for item in fb.follow_up_questions)
    usage = None if for_candidate else _usage_line(grade)
    if usage:
        lines.append("")
        lines.append(usage)
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    """Escape what would turn answer-derived text into Markdown structure or HTML."""
    return text.replace("\\", "\\\\").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|").replace("\n", " ")


def grade_markdown(grade: Grade, question: Question | None = None) -> str:
    """The grade as a Markdown section."""
    out = [f"## {grade.question_id}" + (f": {_md(question.question)}" if question else ""), ""]
    if grade.score is None:
        out.append(f"**Ungraded** ({grade.backend}): {_md(grade.error or '')}")
    else:
        judge = grade.backend + (f" · {grade.model}" if grade.model else "")
        out.append(f"**Score: {grade.score:g} / {grade.max_score:g}** ({grade.score / grade.max_score:.0%}, {judge})")
    for_candidate = is_candidate_view(grade)
    if grade.flags and not for_candidate:
        out.append("")
        out.append("Flags: " + ", ".join(f"`{f}`" for f in grade.flags))
        review = _review_line(grade)
        if review:
            out += ["", f"**{_md(review)}**"]
    judged = _judged_line(grade)
    if judged and not for_candidate:
        out += ["", _md(judged)]
    if grade.criteria:
        sampled = _sampled(grade)
        weighted = any(c.level_probs for c in grade.criteria) and not for_candidate
        head = ["Criterion", "Level", "Score"] + ["Spread"] * sampled + ["P(level)"] * weighted
        head += [] if for_candidate else ["Why"]
        out += ["", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for c in grade.criteria:
            level = f"{c.level}/{c.levels - 1}" if c.level is not None else "–"
            cells = [c.id, level, f"{c.score or 0:.2f} / {c.max_score:.2f}"]
            if sampled:
                cells.append(_spread_text(grade, c).strip().removeprefix("spread ") or "–")
            if weighted:
                cells.append(_probs_text(c.level_probs) if c.level_probs else "–")
            if not for_candidate:
                cells.append(_md(c.rationale))
            out.append("| " + " | ".join(cells) + " |")
    fb = grade.feedback
    for heading, items in (
        ("Strengths", fb.strengths),
        ("Gaps", fb.gaps),
        ("Misconceptions", fb.misconceptions),
        ("Follow-up questions", [] if for_candidate else fb.follow_up_questions),
    ):
        if items:
            out += ["", f"**{heading}**", ""] + [f"- {_md(item)}" for item in items]
    if fb.next_step:
        out += ["", f"**Next step:** {_md(fb.next_step)}"]
    return "\n".join(out) + "\n"


def _sampled(grade: Grade) -> bool:
    return grade.provenance.samples > 1 or any(c.spread is not None for c in grade.criteria)


def _spread_text(grade: Grade, c: CriterionResult) -> str:
    """`  spread 2 (disagree)` with several samples; a single judgement has no spread to show."""
    if c.spread is None or not (_sampled(grade) or c.spread):
        return ""
    disagree = " (disagree)" if c.spread >= agreement_threshold(c.levels) else ""
    return f"  spread {c.spread:g}{disagree}"


def _probs_text(probs: list[float]) -> str:
    shown = " ".join(f"{k}:{p:.2f}" for k, p in enumerate(probs))
    return f"expected level {expected_level(probs):.2f}  (P {shown})"


def _judged_line(grade: Grade) -> str | None:
    """How the levels were decided, when it is more than one plain judgement."""
    prov = grade.provenance
    parts = []
    if prov.samples > 1:
        temperature = f" at temperature {prov.temperature:g}" if prov.temperature is not None else ""
        parts.append(f"{prov.samples} samples{temperature}, median level per criterion")
    if prov.method == KEY_POINT_ESTIMATE:
        # The header already says "(offline)"; say what that grader does, once, and what its score is worth.
        return (
            "Key-point estimate by the offline grader: each level comes from the rubric's key points that single "
            "sentences of the answer state; no model read it (docs/offline-grader.md)"
        )
    if prov.level_mode != "argmax":
        parts.append(f"levels: {prov.level_mode}")
    return "Judged: " + "; ".join(parts) if parts else None


def _review_line(grade: Grade) -> str | None:
    if LOW_AGREEMENT not in grade.flags:
        return None
    disagree = [c.id for c in grade.criteria if c.spread is not None and c.spread >= agreement_threshold(c.levels)]
    which = f" on {', '.join(disagree)}" if disagree else ""
    return f"Needs human review: the samples disagree{which}."


__all__ = ["candidate_view", "grade_markdown", "grade_text", "is_candidate_view"]
