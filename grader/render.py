"""Human-readable forms of one grade: a text card for the terminal, and Markdown."""

from __future__ import annotations

import textwrap

from grader.models import Grade, Question

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


def grade_text(grade: Grade, question: Question | None = None) -> str:
    """A card for the terminal."""
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
    if grade.flags:
        lines.append("Flags: " + ", ".join(grade.flags))
    if grade.criteria:
        lines.append("")
        lines.append("Criteria")
        for c in grade.criteria:
            spread = f"  spread {c.spread:g}" if c.spread else ""
            level = f"level {c.level}/{c.levels - 1}" if c.level is not None else "no level"
            lines.append(f"  {c.id:<24} {level:<11} {c.score or 0:>5.2f} / {c.max_score:.2f}{spread}")
            if c.rationale:
                lines.append(_wrap(c.rationale, "      "))
            for quote in c.evidence[:3]:
                lines.append(_wrap(f"“{quote}”", "      › ", hang=1))
    fb = grade.feedback
    for heading, items in (("Strengths", fb.strengths), ("Gaps", fb.gaps), ("Misconceptions", fb.misconceptions)):
        if items:
            lines.append("")
            lines.append(heading)
            lines.extend(_wrap(item, "  - ", hang=0) for item in items)
    if fb.next_step:
        lines.append("")
        lines.append(_wrap(f"Next step: {fb.next_step}", ""))
    if fb.follow_up_questions:
        lines.append("")
        lines.append("Follow-up questions")
        lines.extend(_wrap(item, "  ? ", hang=0) for item in fb.follow_up_questions)
    usage = _usage_line(grade)
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
        out.append(f"**Score: {grade.score:g} / {grade.max_score:g}** ({grade.score / grade.max_score:.0%}, {grade.backend}{' · ' + grade.model if grade.model else ''})")
    if grade.flags:
        out.append("")
        out.append("Flags: " + ", ".join(f"`{f}`" for f in grade.flags))
    if grade.criteria:
        out += ["", "| Criterion | Level | Score | Why |", "|---|---|---|---|"]
        for c in grade.criteria:
            level = f"{c.level}/{c.levels - 1}" if c.level is not None else "–"
            out.append(f"| {c.id} | {level} | {c.score or 0:.2f} / {c.max_score:.2f} | {_md(c.rationale)} |")
    fb = grade.feedback
    for heading, items in (
        ("Strengths", fb.strengths),
        ("Gaps", fb.gaps),
        ("Misconceptions", fb.misconceptions),
        ("Follow-up questions", fb.follow_up_questions),
    ):
        if items:
            out += ["", f"**{heading}**", ""] + [f"- {_md(item)}" for item in items]
    if fb.next_step:
        out += ["", f"**Next step:** {_md(fb.next_step)}"]
    return "\n".join(out) + "\n"
