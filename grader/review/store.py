"""The batch as a reviewer sees it, and the reviews they save.

`results.jsonl` is only ever read. Reviews go to `reviews.jsonl` beside it: one JSON line per save, written
with a single append, flushed and fsynced before the save is answered, under a file lock so that two
reviewers serving the same folder never interleave. The latest line per answer and reviewer counts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.review._grader import (
    RESULTS,
    Bank,
    GraderError,
    InputError,
    LoadedRubric,
    Rubric,
    criterion_points,
    load_questions,
    load_rubric,
    read_results,
    review_reasons,
    score_levels,
)

REVIEWS = "reviews.jsonl"
MAX_NOTE_CHARS = 4000
MAX_REVIEWER_CHARS = 100
FLAG_MEANINGS = {
    "prompt_injection_suspected": "The answer addresses the grader (instructions, fake verdicts, closing tags); "
    "graded on content, quoted for review.",
    "hidden_characters": "Zero-width, tag or bidi characters, or Latin/Cyrillic look-alikes hide text from a reader.",
    "evidence_not_found": "A quote the model gave as evidence is not in the answer.",
    "low_agreement": "The sampled judgements disagree on a criterion.",
    "samples_missing": "Fewer valid samples came back than were asked for.",
    "answer_truncated": "The answer was cut to the token budget before grading.",
    "copied_from_rubric": "Most of the answer is the rubric's own text (reference, key points, level descriptors or "
    "exemplars), pasted, fillers and disfluencies notwithstanding.",
    "keyword_list": "Most of the answer is lists of terms with no sentence structure; such lines earn no credit.",
    "non_english_suspected": "The answer seems not to be English, which the offline grader cannot read.",
    "weak_match": "The asked question matched its bank question only just above the threshold: check the question.",
}


class ReviewError(GraderError):
    """A review the server refuses; `field` names the part of the request that is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class Criterion:
    """One rubric criterion with the grader's decision on this answer."""

    id: str
    description: str
    levels: list[str]
    points: float
    """The criterion's maximum points by the formula."""
    grader_level: int | None
    rationale: str
    evidence: list[str]


@dataclass(frozen=True)
class Answer:
    """One graded (or ungraded) answer of the batch, with the current rubric of its question."""

    answer_id: str
    question_id: str
    question: str
    transcript: str
    candidate: str | None
    asked: str | None
    text: str
    answer_sha256: str
    status: str
    score: float | None
    max_score: float
    flags: list[str]
    reasons: list[str]
    """Why it needs a person (empty: it does not)."""
    error: str | None
    criteria: list[Criterion]
    rubric: Rubric
    rubric_sha256: str
    rubric_changed: bool
    """The rubric differs from the one the answer was graded with."""

    @property
    def needs_review(self) -> bool:
        """Whether the batch routed this answer to a person."""
        return bool(self.reasons)

    @property
    def grader_levels(self) -> dict[str, int]:
        """The grader's level per criterion (criteria it decided only)."""
        return {c.id: c.grader_level for c in self.criteria if c.grader_level is not None}

    @property
    def key(self) -> tuple[str, str, str]:
        """What ties a review line to its answer: transcript, question and the answer's hash."""
        return (self.transcript, self.question_id, self.answer_sha256)


@dataclass
class Batch:
    """The answers of a batch folder in queue order: those that need review first, then file order."""

    folder: Path
    answers: list[Answer]
    skipped: list[str] = field(default_factory=list)
    """Answers that cannot be reviewed (their rubric does not load), as messages."""

    def __post_init__(self) -> None:
        self.by_id = {a.answer_id: a for a in self.answers}
        self.by_key = {a.key: a for a in self.answers}

    def get(self, answer_id: object) -> Answer:
        """The answer with this id; ReviewError naming `answer_id` otherwise."""
        if not isinstance(answer_id, str) or answer_id not in self.by_id:
            raise ReviewError("answer_id", f"no answer {str(answer_id)[:40]!r} in this batch")
        return self.by_id[answer_id]


def answer_id(transcript: str, question_id: str, answer_sha256: str) -> str:
    """A short, URL-safe id derived from what a review line records, so lines map back to answers."""
    return hashlib.sha256(f"{transcript}\0{question_id}\0{answer_sha256}".encode()).hexdigest()[:16]


def load_batch(folder: Path, bank: Bank) -> Batch:
    """Read a batch folder (results.jsonl) and the current rubrics of its questions, for review.

    Raises:
        InputError: if the folder holds no results.
    """
    path = folder / RESULTS
    if not path.is_file():
        raise InputError(f"{folder}: no {RESULTS}; review a folder written by `grader batch --out`")
    records, _ = read_results(path, repair=False)
    questions = {q.id: q.question for q in load_questions(bank)}
    rubrics: dict[str, LoadedRubric | str] = {}
    answers: list[Answer] = []
    skipped: list[str] = []
    seen: set[str] = set()
    for number, record in enumerate(records, start=1):
        qid = record.get("question_id")
        if not isinstance(qid, str) or not isinstance(record.get("answer"), str):
            skipped.append(f"{path}:{number}: no question_id or answer")
            continue
        if qid not in rubrics:
            try:
                rubrics[qid] = load_rubric(bank, qid)
            except GraderError as exc:
                rubrics[qid] = str(exc)
        loaded = rubrics[qid]
        if isinstance(loaded, str):
            skipped.append(f"{path}:{number}: {loaded}")
            continue
        answer = _answer(record, loaded, questions.get(qid, ""))
        if answer.answer_id in seen:
            continue
        seen.add(answer.answer_id)
        answers.append(answer)
    ordered = [a for a in answers if a.needs_review] + [a for a in answers if not a.needs_review]
    return Batch(folder=folder, answers=ordered, skipped=skipped)


def _answer(record: Mapping[str, Any], loaded: LoadedRubric, question: str) -> Answer:
    rubric = loaded.rubric
    text = str(record["answer"])
    sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    transcript = str(record.get("transcript") or "")
    decided = {c.get("id"): c for c in record.get("criteria") or [] if isinstance(c, dict)}
    points = criterion_points(rubric)
    criteria = []
    for spec in rubric.criteria:
        got = decided.get(spec.id) or {}
        level = got.get("level")
        usable = isinstance(level, int) and not isinstance(level, bool) and 0 <= level < len(spec.levels)
        evidence = [q for q in got.get("evidence") or [] if isinstance(q, str)]
        criteria.append(
            Criterion(
                id=spec.id,
                description=spec.description,
                levels=list(spec.levels),
                points=points[spec.id],
                grader_level=level if usable else None,
                rationale=str(got.get("rationale") or ""),
                evidence=evidence,
            )
        )
    graded = record.get("status") == "graded" and isinstance(record.get("score"), int | float)
    provenance = record.get("provenance") or {}
    recorded_sha = provenance.get("rubric_sha256") if isinstance(provenance, dict) else None
    return Answer(
        answer_id=answer_id(transcript, rubric.question_id, sha),
        question_id=rubric.question_id,
        question=question,
        transcript=transcript,
        candidate=record.get("candidate") if isinstance(record.get("candidate"), str) else None,
        asked=record.get("asked") if isinstance(record.get("asked"), str) else None,
        text=text,
        answer_sha256=sha,
        status=str(record.get("status") or "ungraded"),
        score=float(record["score"]) if graded else None,
        max_score=rubric.max_score,
        flags=[f for f in record.get("flags") or [] if isinstance(f, str)],
        reasons=review_reasons(record),
        error=record.get("error") if isinstance(record.get("error"), str) else None,
        criteria=criteria,
        rubric=rubric,
        rubric_sha256=loaded.sha256,
        rubric_changed=bool(recorded_sha) and recorded_sha != loaded.sha256,
    )


def check_levels(answer: Answer, levels: object) -> dict[str, int]:
    """The reviewer's levels, one per criterion of the answer's rubric; ReviewError naming the field otherwise."""
    if not isinstance(levels, dict):
        raise ReviewError("levels", "expected an object {criterion_id: level}")
    known = {c.id: c for c in answer.criteria}
    for name in levels:
        if name not in known:
            raise ReviewError(f"levels.{str(name)[:60]}", f"not a criterion of {answer.question_id}")
    checked: dict[str, int] = {}
    for criterion in answer.criteria:
        if criterion.id not in levels:
            raise ReviewError(f"levels.{criterion.id}", "missing: give a level for every criterion")
        level = levels[criterion.id]
        top = len(criterion.levels) - 1
        if not isinstance(level, int) or isinstance(level, bool) or not 0 <= level <= top:
            raise ReviewError(f"levels.{criterion.id}", f"level {str(level)[:20]} is not a whole number in 0..{top}")
        checked[criterion.id] = level
    return checked


def review_record(
    answer: Answer, reviewer: str, levels: object, note: object, now: dt.datetime | None = None
) -> dict[str, Any]:
    """The reviews.jsonl line of one save: validated levels, the score by the formula, and what identifies it."""
    checked = check_levels(answer, levels)
    if note is None:
        note = ""
    if not isinstance(note, str):
        raise ReviewError("note", "expected a string")
    if len(note) > MAX_NOTE_CHARS:
        raise ReviewError("note", f"longer than {MAX_NOTE_CHARS} characters")
    when = (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")
    return {
        "answer_id": answer.answer_id,
        "question_id": answer.question_id,
        "transcript": answer.transcript,
        "candidate": answer.candidate,
        "answer_sha256": answer.answer_sha256,
        "reviewer": reviewer,
        "levels": checked,
        "score": score_levels(answer.rubric, checked),
        "max_score": answer.max_score,
        "grader_score": answer.score,
        "grader_levels": answer.grader_levels,
        "note": note,
        "reviewed_at": when,
        "rubric_sha256": answer.rubric_sha256,
    }


def check_reviewer(name: str) -> str:
    """A reviewer name as given on the command line, trimmed; InputError if empty, too long or multi-line."""
    name = name.strip()
    if not name or len(name) > MAX_REVIEWER_CHARS or re.search(r"[\x00-\x1f\x7f]", name):
        raise InputError(f"--reviewer: give a name of 1 to {MAX_REVIEWER_CHARS} printable characters")
    return name


class ReviewLog:
    """reviews.jsonl of one batch folder: appended line by line, re-read on demand (another reviewer may write)."""

    def __init__(self, folder: Path) -> None:
        """The log of this folder (the file is created by the first save)."""
        self.path = folder / REVIEWS
        self._lock = threading.Lock()

    def append(self, record: Mapping[str, Any]) -> None:
        """Write one line durably: appended whole, flushed and fsynced, under a lock shared with other processes."""
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        with self._lock, self.path.open("a+b") as handle:
            _lock_file(handle.fileno())
            size = handle.seek(0, os.SEEK_END)
            if size:  # a torn last line (a kill mid-write) must not swallow this one
                handle.seek(size - 1)
                if handle.read(1) != b"\n":
                    line = b"\n" + line
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())

    def read(self) -> list[dict[str, Any]]:
        """Every well-formed review line, in file order (a torn or foreign line is skipped, never rewritten)."""
        if not self.path.is_file():
            return []
        records = []
        with self.path.open("rb") as handle:
            for raw in handle:
                try:
                    record = json.loads(raw)
                except ValueError:
                    continue
                if isinstance(record, dict) and isinstance(record.get("reviewer"), str):
                    records.append(record)
        return records


def _lock_file(fd: int) -> None:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: the thread lock alone
        return
    fcntl.flock(fd, fcntl.LOCK_EX)  # released when the file is closed


def latest_reviews(batch: Batch, records: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Mapping[str, Any]]]:
    """The latest review line per answer and reviewer: {answer_id: {reviewer: line}}, for answers of this batch."""
    found: dict[str, dict[str, Mapping[str, Any]]] = {}
    for record in records:
        key = (record.get("transcript"), record.get("question_id"), record.get("answer_sha256"))
        answer = batch.by_key.get(key)  # type: ignore[arg-type]
        if answer is None:
            continue
        found.setdefault(answer.answer_id, {})[str(record["reviewer"])] = record
    return found
