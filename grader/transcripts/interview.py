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
from collections.abc import Callable, Iterable, Iterator, Sequence, Set
from dataclasses import dataclass, field
from pathlib import Path

from grader.errors import InputError, TranscriptError
from grader.transcripts.formats import MAX_TURN_CHARS, Turn
from grader.transcripts.matching import Match, topic_tokens
from grader.transcripts.read import parse_turns
from grader.transcripts.tables import is_table, parse_table

Matcher = Callable[[str], Match]
MAX_ASKED_CHARS = 500
MAX_FOLLOW_UPS = 20
MAX_UNMATCHED = 200
UNMATCHED_ANSWER_CHARS = 2_000
"""Bounds that keep memory flat however long a transcript is."""
STRONG_MATCH = 0.5
"""A match this strong starts a new question even when it is phrased like a follow-up."""
LONG_STATEMENT_WORDS = 45
"""An interviewer turn this long without a question changes the subject (e.g. presenting the role)."""

_FILLER = r"(?:(?:so|and|ok(?:ay)?|now|next|alright|all right|right|great|good|cool|then|well|first(?:ly)?|second(?:ly)?|finally|lastly|thanks?|thank you|perfect|nice|got it|sure|moving on)[,.!]?\s+)*"  # noqa: E501
_PROMPT = re.compile(
    rf"^{_FILLER}(?:(?:can|could|would) you (?:please )?|please )?(?:explain|describe|walk (?:me|us) through"
    r"|talk (?:me|us) through|take (?:me|us) through|tell (?:me|us) (?:about|how|why|what|where|when)|discuss"
    r"|compare|contrast|define|outline|give (?:me|us) (?:an? )?(?:overview|example|sense|rundown|run-down)"
    r"|let'?s (?:talk|discuss|move on to|turn to|switch to|go to|dig into)|i'?d (?:like|love) (?:you )?to (?:hear|know)"
    r"|i want (?:you )?to (?:hear|know)|share (?:your|how|what))\b",
    re.I,
)
_SMALL_TALK = re.compile(
    r"\b(?:how are you|how'?s it going|how(?:'s| is| was) (?:your|the) (?:day|week|weekend|morning|afternoon|trip)"
    r"|can i (?:jump|cut) in|quick (?:interruption|sound check)|anything you'?d like to (?:ask|add)"
    r"|ask (?:us|me) anything"
    r"|(?:can|could) you (?:hear|see) (?:me|us|my screen)|hear me (?:ok|okay|alright|fine)|you'?re on mute|muted"
    r"|your (?:camera|mic|microphone|audio|video|connection)|good (?:morning|afternoon|evening)"
    r"|thanks? (?:you )?(?:so much )?for (?:joining|coming|your time|taking the time|having me)|nice to meet"
    r"|weather|weekend|coffee|traffic|commute|find (?:the|our) (?:building|office|place)|find us"
    r"|ready to (?:start|begin|get started|go|dive in)|shall we (?:start|begin|get started|dive in)"
    r"|(?:do|did) you have any questions|any questions for (?:me|us)|questions for (?:me|us)"
    r"|tell (?:me|us) (?:a (?:bit|little) )?about yourself|introduce yourself|your background"
    r"|where are you (?:based|located|calling from|joining from)|notice period|salary|start date|next steps"
    r"|hear back|does that (?:answer|help|make sense)|anything else (?:you'?d like|to add)"
    r"|before we (?:start|begin|wrap up|finish)|wrap (?:things )?up|that'?s all (?:from me|the questions|i have))",
    re.I,
)
_FOLLOW_UP = re.compile(
    rf"^{_FILLER}(?:(?:could|can|would) you (?:please )?(?:say|tell (?:me|us)|talk|expand|elaborate|go (?:a bit )?"
    r"(?:deeper|further)|dig|unpack|give (?:me|us) an example|clarify|be more specific)|say more|tell me more"
    r"|go (?:a bit )?deeper|what do you mean|why (?:is|does|do|would|did|not|that)|how so|how come|for example"
    r"|such as|what about|how about|what (?:happens|would happen) (?:if|when)|what if|you (?:mentioned|said|talked)"
    r"|earlier you|just to (?:clarify|check|confirm)|to clarify|follow(?:ing)?[- ]up|on that (?:note|point)"
    r"|building on that|going back to that|and (?:how|why|what|when|which)\b|how (?:would|do|does|did|could) "
    r"(?:that|this|it|they|those|you (?:handle|deal|fix|detect|measure|tell|know))|is (?:that|this|it) )",
    re.I,
)
_ANAPHOR = re.compile(r"\b(?:it|that|this|those|these|they|them|its|their)\b", re.I)
_SENTENCE = re.compile(r"(?<=[.?!])\s+")
_INTERVIEWER_ROLE = re.compile(r"\b(?:interviewer|recruiter|hiring manager|host|panel(?:ist)?|moderator)\b|^q$", re.I)
_CANDIDATE_ROLE = re.compile(r"\b(?:candidate|interviewee|applicant)\b|^a$", re.I)


@dataclass
class Exchange:
    """One question as asked and the candidate's whole reply to it (follow-ups included)."""

    asked: str
    line: int
    question_id: str | None = None
    match_score: float = 0.0
    matched_by: str = "words"
    answer: str = ""
    follow_ups: list[str] = field(default_factory=list)
    truncated: bool = False
    limit: int = MAX_TURN_CHARS
    """What the answer may hold; unmatched questions keep only a little (they are listed, not graded)."""

    def add(self, text: str, truncated: bool = False) -> None:
        """Append the candidate's words, up to `limit` characters in all."""
        self.truncated = self.truncated or truncated
        room = self.limit - len(self.answer)
        if len(text) > room:
            text, self.truncated = text[: max(0, room)], True
        if text:
            self.answer = f"{self.answer}\n\n{text}" if self.answer else text


@dataclass
class Interview:
    """What a transcript yields: the answers under bank ids, and the questions that matched none."""

    source: str
    candidate: str | None
    interviewers: list[str]
    answers: list[Exchange]
    """One per bank question, in the order first asked; asked again later, the answers are joined."""
    unmatched: list[Exchange]


@dataclass
class SpeakerStats:
    """What one speaker did in a transcript."""

    turns: int = 0
    words: int = 0
    questions: int = 0
    reply_words: int = 0
    """Words said right after another speaker's question."""


class Roles:
    """Who interviews and who answers."""

    def __init__(self, interviewers: Iterable[str], candidate: str) -> None:
        """Name the interviewers (one or more) and the candidate."""
        self.interviewers = frozenset(interviewers)
        self.candidate = candidate


def sentences(text: str) -> list[str]:
    """Sentences of a turn (split after . ? !)."""
    return [s for s in _SENTENCE.split(text.strip()) if s.strip()]


def is_question(sentence: str) -> bool:
    """A sentence that asks something: a question mark, or a prompt such as "walk me through …"."""
    return sentence.rstrip().rstrip("\"')").endswith("?") or bool(_PROMPT.match(sentence.strip()))


def is_small_talk(text: str) -> bool:
    """Greetings, logistics and wrap-up, which are never graded."""
    return bool(_SMALL_TALK.search(text))


def merge_turns(turns: Iterable[Turn]) -> Iterator[Turn]:
    """Join consecutive turns of one speaker (an answer spread over many cues), capped at MAX_TURN_CHARS."""
    current: Turn | None = None
    for turn in turns:
        if current is not None and turn.speaker == current.speaker:
            room = MAX_TURN_CHARS - len(current.text)
            current.text = f"{current.text} {turn.text[: max(0, room - 1)]}".strip()
            current.truncated = current.truncated or turn.truncated or len(turn.text) >= room
            continue
        if current is not None:
            yield current
        current = Turn(turn.speaker, turn.text, turn.line, turn.truncated)
    if current is not None:
        yield current


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
    lead = max(speakers, key=lambda s: (stats[s].questions, -stats[s].reply_words))
    candidate = max((s for s in speakers if s != lead), key=lambda s: (stats[s].reply_words, stats[s].words))
    return Roles([s for s in speakers if s != candidate and (s == lead or stats[s].questions > 0)], candidate)


def question_in(text: str, matcher: Matcher) -> tuple[str, str, Match | None]:
    """("none" | "small_talk" | "question", the question as asked, its match) for an interviewer turn.

    The asked text runs from the first real question to the end of the turn, with the sentence before it
    when that sentence names the topic ("The KL term in VAEs. Why does it matter?").
    """
    parts = sentences(text)
    asking = [i for i, s in enumerate(parts) if is_question(s)]
    if not asking:
        return "none", "", None
    real = [i for i in asking if not is_small_talk(parts[i])]
    if not real:
        return "small_talk", " ".join(parts[i] for i in asking)[:MAX_ASKED_CHARS], None
    first = real[0]
    options = [" ".join(parts[first:])[:MAX_ASKED_CHARS]]
    if first > 0 and len(parts[first - 1].split()) > 3 and not is_small_talk(parts[first - 1]):
        options.append(" ".join(parts[first - 1 :])[:MAX_ASKED_CHARS])
    matches = [(matcher(option), option) for option in options]
    match, asked = max(matches, key=lambda pair: (pair[0].question_id is not None, pair[0].score))
    return "question", asked, match


def _is_follow_up(asked: str, match: Match, open_: Exchange) -> bool:
    if match.question_id is not None and match.question_id == open_.question_id:
        return True
    # "Have you used it in production?" names a topic of the bank, but "it" is the open question's subject.
    refers_back = len(asked.split()) <= 12 and bool(_ANAPHOR.search(asked))
    if match.question_id is not None and not (refers_back and match.score < STRONG_MATCH):
        return False
    if refers_back or _FOLLOW_UP.match(asked):
        return True
    words = set(topic_tokens(asked))
    context = set(topic_tokens(open_.asked + " " + open_.answer[-4000:]))
    return bool(words) and len(words & context) / len(words) >= 0.5


def segment(turns: Iterable[Turn], roles: Roles, matcher: Matcher) -> tuple[list[Exchange], list[Exchange]]:
    """(answers under bank ids, unmatched questions) of a conversation whose roles are known."""
    by_id: dict[str, Exchange] = {}
    unmatched: list[Exchange] = []
    open_: Exchange | None = None
    for turn in merge_turns(turns):
        if turn.speaker == roles.candidate:
            if open_ is not None:
                open_.add(turn.text, turn.truncated)
            continue
        if turn.speaker not in roles.interviewers:
            continue
        kind, asked, match = question_in(turn.text, matcher)
        if kind == "none":
            if len(turn.text.split()) > LONG_STATEMENT_WORDS:
                open_ = None
            continue
        if kind == "small_talk" or match is None:
            open_ = None
            continue
        if open_ is not None and open_.answer and _is_follow_up(asked, match, open_):
            if len(open_.follow_ups) < MAX_FOLLOW_UPS:
                open_.follow_ups.append(asked)
            continue
        if match.question_id is not None and match.question_id in by_id:
            open_ = by_id[match.question_id]
            if len(open_.follow_ups) < MAX_FOLLOW_UPS:
                open_.follow_ups.append(asked)
            continue
        open_ = Exchange(asked, turn.line, match.question_id, match.score, match.by)
        if match.question_id is not None:
            by_id[match.question_id] = open_
        else:
            open_.limit = UNMATCHED_ANSWER_CHARS
            if len(unmatched) < MAX_UNMATCHED:
                unmatched.append(open_)
    return list(by_id.values()), unmatched


def read_interview(
    path: Path, matcher: Matcher, *, interviewers: Sequence[str] = (), source: str | None = None
) -> Interview:
    """Parse, recognise the roles and segment one transcript file (streamed twice, never held whole)."""
    stats = speaker_stats(parse_turns(path), str(path))
    try:
        roles = assign_roles(stats, interviewers)
    except TranscriptError as exc:
        raise TranscriptError(f"{path}:1: {exc}") from None
    answers, unmatched = segment(parse_turns(path), roles, matcher)
    return Interview(
        source=source if source is not None else str(path),
        candidate=roles.candidate,
        interviewers=sorted(roles.interviewers),
        answers=answers,
        unmatched=unmatched,
    )


# --- planning a batch: inputs -> work items -------------------------------------------------------------------

INPUT_SUFFIXES = (".vtt", ".srt", ".txt", ".md", ".markdown", ".json", ".jsonl", ".ndjson", ".csv", ".tsv")


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


@dataclass
class Plan:
    """Everything a batch will grade, and what it will not (unmatched questions)."""

    items: list[WorkItem]
    sources: list[SourcePlan]


def input_files(paths: Sequence[Path]) -> list[tuple[Path, str]]:
    """(file, the path as given) of every input: files as given, folders expanded to the files they hold."""
    found: list[tuple[Path, str]] = []
    for path in paths:
        if path.is_dir():
            inside = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in INPUT_SUFFIXES)
            found.extend((p, str(p)) for p in inside if not any(part.startswith(".") for part in p.parts))
        elif path.exists():
            found.append((path, str(path)))
        else:
            raise InputError(f"{path}: no such file or folder")
    unique = list(dict.fromkeys(found))
    if not unique:
        raise InputError("no transcripts or answer tables among the inputs")
    return unique


def plan_inputs(
    paths: Sequence[Path], matcher: Matcher, question_ids: Set[str], *, interviewers: Sequence[str] = ()
) -> Plan:
    """Read and match every input, before anything is graded; raises on the first file that does not parse."""
    items: list[WorkItem] = []
    sources: list[SourcePlan] = []
    for path, given in input_files(paths):
        if is_table(path):
            items.extend(_table_items(path, given, matcher, question_ids, sources))
            continue
        interview = read_interview(path, matcher, interviewers=interviewers, source=given)
        plan = SourcePlan(given, interview.candidate, interview.interviewers)
        plan.unmatched = [
            {
                "asked": e.asked,
                "line": e.line,
                "match_score": e.match_score,
                "answer_words": len(e.answer.split()),
                "matched_by": e.matched_by,
            }
            for e in interview.unmatched
        ]
        for exchange in interview.answers:
            qid = exchange.question_id or ""
            items.append(WorkItem(f"{given}#{qid}", given, interview.candidate, qid, exchange.answer, exchange.line,
                                  exchange.asked, exchange.match_score, tuple(exchange.follow_ups),
                                  exchange.truncated, exchange.matched_by))  # fmt: skip
            plan.items += 1
        sources.append(plan)
    return Plan(items, sources)


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
