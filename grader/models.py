"""Data models: the bank (questions, rubrics), judge verdicts and grades.

Rubric models forbid unknown keys, so a typo in a rubric is an error rather than a silently ignored field.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_serializer, model_validator

from grader.errors import Failure

ID_PATTERN = r"^[a-z][a-z0-9_]*$"
_N = TypeVar("_N", int, float)


class StrictModel(BaseModel):
    """Base for hand-written bank files: unknown keys are errors, and so are .inf and .nan (no score survives them)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Question(StrictModel):
    """One question of the bank, as listed in questions.yaml."""

    id: str = Field(pattern=r"^q\d{2,}$")
    section: str
    subsection: str | None = None
    question: str = Field(min_length=1)
    aliases: list[str] = Field(default_factory=list)
    """Other phrasings interviewers use; transcript matching scores each like the question itself."""

    @model_serializer(mode="wrap")
    def _without_empty_aliases(self, handler: Any) -> Any:
        """A question without aliases dumps as before aliases existed (cache keys and files stay the same)."""
        data = handler(self)
        if isinstance(data, dict) and not self.aliases:
            data.pop("aliases", None)
        return data


class Criterion(StrictModel):
    """One scored aspect of an answer."""

    id: str = Field(pattern=ID_PATTERN)
    """Stable identifier, also the property name in the judge's JSON schema."""
    description: str = Field(min_length=1)
    """What this criterion checks, in one sentence; the judge sees it."""
    weight: float = Field(gt=0)
    """Relative weight; points are max_score * weight / sum of weights."""
    levels: list[str] = Field(min_length=2)
    """Level descriptions from lowest (level 0) to highest."""
    key_points: list[str] = Field(min_length=1)
    """What a full answer says for this criterion; the offline judge matches these."""

    @field_validator("levels", "key_points")
    @classmethod
    def _no_blank_items(cls, items: list[str]) -> list[str]:
        if any(not item.strip() for item in items):
            raise ValueError("items must not be blank")
        return items


class Exemplar(StrictModel):
    """A sample answer with the score a careful human grader gives it."""

    answer: str = Field(min_length=1)
    expected_score: float = Field(ge=0)
    levels: dict[str, int] | None = None
    """Expected level per criterion id; when given, expected_score must follow from it."""
    note: str | None = None
    """Why it earns that score (for authors; never shown to candidates)."""


class ClaimPhrasings(StrictModel):
    """Other ways candidates say one of the rubric's wrong claims: the offline judge matches these too."""

    claim: str = Field(min_length=1)
    """A misconception or red flag of the rubric, as written there (its wrong claim, before any ';', suffices)."""
    said: list[str] = Field(min_length=1)
    """The same wrong claim in a candidate's words, each a sentence."""

    @field_validator("said")
    @classmethod
    def _no_blank_items(cls, items: list[str]) -> list[str]:
        if any(not item.strip() for item in items):
            raise ValueError("items must not be blank")
        return items


class Rubric(StrictModel):
    """How to grade one question."""

    question_id: str = Field(pattern=r"^q\d{2,}$")
    max_score: float = Field(gt=0)
    criteria: list[Criterion] = Field(min_length=1)
    reference_answer: str = Field(min_length=1)
    exemplars: list[Exemplar] = Field(default_factory=list)
    misconceptions: list[str] = Field(default_factory=list)
    """Wrong claims candidates commonly make; stating one is penalised."""
    red_flags: list[str] = Field(default_factory=list)
    """Statements that show a fundamental misunderstanding."""
    tags: list[str] = Field(default_factory=list)
    reviewed: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}(-\d{2})?$")
    """When time-sensitive content was last checked (YYYY-MM or YYYY-MM-DD)."""
    sources: list[str] = Field(default_factory=list)
    """Where time-sensitive facts were checked."""
    phrasings: list[ClaimPhrasings] = Field(default_factory=list)
    """Other ways candidates say the misconceptions and red flags (offline judge only; the model reads the claims)."""

    @field_validator("phrasings")
    @classmethod
    def _phrasings_name_a_claim(cls, entries: list[ClaimPhrasings], info: ValidationInfo) -> list[ClaimPhrasings]:
        claims = [*info.data.get("misconceptions", []), *info.data.get("red_flags", [])]
        for number, entry in enumerate(entries):
            if _named_claim(claims, entry.claim) is None:
                raise ValueError(f"[{number}].claim matches none of the misconceptions or red flags: {entry.claim!r}")
        return entries


def wrong_claim_of(rubric: Rubric, claim: str) -> str | None:
    """The misconception or red flag a phrasings entry names: the same text, or the same wrong claim before ';'."""
    return _named_claim([*rubric.misconceptions, *rubric.red_flags], claim)


def _named_claim(claims: list[str], claim: str) -> str | None:
    wanted = _claim_key(claim)
    return next((t for t in claims if wanted in (_claim_key(t), _claim_key(t.split(";")[0]))), None)


def _claim_key(text: str) -> str:
    return " ".join(text.casefold().split()).rstrip(" .")


class CriterionVerdict(BaseModel):
    """A judge's decision on one criterion: the level, with its reasons."""

    evidence: list[str] = Field(default_factory=list, description="Short quotes copied verbatim from the answer.")
    rationale: str = Field(default="", description="Why this level, in one or two sentences.")
    level: int
    spread: float | None = None
    """With several samples: max - min level across them."""
    level_probs: list[float] | None = None
    """With logprob weighting: the probability of each level."""


class Feedback(BaseModel):
    """Feedback on the answer as a whole."""

    strengths: list[str] = Field(default_factory=list, description="What the answer gets right, specifically.")
    gaps: list[str] = Field(default_factory=list, description="Important points the answer misses.")
    misconceptions: list[str] = Field(
        default_factory=list, description="Claims in the answer that are wrong, each with the correction."
    )
    next_step: str = Field(default="", description="The one thing the candidate should study next.")
    follow_up_questions: list[str] = Field(
        default_factory=list, description="Questions an interviewer could ask next to probe the gaps."
    )


class Verdict(BaseModel):
    """What any judge returns: a level for every criterion, plus feedback."""

    criteria: dict[str, CriterionVerdict]
    feedback: Feedback = Field(default_factory=Feedback)


class Usage(BaseModel):
    """Tokens and cost of the model calls behind one grade; None where unknown."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float | None = None

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=_add_known(self.prompt_tokens, other.prompt_tokens),
            completion_tokens=_add_known(self.completion_tokens, other.completion_tokens),
            cost_usd=_add_known(self.cost_usd, other.cost_usd),
        )


def _add_known(a: _N | None, b: _N | None) -> _N | None:
    """Sum two counts where None means unknown: unknown only when both are."""
    if a is None:
        return b
    if b is None:
        return a
    return a + b


class CriterionResult(BaseModel):
    """One criterion of a grade, scored by the fixed formula."""

    id: str
    level: int | None
    levels: int
    """How many levels the criterion has (level is 0 … levels-1)."""
    score: float | None
    max_score: float
    rationale: str = ""
    evidence: list[str] = Field(default_factory=list)
    spread: float | None = None
    level_probs: list[float] | None = None


class Provenance(BaseModel):
    """What produced a grade, so it can be audited later."""

    model_config = ConfigDict(extra="allow")

    rubric_sha256: str | None = None
    prompt_sha256: str | None = None
    grader_version: str
    bank: str | None = None
    judge: str
    model: str | None = None
    base_url: str | None = None
    system_fingerprint: str | None = None
    temperature: float | None = None
    seed: int | None = None
    samples: int = 1
    level_mode: str = "argmax"
    method: str | None = None
    """What kind of decision the levels are: "model_judgement" (an LLM read the answer) or "key_point_estimate"
    (the offline grader matched the rubric's key points; no model read it)."""
    graded_at: str
    cached: bool = False


class Grade(BaseModel):
    """The result of grading one answer: the public JSON object of interface.md."""

    question_id: str
    status: Literal["graded", "ungraded"]
    score: float | None
    max_score: float
    criteria: list[CriterionResult] = Field(default_factory=list)
    feedback: Feedback = Field(default_factory=Feedback)
    flags: list[str] = Field(default_factory=list)
    error: str | None = None
    failure: Failure | None = Field(default=None, exclude=True, repr=False)
    """The typed reason behind `error`, for code that acts on it (retries, exit codes); not part of the JSON."""
    backend: str
    model: str | None = None
    usage: Usage = Field(default_factory=Usage)
    provenance: Provenance
    attempts: int = 1
    answer_tokens: int | None = None

    @model_validator(mode="after")
    def _error_from_failure(self) -> Grade:
        if self.failure is not None and self.error is None:
            self.error = str(self.failure)
        return self

    @property
    def pct(self) -> float | None:
        """Score as a fraction of the maximum, or None when ungraded."""
        return None if self.score is None else self.score / self.max_score


@dataclasses.dataclass(frozen=True)
class GradedExample:
    """An answer a person already graded, that a judge may learn from."""

    answer: str
    score_norm: float
    """The human score as a fraction of the maximum, 0 … 1."""
    question_id: str | None = None


class Message(BaseModel):
    """One chat message sent to a model."""

    role: Literal["system", "user", "assistant"]
    content: str
