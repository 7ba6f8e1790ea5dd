"""What every judge receives and returns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

from grader.errors import Failure
from grader.models import GradedExample, Question, Rubric, Usage, Verdict
from grader.vocabulary import MODEL_JUDGEMENT

__all__ = ["GradedExample", "GradingTask", "Judge", "JudgeProfile", "Judgement", "public_url"]


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


@dataclass(frozen=True)
class JudgeProfile:
    """What a judge says about itself: the service needs nothing else to build provenance and the cache key."""

    name: str
    """The `backend` of its grades: "openai", "offline", "recorded" …"""
    calls_model: bool
    """Whether judging costs a model call (budgets, dry-run prices, --llm-match need one)."""
    model: str | None = None
    base_url: str | None = None
    """The server, in a form fit for results (no user info, no query)."""
    temperature: float | None = None
    seed: int | None = None
    samples: int = 1
    uses_prompts: bool = False
    """Whether the bank's prompt templates shape its decisions (their hash goes into provenance and the key)."""
    fingerprint: str | None = None
    """Its own constants, for the cache key: grades made with other constants are not served as its own."""
    method: str = MODEL_JUDGEMENT
    """What kind of decision its levels are, for provenance: "model_judgement" or "key_point_estimate"."""


def public_url(url: str | None) -> str | None:
    """A base URL fit for results: no user info and no query, where a key may hide."""
    if not url:
        return url
    try:
        parts = urlsplit(url)
        netloc = (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
    except ValueError:
        return None
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class Judge(Protocol):
    """Decides the levels of a rubric's criteria for one answer."""

    name: str

    @property
    def profile(self) -> JudgeProfile:
        """What this judge is (see JudgeProfile)."""
        ...

    async def judge(self, task: GradingTask) -> Judgement:
        """Judge one answer."""
        ...
