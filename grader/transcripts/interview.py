"""An interview transcript -> the candidate's whole answer to each question asked, under its bank id.

Two passes over the turns (files are streamed, never held whole): the first counts, per speaker, the
questions asked and the words said in reply to someone else's question, which tells the interviewer from
the candidate without configuration; the second walks the conversation. An interviewer turn that asks
something opens an exchange, unless it is small talk ("can you hear me?"), or a follow-up to the open one
("could you say more about …?", a question on the same bank id, or one that picks up the answer's words);
the candidate's turns, however many cues they span, add to the open exchange. Each asked question is matched
to the bank; one that matches nothing is kept as unmatched, never forced onto a bank id. The logic here is
pure; `read_interview` and `plan_inputs` (a batch's inputs -> work items with stable ids) add the file
reading of `transcript_formats`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence, Set
from dataclasses import dataclass, field
from pathlib import Path

from grader.errors import GraderError, InputError, TranscriptError
from grader.transcripts.documents import EXPORT_HINT, UNREADABLE, readable
from grader.transcripts.formats import Turn
from grader.transcripts.read import parse_turns
from grader.transcripts.segment import (
    Coverage,
    Exchange,
    Matcher,
    Roles,
    is_question,
    is_small_talk,
    merge_turns,
    question_in,
    segment,
    segment_all,
    sentences,
)
from grader.transcripts.tables import is_table, parse_table

__all__ = ["Coverage", "Exchange", "Interview", "Roles", "is_question", "is_small_talk", "merge_turns", "question_in",
           "read_interview", "segment", "sentences"]  # fmt: skip

_INTERVIEWER_ROLE = re.compile(r"\b(?:interviewer|recruiter|hiring manager|host|panel(?:ist)?|moderator)\b|^q$", re.I)
_CANDIDATE_ROLE = re.compile(r"\b(?:candidate|interviewee|applicant)\b|^a$", re.I)


@dataclass
class Interview:
    """What a transcript yields: the answers under bank ids, and the questions that matched none."""

    source: str
    candidate: str | None
    interviewers: list[str]
    answers: list[Exchange]
    """One per bank question, in the order first asked; asked again later, the answers are joined."""
    unmatched: list[Exchange]
    coverage: Coverage = field(default_factory=Coverage)
    """The candidate's words: how many were graded, and every stretch graded nowhere."""


@dataclass
class SpeakerStats:
    """What one speaker did in a transcript."""

    turns: int = 0
    words: int = 0
    questions: int = 0
    reply_words: int = 0
    """Words said right after another speaker's question."""


def speaker_stats(turns: Iterable[Turn], source: str = "transcript") -> dict[str, SpeakerStats]:
    """Per speaker: turns, words, questions asked, and words said in reply to another's question."""
    stats: dict[str, SpeakerStats] = {}
    previous_asked_by: str | None = None
    for turn in merge_turns(turns):
        entry = stats.setdefault(turn.speaker, SpeakerStats())
        words = len(turn.text.split())
        entry.turns += 1
        entry.words += words
        if previous_asked_by is not None and previous_asked_by != turn.speaker:
            entry.reply_words += words
        asks = any(is_question(s) for s in sentences(turn.text[-2000:]))
        entry.questions += asks
        previous_asked_by = turn.speaker if asks else None
        if len(stats) > 1000:
            raise TranscriptError(f"{source}:{turn.line}: over 1000 different speakers; is this a transcript?")
    return stats


def _named(label: str, names: Sequence[str]) -> bool:
    folded = label.casefold().strip()
    return any(folded == n.casefold().strip() or folded.startswith(n.casefold().strip() + " ") for n in names)


def assign_roles(stats: dict[str, SpeakerStats], interviewers: Sequence[str] = ()) -> Roles:
    """Tell the interviewer(s) from the candidate: named ones first, then role labels, then behaviour.

    Behaviour: whoever asks the most questions interviews; of the others, the candidate is the one who says
    the most in reply to questions; the rest who ask questions interview too (a silent observer is neither).
    """
    speakers = list(stats)
    if len(speakers) < 2:
        who = speakers[0] if speakers else "nobody"
        raise TranscriptError(f"only one speaker ({who}); a transcript needs the interviewer and the candidate")
    chosen = [s for s in speakers if _named(s, interviewers)] if interviewers else []
    if not chosen:
        chosen = [s for s in speakers if _INTERVIEWER_ROLE.search(s)]
    others = [s for s in speakers if s not in chosen]
    if chosen and others:
        named = [s for s in others if _CANDIDATE_ROLE.search(s)]
        pool = named or others
        candidate = max(pool, key=lambda s: (stats[s].reply_words, stats[s].words))
        return Roles(chosen, candidate)
    # Raw ASR has no "?": nobody asks, and the interviewer is the one who says least.
    lead = max(speakers, key=lambda s: (stats[s].questions, -stats[s].reply_words, -stats[s].words))
    candidate = max((s for s in speakers if s != lead), key=lambda s: (stats[s].reply_words, stats[s].words))
    chosen = [s for s in speakers if s != candidate and (s == lead or stats[s].questions > 0 or stats[s].turns > 1)]
    return Roles(chosen, candidate)


def read_interview(
    path: Path, matcher: Matcher, *, interviewers: Sequence[str] = (), source: str | None = None
) -> Interview:
    """Parse, recognise the roles and segment one transcript file (streamed twice, never held whole)."""
    stats = speaker_stats(parse_turns(path), str(path))
    try:
        roles = assign_roles(stats, interviewers)
    except TranscriptError as exc:
        raise TranscriptError(f"{path}:1: {exc}") from None
    found = segment_all(parse_turns(path), roles, matcher)
    return Interview(
        source=source if source is not None else str(path),
        candidate=roles.candidate,
        interviewers=sorted(roles.interviewers),
        answers=found.answers,
        unmatched=found.unmatched,
        coverage=found.coverage,
    )


# --- planning a batch: inputs -> work items -------------------------------------------------------------------

INPUT_SUFFIXES = (
    ".vtt",
    ".srt",
    ".txt",
    ".md",
    ".markdown",
    ".json",
    ".jsonl",
    ".ndjson",
    ".csv",
    ".tsv",
    ".docx",
    ".pdf",
)


@dataclass(frozen=True)
class WorkItem:
    """One answer to grade, with where it came from; `item_id` is stable across runs (resume keys on it)."""

    item_id: str
    source: str
    candidate: str | None
    question_id: str
    answer: str
    line: int
    asked: str | None = None
    match_score: float | None = None
    follow_ups: tuple[str, ...] = ()
    truncated: bool = False
    matched_by: str | None = None
    """"words" or "llm" for an asked question matched to the bank; None when the input named the id."""


@dataclass
class SourcePlan:
    """One transcript (or one candidate of an answer table) as planned."""

    source: str
    candidate: str | None
    interviewers: list[str] = field(default_factory=list)
    unmatched: list[dict[str, object]] = field(default_factory=list)
    items: int = 0
    coverage: dict[str, object] | None = None
    """Of a transcript: the candidate's words graded, and every stretch graded nowhere (`Coverage.as_dict`)."""
    warnings: list[str] = field(default_factory=list)


@dataclass
class Plan:
    """Everything a batch will grade, and what it will not (unmatched questions, skipped files)."""

    items: list[WorkItem]
    sources: list[SourcePlan]
    skipped: list[dict[str, str]] = field(default_factory=list)
    """Files not read, each {"file", "reason"}: every one is listed, none stops the others."""
    notes: list[str] = field(default_factory=list)
    """What was done to read a file ("read it as windows-1252"), for stderr."""


def input_files(paths: Sequence[Path], skipped: list[dict[str, str]] | None = None) -> list[tuple[Path, str]]:
    """(file, the path as given) of every input: files as given, folders expanded to the files they hold.

    Inside a folder, hidden files and folders (a name starting with ".", below the folder given: `..` and
    `./x` are fine) and files of other formats are left out, each listed in `skipped` with its reason.
    """
    found: list[tuple[Path, str]] = []
    skipped = skipped if skipped is not None else []
    for path in paths:
        if path.is_dir():
            hidden: set[Path] = set()
            for p in sorted(path.rglob("*")):
                inner = p.relative_to(path).parts
                dotted = next((i for i, part in enumerate(inner) if part.startswith(".")), None)
                if dotted is not None:
                    top = path.joinpath(*inner[: dotted + 1])
                    if top not in hidden:
                        hidden.add(top)
                        skipped.append({"file": str(top), "reason": "hidden (its name starts with '.')"})
                elif p.is_file() and p.suffix.lower() in INPUT_SUFFIXES:
                    found.append((p, str(p)))
                elif p.is_file():
                    skipped.append({"file": str(p), "reason": _unsupported(p)})
        elif path.exists():
            found.append((path, str(path)))
        else:
            raise InputError(f"{path}: no such file or folder")
    unique = list(dict.fromkeys(found))
    if not unique:
        listed = "; ".join(f"{s['file']}: {s['reason']}" for s in skipped[:5])
        raise InputError("no transcripts or answer tables among the inputs" + (f" ({listed})" if listed else ""))
    return unique


def _unsupported(path: Path) -> str:
    if path.suffix.lower() in UNREADABLE:
        return f"a {UNREADABLE[path.suffix.lower()]} file; {EXPORT_HINT}"
    kinds = " ".join(INPUT_SUFFIXES)
    return f"not a transcript or answer table ({path.suffix or 'no extension'}; read: {kinds})"


def plan_inputs(
    paths: Sequence[Path],
    matcher: Matcher,
    question_ids: Set[str],
    *,
    interviewers: Sequence[str] = (),
    encoding: str | None = None,
) -> Plan:
    """Read and match every input, before anything is graded.

    A file that cannot be read or parsed is skipped with its reason and the others are read; only when no
    file could be read at all is that an error.
    """
    stream = plan_stream(paths, matcher, question_ids, interviewers=interviewers, encoding=encoding)
    plan = next(stream)
    for _ in stream:
        pass
    return plan


def plan_stream(
    paths: Sequence[Path],
    matcher: Matcher,
    question_ids: Set[str],
    *,
    interviewers: Sequence[str] = (),
    encoding: str | None = None,
) -> Iterator[Plan]:
    """`plan_inputs` one input file at a time, for a batch that grades while it reads the rest.

    Yields the plan (one object, filled in as it goes) once the inputs are listed, then again after each file;
    the items a file adds appear together, once the file was read whole (a file that fails adds none). The
    same errors as `plan_inputs`, raised at the same points: a missing input before the first yield, nothing
    readable after the last file.
    """
    plan = Plan([], [])
    files = input_files(paths, plan.skipped)
    yield plan
    for path, given in files:
        kept, shown = (len(plan.items), len(plan.sources)), path
        try:
            with readable(path, encoding) as (source, note):
                shown = source
                if note:
                    plan.notes.append(f"{given}: {note}")
                if is_table(source):
                    plan.items.extend(_table_items(source, given, matcher, question_ids, plan.sources))
                else:
                    _plan_interview(source, given, matcher, interviewers, plan)
        except GraderError as exc:
            del plan.items[kept[0] :], plan.sources[kept[1] :]
            message = str(exc).replace(str(shown), given)
            reason = message.removeprefix(f"{given}: ") if message.startswith(f"{given}: ") else message
            plan.skipped.append({"file": given, "reason": reason})
        yield plan
    if not plan.sources:
        listed = "; ".join(f"{s['file']}: {s['reason']}" for s in plan.skipped[:5])
        raise InputError(f"nothing could be read: {listed}")


def _plan_interview(path: Path, given: str, matcher: Matcher, interviewers: Sequence[str], plan: Plan) -> None:
    interview = read_interview(path, matcher, interviewers=interviewers, source=given)
    source = SourcePlan(given, interview.candidate, interview.interviewers)
    source.unmatched = [
        {"asked": e.asked, "line": e.line, "match_score": e.match_score, "answer_words": e.words,
         "matched_by": e.matched_by}
        for e in interview.unmatched
    ]  # fmt: skip
    source.coverage = interview.coverage.as_dict()
    if not interview.answers:
        source.warnings.append(
            f"{given}: no answer to a bank question found ({interview.coverage.candidate_words} candidate words, "
            f"{len(interview.unmatched)} unmatched question(s)); check the speakers or pass --interviewer"
        )
    for exchange in interview.answers:
        qid = exchange.question_id or ""
        plan.items.append(WorkItem(f"{given}#{qid}", given, interview.candidate, qid, exchange.answer, exchange.line,
                                   exchange.asked, exchange.match_score, tuple(exchange.follow_ups),
                                   exchange.truncated, exchange.matched_by))  # fmt: skip
        source.items += 1
    plan.sources.append(source)


def _table_items(
    path: Path, given: str, matcher: Matcher, question_ids: Set[str], sources: list[SourcePlan]
) -> Iterator[WorkItem]:
    by_candidate: dict[str | None, SourcePlan] = {}
    for row in parse_table(path):
        plan = by_candidate.get(row.candidate)
        if plan is None:
            plan = by_candidate[row.candidate] = SourcePlan(given, row.candidate)
            sources.append(plan)
        question_id, score, by = row.question_id, None, None
        if question_id is None:
            match = matcher(row.question or "")
            question_id, score, by = match.question_id, match.score, match.by
            if question_id is None:
                plan.unmatched.append({"asked": row.question, "line": row.line, "match_score": score, "matched_by": by})
                continue
        elif question_id not in question_ids:
            raise TranscriptError(f"{path}:{row.line}: no question {question_id!r} in the bank")
        plan.items += 1
        yield WorkItem(f"{given}:{row.line}", given, row.candidate, question_id, row.answer, row.line,
                       asked=row.question, match_score=1.0 if score is None else score, matched_by=by)  # fmt: skip
