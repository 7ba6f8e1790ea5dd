"""What every judge receives and returns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from grader.errors import Failure
from grader.models import Question, Rubric, Usage, Verdict


@dataclass(frozen=True)
class GradedExample:
    """An answer a person already graded, that a judge may learn from."""

    answer: str
    score_norm: float
    """The human score as a fraction of the maximum, 0 … 1."""
    question_id: str | None = None


@dataclass(frozen=True)
class GradingTask:
    """One answer to grade against one rubric."""

    question: Question
    rubric: Rubric
    answer: str
    """The answer as the judge sees it (after redaction and truncation)."""
    examples: Sequence[GradedExample] = ()


@dataclass
class Judgement:
    """A judge's outcome: a verdict, or the reason there is none."""

    verdict: Verdict | None
    failure: Failure | None = None
    """Why there is no verdict (invalid_verdict, llm_unavailable, timeout, refused)."""
    attempts: int = 1
    usage: Usage = field(default_factory=Usage)
    model: str | None = None
    system_fingerprint: str | None = None
    flags: list[str] = field(default_factory=list)
    level_mode: str = "argmax"

    @property
    def error(self) -> str | None:
        """The public form of the failure, "<code>: <message>", or None."""
        return None if self.failure is None else str(self.failure)


class Judge(Protocol):
    """Decides the levels of a rubric's criteria for one answer."""

    name: str

    async def judge(self, task: GradingTask) -> Judgement:
        """Judge one answer."""
        ...
