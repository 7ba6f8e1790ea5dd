"""The LLM judge: render the prompt, ask for a per-rubric structured verdict, re-ask on invalid output.

Several samples (`samples` > 1) are asked for in one request with `n` = samples; a server that drops `n` or
returns fewer choices gets the missing samples as separate requests, each with its own seed (seed + i).
A choice that fails validation is re-asked on its own, so one bad sample costs one more request, not N.
With `logprobs`, the top logprobs of each criterion's level token turn into level probabilities (G-Eval);
see docs/trust.md for how they score.
"""

from __future__ import annotations

import asyncio
import functools
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from grader.bank.prompts import PromptRenderer
from grader.clients.base import Choice, Completion, LLMClient, RequestOptions
from grader.errors import ConfigError, Failure, LLMUnavailable
from grader.judges.base import GradedExample, GradingTask, Judgement, JudgeProfile, public_url
from grader.models import CriterionVerdict, Feedback, Message, Rubric, Usage, Verdict
from grader.pricing import Price, cost_usd
from grader.scoring import (
    combine_verdicts,
    expected_level,
    level_probs_from_logprobs,
    round_level,
    verdict_problems,
)
from grader.text.passages import nearest_texts
from grader.text.screening import screen_answer
from grader.vocabulary import SAMPLES_MISSING, ErrorCode

REASK = "Your previous reply was invalid:\n{errors}\nReturn corrected JSON."
LEVEL_MODE_ARGMAX = "argmax"
LEVEL_MODE_LOGPROBS = "logprobs"
LEVEL_MODE_FALLBACK = "argmax (fallback: no logprobs returned)"
LEVEL_MODE_PARTIAL = "logprobs (partial: argmax where no logprobs were returned)"
PROMPT_EXAMPLES = 4
"""Graded answers of the question shown to the model: the nearest to the answer being graded."""


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
    shape = tuple((cid, criteria[cid].description, len(criteria[cid].levels)) for cid in ids)
    return _verdict_model(rubric.question_id, shape)


@functools.lru_cache(maxsize=256)
def _verdict_model(question_id: str, shape: tuple[tuple[str, str, int], ...]) -> type[BaseModel]:
    """Built once per rubric shape: creating pydantic models costs milliseconds, and a batch asks thousands of times."""
    fields: dict[str, Any] = {
        f"c{index}": (_criterion_model(levels), Field(alias=cid, description=description))
        for index, (cid, description, levels) in enumerate(shape)
    }
    criteria_model = create_model(f"Criteria_{question_id}", __base__=_Strict, **fields)
    return create_model(
        f"Verdict_{question_id}",
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


@dataclass
class _Tally:
    """What the requests behind one judgement cost and who served them (shared by its concurrent requests)."""

    usage: Usage
    requests: int = 0
    model: str | None = None
    fingerprint: str | None = None


@dataclass(frozen=True)
class _Sample:
    verdict: Verdict | None
    failure: Failure | None = None


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
        logprobs: bool = False,
        base_url: str | None = None,
    ) -> None:
        """Configure the judge; `price` overrides the listed price (for unlisted models).

        `base_url`: the server as configured (None: the provider's default), for provenance and the cache key.
        """
        self.client = client
        self.base_url = base_url
        self.name = client.name
        self.renderer = renderer
        self.model = model
        self.reask_limit = reask_limit
        self.samples = max(1, samples)
        self.temperature = temperature
        self.seed = seed
        self.store = store
        self.audience = audience
        self.shuffle_criteria = shuffle_criteria
        self.price = price
        self.logprobs = logprobs

    @property
    def profile(self) -> JudgeProfile:
        """A model over a client, with this judge's sampling settings; the prompt templates shape it."""
        return self.describe(self.model, self.base_url, self.temperature, self.seed, self.samples, self.name)

    @staticmethod
    def describe(
        model: str, base_url: str | None, temperature: float, seed: int, samples: int, name: str = "openai"
    ) -> JudgeProfile:
        """The profile of an LLM judge with these settings (a dry run describes one without a client)."""
        return JudgeProfile(name=name, calls_model=True, model=model, base_url=public_url(base_url),
                            temperature=temperature, seed=seed, samples=max(1, samples), uses_prompts=True)  # fmt: skip

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
            examples=prompt_examples(task),
            audience=self.audience,
            criteria_order=order,
        ).messages

    def batch_request(self, task: GradingTask) -> dict[str, Any]:
        """The body of the first request `judge` sends for this task: one line of a Batch API request file."""
        build = getattr(self.client, "request_body", None)
        if build is None:
            raise ConfigError(f"the {self.name} client cannot build Batch API requests (use the openai backend)")
        schema = verdict_model(task.rubric, self.criteria_order(task.rubric, task.answer))
        body: dict[str, Any] = build(self.render(task), schema, model=self.model, options=self._options(self.samples))
        return body

    async def judge_reply(self, task: GradingTask, body: object, cost_factor: float = 1.0) -> Judgement:
        """Judge from a reply to batch_request's body, as `judge` handles its first reply.

        A choice that fails validation is re-asked live (bounded by reask_limit), a sample the reply lacks is
        asked live; the reply's cost is scaled by `cost_factor` (the batch discount).
        """
        parse = getattr(self.client, "parse_body", None)
        if parse is None:
            raise ConfigError(f"the {self.name} client cannot read Batch API replies (use the openai backend)")
        schema = verdict_model(task.rubric, self.criteria_order(task.rubric, task.answer))
        return await self.judge(task, first=(parse(body, schema), cost_factor))

    async def judge(self, task: GradingTask, first: tuple[Completion[BaseModel], float] | None = None) -> Judgement:
        """Judge one answer: one verdict, or `samples` verdicts combined per criterion.

        `first`: the reply to the first request and its cost factor, when it came another way (a Batch API file).
        """
        order = self.criteria_order(task.rubric, task.answer)
        messages = self.render(task)
        schema = verdict_model(task.rubric, order)
        tally = _Tally(Usage())
        try:
            samples = await self._samples(messages, schema, task.rubric, tally, first)
        except LLMUnavailable as exc:
            return Judgement(
                verdict=None,
                failure=exc.failure,
                attempts=max(1, tally.requests),
                usage=tally.usage,
                model=tally.model or self.model,
                system_fingerprint=tally.fingerprint,
            )
        common: dict[str, Any] = {
            "attempts": tally.requests,
            "usage": tally.usage,
            "model": tally.model or self.model,
            "system_fingerprint": tally.fingerprint,
        }
        verdicts = [s.verdict for s in samples if s.verdict is not None]
        if not verdicts:
            return Judgement(verdict=None, failure=next(s.failure for s in samples if s.failure), **common)
        flags = [SAMPLES_MISSING] if len(verdicts) < self.samples else []
        verdict = verdicts[0] if self.samples == 1 else combine_verdicts(verdicts, task.rubric).verdict
        return Judgement(verdict=verdict, flags=flags, level_mode=self._level_mode(verdict), **common)

    async def _samples(
        self,
        messages: list[Message],
        schema: type[BaseModel],
        rubric: Rubric,
        tally: _Tally,
        given: tuple[Completion[BaseModel], float] | None = None,
    ) -> list[_Sample]:
        """All samples: one request with n = samples, then separate requests for what it did not deliver."""
        if given is None:
            first = await self._request(messages, schema, n=self.samples, seed=self.seed, tally=tally)
        else:
            first = self._record(given[0], tally, given[1])
        choices = first.choices[: self.samples]
        jobs = [
            self._settle(messages, schema, rubric, choice, self.seed + index, tally)
            for index, choice in enumerate(choices)
        ]
        jobs += [
            self._fresh(messages, schema, rubric, self.seed + index, tally)
            for index in range(len(choices), self.samples)
        ]
        outcomes = await asyncio.gather(*jobs, return_exceptions=True)
        samples = []
        for outcome in outcomes:
            if isinstance(outcome, LLMUnavailable):
                samples.append(_Sample(None, outcome.failure))
            elif isinstance(outcome, BaseException):
                raise outcome
            else:
                samples.append(outcome)
        return samples

    async def _fresh(
        self, messages: list[Message], schema: type[BaseModel], rubric: Rubric, seed: int, tally: _Tally
    ) -> _Sample:
        """One sample in a request of its own (the fallback when `n` was not honoured)."""
        completion = await self._request(messages, schema, n=1, seed=seed, tally=tally)
        return await self._settle(messages, schema, rubric, completion.first, seed, tally)

    async def _settle(
        self,
        messages: list[Message],
        schema: type[BaseModel],
        rubric: Rubric,
        choice: Choice[BaseModel],
        seed: int,
        tally: _Tally,
    ) -> _Sample:
        """Turn one choice into a verdict, re-asking this sample alone with the validation errors."""
        conversation = list(messages)
        for attempt in range(self.reask_limit + 1):
            if choice.refused:
                return _Sample(None, Failure(ErrorCode.refused, choice.error or "the model refused"))
            problems = [choice.error] if choice.error else []
            verdict = None
            if choice.parsed is not None:
                verdict = to_verdict(choice.parsed)
                problems = verdict_problems(verdict, rubric)
            if verdict is not None and not problems:
                return _Sample(self._weighted(verdict, choice, rubric) if self.logprobs else verdict)
            if attempt == self.reask_limit:
                break
            conversation = [
                *conversation,
                Message(role="assistant", content=choice.raw_text or "(empty reply)"),
                Message(role="user", content=REASK.format(errors="\n".join(problems))),
            ]
            choice = (await self._request(conversation, schema, n=1, seed=seed, tally=tally)).first
        message = "; ".join(p.replace("\n", "; ") for p in problems if p)
        return _Sample(None, Failure(ErrorCode.invalid_verdict, message[: 500 - len("invalid_verdict: ")]))

    async def _request(
        self, messages: list[Message], schema: type[BaseModel], *, n: int, seed: int, tally: _Tally
    ) -> Completion[BaseModel]:
        options = self._options(n, seed)
        completion = await self.client.acomplete(messages, schema, model=self.model, options=options)
        return self._record(completion, tally)

    def _options(self, n: int, seed: int | None = None) -> RequestOptions:
        seed = self.seed if seed is None else seed
        return RequestOptions(temperature=self.temperature, seed=seed, n=n, logprobs=self.logprobs, store=self.store)

    def _record(
        self, completion: Completion[BaseModel], tally: _Tally, cost_factor: float = 1.0
    ) -> Completion[BaseModel]:
        """Count a reply into the tally (its cost scaled by cost_factor); a reply without choices is unusable."""
        tally.requests += 1
        usage = self._priced(completion.usage, completion.model)
        if cost_factor != 1.0 and usage.cost_usd is not None:
            usage = usage.model_copy(update={"cost_usd": round(usage.cost_usd * cost_factor, 8)})
        tally.usage = tally.usage + usage
        tally.model = tally.model or completion.model
        tally.fingerprint = tally.fingerprint or completion.system_fingerprint
        if not completion.choices:
            raise LLMUnavailable(f"{self.client.base_url or self.name}: a completion without choices")
        return completion

    def _weighted(self, verdict: Verdict, choice: Choice[BaseModel], rubric: Rubric) -> Verdict:
        """The verdict with level probabilities where the choice's logprobs give them (else unchanged)."""
        probs = level_probs_from_logprobs(choice.logprobs, rubric)
        if not probs:
            return verdict
        criteria = dict(verdict.criteria)
        for cid, distribution in probs.items():
            level = round_level(expected_level(distribution))
            criteria[cid] = criteria[cid].model_copy(update={"level_probs": distribution, "level": level})
        return verdict.model_copy(update={"criteria": criteria})

    def _level_mode(self, verdict: Verdict) -> str:
        if not self.logprobs:
            return LEVEL_MODE_ARGMAX
        weighted = sum(1 for decided in verdict.criteria.values() if decided.level_probs)
        if weighted == 0:
            return LEVEL_MODE_FALLBACK
        return LEVEL_MODE_LOGPROBS if weighted == len(verdict.criteria) else LEVEL_MODE_PARTIAL

    def _priced(self, usage: Usage, served_model: str | None) -> Usage:
        cost = cost_usd(self.model, usage.prompt_tokens, usage.completion_tokens, self.price)
        if cost is None and served_model and served_model != self.model:
            cost = cost_usd(served_model, usage.prompt_tokens, usage.completion_tokens, self.price)
        return usage.model_copy(update={"cost_usd": cost})


def prompt_examples(task: GradingTask) -> list[GradedExample]:
    """The graded answers shown in the prompt: the PROMPT_EXAMPLES nearest to the answer, most similar first.

    A question may have hundreds of graded answers; the nearest few calibrate the model best per token. They
    sit in the system prompt, so one that tries to instruct the grader or hides text is never shown: a graded
    answer is usually some earlier candidate's words.
    """
    usable = [e for e in task.examples if _shown_safely(e.answer)]
    chosen = nearest_texts(task.answer, [e.answer for e in usable], PROMPT_EXAMPLES)
    return [usable[i] for i in chosen]


@functools.lru_cache(maxsize=4096)
def _shown_safely(text: str) -> bool:
    return not screen_answer(text).flags
