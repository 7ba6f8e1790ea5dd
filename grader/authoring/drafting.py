"""`grader rubric draft`: a model writes a rubric for a question; lint checks it; lint's messages go back to it.

The model answers in the strict DraftRubric schema. Each reply is turned into the rubric format (exemplar
scores recomputed from their levels by the fixed formula), written to a scratch file and linted exactly as
`grader rubric lint` would; errors go back to the model with its reply, up to the re-ask limit. Only a
lint-clean rubric is returned: the caller writes it.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from grader.authoring.calls import REASK, AuthoringSession, DryRun
from grader.authoring.prompts import render_job
from grader.authoring.schemas import DRAFT_MAX_SCORE, DraftRubric, to_rubric_data
from grader.authoring.yamlout import rubric_yaml
from grader.bank.base import Bank
from grader.bank.lint import (
    DEFAULT_PROMPT_BUDGET,
    HIGH_EXEMPLAR,
    LOW_EXEMPLAR,
    MAX_CRITERIA,
    MIN_CRITERIA,
    MIN_EXEMPLARS,
    MIN_LEVELS,
    MIN_REFERENCE_WORDS,
    lint_paths,
)
from grader.bank.rubrics import LoadedRubric
from grader.errors import GraderError
from grader.judges.rubric_check import self_contradictions
from grader.models import Message, Question

DRAFT_MAX_TOKENS = 8000
MAX_PROBLEMS_SHOWN = 20


class DraftError(GraderError):
    """The model gave no lint-clean rubric within the re-asks (or refused)."""


@dataclass(frozen=True)
class Draft:
    """A lint-clean rubric, as the text of its file."""

    text: str
    attempts: int
    warnings: list[str]


def draft_messages(bank: Bank, question: Question, notes: str | None) -> tuple[list[Message], str]:
    """The messages of the first draft request and the sha256 of the templates."""
    context = {
        "question": question,
        "notes": notes or "",
        "max_score": f"{DRAFT_MAX_SCORE:g}",
        "min_criteria": MIN_CRITERIA,
        "max_criteria": MAX_CRITERIA,
        "min_levels": MIN_LEVELS,
        "min_reference_words": MIN_REFERENCE_WORDS,
        "min_exemplars": MIN_EXEMPLARS,
        "low_exemplar": LOW_EXEMPLAR,
        "high_exemplar": HIGH_EXEMPLAR,
    }
    rendered = render_job(bank, "draft", context)
    return rendered.messages, rendered.prompt_sha256


def draft_header(question: Question, model: str) -> str:
    """The comment at the top of a drafted file: it is a draft, by a model, to be reviewed."""
    day = dt.date.today().isoformat()
    return (
        f"DRAFT written by a model ({model}) on {day} with `grader rubric draft`: review every line before grading\n"
        "candidates with it (facts, levels, exemplars), then delete this header.\n"
        f"{question.id}: {question.question}"
    )


def check_draft(
    draft: DraftRubric,
    question: Question,
    questions: list[Question],
    prompt_tokens: Callable[[LoadedRubric], int] | None,
    header: str,
) -> tuple[str, list[str], list[str]]:
    """The file text of a reply, its lint errors (phrased for the model) and warnings."""
    data, problems = to_rubric_data(draft, question.id)
    try:
        text = rubric_yaml(data, header)
    except (GraderError, ValidationError, KeyError) as exc:  # pragma: no cover - rubric_yaml falls back to safe_dump
        return "", [*problems, str(exc)], []
    with tempfile.TemporaryDirectory(prefix="grader-draft-") as scratch:
        path = Path(scratch) / f"{question.id}.yaml"
        path.write_text(text, encoding="utf-8")
        messages = lint_paths([path], questions, prompt_tokens, DEFAULT_PROMPT_BUDGET, self_contradictions)
    errors = [f"{question.id}.yaml line {m.line}: {m.text}" for m in messages if m.severity == "error"]
    warnings = [f"line {m.line}: {m.text}" for m in messages if m.severity == "warning"]
    return text, [*problems, *errors], warnings


async def adraft(
    session: AuthoringSession,
    bank: Bank,
    question: Question,
    questions: list[Question],
    notes: str | None,
    prompt_tokens: Callable[[LoadedRubric], int] | None = None,
) -> Draft:
    """Ask for a rubric until lint passes or the re-asks run out (DraftError, naming the first problems)."""
    messages, prompt_sha = draft_messages(bank, question, notes)
    key = session.key("draft", {"question": question.model_dump(), "notes": notes, "prompt": prompt_sha})
    store = session.store
    cached = store.get(key) if store else None
    if cached is not None and isinstance(cached.get("text"), str):
        session.cached = True
        return Draft(cached["text"], 0, list(cached.get("warnings", [])))
    header = draft_header(question, session.settings.model)
    conversation = list(messages)
    problems: list[str] = []
    for attempt in range(1, session.settings.reask_limit + 2):
        choice = await session.ask(conversation, DraftRubric, DRAFT_MAX_TOKENS)
        if choice.refused:
            raise DraftError(f"the model refused to draft a rubric for {question.id}: {choice.error}")
        problems = [choice.error] if choice.error else []
        if choice.parsed is not None:
            text, problems, warnings = check_draft(choice.parsed, question, questions, prompt_tokens, header)
            if not problems:
                if store:
                    store.put(key, "draft", {"text": text, "warnings": warnings})
                return Draft(text, attempt, warnings)
        shown = problems[:MAX_PROBLEMS_SHOWN]
        conversation = [
            *conversation,
            Message(role="assistant", content=choice.raw_text or "(empty reply)"),
            Message(role="user", content=REASK.format(errors="\n".join(shown))),
        ]
    first = " ".join((problems[0] if problems else "no reply").split())[:200]
    more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
    raise DraftError(
        f"no lint-clean rubric for {question.id} after {session.requests} requests: {first}{more}; nothing written"
    )


def dry_run_draft(session: AuthoringSession, bank: Bank, question: Question, notes: str | None) -> DryRun:
    """What the first draft request would cost."""
    messages, _ = draft_messages(bank, question, notes)
    return session.dry_run(messages, DraftRubric, DRAFT_MAX_TOKENS)
