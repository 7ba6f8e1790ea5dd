"""The grading service: the one place an answer becomes a Grade, whichever judge decides.

Two typed stages, which every caller (grade, batch, the dry run, eval, calibrate) goes through:

- `stage`: prepare the answer (screen, redact, fit to the token budget), build the judge's task, compute the
  cache key and look it up once -> a StagedAnswer (its `cached` grade, if any, is the result).
- `finish`: a judge's Judgement -> the Grade: the verdict checked against the rubric, scored in code by the
  fixed formula, flagged, with provenance; stored in the cache when graded.

`agrade` runs both around the judge. A judge that cannot produce a valid verdict yields an `ungraded` grade
with its typed Failure; never a silent zero. One instance grades any number of answers; `close` releases it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from grader.bank.base import Bank
from grader.bank.examples import load_bank_examples
from grader.bank.prompts import PromptRenderer
from grader.bank.questions import find_question, load_questions
from grader.bank.rubrics import LoadedRubric, load_rubric
from grader.clients.base import LLMClient
from grader.config import Settings, cache_options
from grader.errors import BankError, ConfigError, Failure, GraderError, InputError
from grader.grading.cache import GradeCache, cache_key
from grader.judges.base import GradedExample, GradingTask, Judge, Judgement, JudgeProfile, public_url
from grader.judges.select import StandInJudge, judge_profile, make_judge
from grader.models import Grade, Provenance, Question, Rubric
from grader.pricing import Price
from grader.scoring import criterion_results, disagreeing_criteria, missing_evidence, total_score, verdict_problems
from grader.text.screening import screen_answer
from grader.text.tokens import TokenCounter, cannot_exceed
from grader.version import __version__
from grader.vocabulary import ANSWER_TRUNCATED, EVIDENCE_NOT_FOUND, LOW_AGREEMENT, ErrorCode


@dataclass
class PreparedAnswer:
    """An answer as the judge will see it, with what preparing it found."""

    text: str
    tokens: int | None
    """Its tokens as fitted; None when it could not exceed the budget, so it was not counted (see prepare)."""
    flags: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class StagedAnswer:
    """An answer ready for the judge: its task, its cache key and, when the cache holds it, its grade."""

    prepared: PreparedAnswer
    task: GradingTask
    rubric_sha256: str
    key: str | None
    """None when the cache is off."""
    cached: Grade | None
    """The grade from the cache (no judge needed), or None."""


class GradingService:
    """Grades answers against one bank with one judge; share one instance across a batch."""

    def __init__(
        self,
        settings: Settings,
        *,
        client: LLMClient | None = None,
        judge: Judge | None = None,
        examples: dict[str, Sequence[GradedExample]] | None = None,
        price: Price | None = None,
        dry_run: bool = False,
    ) -> None:
        """Open the bank and the cache; `client` or `judge` replace the configured ones (tests, eval).

        `examples`: graded answers by question id, in place of the bank's own `graded/<id>.jsonl` files.
        `dry_run`: a judge that only describes itself (no client is made): for staging and pricing, never judging.
        """
        self.settings = settings
        self.bank = Bank.open(settings.bank)
        self.questions = load_questions(self.bank)
        if judge is None and dry_run:
            judge = StandInJudge(judge_profile(settings))
        self.judge = judge or make_judge(settings, self.bank.prompts_dir, client, price)
        self.profile = describe(self.judge, settings)
        self.backend = self.profile.name
        self._examples: dict[str, tuple[GradedExample, ...]] = (
            {qid: tuple(rows) for qid, rows in examples.items()} if examples is not None else {}
        )
        self._bank_examples = examples is None
        self._rubrics: dict[str, LoadedRubric] = {}
        self._renderer = PromptRenderer(self.bank.prompts_dir)
        self._prompt_sha: str | None = None
        self.cache = GradeCache(settings.cache_path) if settings.use_cache and settings.cache_path else None
        self._counter: TokenCounter | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def counter(self) -> TokenCounter:
        """Token counter for the configured model (loaded on first use: it takes a moment)."""
        if self._counter is None:
            self._counter = TokenCounter.for_model(self.settings.model)
        return self._counter

    def examples(self, question_id: str) -> tuple[GradedExample, ...]:
        """Answers to this question already graded by people, that the judge learns from (read once)."""
        if question_id not in self._examples:
            found: Sequence[GradedExample] = ()
            if self._bank_examples:
                try:
                    found = load_bank_examples(self.bank, question_id, self.rubric(question_id).rubric.max_score)
                except InputError as exc:  # the bank's file, not the user's input, is at fault
                    raise BankError(f"{exc} (graded answers of the bank; fix or remove the line)") from None
            self._examples[question_id] = tuple(found)
        return self._examples[question_id]

    def question(self, question_id: str) -> Question:
        """A question of the bank."""
        return find_question(self.questions, question_id, self.bank)

    def rubric(self, question_id: str) -> LoadedRubric:
        """The loaded rubric of a question (loaded once)."""
        if question_id not in self._rubrics:
            self.question(question_id)
            self._rubrics[question_id] = load_rubric(self.bank, question_id)
        return self._rubrics[question_id]

    @property
    def prompt_sha256(self) -> str | None:
        """Hash of the prompt templates, for provenance (None for a judge that uses none)."""
        if not self.profile.uses_prompts:
            return None
        if self._prompt_sha is None:
            self._prompt_sha = self._renderer.sha256()
        return self._prompt_sha

    def prepare(self, answer: str, names: Sequence[str] = ()) -> PreparedAnswer:
        """Screen, redact and fit an answer to the token budget.

        An answer too short to exceed the budget is not counted (its `tokens` are None): counting needs the
        token table, whose loading costs more than grading an answer offline.
        """
        if not answer.strip():
            raise InputError("the answer is empty")
        flags = list(screen_answer(answer).flags)
        if self.settings.redact:
            from grader.text.redaction import redact

            answer = redact(answer, names)
        if cannot_exceed(answer, self.settings.max_answer_tokens):
            return PreparedAnswer(answer, None, flags)
        fitted = self.counter.truncate(answer, self.settings.max_answer_tokens)
        if fitted.truncated:
            if self.settings.on_long_answer == "reject":
                raise InputError(
                    f"the answer is {fitted.total_tokens} tokens, over the limit of {self.settings.max_answer_tokens} "
                    "(--max-answer-tokens; or --on-long-answer truncate)"
                )
            flags.append(ANSWER_TRUNCATED)
        return PreparedAnswer(fitted.text, fitted.kept_tokens, flags)

    def task(self, question_id: str, prepared: PreparedAnswer) -> GradingTask:
        """The judge's input for a prepared answer."""
        loaded = self.rubric(question_id)
        return GradingTask(
            question=self.question(question_id),
            rubric=loaded.rubric,
            answer=prepared.text,
            examples=self.examples(question_id),
        )

    def stage(self, question_id: str, answer: str, names: Sequence[str] = ()) -> StagedAnswer:
        """Stage an answer to a bank question: prepared, its task, its cache key, and its cached grade if any.

        Raises a GraderError for an answer or a rubric that cannot be used (empty, too long, a broken rubric).
        """
        prepared = self.prepare(answer, names)
        return self._staged(self.task(question_id, prepared), prepared, self.rubric(question_id).sha256)

    def stage_task(self, task: GradingTask) -> StagedAnswer:
        """Stage a task whose question and rubric need not come from the bank.

        For eval's reference-answer rubrics and calibrate's leave-one-out rubrics: the same preparation, cache
        and checks as a bank question's answer.
        """
        prepared = self.prepare(task.answer)
        task = dataclasses.replace(task, answer=prepared.text)
        return self._staged(task, prepared, rubric_digest(task.rubric))

    def _staged(self, task: GradingTask, prepared: PreparedAnswer, rubric_sha256: str) -> StagedAnswer:
        key = self._key(task, rubric_sha256) if self.cache is not None else None
        cached = self.cache.get(key) if self.cache is not None and key is not None else None
        if cached is not None:
            cached.provenance.cached = True
        return StagedAnswer(prepared, task, rubric_sha256, key, cached)

    def _key(self, task: GradingTask, rubric_sha256: str) -> str:
        s = self.settings
        parts: dict[str, Any] = {
            "grader": __version__,
            "backend": self.backend,
            "model": self.profile.model,
            "base_url": self.profile.base_url,
            "rubric": rubric_sha256,
            "question": task.question.question,
            "prompt": self.prompt_sha256,
            "judge": self.profile.fingerprint,
            "answer": task.answer,
            "examples": [(e.answer, e.score_norm) for e in task.examples],
            "options": cache_options(s),
        }
        return cache_key(parts)

    async def agrade(self, staged: StagedAnswer) -> Grade:
        """The grade of a staged answer: the cached one, or the judge's, finished."""
        if staged.cached is not None:
            return staged.cached
        return self.finish(staged, await self.judge.judge(staged.task))

    async def agrade_answer(self, question_id: str, answer: str, *, names: Sequence[str] = ()) -> Grade:
        """Grade one answer to a bank question (async: batch runs many at once on one client)."""
        return await self.agrade(self.stage(question_id, answer, names))

    async def agrade_task(self, task: GradingTask) -> Grade:
        """Grade a task whose question and rubric need not come from the bank (see stage_task)."""
        return await self.agrade(self.stage_task(task))

    def grade_answer(self, question_id: str, answer: str, *, names: Sequence[str] = ()) -> Grade:
        """Grade one answer synchronously (the same path as batch, on this service's own event loop).

        The loop lives as long as the service, so the client's connections and the cache serve every call;
        `close` releases them.
        """
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        return self._loop.run_until_complete(self.agrade_answer(question_id, answer, names=names))

    def finish(self, staged: StagedAnswer, judgement: Judgement) -> Grade:
        """The Grade of a staged answer from a judge's judgement; stored in the cache when graded."""
        grade = self._build_grade(staged.task, staged.prepared, judgement, staged.rubric_sha256)
        if self.cache is not None and staged.key is not None:
            self.cache.put(staged.key, grade)
        return grade

    def fail(self, staged: StagedAnswer, failure: Failure) -> Grade:
        """The ungraded Grade of a staged answer the judge gave no judgement for (the batch's hard timeout)."""
        return self.finish(staged, Judgement(verdict=None, failure=failure, model=self.profile.model))

    def unattempted(self, question_id: str, failure: Failure) -> Grade:
        """An ungraded result for an answer that never reached the judge (no answer, an unusable rubric)."""
        max_score = 0.0
        with contextlib.suppress(GraderError):
            max_score = self.rubric(question_id).rubric.max_score
        provenance = Provenance(grader_version=__version__, judge=self.judge.name, bank=str(self.bank.root),
                                graded_at=_now())  # fmt: skip
        return Grade(question_id=question_id, status="ungraded", score=None, max_score=max_score, failure=failure,
                     backend=self.backend, provenance=provenance)  # fmt: skip

    def _build_grade(
        self, task: GradingTask, prepared: PreparedAnswer, judgement: Judgement, rubric_sha256: str
    ) -> Grade:
        """Turn a judgement into the public Grade: checked, scored in code, with flags and provenance."""
        rubric = task.rubric
        flags = [*prepared.flags, *judgement.flags]
        provenance = Provenance(
            rubric_sha256=rubric_sha256,
            prompt_sha256=self.prompt_sha256,
            grader_version=__version__,
            bank=str(self.bank.root),
            judge=self.judge.name,
            model=judgement.model if self.profile.calls_model else None,
            base_url=self.profile.base_url,
            system_fingerprint=judgement.system_fingerprint,
            temperature=self.profile.temperature,
            seed=self.profile.seed,
            samples=self.profile.samples,
            level_mode=judgement.level_mode,
            method=self.profile.method,
            graded_at=_now(),
        )
        common: dict[str, Any] = {
            "question_id": rubric.question_id,
            "max_score": rubric.max_score,
            "backend": self.backend,
            "model": judgement.model if self.profile.calls_model else None,
            "usage": judgement.usage,
            "provenance": provenance,
            "attempts": judgement.attempts,
            "answer_tokens": prepared.tokens,
        }
        verdict = judgement.verdict
        problems = verdict_problems(verdict, rubric) if verdict is not None else []
        if verdict is None or problems:
            failure = judgement.failure or Failure(ErrorCode.invalid_verdict, "; ".join(problems))
            return Grade(status="ungraded", score=None, flags=_unique(flags), failure=failure, **common)
        if missing_evidence(verdict, task.answer):
            flags.append(EVIDENCE_NOT_FOUND)
        if disagreeing_criteria(verdict, rubric):
            flags.append(LOW_AGREEMENT)
        grade = Grade(
            status="graded",
            score=total_score(verdict, rubric),
            criteria=criterion_results(verdict, rubric),
            feedback=verdict.feedback,
            flags=_unique(flags),
            **common,
        )
        if self.settings.audience == "candidate":
            from grader.grading.audience import candidate_view

            grade = candidate_view(grade, rubric)
        return grade

    # --- the provider Batch API (grader/batch/provider.py): the judge's first request out, its reply back in ---

    def batch_request(self, staged: StagedAnswer) -> dict[str, Any]:
        """The body of the first request the judge sends for a staged answer: a Batch API request line's body."""
        build = getattr(self.judge, "batch_request", None)
        if build is None:
            raise ConfigError(f"the {self.backend} judge sends no requests a Batch API can run; use a model backend")
        body: dict[str, Any] = build(staged.task)
        return body

    async def afinish_reply(self, staged: StagedAnswer, body: object, cost_factor: float = 1.0) -> Grade:
        """The Grade from a reply to `batch_request`'s body: validated, scored and flagged as a live reply is."""
        judge_reply = getattr(self.judge, "judge_reply", None)
        if judge_reply is None:
            raise ConfigError(f"the {self.backend} judge cannot read Batch API replies; use a model backend")
        return self.finish(staged, await judge_reply(staged.task, body, cost_factor))

    def model_client(self) -> LLMClient:
        """The client the judge calls the model through (--llm-match asks it too)."""
        client: LLMClient | None = getattr(self.judge, "client", None)
        if client is None:
            raise ConfigError(f"the {self.backend} judge calls no model: set OPENAI_API_KEY or --base-url")
        return client

    async def aclose(self) -> None:
        """Release the client's connections and the cache; the service grades nothing after this."""
        client = getattr(self.judge, "client", None)
        if client is not None:
            await client.aclose()
        if self.cache:
            self.cache.close()
            self.cache = None

    def close(self) -> None:
        """Release everything, from synchronous code (after grade_answer)."""
        loop, self._loop = self._loop, None
        if loop is None:
            asyncio.run(self.aclose())
            return
        try:
            loop.run_until_complete(self.aclose())
        finally:
            loop.close()

    def __enter__(self) -> GradingService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def rubric_digest(rubric: Rubric) -> str:
    """sha256 of a rubric's content, for rubrics with no file (a bank rubric's provenance hashes its file)."""
    return hashlib.sha256(rubric.model_dump_json().encode("utf-8")).hexdigest()


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def describe(judge: Judge, settings: Settings) -> JudgeProfile:
    """The judge's own profile; a judge that gives none (a test double) is taken for a model judge."""
    profile = getattr(judge, "profile", None)
    if isinstance(profile, JudgeProfile):
        return profile
    return JudgeProfile(name=judge.name, calls_model=True, model=settings.model, base_url=public_url(settings.base_url),
                        temperature=settings.effective_temperature, seed=settings.seed, samples=settings.samples,
                        uses_prompts=True)  # fmt: skip
