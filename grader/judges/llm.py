"""The LLM judge: render the prompt, ask for a per-rubric structured verdict, re-ask on invalid output."""

from __future__ import annotations

import asyncio
import functools
import random
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from grader.clients.base import Completion, LLMClient, RequestOptions
from grader.errors import LLMTimeout, LLMUnavailable
from grader.judges.base import GradingTask, Judgement
from grader.models import CriterionVerdict, Feedback, Message, Rubric, Usage, Verdict
from grader.pricing import Price, cost_usd
from grader.prompts import PromptRenderer
from grader.scoring import combine_verdicts, verdict_problems

REASK = "Your previous reply was invalid:\n{errors}\nReturn corrected JSON."


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


@functools.cache
def _criterion_model(levels: int) -> type[BaseModel]:
    """A criterion verdict whose level can only be 0 … levels-1 (an enum in the JSON schema)."""
    level_type: Any = Literal[tuple(range(levels))]
    return create_model(
        f"CriterionVerdict{levels}Levels",
        __base__=_Strict,
        evidence=(list[str], Field(description="Short quotes copied character for character from the answer.")),
        rationale=(str, Field(description="Why this level, in one or two sentences.")),
        level=(level_type, Field(description=f"The level that fits best, 0 (lowest) to {levels - 1}.")),
    )


class _Feedback(_Strict):
    strengths: list[str] = Field(description=Feedback.model_fields["strengths"].description)
    gaps: list[str] = Field(description=Feedback.model_fields["gaps"].description)
    misconceptions: list[str] = Field(description=Feedback.model_fields["misconceptions"].description)
    next_step: str = Field(description=Feedback.model_fields["next_step"].description)
    follow_up_questions: list[str] = Field(description=Feedback.model_fields["follow_up_questions"].description)


def verdict_model(rubric: Rubric, order: Sequence[str] | None = None) -> type[BaseModel]:
    """The JSON schema for this rubric: every criterion a required property with a bounded level.

    Criterion ids become aliases of generated field names, so an id such as `copy` or `model_config`
    cannot collide with pydantic's own attributes.
    """
    criteria = {c.id: c for c in rubric.criteria}
    ids = list(order) if order is not None else list(criteria)
    fields: dict[str, Any] = {
        f"c{index}": (
            _criterion_model(len(criteria[cid].levels)),
            Field(alias=cid, description=criteria[cid].description),
        )
        for index, cid in enumerate(ids)
    }
    criteria_model = create_model(f"Criteria_{rubric.question_id}", __base__=_Strict, **fields)
    return create_model(
        f"Verdict_{rubric.question_id}",
        __base__=_Strict,
        criteria=(criteria_model, Field(description="One entry per rubric criterion.")),
        feedback=(_Feedback, Field(description="Feedback on the answer as a whole.")),
    )


def to_verdict(parsed: BaseModel) -> Verdict:
    """The judge-independent Verdict from a parsed per-rubric reply."""
    data = parsed.model_dump(by_alias=True)
    return Verdict(
        criteria={cid: CriterionVerdict(**value) for cid, value in data["criteria"].items()},
        feedback=Feedback(**data["feedback"]),
    )


class LLMJudge:
    """Judges through an LLMClient; one instance serves many concurrent answers."""

    def __init__(
        self,
        client: LLMClient,
        renderer: PromptRenderer,
        *,
        model: str,
        reask_limit: int = 2,
        samples: int = 1,
        temperature: float = 0.0,
        seed: int = 0,
        store: bool = False,
        audience: str = "interviewer",
        shuffle_criteria: bool = False,
        price: Price | None = None,
    ) -> None:
        """Configure the judge; `price` overrides the listed price (for unlisted models)."""
        self.client = client
        self.name = client.name
        self.renderer = renderer
        self.model = model
        self.reask_limit = reask_limit
        self.samples = samples
        self.temperature = temperature
        self.seed = seed
        self.store = store
        self.audience = audience
        self.shuffle_criteria = shuffle_criteria
        self.price = price

    def criteria_order(self, rubric: Rubric, answer_key: str) -> list[str] | None:
        """A per-answer shuffle of the criteria (seeded, so a re-run sees the same order), or None."""
        if not self.shuffle_criteria:
            return None
        ids = [c.id for c in rubric.criteria]
        random.Random(f"{self.seed}:{answer_key}").shuffle(ids)
        return ids

    def render(self, task: GradingTask) -> list[Message]:
        """The messages this judge sends for a task (used for dry runs and token estimates too)."""
        order = self.criteria_order(task.rubric, task.answer)
        return self.renderer.render(
            task.question,
            task.rubric,
            task.answer,
            examples=task.examples,
            audience=self.audience,
            criteria_order=order,
        ).messages

    async def judge(self, task: GradingTask) -> Judgement:
        """Judge one answer: one verdict, or `samples` verdicts combined per criterion."""
        order = self.criteria_order(task.rubric, task.answer)
        messages = self.render(task)
        schema = verdict_model(task.rubric, order)
        seeds = [self.seed + index for index in range(self.samples)]
        try:
            outcomes = await asyncio.gather(*(self._one(messages, schema, task.rubric, seed) for seed in seeds))
        except LLMTimeout as exc:
            return Judgement(verdict=None, error=f"timeout: {exc}", model=self.model)
        except LLMUnavailable as exc:
            return Judgement(verdict=None, error=f"llm_unavailable: {exc}", model=self.model)
        usage = sum((o.usage for o in outcomes), Usage())
        attempts = sum(o.attempts for o in outcomes)
        fingerprint = next((o.system_fingerprint for o in outcomes if o.system_fingerprint), None)
        model = next((o.model for o in outcomes if o.model), None) or self.model
        verdicts = [o.verdict for o in outcomes if o.verdict is not None]
        if not verdicts:
            return Judgement(
                verdict=None,
                error=outcomes[0].error,
                attempts=attempts,
                usage=usage,
                model=model,
                system_fingerprint=fingerprint,
            )
        flags = []
        if len(verdicts) < len(outcomes):
            flags.append("samples_missing")
        verdict = (
            verdicts[0] if len(verdicts) == 1 and self.samples == 1 else combine_verdicts(verdicts, task.rubric).verdict
        )
        return Judgement(
            verdict=verdict, attempts=attempts, usage=usage, model=model, system_fingerprint=fingerprint, flags=flags
        )

    async def _one(self, messages: list[Message], schema: type[BaseModel], rubric: Rubric, seed: int) -> Judgement:
        """One verdict, re-asking with the validation errors up to reask_limit times."""
        options = RequestOptions(temperature=self.temperature, seed=seed, store=self.store)
        conversation = list(messages)
        usage = Usage()
        last: Completion[BaseModel] | None = None
        error = "invalid_verdict: no reply"
        for attempt in range(1, self.reask_limit + 2):
            last = await self.client.acomplete(conversation, schema, model=self.model, options=options)
            usage = usage + self._priced(last.usage, last.model)
            choice = last.first
            if choice.refused:
                return Judgement(
                    verdict=None,
                    error=choice.error,
                    attempts=attempt,
                    usage=usage,
                    model=last.model,
                    system_fingerprint=last.system_fingerprint,
                )
            problems = [choice.error] if choice.error else []
            verdict = None
            if choice.parsed is not None:
                verdict = to_verdict(choice.parsed)
                problems = verdict_problems(verdict, rubric)
            if not problems and verdict is not None:
                return Judgement(
                    verdict=verdict,
                    attempts=attempt,
                    usage=usage,
                    model=last.model,
                    system_fingerprint=last.system_fingerprint,
                )
            error = "invalid_verdict: " + "; ".join(p.replace("\n", "; ") for p in problems if p)
            conversation = [
                *conversation,
                Message(role="assistant", content=choice.raw_text or "(empty reply)"),
                Message(role="user", content=REASK.format(errors="\n".join(problems))),
            ]
        return Judgement(
            verdict=None,
            error=error[:500],
            attempts=self.reask_limit + 1,
            usage=usage,
            model=last.model if last else None,
            system_fingerprint=last.system_fingerprint if last else None,
        )

    def _priced(self, usage: Usage, served_model: str | None) -> Usage:
        cost = cost_usd(self.model, usage.prompt_tokens, usage.completion_tokens, self.price)
        if cost is None and served_model and served_model != self.model:
            cost = cost_usd(served_model, usage.prompt_tokens, usage.completion_tokens, self.price)
        return usage.model_copy(update={"cost_usd": cost})
