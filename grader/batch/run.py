"""Grading many answers: transcripts and answer tables in; results.jsonl, summary.json and reports out.

1. Plan (grader/batch/plan.py): every input is read and matched; a file that does not parse is skipped whole
   (none of its answers is graded) and listed. Each answer becomes a work item with a stable id (`path#q07`,
   `path:12`). The first calls go out once the first file with answers is read, and the other files are read
   between the calls while the first replies are awaited (`_ReadingOn`); --max-cost and --llm-match read
   everything first. BatchOptions and dry_run live in plan.py and are re-exported here.
2. Run: `concurrency` workers share one client. An item is prepared (screened, redacted, fitted), looked up
   in the cache (a hit costs no call), priced against --max-cost, then judged under --timeout. A rate limit
   or a transient failure puts the item back in the queue after its Retry-After (or a backoff), so the
   worker takes other work meanwhile instead of sleeping on a slot; while a Retry-After runs, no worker
   starts a new call. The SDK's own retries are off in a batch: this is the one retry layer.
3. Each result is appended to results.jsonl as soon as it is known (write, flush, fsync), so a kill loses
   nothing; `--resume` skips the items already there and repairs a last line cut off by the kill.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.batch.limits import Budget, RateGate, price_for, retry_delay
from grader.batch.plan import (
    BatchOptions,
    DryRun,
    Progress,
    Silent,
    answer_text,
    dry_run,
    plan_batch,
    plan_batch_stream,
    plan_with_llm,
    stage_item,
)
from grader.batch.reports import RESULTS, ResultsFile, check_out_dir, locked, read_results, result_record, write_reports
from grader.errors import ConfigError, Failure, GraderError
from grader.grading.estimate import estimate_tokens
from grader.grading.service import GradingService, StagedAnswer
from grader.models import Grade
from grader.pricing import known_price
from grader.text.tokens import cannot_exceed
from grader.transcripts.interview import Plan, WorkItem
from grader.version import __version__
from grader.vocabulary import ErrorCode

__all__ = ["BatchOptions", "BatchOutcome", "DryRun", "arun_batch", "dry_run", "run_batch"]


# --- the run -------------------------------------------------------------------------------------------------


@dataclass
class BatchOutcome:
    """What a batch did."""

    out: Path
    total: int
    done_before: int = 0
    written: int = 0
    graded: int = 0
    ungraded: int = 0
    cached: int = 0
    judged: int = 0
    """Items sent to the judge (model calls, unless the offline judge)."""
    retried: int = 0
    spent_usd: float | None = None
    """What this run spent on model calls (earlier runs of a resumed batch not included); None if unknown."""
    stopped: str | None = None
    """Set to "over_budget" when --max-cost stopped the batch; the rest is left for --resume."""
    pending: int = 0
    repaired: bool = False
    summary: dict[str, Any] = field(default_factory=dict)


_YIELDS = 3
"""Turns of the event loop between two input files read while grading: a woken worker stages its item in the
first, its call (a task of its own, for the timeout) starts in the second."""


class BatchRunner:
    """Runs a plan's items on `concurrency` workers; see the module docstring."""

    def __init__(self, service: GradingService, options: BatchOptions, results: ResultsFile, progress: Progress,
                 budget: Budget | None = None) -> None:  # fmt: skip
        """Wire the runner; `run` does the work."""
        self.service, self.options, self.results, self.progress, self.budget = (
            service, options, results, progress, budget)  # fmt: skip
        self.gate = RateGate()
        self.outcome = BatchOutcome(out=options.out, total=0)
        self.warming: asyncio.Task[None] | None = None
        self._early: list[dict[str, Any]] | None = None
        """While the plan is read on (`_ReadingOn`): the results written so far, shown to the progress once its
        total is known (`planned`)."""
        s = service.settings
        self.hard_timeout = s.timeout * (s.reask_limit + 1) + 5.0
        self._write_lock = asyncio.Lock()

    async def run(self, items: Sequence[WorkItem], more: Iterable[Sequence[WorkItem]] | None = None) -> None:
        """Grade every item, and those `more` gives as it reads the rest of the inputs; returns when all are written.

        `more` is advanced between the calls (one input file at a time), so the rest of the plan is read while
        the first calls are in flight. An error it raises is raised once the items already queued are written.
        """
        queue: asyncio.Queue[tuple[WorkItem, int] | None] = asyncio.Queue()
        remaining = 0
        planning = more is not None
        failed: list[Exception] = []

        def add(batch: Sequence[WorkItem]) -> None:
            nonlocal remaining
            for item in batch:
                queue.put_nowait((item, 0))
            remaining += len(batch)

        def finish() -> None:
            if remaining == 0 and not planning:
                for _ in range(workers):
                    queue.put_nowait(None)

        add(items)
        workers = self.options.concurrency if planning else max(1, min(self.options.concurrency, remaining))
        loop = asyncio.get_running_loop()

        async def worker() -> None:
            nonlocal remaining
            while (entry := await queue.get()) is not None:
                item, attempt = entry
                delay = await self._attempt(item, attempt)
                if delay is not None:
                    self.outcome.retried += 1
                    loop.call_later(delay, queue.put_nowait, (item, attempt + 1))
                    continue
                remaining -= 1
                finish()

        async def feed() -> None:
            nonlocal planning
            try:
                files = iter(more or ())
                while True:
                    for _ in range(_YIELDS):  # the workers woken send their calls before the next file is read
                        await asyncio.sleep(0)
                    batch = next(files, None)
                    if batch is None:
                        break
                    add(batch)
            except Exception as exc:  # noqa: BLE001 - raised below, once the workers are done
                failed.append(exc)
            finally:
                planning = False
                finish()

        if remaining or planning:
            await asyncio.gather(*(worker() for _ in range(workers)), feed())  # the workers take the first items first
        if failed:
            raise failed[0]

    def planned(self, total: int, done_before: int) -> None:
        """The plan is whole: its totals go to the outcome and the progress (results written so far follow)."""
        self.outcome.total, self.outcome.done_before = total, done_before
        self.progress.start(total, done_before)
        early, self._early = self._early or [], None
        for record in early:
            self.progress.advance(record)

    def warm_later(self) -> None:
        """Start `_warm_later` in a thread (once), as the first calls go out."""
        if self.warming is None:
            self.warming = asyncio.create_task(asyncio.to_thread(_warm_later, self.service))

    async def _attempt(self, item: WorkItem, attempt: int) -> float | None:
        """Grade one item; a delay when it should be tried again later, else None (written or dropped)."""
        service = self.service
        if self.outcome.stopped:
            self.outcome.pending += 1
            return None
        staged = stage_item(service, item)
        if isinstance(staged, Failure):
            await self._write(item, service.unattempted(item.question_id, staged), answer_text(item, staged))
            return None
        if staged.cached is not None:
            self.outcome.cached += 1
            await self._write(item, staged.cached, staged.prepared.text)
            return None
        reserved = 0.0
        if self.budget is not None:
            estimate = self.budget.reserve(*estimate_tokens(service, staged.task))
            if estimate is None:
                self.outcome.stopped = "over_budget"
                self.outcome.pending += 1
                self.progress.note("--max-cost reached: no new calls; the rest is left for --resume")
                return None
            reserved = estimate
        await self.gate.wait()
        grade = await self._judge(staged)
        if grade.usage.cost_usd is not None:  # retried attempts included: each one was paid for
            self.outcome.spent_usd = round((self.outcome.spent_usd or 0.0) + grade.usage.cost_usd, 8)
        if self.budget is not None:
            self.budget.settle(reserved, grade)
        failure = grade.failure
        # A timeout is retried once at most: a hanging server must not hold a worker for long.
        limit = 1 if failure is not None and failure.code is ErrorCode.timeout else self.options.retries
        if failure is not None and failure.transient and attempt < min(limit, self.options.retries):
            delay = retry_delay(failure, attempt)
            if failure.rate_limited or failure.retry_after is not None:
                self.gate.hold(delay)
            return delay
        self.outcome.judged += 1
        await self._write(item, grade, staged.prepared.text)
        return None

    async def _judge(self, staged: StagedAnswer) -> Grade:
        try:
            return await asyncio.wait_for(self.service.agrade(staged), self.hard_timeout)
        except TimeoutError:
            limit = self.service.settings.timeout
            message = f"no verdict within {self.hard_timeout:g} s (--timeout {limit:g} per request)"
            return self.service.fail(staged, Failure(ErrorCode.timeout, message, transient=True))

    async def write(self, item: WorkItem, grade: Grade, answer: str) -> None:
        """Append one result graded outside `run` (the provider Batch API path, grader/batch/provider.py)."""
        await self._write(item, grade, answer)

    async def _write(self, item: WorkItem, grade: Grade, answer: str) -> None:
        record = result_record(item, grade, answer, self.options.match_threshold)
        async with self._write_lock:  # fsync off the event loop, one line at a time
            await asyncio.to_thread(self.results.append, record)
        self.outcome.written += 1
        if grade.status == "graded":
            self.outcome.graded += 1
        else:
            self.outcome.ungraded += 1
        if self._early is not None:
            self._early.append(record)
        else:
            self.progress.advance(record)


class _ReadingOn:
    """The rest of a plan, read one input file at a time while the first calls are in flight (`BatchRunner.run`).

    Yields the items each further file adds that are not done yet; once the plan is whole, gives the runner
    its totals (`BatchRunner.planned`), as a run that reads everything first does before its first call.
    """

    def __init__(self, stream: Iterator[Plan], plan: Plan, done: set[Any], runner: BatchRunner,
                 service: GradingService) -> None:  # fmt: skip
        """Continue `stream`, whose items up to now the runner already has."""
        self.stream, self.plan, self.done, self.runner, self.service = stream, plan, done, runner, service
        self.seen = len(plan.items)
        runner._early = []  # the progress starts once the total is known

    def __iter__(self) -> Iterator[list[WorkItem]]:
        """Each further file's new items (maybe none), then the totals to the runner, then `_warm_later`'s steps."""
        for _ in self.stream:
            new = [item for item in self.plan.items[self.seen :] if item.item_id not in self.done]
            self.seen = len(self.plan.items)
            if new:
                _warm_up(self.service, new)
            yield new
        items = self.plan.items
        done_before = sum(1 for item in items if item.item_id in self.done)
        self.runner.planned(len(items), done_before)
        for step in _warm_steps(self.service) if done_before < len(items) else ():
            with contextlib.suppress(Exception):  # the same work is done when needed
                step()
            yield []


def _service(settings: Any, options: BatchOptions, client: Any = None, judge: Any = None) -> GradingService:
    # The batch is the one retry layer (it can release the slot while waiting); the SDK's own retries would
    # sleep inside the call and hold it.
    return GradingService(settings.with_overrides(max_retries=0), client=client, judge=judge, price=options.price)


def _budget(service: GradingService, options: BatchOptions) -> Budget | None:
    if options.max_cost is None:
        return None
    if not service.profile.calls_model:
        return None  # a judge that calls no model costs nothing
    price = price_for(service.settings.model, options.price)
    if price is None:
        raise ConfigError(
            f"--max-cost needs the price of {service.settings.model!r}, which genai-prices does not list: "
            "pass --price-in and --price-out (USD per million tokens)"
        )
    return Budget(options.max_cost, price)


async def arun_batch(
    paths: Sequence[Path],
    settings: Any,
    options: BatchOptions,
    *,
    progress: Progress | None = None,
    client: Any = None,
    judge: Any = None,
    settle: bool = False,
    read_first: bool = False,
) -> BatchOutcome:
    """Plan, grade and report a batch (see run_batch).

    `settle`: the process ends with the batch (the CLI), so what start-up leaves is kept out of the garbage
    collector's way (see `_collector_paused`). The first calls go out once the first input file with answers
    is read, and the rest is read while they are in flight (`_ReadingOn`): the same items, results and
    reports as reading every input first, which `read_first` does, and which `--max-cost` (the budget prices
    the whole plan) and `--llm-match` (the model settles questions of any file first) always do.
    """
    progress = progress or Silent()
    check_out_dir(options.out, options.resume)
    with _collector_paused(settle=settle):
        service = _service(settings, options, client, judge)
    try:
        budget = _budget(service, options)
        if options.llm_match and not service.profile.calls_model:
            raise ConfigError("--llm-match needs a model: set OPENAI_API_KEY or --base-url (not --backend offline)")
        with locked(options.out):
            matching, stream = None, None
            if options.llm_match:
                plan, matching = await plan_with_llm(paths, service, options, progress)
                if budget is not None and matching.usage.cost_usd:
                    budget.spent += matching.usage.cost_usd
            elif budget is None and not read_first:  # the first calls go out once the first file with answers is read
                stream = plan_batch_stream(paths, service, options)
                plan = next(stream)
                for _ in stream:
                    if plan.items:
                        break
            else:  # the budget prices the whole plan before the first call
                plan = plan_batch(paths, service, options)
            path = options.out / RESULTS
            records, repaired = read_results(path)
            if repaired:
                progress.note(f"{path}: the last line was cut off (killed mid-write); removed it, will redo it")
            done = {r.get("item") for r in records}
            todo = [item for item in plan.items if item.item_id not in done]
            _warm_up(service, todo, counts=budget is not None)
            results = ResultsFile(path)
            runner = BatchRunner(service, options, results, progress, budget)
            runner.outcome.repaired = repaired
            reading = _ReadingOn(stream, plan, done, runner, service) if stream is not None else None
            if reading is None:
                runner.planned(len(plan.items), len(plan.items) - len(todo))
            if todo and reading is None:
                runner.warm_later()
            try:
                await runner.run(todo, reading)
            finally:
                if runner.warming is not None:
                    with contextlib.suppress(Exception):  # only a head start: the same work is done when needed
                        await runner.warming
                results.close()
                all_records, _ = read_results(path, repair=False)
                outcome = runner.outcome
                if budget is not None:
                    outcome.spent_usd = budget.spent  # also counts calls whose cost was unknown, at their estimate
                elif matching is not None and matching.usage.cost_usd:
                    outcome.spent_usd = (outcome.spent_usd or 0.0) + matching.usage.cost_usd
                if outcome.spent_usd is not None:
                    outcome.spent_usd = round(outcome.spent_usd, 6)
                run: dict[str, Any] = {
                    "backend": service.backend,
                    "model": service.profile.model,
                    "grader_version": __version__,
                    "stopped": outcome.stopped,
                    "spent_usd": outcome.spent_usd,
                }
                if matching is not None:
                    run["llm_match"] = {
                        "calls": matching.calls,
                        "decided": len(matching.decisions),
                        "usage": matching.usage.model_dump(),
                        "failures": len(matching.failures),
                    }
                questions = {q.id: q.question for q in service.questions}
                outcome.summary = write_reports(options.out, all_records, plan, questions, run)
            return outcome
    finally:
        await service.aclose()


@contextlib.contextmanager
def _collector_paused(*, settle: bool) -> Iterator[None]:
    """No garbage collection while the client is made; with `settle`, then none of what start-up left.

    Importing the SDK allocates a few hundred thousand objects, and the collector walks them again and again
    while it does. With `settle`, what start-up left is then frozen (gc.freeze): the collections while
    grading, and the one at exit, no longer walk the modules, the bank and the client (~0.2 s of a 200-answer
    batch of 2.8 s). No full collection first: it walks every object of start-up (~50 ms before the first
    call) to find ~100 unreachable ones, which a process that ends with the batch can keep. Only once per
    process (nothing frozen yet), so a program that runs many batches does not keep every batch's service for
    good; garbage made later is collected as ever.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if settle and gc.get_freeze_count() == 0:
            gc.freeze()
        if enabled:
            gc.enable()


def _warm_up(service: GradingService, items: Sequence[WorkItem], *, counts: bool = False) -> None:
    """Load the rubrics, and the token table if anything will be counted, before the first call.

    So no worker stalls the others on them. `counts`: a budget counts every prompt; else only answers that may
    be too long are counted.
    """
    if not items:
        return
    limit = service.settings.max_answer_tokens
    if counts or not all(cannot_exceed(item.answer, limit) for item in items):
        service.counter.count("warm up")
    for question_id in dict.fromkeys(item.question_id for item in items):
        with contextlib.suppress(GraderError):  # reported per answer when it is graded
            service.rubric(question_id)


def _warm_later(service: GradingService) -> None:
    """What is needed only after the first calls return: the model's price and the report templates.

    In a thread as the first calls go out: done while this process waits for their replies (when first needed,
    the batch waits ~0.1 s longer). A run that reads on does the steps itself once the plan is whole
    (`_ReadingOn`): a thread would contend with the reading and the first calls (replies ~60 ms later).
    """
    for step in _warm_steps(service):
        step()


def _warm_steps(service: GradingService) -> list[Callable[[], object]]:
    from grader.batch.reports import warm_templates

    steps: list[Callable[[], object]] = [warm_templates]
    if service.profile.calls_model and service.profile.model:
        steps.insert(0, functools.partial(known_price, service.profile.model))
    return steps


def run_batch(paths: Sequence[Path], settings: Any, options: BatchOptions, **kwargs: Any) -> BatchOutcome:
    """Grade every answer in the inputs into options.out (see the module docstring)."""
    return asyncio.run(arun_batch(paths, settings, options, **kwargs))
