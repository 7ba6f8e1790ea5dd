"""The provider Batch API path: `grader batch --provider-batch`, `--export-requests`, `--import-results`.

1. Plan and stage every answer as a live run does (grader/batch/plan.py, the grading service's `stage`): an empty
   answer or an unusable rubric is written ungraded, a cached grade is written as is; neither is sent.
2. Each remaining answer becomes one request line whose body is exactly the first request a live call sends
   (`GradingService.batch_request`: the judge's messages and strict schema, built by the live client's own
   `request_body`), `custom_id` = the answer's item id. The lines go to `DIR/batch_requests.jsonl`, are split
   into input files within the provider's limits, uploaded (`/v1/files`) and run as batches (`/v1/batches`);
   each batch id is recorded in `DIR/provider_batch.json` before any wait, so `--resume` polls the same batches
   and never creates another for the same answers.
3. Wait, polling with a progress line; then each reply is finished by the service (`afinish_reply`: validated,
   scored and flagged as a live reply; a choice that fails validation is re-asked live by the judge). Lines that
   failed on the server are re-asked through the normal API (the live runner, with its bounded retries). A batch
   that was cancelled, expired or failed is reported with the server's reason; what it finished is kept, the
   rest is left for a later run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.batch.limits import price_for
from grader.batch.plan import BatchOptions, Progress, Silent, answer_text, plan_batch, stage_item
from grader.batch.provider_files import (
    MAX_BYTES,
    MAX_REQUESTS,
    REQUESTS,
    STATE,
    TERMINAL,
    BatchPrice,
    LineResult,
    Recorded,
    State,
    batch_price,
    batch_reason,
    read_output,
    read_state,
    request_line,
    split_lines,
    write_state,
)
from grader.batch.reports import RESULTS, ResultsFile, check_out_dir, locked, read_results, write_reports
from grader.batch.run import BatchOutcome, BatchRunner
from grader.errors import ConfigError, Failure, InputError, LLMUnavailable
from grader.grading.estimate import estimate_tokens
from grader.grading.service import GradingService, StagedAnswer
from grader.models import Grade
from grader.transcripts.interview import Plan, WorkItem
from grader.version import __version__
from grader.vocabulary import ErrorCode

__all__ = ["ProviderOptions", "ProviderOutcome", "arun_provider_batch", "export_requests", "import_results"]


@dataclass(frozen=True)
class ProviderOptions:
    """How to use the provider's Batch API."""

    poll_seconds: float = 30.0
    max_requests: int = MAX_REQUESTS
    """Requests per input file (OpenAI: 50,000)."""
    max_bytes: int = MAX_BYTES
    """Bytes per input file (OpenAI: 200 MB)."""


@dataclass
class ProviderOutcome(BatchOutcome):
    """What a provider batch run did, beyond a live run's outcome."""

    created: list[str] = field(default_factory=list)
    """Batches this run created."""
    collected: list[str] = field(default_factory=list)
    """Batches whose results this run wrote."""
    from_batch: int = 0
    """Answers graded from a batch's (or an imported file's) replies."""
    reasked_live: int = 0
    """Answers whose line failed on the server, asked again through the normal API."""
    left: int = 0
    """Answers a cancelled, expired or failed batch (or an imported file) did not answer: left for a later run."""
    reasons: list[str] = field(default_factory=list)
    price_source: str = ""


Staged = dict[str, tuple[WorkItem, StagedAnswer]]


class _Api:
    """The client's Files and Batches calls (grader/clients/openai_client.py)."""

    def __init__(self, service: GradingService) -> None:
        client = service.model_client() if service.profile.calls_model else None
        if client is None or not hasattr(client, "create_batch"):
            raise ConfigError(
                f"--provider-batch needs the openai backend (OPENAI_API_KEY or --base-url), not {service.backend}"
            )
        self.client: Any = client


def _service(settings: Any, options: BatchOptions, client: Any) -> GradingService:
    # Files/Batches calls and live re-asks are retried here and by the live runner, not inside the SDK.
    return GradingService(settings.with_overrides(max_retries=0), client=client, price=options.price)


async def _stage_all(runner: BatchRunner, items: Sequence[WorkItem]) -> Staged:
    """Stage every item; write at once what needs no request (no answer, unusable rubric, cached)."""
    service, staged = runner.service, {}
    for item in items:
        ready = stage_item(service, item)
        if isinstance(ready, Failure):
            await runner.write(item, service.unattempted(item.question_id, ready), answer_text(item, ready))
            continue
        if ready.cached is not None:
            runner.outcome.cached += 1
            await runner.write(item, ready.cached, ready.prepared.text)
            continue
        staged[item.item_id] = (item, ready)
    return staged


def _within_budget(service: GradingService, staged: Staged, ids: list[str], options: BatchOptions,
                   price: BatchPrice) -> list[str]:  # fmt: skip
    """The ids whose estimated batch cost fits --max-cost, in order (checked before anything is uploaded)."""
    if options.max_cost is None:
        return ids
    if price.price is None:
        raise ConfigError(f"--max-cost needs a price: {price.source}; pass --price-in and --price-out")
    total, kept = 0.0, []
    for cid in ids:
        cost = price.price.cost(*estimate_tokens(service, staged[cid][1].task))
        if total + cost > options.max_cost:
            break
        total += cost
        kept.append(cid)
    return kept


async def _submit(api: _Api, runner: BatchRunner, staged: Staged, state: State, price: BatchPrice,
                  provider: ProviderOptions) -> None:  # fmt: skip
    """Send the staged answers no recorded batch carries: write, split, upload, create, record each id."""
    service, options, outcome = runner.service, runner.options, runner.outcome
    assert isinstance(outcome, ProviderOutcome)
    carried = state.carried()
    new = [cid for cid in staged if cid not in carried]
    if not new:
        return
    kept = _within_budget(service, staged, new, options, price)
    if len(kept) < len(new):
        outcome.stopped = "over_budget"
        outcome.pending += len(new) - len(kept)
        runner.progress.note(f"--max-cost: {len(kept)} of {len(new)} answers fit at the batch rate; the rest is left")
    lines = [(cid, request_line(cid, service.batch_request(staged[cid][1]))) for cid in kept]
    if not lines:
        return
    (options.out / REQUESTS).write_bytes(b"".join(data for _, data in lines))
    chunks = split_lines(lines, provider.max_requests, provider.max_bytes)
    for number, chunk in enumerate(chunks, 1):
        name = REQUESTS if len(chunks) == 1 else f"batch_requests-{number}.jsonl"
        file_id = await api.client.upload_batch_file(name, b"".join(data for _, data in chunk))
        batch = await api.client.create_batch(file_id, {"grader_out": options.out.name[:500]})
        state.batches.append(Recorded(str(batch["id"]), file_id, [cid for cid, _ in chunk], status=batch.get("status")))
        write_state(options.out, state)  # before any wait: a kill from here on resumes this batch
        outcome.created.append(str(batch["id"]))
        runner.progress.note(f"batch {batch['id']} created: {len(chunk)} requests (id kept in {options.out / STATE})")


async def _wait(api: _Api, recorded: Recorded, poll: float, progress: Progress) -> dict[str, Any]:
    """Poll a batch until it ends, with a progress line whenever it moves (and each minute)."""
    start = time.monotonic()
    shown, shown_at = "", 0.0
    while True:
        try:
            batch: dict[str, Any] = await api.client.retrieve_batch(recorded.id)
        except LLMUnavailable as exc:
            if not exc.transient:
                raise
            progress.note(f"batch {recorded.id}: polling failed ({exc}); trying again")
            await asyncio.sleep(poll)
            continue
        counts = batch.get("request_counts") or {}
        line = (f"batch {recorded.id}: {batch.get('status')}, {counts.get('completed', 0)} of "
                f"{counts.get('total', len(recorded.custom_ids))} done, {counts.get('failed', 0)} failed")  # fmt: skip
        now = time.monotonic()
        if line != shown or now - shown_at >= 60:
            progress.note(f"{line} ({now - start:.0f} s)")
            shown, shown_at = line, now
        if batch.get("status") in TERMINAL:
            return batch
        await asyncio.sleep(poll)


async def _finish(runner: BatchRunner, staged: Staged, results: dict[str, LineResult], ids: Sequence[str],
                  factor: float) -> list[str]:  # fmt: skip
    """Grade the ids whose line holds a reply, as a live reply is graded; the ids without one."""
    outcome = runner.outcome
    assert isinstance(outcome, ProviderOutcome)
    slots = asyncio.Semaphore(runner.options.concurrency)
    missing = [cid for cid in ids if cid in staged and (cid not in results or results[cid].body is None)]

    async def finish(cid: str, body: dict[str, Any]) -> None:
        item, ready = staged[cid]
        async with slots:  # a reply that fails validation is re-asked live: bound those calls
            grade: Grade = await runner.service.afinish_reply(ready, body, factor)
        if grade.usage.cost_usd is not None:
            outcome.spent_usd = round((outcome.spent_usd or 0.0) + grade.usage.cost_usd, 8)
        outcome.judged += 1
        outcome.from_batch += 1
        await runner.write(item, grade, ready.prepared.text)
        del staged[cid]

    await asyncio.gather(*(finish(cid, body) for cid in ids if cid in staged and (body := _body(results, cid))))
    return missing


def _body(results: dict[str, LineResult], cid: str) -> dict[str, Any] | None:
    found = results.get(cid)
    return found.body if found is not None else None


async def _collect(api: _Api, runner: BatchRunner, staged: Staged, state: State, recorded: Recorded,
                   batch: dict[str, Any], factor: float) -> None:  # fmt: skip
    """Write a finished batch's results; re-ask its failed lines live; report a batch that did not complete."""
    outcome, progress = runner.outcome, runner.progress
    assert isinstance(outcome, ProviderOutcome)
    lines: list[bytes] = []
    for key in ("output_file_id", "error_file_id"):
        if batch.get(key):
            lines += (await api.client.file_content(str(batch[key]))).splitlines()
    results = read_output(lines)
    missing = await _finish(runner, staged, results, recorded.custom_ids, factor)
    status = str(batch.get("status"))
    if status == "completed" and missing:
        reasons = sorted({results[cid].error or "" for cid in missing if cid in results} - {""})
        progress.note(f"batch {recorded.id}: {len(missing)} request(s) failed on the server"
                      + (f" ({reasons[0]})" if reasons else "") + "; asking them through the normal API")  # fmt: skip
        outcome.reasked_live += len(missing)
        items = [staged[cid][0] for cid in missing]
        await runner.run(items)
        for cid in missing:
            staged.pop(cid, None)
    elif status != "completed":
        reason = batch_reason(batch)
        outcome.reasons.append(f"batch {recorded.id} {reason}")
        outcome.left += len(missing)
        progress.note(f"batch {recorded.id} {reason}; kept {len(recorded.custom_ids) - len(missing)} result(s), "
                      f"{len(missing)} answer(s) left: --resume --provider-batch sends them in a new batch, "
                      "--resume alone grades them live")  # fmt: skip
        recorded.reason = reason
    recorded.collected, recorded.status = True, status
    write_state(runner.options.out, state)
    outcome.collected.append(recorded.id)


def _report(service: GradingService, options: BatchOptions, plan: Plan, outcome: ProviderOutcome, mode: str) -> None:
    records, _ = read_results(options.out / RESULTS, repair=False)
    run: dict[str, Any] = {
        "backend": service.backend,
        "model": service.profile.model,
        "grader_version": __version__,
        "stopped": outcome.stopped,
        "spent_usd": None if outcome.spent_usd is None else round(outcome.spent_usd, 6),
        mode: {
            "batches": [*outcome.collected],
            "from_batch": outcome.from_batch,
            "reasked_live": outcome.reasked_live,
            "left": outcome.left,
            "reasons": outcome.reasons,
        },  # fmt: skip
    }
    questions = {q.id: q.question for q in service.questions}
    outcome.summary = write_reports(options.out, records, plan, questions, run)


async def _run(paths: Sequence[Path], settings: Any, options: BatchOptions, progress: Progress | None, client: Any,
               body: Any) -> ProviderOutcome:  # fmt: skip
    """The frame both the provider batch and an import share: plan, stage, `body`, reports."""
    progress = progress or Silent()
    check_out_dir(options.out, options.resume)
    if (options.out / STATE).is_file() and not options.resume:
        raise InputError(f"--out {options.out} holds a provider batch ({STATE}); pass --resume to collect it")
    service = _service(settings, options, client)
    try:
        api = _Api(service)
        price = batch_price(service.settings.model, options.price)
        with locked(options.out):
            plan = plan_batch(paths, service, options)
            path = options.out / RESULTS
            records, repaired = read_results(path)
            done = {r.get("item") for r in records}
            todo = [item for item in plan.items if item.item_id not in done]
            progress.start(len(plan.items), len(plan.items) - len(todo))
            results = ResultsFile(path)
            runner = BatchRunner(service, options, results, progress)
            outcome = ProviderOutcome(out=options.out, total=len(plan.items), done_before=len(plan.items) - len(todo),
                                      repaired=repaired, price_source=price.source)  # fmt: skip
            runner.outcome = outcome
            try:
                staged = await _stage_all(runner, todo)
                await body(api, runner, staged, price.factor(price_for(service.settings.model, options.price)))
            finally:
                results.close()
                _report(service, options, plan, outcome, body.__name__.strip("_"))
            return outcome
    finally:
        await service.aclose()


async def arun_provider_batch(paths: Sequence[Path], settings: Any, options: BatchOptions,
                              provider: ProviderOptions | None = None, *, progress: Progress | None = None,
                              client: Any = None) -> ProviderOutcome:  # fmt: skip
    """Grade a batch through the provider's Batch API (see the module docstring)."""
    provider = provider or ProviderOptions()

    async def provider_batch(api: _Api, runner: BatchRunner, staged: Staged, factor: float) -> None:
        state = read_state(options.out)
        price = batch_price(runner.service.settings.model, options.price)
        await _submit(api, runner, staged, state, price, provider)
        for recorded in state.waiting():
            batch = await _wait(api, recorded, provider.poll_seconds, runner.progress)
            await _collect(api, runner, staged, state, recorded, batch, factor)

    return await _run(paths, settings, options, progress, client, provider_batch)


async def aimport_results(paths: Sequence[Path], settings: Any, options: BatchOptions, source: Path, *,
                          progress: Progress | None = None, client: Any = None) -> ProviderOutcome:  # fmt: skip
    """Grade the inputs from a Batch API output file (`vllm run-batch`, or any compatible engine)."""
    try:
        lines = source.read_bytes().splitlines()
    except OSError as exc:
        raise InputError(f"--import-results {source}: {exc.strerror}") from None

    async def import_results(api: _Api, runner: BatchRunner, staged: Staged, factor: float) -> None:
        results = read_output(lines)
        missing = await _finish(runner, staged, results, list(staged), factor)
        outcome = runner.outcome
        assert isinstance(outcome, ProviderOutcome)
        outcome.left = len(missing)
        if missing:
            outcome.reasons.append(f"{len(missing)} answer(s) have no successful line in {source}")
            runner.progress.note(f"{len(missing)} answer(s) have no successful line in {source}: left ungraded; "
                                 "--resume without --import-results grades them live")  # fmt: skip

    return await _run(paths, settings, options, progress, client, import_results)


def import_results(paths: Sequence[Path], settings: Any, options: BatchOptions, source: Path,
                   **kwargs: Any) -> ProviderOutcome:  # fmt: skip
    """Synchronous aimport_results."""
    return asyncio.run(aimport_results(paths, settings, options, source, **kwargs))


def run_provider_batch(paths: Sequence[Path], settings: Any, options: BatchOptions,
                       provider: ProviderOptions | None = None, **kwargs: Any) -> ProviderOutcome:  # fmt: skip
    """Synchronous arun_provider_batch."""
    return asyncio.run(arun_provider_batch(paths, settings, options, provider, **kwargs))


@dataclass
class Export:
    """What --export-requests wrote."""

    path: Path
    requests: int = 0
    cached: int = 0
    done: int = 0
    skipped: list[str] = field(default_factory=list)


def export_requests(paths: Sequence[Path], settings: Any, options: BatchOptions, target: Path) -> Export:
    """Write the Batch API request file for the inputs (one line per answer to grade) and call nothing."""
    service = GradingService(settings, price=options.price)
    try:
        _Api(service)
        plan = plan_batch(paths, service, options)
        records, _ = read_results(options.out / RESULTS, repair=False) if options.resume else ([], False)
        done = {r.get("item") for r in records}
        export, lines = Export(target), []
        for item in plan.items:
            if item.item_id in done:
                export.done += 1
                continue
            ready = stage_item(service, item)
            if isinstance(ready, Failure):
                why = "no answer" if ready.code is ErrorCode.no_answer else ready.message
                export.skipped.append(f"{item.item_id}: {why}")
                continue
            if ready.cached is not None:
                export.cached += 1
                continue
            lines.append(request_line(item.item_id, service.batch_request(ready)))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"".join(lines))
        export.requests = len(lines)
        return export
    finally:
        service.close()
