"""Planning a batch: read and match every input (whole, or one file at a time for a run), and the dry run.

The word matcher decides by default; with `--llm-match` the model settles what it is unsure of
(grader/llm_matching.py). A dry run plans, prepares and counts tokens exactly as a run would, and calls nothing.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from grader.batch.limits import price_for
from grader.batch.llm_matching import Referee, Refereeing, read_decisions, write_decisions
from grader.batch.llm_matching import referee as referee_calls
from grader.batch.reports import RESULTS, read_results
from grader.clients.base import RequestOptions
from grader.errors import Failure, GraderError, InputError
from grader.grading.estimate import estimate_tokens
from grader.grading.service import GradingService, StagedAnswer
from grader.pricing import Price
from grader.transcripts.interview import Plan, WorkItem, plan_inputs, plan_stream
from grader.transcripts.matching import DEFAULT_THRESHOLD, Match, QuestionMatcher, RubricHints
from grader.vocabulary import ErrorCode


class Progress(Protocol):
    """Where a batch reports progress (the CLI draws a bar on stderr)."""

    def start(self, total: int, done: int) -> None:
        """The batch has `total` items, `done` of them from an earlier run."""

    def advance(self, record: dict[str, Any]) -> None:
        """One more result was written."""

    def note(self, message: str) -> None:
        """Something worth a line (a repaired file, a budget stop)."""


class Silent:
    """Reports nothing."""

    def start(self, total: int, done: int) -> None:
        """Nothing to show."""

    def advance(self, record: dict[str, Any]) -> None:
        """Nothing to show."""

    def note(self, message: str) -> None:
        """Nothing to show."""


@dataclass(frozen=True)
class BatchOptions:
    """How to run a batch (the CLI's flags)."""

    out: Path
    concurrency: int = 8
    resume: bool = False
    max_cost: float | None = None
    price: Price | None = None
    interviewers: tuple[str, ...] = ()
    retries: int = 3
    match_threshold: float = DEFAULT_THRESHOLD
    llm_match: bool = False
    """Let the model settle the questions the word matcher is unsure of (grader/llm_matching.py)."""
    encoding: str | None = None
    """How to decode transcripts that are not UTF-8 (`--encoding`); None: detected."""
    use_plan: Path | None = None
    """A plan written by `--plan` and corrected by hand: its question ids overrule the matcher (`--use-plan`)."""


def plan_batch(
    paths: Sequence[Path], service: GradingService, options: BatchOptions, referee: Referee | None = None
) -> Plan:
    """Read and match every input (`transcript.plan_inputs`) against the service's bank."""
    matcher = _batch_matcher(service, options, referee)
    return plan_inputs(paths, matcher, _ids(service), interviewers=options.interviewers, encoding=options.encoding)


def plan_batch_stream(paths: Sequence[Path], service: GradingService, options: BatchOptions) -> Iterator[Plan]:
    """`plan_batch` one input file at a time (`transcripts.interview.plan_stream`): a run grades as it reads."""
    matcher = _batch_matcher(service, options)
    yield from plan_stream(paths, matcher, _ids(service), interviewers=options.interviewers, encoding=options.encoding)


def _batch_matcher(service: GradingService, options: BatchOptions, referee: Referee | None = None) -> Any:
    referee = referee or Referee(word_matcher(service, options))
    if options.use_plan is not None:
        return Corrected(referee, read_plan(options.use_plan, [q.id for q in service.questions]))
    return referee


class Corrected:
    """The matcher, overruled by the question ids of a corrected plan (`--use-plan`)."""

    def __init__(self, matcher: Referee, decisions: dict[str, str | None]) -> None:
        """Wrap `matcher` (kept as `.matcher`'s owner for the quiet scorer) with the plan's decisions."""
        self.referee, self.decisions = matcher, decisions
        self.matcher = matcher.matcher
        self.contexts = matcher.contexts

    def __call__(self, asked: str) -> Match:
        """The plan's id for a question it lists, else the matcher's."""
        found = self.referee(asked)
        if asked not in self.decisions:
            return found
        chosen = self.decisions[asked]
        score = dict(self.matcher.scores(asked)).get(chosen, 0.0) if chosen else found.score
        return replace(found, question_id=chosen, score=round(score, 4), best_id=chosen or found.best_id, by="plan")


def plan_document(plan: Plan, would_ask: Sequence[str] = ()) -> dict[str, Any]:
    """The plan as `--plan` writes it: per transcript, every asked question with its bank id (or null)."""
    sending = set(would_ask)
    transcripts = []
    for source in plan.sources:
        entries: list[dict[str, Any]] = [
            {"asked": i.asked, "line": i.line, "question_id": i.question_id, "score": i.match_score,
             "matched_by": i.matched_by, "follow_ups": list(i.follow_ups), "answer_words": len(i.answer.split())}
            for i in plan.items
            if i.source == source.source and i.candidate == source.candidate and i.asked is not None
        ]  # fmt: skip
        entries += [
            {"asked": u.get("asked"), "line": u.get("line"), "question_id": None, "score": u.get("match_score"),
             "matched_by": u.get("matched_by"), "answer_words": u.get("answer_words")}
            for u in source.unmatched
        ]  # fmt: skip
        entries.sort(key=lambda e: int(e["line"] or 0))
        for entry in entries:
            if entry["asked"] in sending:
                entry["llm_match"] = "would ask the model"
        transcripts.append({"transcript": source.source, "candidate": source.candidate, "coverage": source.coverage,
                            "questions": entries})  # fmt: skip
    return {
        "plan": 1,
        "how_to_correct": "set a question_id (or null for none) and run again with --use-plan FILE",
        "transcripts": transcripts,
        "skipped": plan.skipped,
    }


def read_plan(path: Path, ids: Sequence[str]) -> dict[str, str | None]:
    """{asked: question id or None} of a plan file; an id not in the bank is an InputError naming the nearest."""
    from grader.bank.questions import nearest_id
    from grader.text.textfile import read_text

    try:
        data = json.loads(read_text(path, "plan file"))
        entries = [q for t in data["transcripts"] for q in t["questions"]]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise InputError(f"plan file {path}: not a plan written by --plan ({type(exc).__name__})") from None
    decisions: dict[str, str | None] = {}
    for entry in entries:
        asked, chosen = entry.get("asked"), entry.get("question_id")
        if not isinstance(asked, str):
            continue
        if chosen is not None and chosen not in ids:
            near = nearest_id(str(chosen), list(ids))
            hint = f"; did you mean {near}?" if near else ""
            raise InputError(f"plan file {path}: no question {chosen!r} in the bank{hint} (asked: {asked[:60]!r})")
        decisions[asked] = chosen
    return decisions


def _ids(service: GradingService) -> set[str]:
    return {q.id for q in service.questions}


def word_matcher(service: GradingService, options: BatchOptions) -> QuestionMatcher:
    """The matcher over the service's bank, with its rubrics' tags and criteria."""
    return QuestionMatcher(service.questions, rubric_hints(service), threshold=options.match_threshold)


async def plan_with_llm(
    paths: Sequence[Path], service: GradingService, options: BatchOptions, progress: Progress
) -> tuple[Plan, Refereeing]:
    """Plan with the word matcher, ask the model about what it was unsure of, and plan again with the answers."""
    model = service.settings.model
    referee = Referee(word_matcher(service, options), read_decisions(options.out, model, _ids(service)))
    plan = plan_batch(paths, service, options, referee)
    outcome = Refereeing(dict(referee.decisions))
    if referee.unsure:
        client = service.model_client()
        settings = service.settings
        # The default token allowance: a reasoning model spends tokens before its one-word reply.
        request = RequestOptions(temperature=settings.effective_temperature, seed=settings.seed)
        asked = await referee_calls(referee.unsure, referee.matcher, {q.id: q for q in service.questions}, client,
                                    model=model, options=request, price=options.price,
                                    concurrency=options.concurrency, contexts=referee.contexts)  # fmt: skip
        outcome = replace(asked, decisions={**referee.decisions, **asked.decisions})
        write_decisions(options.out, model, outcome.decisions)
        for failure in asked.failures[:5]:
            progress.note(f"--llm-match kept the word matcher's answer for {failure}")
        plan = plan_batch(paths, service, options, Referee(referee.matcher, outcome.decisions))
    return plan, outcome


def rubric_hints(service: GradingService) -> dict[str, RubricHints]:
    """Tags and criterion descriptions of every rubric, read leniently and fast (libyaml when present).

    These only help matching, so a rubric that does not load just gives none; grading loads and checks
    each rubric it uses in full.
    """
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    hints = {}
    for question in service.questions:
        with contextlib.suppress(GraderError, OSError, yaml.YAMLError, UnicodeDecodeError):
            data = yaml.load(service.bank.rubric_path(question.id).read_text("utf-8"), Loader=loader)  # noqa: S506
            if isinstance(data, dict):
                criteria, tags = data.get("criteria"), data.get("tags")
                descriptions = [str(c.get("description", "")) for c in _list(criteria) if isinstance(c, dict)]
                hints[question.id] = RubricHints([str(t) for t in _list(tags)], descriptions)
    return hints


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


@dataclass
class DryRun:
    """What a batch would send, without sending it."""

    items: int
    done: int
    cached: int
    to_call: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None
    price: Price | None
    model: str
    backend: str
    calls_model: bool
    token_method: str
    plan: Plan
    llm_match_calls: int = 0
    """Questions `--llm-match` would ask the model about (not counted in the tokens or the cost)."""
    would_ask: list[str] = field(default_factory=list)
    """Those questions, as asked."""
    problems: list[str] = field(default_factory=list)


def stage_item(service: GradingService, item: WorkItem) -> StagedAnswer | Failure:
    """Stage one item as every batch path does (the run, the provider batch, the export, the dry run).

    The service's staged answer (ready to judge, or cached in `.cached`), or why there is nothing to send: no
    answer, or an answer or rubric the grader cannot use.
    """
    if not item.answer.strip():
        return Failure(ErrorCode.no_answer, "the candidate gave no answer")
    try:
        return service.stage(item.question_id, item.answer, [item.candidate] if item.candidate else [])
    except GraderError as exc:
        code = ErrorCode.invalid_input if isinstance(exc, InputError) else ErrorCode.bank_error  # a bad rubric
        return Failure(code, str(exc))


def answer_text(item: WorkItem, failure: Failure) -> str:
    """The answer written beside an ungraded result: nothing when the candidate said nothing."""
    return "" if failure.code is ErrorCode.no_answer else item.answer


def dry_run(paths: Sequence[Path], settings: Any, options: BatchOptions) -> DryRun:
    """Tokens (tiktoken) and estimated cost (genai-prices, or --price-in/--price-out) of a batch; no model call."""
    service = GradingService(settings, price=options.price, dry_run=True)
    backend, calls_model = service.profile.name, service.profile.calls_model
    try:
        kept = read_decisions(options.out, settings.model, _ids(service)) if options.llm_match else {}
        referee = Referee(word_matcher(service, options), kept)
        plan = plan_batch(paths, service, options, referee)
        records, _ = read_results(options.out / RESULTS, repair=False) if options.resume else ([], False)
        done = {r.get("item") for r in records}
        report = DryRun(items=len(plan.items), done=0, cached=0, to_call=0, prompt_tokens=0, completion_tokens=0,
                        cost_usd=None, price=price_for(settings.model, options.price), model=settings.model,
                        backend=backend, calls_model=calls_model, token_method=service.counter.method, plan=plan,
                        llm_match_calls=len(referee.unsure) if options.llm_match else 0,
                        would_ask=list(referee.unsure) if options.llm_match else [])  # fmt: skip
        for item in plan.items:
            if item.item_id in done:
                report.done += 1
                continue
            staged = stage_item(service, item)
            if isinstance(staged, Failure):
                if staged.code is not ErrorCode.no_answer:
                    report.problems.append(f"{item.item_id}: {staged.message}")
                continue
            if staged.cached is not None:
                report.cached += 1
                continue
            prompt, completion = estimate_tokens(service, staged.task)
            report.to_call += 1
            report.prompt_tokens += prompt
            report.completion_tokens += completion
        if not calls_model:
            report.cost_usd = 0.0
        elif report.price is not None:
            report.cost_usd = round(report.price.cost(report.prompt_tokens, report.completion_tokens), 6)
        return report
    finally:
        if service.cache is not None:
            service.cache.close()
