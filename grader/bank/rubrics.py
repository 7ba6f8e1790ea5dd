"""Loading rubrics and scaffolding new ones."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from grader.bank.base import Bank
from grader.bank.yamlio import Located, load_yaml, validate_located
from grader.errors import BankError, RubricError
from grader.models import Question, Rubric


@dataclass(frozen=True)
class LoadedRubric:
    """A validated rubric with where it came from."""

    rubric: Rubric
    path: Path
    sha256: str
    """sha256 of the file's bytes, for provenance."""
    located: Located


def load_rubric_file(path: Path) -> LoadedRubric:
    """Load and validate one rubric file; errors name the file and line."""
    try:
        located = load_yaml(path)
    except RubricError:
        raise
    except BankError as exc:
        raise RubricError(str(exc)) from None
    rubric = validate_located(Rubric, located, RubricError)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return LoadedRubric(rubric=rubric, path=path, sha256=digest, located=located)


def load_rubric(bank: Bank, question_id: str) -> LoadedRubric:
    """The rubric of one question; its question_id must match the file name."""
    path = bank.rubric_path(question_id)
    if not path.is_file():
        flag = bank.option
        raise RubricError(
            f"no rubric for {question_id} ({path}); scaffold one with `grader rubric new {question_id}{flag}` "
            f"or draft one with `grader rubric draft {question_id}{flag}`"
        )
    loaded = load_rubric_file(path)
    if loaded.rubric.question_id != question_id:
        raise RubricError(
            f"{loaded.located.where(('question_id',))}: question_id is {loaded.rubric.question_id!r} "
            f"but the file is {path.name}"
        )
    return loaded


def scaffold_rubric(question: Question, check_command: str | None = None) -> str:
    """A commented rubric skeleton for a question, to be filled in by an author."""
    check = check_command or f"grader rubric lint rubrics/{question.id}.yaml"
    return f"""\
# Rubric for {question.id}: {question.question}
# Check it with `{check}`; the format is `grader rubric schema`.
question_id: {question.id}
max_score: 10
tags: []
# When the answer depends on facts that change (law, products), say when you checked them:
# reviewed: YYYY-MM
# sources: []

# 3 to 6 criteria. Points: max_score * weight / sum of weights. A criterion with L levels scored at
# level k earns k / (L-1) of its points. Write levels concrete enough that two graders agree.
criteria:
  - id: core_concept
    description: TODO one sentence saying what this criterion checks.
    weight: 2
    levels:
      - Absent or wrong.
      - Names the idea without explaining it.
      - Explains it correctly with minor gaps.
      - Explains it precisely, with the mechanism and an example.
    key_points:
      - TODO a point a full answer makes, in the words candidates use.
  - id: tradeoffs
    description: TODO
    weight: 1
    levels:
      - Absent or wrong.
      - Generic statements.
      - Specific and correct.
    key_points:
      - TODO
  - id: practice
    description: TODO
    weight: 1
    levels:
      - Absent or wrong.
      - Generic statements.
      - Specific and correct.
    key_points:
      - TODO

# Wrong claims candidates make; stating one is penalised.
misconceptions: []
# Statements that show a fundamental misunderstanding.
red_flags: []

# What a strong candidate says (at least 60 words).
reference_answer: |
  TODO

# At least 3, spanning the scale: one at or below 30% of max_score, one at or above 70%, and a fluent
# answer that is wrong. `levels` gives the expected level per criterion; expected_score must follow from it.
exemplars:
  - answer: |
      TODO a strong answer
    levels: {{core_concept: 3, tradeoffs: 2, practice: 2}}
    expected_score: 10
    note: TODO why
  - answer: |
      TODO a fluent answer that is wrong
    levels: {{core_concept: 0, tradeoffs: 1, practice: 0}}
    expected_score: 1.25
    note: TODO which misconception it states
  - answer: |
      TODO a weak answer
    levels: {{core_concept: 1, tradeoffs: 0, practice: 0}}
    expected_score: 1.67
    note: TODO why
"""
