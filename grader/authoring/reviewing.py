"""`grader rubric review`: a model reads a rubric as a senior reviewer would and returns findings.

It reads the rubric's file and its question and returns findings in the strict ReviewReply schema; each is
placed at the line of the field it names (or of the text it quotes). Nothing is written: the rubric stays
byte for byte as it was.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from grader.authoring.calls import REASK, AuthoringSession, DryRun
from grader.authoring.prompts import render_job
from grader.authoring.schemas import ReviewReply
from grader.bank.base import Bank
from grader.bank.rubrics import LoadedRubric
from grader.bank.yamlio import Loc
from grader.errors import GraderError
from grader.models import Message, Question
from grader.scoring import criterion_points

REVIEW_MAX_TOKENS = 6000


class ReviewError(GraderError):
    """The model gave no usable review within the re-asks (or refused)."""


@dataclass(frozen=True)
class PlacedFinding:
    """A finding with the line of the rubric file it concerns (None where the YAML does not say)."""

    kind: str
    field: str
    line: int | None
    quote: str
    fix: str
    confidence: str


@dataclass(frozen=True)
class Review:
    """The findings on one rubric."""

    question_id: str
    path: str
    findings: list[PlacedFinding]
    summary: str

    def to_json(self) -> dict[str, Any]:
        """The `--format json` object (without usage, which the command adds)."""
        return {
            "question_id": self.question_id,
            "rubric": self.path,
            "summary": self.summary,
            "findings": [asdict(f) for f in self.findings],
        }

    def to_text(self) -> str:
        """One block per finding, headed `file:line: kind (confidence) field`."""
        lines = []
        for f in self.findings:
            where = f"{self.path}:{f.line}" if f.line is not None else self.path
            lines.append(f"{where}: {f.kind} ({f.confidence} confidence) {f.field}")
            if f.quote.strip():
                lines.append(f"  quote: {_one_line(f.quote)}")
            lines.append(f"  fix:   {_one_line(f.fix)}")
        count = len(self.findings)
        lines.append(f"{self.question_id}: {count} finding{'s' if count != 1 else ''}. {_one_line(self.summary)}")
        return "\n".join(lines) + "\n"


def _one_line(text: str) -> str:
    return " ".join(text.split())


_STEP = re.compile(r"\[([^\]]*)\]|([^.\[\]]+)")


def field_loc(field: str, loaded: LoadedRubric) -> Loc | None:
    """The YAML path of a finding's field (`criteria[1].levels[2]`, `criteria.rag.levels.2` …), or None."""
    ids = {c.id: index for index, c in enumerate(loaded.rubric.criteria)}
    loc: list[str | int] = []
    for bracket, name in _STEP.findall(field.strip()):
        step = (bracket or name).strip().strip("'\"")
        if not step:
            continue
        if step.isdigit():
            loc.append(int(step))
        elif loc == ["criteria"] and step in ids:
            loc.append(ids[step])
        else:
            loc.append(step)
    if not loc or (loc[0],) not in loaded.located.lines:
        return None
    while tuple(loc) not in loaded.located.lines:
        loc.pop()
    return tuple(loc)


def place(field: str, quote: str, loaded: LoadedRubric, text: str) -> int | None:
    """The line a finding concerns: its field's, else the line where its quote starts, else None."""
    loc = field_loc(field, loaded)
    if loc is not None:
        line = loaded.located.lines[loc]
        quoted = _find_quote(quote, text, start=line)
        return quoted if quoted is not None and len(loc) > 1 else line
    return _find_quote(quote, text)


def _find_quote(quote: str, text: str, start: int = 1) -> int | None:
    """The first line at or after `start` where the quote's first words appear (whitespace-insensitive)."""
    words = quote.split()[:8]
    if len(words) < 2:
        return None
    pattern = re.compile(r"\s+".join(re.escape(w) for w in words))
    lines = text.splitlines()
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)
    match = pattern.search(text, offsets[min(start, len(lines)) - 1] if lines else 0)
    if match is None:
        return None
    return next(i for i, offset in enumerate(offsets) if offset > match.start())


def review_messages(bank: Bank, question: Question, loaded: LoadedRubric, text: str) -> tuple[list[Message], str]:
    """The messages of the review request and the sha256 of the templates."""
    points = {cid: round(p, 2) for cid, p in criterion_points(loaded.rubric).items()}
    context = {
        "question": question,
        "rubric": loaded.rubric,
        "rubric_name": f"rubrics/{loaded.path.name}",
        "rubric_text": text if text.endswith("\n") else text + "\n",
        "points": points,
    }
    rendered = render_job(bank, "review", context)
    return rendered.messages, rendered.prompt_sha256


async def areview(
    session: AuthoringSession,
    bank: Bank,
    question: Question,
    loaded: LoadedRubric,
    display_path: str,
) -> Review:
    """Ask for the review (re-asking an invalid reply) and place each finding in the file."""
    text = loaded.path.read_bytes().decode("utf-8")
    messages, prompt_sha = review_messages(bank, question, loaded, text)
    key = session.key("review", {"question": question.model_dump(), "rubric": loaded.sha256, "prompt": prompt_sha})
    store = session.store
    cached = store.get(key) if store else None
    reply: ReviewReply | None = None
    if cached is not None:
        try:
            reply = ReviewReply.model_validate(cached)
            session.cached = True
        except ValueError:
            reply = None
    conversation = list(messages)
    problems: list[str] = []
    for _ in range(session.settings.reask_limit + 1):
        if reply is not None:
            break
        choice = await session.ask(conversation, ReviewReply, REVIEW_MAX_TOKENS)
        if choice.refused:
            raise ReviewError(f"the model refused to review {question.id}: {choice.error}")
        if choice.parsed is not None:
            reply = choice.parsed
            if store:
                store.put(key, "review", reply.model_dump())
            break
        problems = [choice.error or "the reply did not match the schema"]
        conversation = [
            *conversation,
            Message(role="assistant", content=choice.raw_text or "(empty reply)"),
            Message(role="user", content=REASK.format(errors="\n".join(problems))),
        ]
    if reply is None:
        first = " ".join(problems[0].split())[:200] if problems else "no reply"
        raise ReviewError(f"no usable review of {question.id} after {session.requests} requests: {first}")
    findings = [
        PlacedFinding(f.kind, f.field, place(f.field, f.quote, loaded, text), f.quote, f.fix, f.confidence)
        for f in reply.findings
    ]
    return Review(question.id, display_path, findings, reply.summary)


def dry_run_review(session: AuthoringSession, bank: Bank, question: Question, loaded: LoadedRubric) -> DryRun:
    """What the review request would cost."""
    text = loaded.path.read_bytes().decode("utf-8")
    messages, _ = review_messages(bank, question, loaded, text)
    return session.dry_run(messages, ReviewReply, REVIEW_MAX_TOKENS)
