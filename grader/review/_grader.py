"""Everything the review package takes from the rest of grader, in one place.

The rest of grader is being reorganised (#13); keeping every import of it here means one file to re-point.
"""

from __future__ import annotations

from grader.bank.base import Bank
from grader.bank.examples import append_example, read_rows
from grader.bank.questions import load_questions
from grader.bank.rubrics import LoadedRubric, load_rubric
from grader.batch.reports import RESULTS, read_results, review_reasons
from grader.config import settings_from_env
from grader.errors import GraderError, InputError
from grader.metrics import adjacent_agreement, exact_agreement, mae, qwk
from grader.models import Rubric
from grader.scoring import criterion_points, score_levels
from grader.text.screening import screen_answer

__all__ = [
    "RESULTS",
    "Bank",
    "GraderError",
    "InputError",
    "LoadedRubric",
    "Rubric",
    "adjacent_agreement",
    "append_example",
    "criterion_points",
    "exact_agreement",
    "load_questions",
    "load_rubric",
    "mae",
    "qwk",
    "read_results",
    "read_rows",
    "review_reasons",
    "score_levels",
    "screen_answer",
    "settings_from_env",
]
