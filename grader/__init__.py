"""grader: grade technical-interview answers on Generative AI against rubrics, with an LLM or offline.

The public API is imported lazily so that `grader --help` does not pay for pydantic, jinja2 or openai.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from grader.version import __version__

__all__ = [
    "Grade",
    "GradingService",
    "Rubric",
    "Settings",
    "Verdict",
    "__version__",
    "grade_answer",
    "load_rubric",
]

if TYPE_CHECKING:
    from grader.bank.rubrics import load_rubric
    from grader.config import Settings
    from grader.grading.service import GradingService
    from grader.models import Grade, Rubric, Verdict

_LAZY = {
    "Settings": "grader.config",
    "Grade": "grader.models",
    "Rubric": "grader.models",
    "Verdict": "grader.models",
    "load_rubric": "grader.bank.rubrics",
    "GradingService": "grader.grading.service",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'grader' has no attribute {name!r}")


def grade_answer(question_id: str, answer: str, settings: Settings | None = None) -> Grade:
    """Grade one answer with the given settings (default: from the environment)."""
    from grader.config import settings_from_env
    from grader.grading.service import GradingService

    with GradingService(settings or settings_from_env()) as service:
        return service.grade_answer(question_id, answer)
