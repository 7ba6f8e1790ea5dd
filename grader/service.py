"""The grading service: answer in, Grade out, whichever judge decides.

Prepare the answer (screen, redact, fit to the token budget), look in the cache, judge, check the verdict
against the rubric, score it by the fixed formula. A judge that cannot produce a valid verdict yields an
`ungraded` grade with the reason; never a silent zero.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from grader import __version__
from grader.bank import Bank
from grader.cache import GradeCache, cache_key
from grader.clients.base import LLMClient, make_client
from grader.config import Settings
from grader.errors import BankError, InputError
from grader.examples import load_bank_examples
from grader.judges.base import GradedExample, GradingTask, Judge, Judgement
from grader.models import Grade, Provenance, Question, Rubric
from grader.pricing import Price
from grader.prompts import PromptRenderer
from grader.questions import find_question, load_questions
from grader.rubrics import LoadedRubric, load_rubric
from grader.scoring import criterion_results, disagreeing_criteria, missing_evidence, total_score, verdict_problems
from grader.screening import screen_answer
from grader.tokens import TokenCounter
from grader.vocabulary import ANSWER_TRUNCATED, EVIDENCE_NOT_FOUND, LOW_AGREEMENT


def make_judge(settings: Settings, bank: Bank, client: LLMClient | None = None, price: Price | None = None) -> Judge:
    """The judge for these settings: the offline judge, or the LLM judge over a client."""
    if settings.resolved_backend == "offline" and client is None:
        from grader.judges.offline import OfflineJudge

        return OfflineJudge()
    from grader.judges.llm import LLMJudge

    return LLMJudge(
        client or make_client(settings),
        PromptRenderer(bank.prompts_dir),
        model=settings.model,
        reask_limit=settings.reask_limit,
        samples=settings.samples,
        temperature=settings.effective_temperature,
        seed=settings.seed,
        store=settings.store,
        audience=settings.audience,
        shuffle_criteria=settings.shuffle_criteria,
        price=price,
        logprobs=settings.logprobs,
    )


@dataclass
class PreparedAnswer:
    """An answer as the judge will see it, with what preparing it found."""

    text: str
    tokens: int
    flags: list[str] = field(default_factory=list)


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
    ) -> None:
        """Open the bank and the cache; `client` or `judge` replace the configured ones (tests, eval).

        `examples`: graded answers by question id, in place of the bank's own `graded/<id>.jsonl` files.
        """
        self.settings = settings
        self.bank = Bank.open(settings.bank)
        self.questions = load_questions(self.bank)
        self.judge = judge or make_judge(settings, self.bank, client, price)
        self.backend = "offline" if self.judge.name == "offline" else self.judge.name
        self._examples: dict[str, tuple[GradedExample, ...]] = (
            {qid: tuple(rows) for qid, rows in examples.items()} if examples is not None else {}
        )
        self._bank_examples = examples is None
        self._rubrics: dict[str, LoadedRubric] = {}
        self._renderer = PromptRenderer(self.bank.prompts_dir)
        self._prompt_sha: str | None = None
        self.cache = GradeCache(settings.cache_path) if settings.use_cache and settings.cache_path else None
        self._counter: TokenCounter | None = None

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
        return find_question(self.questions, question_id)

    def rubric(self, question_id: str) -> LoadedRubric:
        """The loaded rubric of a question (loaded once)."""
        if question_id not in self._rubrics:
            self.question(question_id)
            self._rubrics[question_id] = load_rubric(self.bank, question_id)
        return self._rubrics[question_id]

    @property
    def prompt_sha256(self) -> str | None:
        """Hash of the prompt templates, for provenance (None for the offline judge, which uses none)."""
        if self.backend == "offline":
            return None
        if self._prompt_sha is None:
            self._prompt_sha = self._renderer.sha256()
        return self._prompt_sha

    def prepare(self, answer: str, names: Sequence[str] = ()) -> PreparedAnswer:
        """Screen, redact and fit an answer to the token budget."""
        if not answer.strip():
            raise InputError("the answer is empty")
        flags = list(screen_answer(answer).flags)
        if self.settings.redact:
            from grader.redaction import redact

            answer = redact(answer, names)
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

    def key(self, question_id: str, prepared: PreparedAnswer) -> str:
        """Cache key of a bank question's answer: everything that shapes the request."""
        return self._key(self.task(question_id, prepared), self.rubric(question_id).sha256)

    def _key(self, task: GradingTask, rubric_sha256: str) -> str:
        s = self.settings
        parts: dict[str, Any] = {
            "grader": __version__,
            "backend": self.backend,
            "model": s.model if self.backend != "offline" else None,
            "base_url": s.base_url if self.backend != "offline" else None,
            "rubric": rubric_sha256,
            "question": task.question.question,
            "prompt": self.prompt_sha256,
            "judge": getattr(self.judge, "fingerprint", None),
            "answer": task.answer,
            "examples": [(e.answer, e.score_norm) for e in task.examples],
            "options": [
                s.samples,
                s.effective_temperature,
                s.seed,
                s.redact,
                s.audience,
                s.logprobs,
                s.shuffle_criteria,
                s.reask_limit,
            ],
        }
        return cache_key(parts)

    async def agrade_answer(self, question_id: str, answer: str, *, names: Sequence[str] = ()) -> Grade:
        """Grade one answer (async: batch runs many at once on one client)."""
        return await self.agrade_prepared(question_id, self.prepare(answer, names))

    async def agrade_prepared(self, question_id: str, prepared: PreparedAnswer) -> Grade:
        """Grade an answer already prepared (batch prepares first, to look in the cache and price the call)."""
        return await self._agrade(self.task(question_id, prepared), prepared, self.rubric(question_id).sha256)

    async def agrade_task(self, task: GradingTask) -> Grade:
        """Grade a task whose question and rubric need not come from the bank.

        For eval rows graded against a reference answer and calibrate's leave-one-out rubrics: the same
        preparation, cache, checks and scoring as a bank question's answer.
        """
        prepared = self.prepare(task.answer)
        task = dataclasses.replace(task, answer=prepared.text)
        return await self._agrade(task, prepared, rubric_digest(task.rubric))

    async def _agrade(self, task: GradingTask, prepared: PreparedAnswer, rubric_sha256: str) -> Grade:
        key = self._key(task, rubric_sha256) if self.cache else None
        if self.cache and key:
            cached = self.cache.get(key)
            if cached is not None:
                cached.provenance.cached = True
                return cached
        judgement = await self.judge.judge(task)
        grade = self.build_grade(task, prepared, judgement, rubric_sha256)
        if self.cache and key:
            self.cache.put(key, grade)
        return grade

    def grade_answer(self, question_id: str, answer: str, *, names: Sequence[str] = ()) -> Grade:
        """Grade one answer synchronously (the same path as batch, under asyncio.run)."""

        async def run() -> Grade:
            try:
                return await self.agrade_answer(question_id, answer, names=names)
            finally:
                await self.aclose()

        return asyncio.run(run())

    def build_grade(
        self, task: GradingTask, prepared: PreparedAnswer, judgement: Judgement, rubric_sha256: str | None = None
    ) -> Grade:
        """Turn a judgement into the public Grade: checked, scored in code, with flags and provenance."""
        rubric = task.rubric
        flags = [*prepared.flags, *judgement.flags]
        provenance = Provenance(
            rubric_sha256=rubric_sha256 or self.rubric(rubric.question_id).sha256,
            prompt_sha256=self.prompt_sha256,
            grader_version=__version__,
            bank=str(self.bank.root),
            judge=self.judge.name,
            model=judgement.model if self.backend != "offline" else None,
            base_url=_public_url(self.settings.base_url) if self.backend != "offline" else None,
            system_fingerprint=judgement.system_fingerprint,
            temperature=self.settings.effective_temperature if self.backend != "offline" else None,
            seed=self.settings.seed if self.backend != "offline" else None,
            samples=self.settings.samples if self.backend != "offline" else 1,
            level_mode=judgement.level_mode,
            graded_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        )
        common: dict[str, Any] = {
            "question_id": rubric.question_id,
            "max_score": rubric.max_score,
            "backend": self.backend,
            "model": judgement.model if self.backend != "offline" else None,
            "usage": judgement.usage,
            "provenance": provenance,
            "attempts": judgement.attempts,
            "answer_tokens": prepared.tokens,
        }
        verdict = judgement.verdict
        problems = verdict_problems(verdict, rubric) if verdict is not None else []
        if verdict is None or problems:
            error = judgement.error or "invalid_verdict: " + "; ".join(problems)
            return Grade(status="ungraded", score=None, flags=_unique(flags), error=error, **common)
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
            from grader.render import candidate_view

            grade = candidate_view(grade, rubric)
        return grade

    async def aclose(self) -> None:
        """Release the client's connections and the cache."""
        client = getattr(self.judge, "client", None)
        if client is not None:
            await client.aclose()
        if self.cache:
            self.cache.close()
            self.cache = None


def rubric_digest(rubric: Rubric) -> str:
    """sha256 of a rubric's content, for rubrics with no file (a bank rubric's provenance hashes its file)."""
    return hashlib.sha256(rubric.model_dump_json().encode("utf-8")).hexdigest()


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _public_url(url: str | None) -> str | None:
    """A base URL fit for results: no user info and no query, where a key may hide."""
    if not url:
        return url
    try:
        parts = urlsplit(url)
        netloc = (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
    except ValueError:
        return None
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
