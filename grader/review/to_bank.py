"""`--to-bank`: the panel's scores become graded answers of the bank, so both judges learn from them.

Each reviewed answer is appended once to the bank's `graded/<id>.jsonl` (as `grader rubric add-example` does),
scored at the mean of its reviewers' latest scores. It goes through the same screen as add-example first:
graded answers are shown to the model, so an answer flagged as an injection attempt or as hiding characters
is refused and listed. An answer the bank already holds (same question, same text) is not added twice.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from grader.review._grader import Bank, InputError, append_example, read_rows, screen_answer
from grader.review.store import Answer, Batch


@dataclass
class BankUpdate:
    """What --to-bank did, answer by answer."""

    added: list[tuple[Answer, float]] = field(default_factory=list)
    """Answers appended, with the panel's score."""
    refused: list[tuple[Answer, str]] = field(default_factory=list)
    """Answers the screen refused, with why."""
    present: list[Answer] = field(default_factory=list)
    """Answers the bank already held."""


def add_reviewed_to_bank(batch: Batch, latest: Mapping[str, Mapping[str, Mapping[str, Any]]], bank: Bank) -> BankUpdate:
    """Append every reviewed answer of the batch to the bank's graded answers (see the module docstring)."""
    update = BankUpdate()
    held: dict[str, set[str]] = {}
    for answer in batch.answers:
        reviews = latest.get(answer.answer_id)
        scores = [float(r["score"]) for r in (reviews or {}).values() if isinstance(r.get("score"), int | float)]
        if not scores:
            continue
        if answer.question_id not in held:
            path = bank.examples_path(answer.question_id)
            rows = read_rows(path, question_id=answer.question_id) if path.is_file() else []
            held[answer.question_id] = {row.answer for row in rows}
        if answer.text in held[answer.question_id]:
            update.present.append(answer)
            continue
        flags = screen_answer(answer.text).flags
        if flags:
            update.refused.append((answer, f"flagged {', '.join(flags)}: graded answers are shown to the model"))
            continue
        score = min(answer.max_score, max(0.0, statistics.fmean(scores)))
        try:
            append_example(bank, answer.question_id, answer.text, score / answer.max_score)
        except InputError as exc:
            update.refused.append((answer, str(exc)))
            continue
        held[answer.question_id].add(answer.text)
        update.added.append((answer, score))
    return update
