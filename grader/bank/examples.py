"""Graded answers as data: eval rows and example files, parsed into GradedExample lists by question.

One row format serves `grader eval DATA.jsonl`, `--examples FILE` and a bank's graded answers (`Bank.examples_path`):
a JSON object with `answer`, a human score (field `score` unless told otherwise), optional `score_max`,
optional `split`, and either `question_id` or `question` plus `reference_answer`. A bad row stops the load
with one line naming file:line.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from grader.bank.base import Bank
from grader.errors import InputError
from grader.models import GradedExample
from grader.text.textfile import read_text


@dataclass(frozen=True)
class ScoredRow:
    """One human-graded answer as read from a file."""

    where: str
    """`file:line`, for messages."""
    answer: str
    score: float
    score_max: float | None
    question_id: str | None
    question: str | None
    reference_answer: str | None
    split: str | None

    @property
    def key(self) -> str:
        """What groups rows of one question: the question id, else the question text."""
        return self.question_id if self.question_id is not None else (self.question or "")


def _text(record: Mapping[str, object], name: str, where: str, *, required: bool) -> str | None:
    value = record.get(name)
    if value is None:
        if required:
            raise InputError(f"{where}: missing field {name!r}")
        return None
    if not isinstance(value, str):
        raise InputError(f"{where}: {name} must be a string, not {type(value).__name__}")
    return value


def _number(record: Mapping[str, object], name: str, where: str, *, required: bool) -> float | None:
    value = record.get(name)
    if value is None:
        if required:
            raise InputError(f"{where}: missing field {name!r}")
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise InputError(f"{where}: {name} {value!r} is not a number") from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(f"{where}: {name} {value!r} is not a number")
    return float(value)


def parse_row(line: str, where: str, score_field: str = "score", question_id: str | None = None) -> ScoredRow:
    """Parse one JSONL line into a row, or raise InputError naming `where`.

    `question_id` stands in for a row that names no question (a bank's file is already per question).
    """
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}: not valid JSON ({exc.msg})") from None
    if not isinstance(record, dict):
        raise InputError(f"{where}: expected a JSON object, got {type(record).__name__}")
    answer = _text(record, "answer", where, required=True) or ""
    score = _number(record, score_field, where, required=True) or 0.0
    score_max = _number(record, "score_max", where, required=False)
    question_id = _text(record, "question_id", where, required=False) or question_id
    question = _text(record, "question", where, required=False)
    reference = _text(record, "reference_answer", where, required=False)
    split = record.get("split")
    if question_id is None and (not question or not reference or not reference.strip()):
        raise InputError(f"{where}: needs question_id, or question and reference_answer")
    if score < 0:
        raise InputError(f"{where}: {score_field} {score:g} is negative")
    if score_max is not None and score_max <= 0:
        raise InputError(f"{where}: score_max {score_max:g} must be above 0")
    if score_max is not None and score > score_max + 1e-9:
        raise InputError(f"{where}: {score_field} {score:g} is above score_max {score_max:g}")
    return ScoredRow(
        where=where,
        answer=answer,
        score=score,
        score_max=score_max,
        question_id=question_id,
        question=question,
        reference_answer=reference,
        split=split if isinstance(split, str) else None,
    )


def parse_rows(
    lines: Iterable[str], source: str, score_field: str = "score", question_id: str | None = None
) -> list[ScoredRow]:
    """Parse JSONL lines (blank lines skipped); messages name `source:line`."""
    return [
        parse_row(line, f"{source}:{number}", score_field, question_id)
        for number, line in enumerate(lines, start=1)
        if line.strip()
    ]


def read_rows(path: Path, score_field: str = "score", question_id: str | None = None) -> list[ScoredRow]:
    """Read a JSONL file of graded answers (`question_id`: for rows that name no question)."""
    text = read_text(path, folder="is a folder, not a JSONL file")
    return parse_rows(text.splitlines(), str(path), score_field, question_id)


def score_maxima(rows: Sequence[ScoredRow], rubric_max: Mapping[str, float]) -> dict[str, float]:
    """Default score_max per question key: the rubric's max_score, else the largest human score seen.

    Raises:
        InputError: if a row without its own score_max scores above its rubric's max_score.
    """
    maxima: dict[str, float] = {}
    for row in rows:
        if row.question_id is not None and row.question_id in rubric_max:
            maxima[row.key] = rubric_max[row.question_id]
        else:
            maxima[row.key] = max(maxima.get(row.key, 0.0), row.score)
    for row in rows:
        if row.score_max is None and row.score > maxima[row.key] + 1e-9:
            raise InputError(f"{row.where}: score {row.score:g} is above the rubric's max_score {maxima[row.key]:g}")
    return maxima


def normalized(row: ScoredRow, maxima: Mapping[str, float]) -> float:
    """The row's score as a fraction of its score_max (0 when every score of its question is 0)."""
    top = row.score_max if row.score_max is not None else maxima.get(row.key, 0.0)
    return min(1.0, row.score / top) if top > 0 else 0.0


def group_examples(rows: Iterable[ScoredRow], maxima: Mapping[str, float]) -> dict[str, list[GradedExample]]:
    """Graded examples grouped by question key, in file order."""
    grouped: dict[str, list[GradedExample]] = {}
    for row in rows:
        grouped.setdefault(row.key, []).append(GradedExample(row.answer, normalized(row, maxima), row.question_id))
    return grouped


def load_bank_examples(bank: Bank, question_id: str, max_score: float) -> list[GradedExample]:
    """The graded answers in the bank's file for this question (none when the file is absent)."""
    path = bank.examples_path(question_id)
    if not path.is_file():
        return []
    rows = read_rows(path, question_id=question_id)
    for row in rows:
        if row.question_id != question_id:
            raise InputError(f"{row.where}: question_id {row.question_id} in the file of {question_id}")
    maxima = {row.key: max_score for row in rows}
    return [GradedExample(r.answer, normalized(r, maxima), question_id) for r in rows]


def example_record(question_id: str, answer: str, score_norm: float) -> str:
    """The JSONL line that stores one graded answer (score as a fraction: score_max 1)."""
    if not answer.strip():
        raise InputError("the example answer is empty")
    if not (math.isfinite(score_norm) and 0 <= score_norm <= 1):
        raise InputError(f"score {score_norm!r} must be a fraction between 0 and 1 of the maximum")
    record = {"question_id": question_id, "answer": answer, "score": round(score_norm, 4), "score_max": 1}
    return json.dumps(record, ensure_ascii=False)


def append_example(bank: Bank, question_id: str, answer: str, score_norm: float) -> Path:
    """Append one graded answer to the bank's file for this question (created if needed); returns the path."""
    line = example_record(question_id, answer, score_norm)
    path = bank.examples_path(question_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+b") as handle:  # appends go to the end whatever was read; only the last byte is read
        size = handle.seek(0, os.SEEK_END)
        needs_newline = False
        if size:
            handle.seek(size - 1)
            needs_newline = handle.read(1) != b"\n"
        handle.write((("\n" if needs_newline else "") + line + "\n").encode("utf-8"))
    return path
