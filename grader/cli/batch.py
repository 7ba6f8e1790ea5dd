"""`grader batch`: grade interview transcripts and answer tables into a results folder (see grader.batch.run)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from grader.cli.batch_output import print_dry_run, write_plan
from grader.cli.options import OutputFormat, StrictOpt, grading_options
from grader.config import Settings
from grader.vocabulary import DEFAULT_MATCH_THRESHOLD, DEFAULT_MAX_ANSWER_TOKENS  # noqa: F401  (tests read them here)

if TYPE_CHECKING:
    from grader.batch.run import BatchOutcome

DEFAULT_CONCURRENCY = 8


class _BarProgress:
    """A rich progress bar on stderr: answers done of the batch, graded and ungraded counts."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.graded = self.ungraded = 0
        self._progress: Any = None
        self._task: Any = None

    def start(self, total: int, done: int) -> None:
        if done:
            typer.echo(f"grader: resuming: {done} of {total} answers already in the results", err=True)
        if not self.enabled:
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self._task = self._progress.add_task("grading", total=total, completed=done)
        self._progress.start()

    def advance(self, record: dict[str, Any]) -> None:
        if record.get("status") == "graded":
            self.graded += 1
        else:
            self.ungraded += 1
        if self._progress is not None:
            description = f"graded {self.graded}" + (f", ungraded {self.ungraded}" if self.ungraded else "")
            self._progress.update(self._task, advance=1, description=description)

    def note(self, message: str) -> None:
        if self._progress is not None:
            self._progress.console.print(f"grader: {message}", markup=False, highlight=False)
        else:
            typer.echo(f"grader: {message}", err=True)

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()


def batch(
    paths: Annotated[
        list[Path], typer.Argument(help="Transcripts (.vtt .srt .txt .md .json), answer tables (.jsonl .csv), folders.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Folder for results.jsonl, summary.json and the reports.")],
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, max=512, help="Answers graded at once.")
    ] = DEFAULT_CONCURRENCY,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue a run in --out: grade only what is not there yet.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count tokens and estimate the cost; call no model, write nothing.")
    ] = False,
    max_cost: Annotated[
        float | None,
        typer.Option("--max-cost", min=0.0, help="Stop before spending more than this many USD.", show_default=False),
    ] = None,
    price_in: Annotated[
        float | None,
        typer.Option(
            "--price-in", min=0.0, help="USD per million input tokens (for unlisted models).", show_default=False
        ),
    ] = None,
    price_out: Annotated[
        float | None,
        typer.Option("--price-out", min=0.0, help="USD per million output tokens.", show_default=False),
    ] = None,
    interviewer: Annotated[
        list[str] | None,
        typer.Option("--interviewer", help="Speaker who interviews (repeatable); else recognised.", show_default=False),
    ] = None,
    match_threshold: Annotated[
        float,
        typer.Option("--match-threshold", min=0.0, max=1.0, help="Match score under which a question is unmatched."),
    ] = DEFAULT_MATCH_THRESHOLD,
    llm_match: Annotated[
        bool,
        typer.Option(
            "--llm-match",
            help="Let the model settle the questions the word matcher is unsure of (a short call each; "
            "decisions kept in --out/matches.json).",
        ),
    ] = False,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", help="text or json (the summary on stdout).")
    ] = OutputFormat.text,
    no_progress: Annotated[bool, typer.Option("--no-progress", help="No progress bar on stderr.")] = False,
    csv_file: Annotated[
        Path | None,
        typer.Option("--csv", help="Also write one row per candidate x question to this CSV file.", show_default=False),
    ] = None,
    plan_file: Annotated[
        Path | None,
        typer.Option(
            "--plan",
            help="Write the plan (each asked question -> bank id, score, how) to this JSON file.",
            show_default=False,
        ),
    ] = None,
    use_plan: Annotated[
        Path | None,
        typer.Option(
            "--use-plan", help="Grade from a plan written by --plan and corrected by hand.", show_default=False
        ),
    ] = None,
    encoding: Annotated[
        str | None,
        typer.Option(
            "--encoding",
            help="Encoding of transcripts that are not UTF-8 (e.g. cp1252); else detected and said on stderr.",
            show_default=False,
        ),
    ] = None,
    strict: StrictOpt = False,
    provider_batch: Annotated[
        bool,
        typer.Option(
            "--provider-batch",
            help="Send the gradings through the server's Batch API (/v1/files + /v1/batches; half price on OpenAI "
            "and Azure, results within 24 h); --resume collects a batch this --out created.",
        ),
    ] = False,
    export_requests: Annotated[
        Path | None,
        typer.Option(
            "--export-requests",
            help="Write the Batch API request file (one line per answer) and stop.",
            show_default=False,
            dir_okay=False,
        ),  # fmt: skip
    ] = None,
    import_results: Annotated[
        Path | None,
        typer.Option(
            "--import-results",
            help="Grade from a Batch API output file (vllm run-batch, or any "
            "compatible engine) made from --export-requests for the same inputs.",
            show_default=False,
            exists=True,
            dir_okay=False,
        ),  # fmt: skip
    ] = None,
    batch_poll: Annotated[
        float, typer.Option("--batch-poll", min=0.01, help="Seconds between polls of a provider batch.")
    ] = 30.0,
    *,
    settings: Settings,
) -> None:
    """Grade every answer in interview transcripts and answer tables; write results and reports to --out."""
    from grader.batch.run import BatchOptions, run_batch
    from grader.batch.run import dry_run as plan_dry_run
    from grader.errors import BudgetExceeded
    from grader.pricing import Price

    if output_format is OutputFormat.markdown:
        raise typer.BadParameter(
            "batch prints text or json; the Markdown report is written to --out/report.md", param_hint="--format"
        )
    if (price_in is None) != (price_out is None):
        raise typer.BadParameter("give both --price-in and --price-out", param_hint="--price-in/--price-out")
    options = BatchOptions(
        out=out,
        concurrency=concurrency,
        resume=resume,
        max_cost=max_cost,
        price=Price(price_in, price_out) if price_in is not None and price_out is not None else None,
        interviewers=tuple(interviewer or ()),
        match_threshold=match_threshold,
        llm_match=llm_match,
        encoding=encoding,
        use_plan=use_plan,
    )
    if encoding is not None:
        _check_encoding(encoding)
    if provider_batch or export_requests is not None or import_results is not None:
        _provider_command(paths, settings, options, dry_run=dry_run, export_to=export_requests,
                          import_from=import_results, poll=batch_poll, output_format=output_format,
                          no_progress=no_progress, strict=strict)  # fmt: skip
        return
    if dry_run or plan_file is not None:
        report = plan_dry_run(paths, settings, options)
        if plan_file is not None:
            write_plan(plan_file, report)
    if dry_run:
        print_dry_run(report, output_format)
        _print_inputs(report.plan.skipped, report.plan.notes, [w for s in report.plan.sources for w in s.warnings])
        if strict and report.plan.skipped:
            raise typer.Exit(code=1)
        return
    progress = _BarProgress(enabled=not no_progress)
    try:
        outcome = run_batch(paths, settings, options, progress=progress, settle=True)  # the process ends with it
    except KeyboardInterrupt:
        progress.stop()
        typer.echo(
            f"grader: interrupted; every answer graded so far is in {out / 'results.jsonl'}. "
            f"Run the same command with --resume to grade the rest.",
            err=True,
        )
        raise typer.Exit(code=130) from None
    finally:
        progress.stop()
    _print_outcome(outcome, output_format)
    summary = outcome.summary
    if csv_file is not None:
        _write_csv(csv_file, outcome.out, settings)
    _print_inputs(summary.get("skipped", []), summary.get("read_notes", []), summary.get("warnings", []))
    if outcome.stopped == "over_budget":
        raise BudgetExceeded(
            f"stopped before exceeding --max-cost ${max_cost:g} (spent ${outcome.spent_usd or 0:.4f}); "
            f"{outcome.summary.get('pending', 0)} answers left: raise --max-cost and run again with --resume"
        )
    if strict and outcome.summary.get("ungraded", 0):
        typer.echo(f"grader: {outcome.summary['ungraded']} answers ungraded (--strict)", err=True)
        raise typer.Exit(code=1)
    if strict and summary.get("skipped"):
        typer.echo(f"grader: {len(summary['skipped'])} file(s) skipped (--strict)", err=True)
        raise typer.Exit(code=1)


def _check_encoding(encoding: str) -> None:
    import codecs

    try:
        codecs.lookup(encoding)
    except LookupError:
        raise typer.BadParameter(
            f"{encoding!r} is not an encoding (try cp1252, latin-1)", param_hint="--encoding"
        ) from None


def _print_inputs(skipped: list[dict[str, str]], notes: list[str], warnings: list[str]) -> None:
    """Every file skipped with its reason, how odd files were read, and transcripts that gave nothing (stderr)."""
    for note in notes:
        typer.echo(f"grader: {note}", err=True)
    for entry in skipped:
        reason = entry["reason"]
        said = reason if reason.startswith(entry["file"]) else f"{entry['file']}: {reason}"
        typer.echo(f"grader: skipped {said}", err=True)
    for warning in warnings:
        typer.echo(f"grader: warning: {warning}", err=True)


def _print_outcome(outcome: BatchOutcome, output_format: OutputFormat) -> None:
    summary = outcome.summary
    if output_format is OutputFormat.json:
        typer.echo(json.dumps(summary, indent=2, ensure_ascii=False))
        return
    interviews = len(summary["transcripts"])
    pending = summary.get("pending", 0)
    line = f"Graded {summary['graded']} of {summary['answers'] + pending} answers"
    parts = [f"{summary['ungraded']} ungraded"] if summary["ungraded"] else []
    parts += [f"{pending} pending"] if pending else []
    line += f" ({', '.join(parts)})" if parts else ""
    line += f" from {interviews} interview{'s' if interviews != 1 else ''}"
    if summary["mean_pct"] is not None:
        line += f"; mean score {summary['mean_pct']}%"
    typer.echo(line + ".")
    typer.echo(
        f"This run: {outcome.written} written, {outcome.cached} from the cache, {outcome.judged} sent to the judge"
        + (f", cost ${outcome.spent_usd:.4f}" if outcome.spent_usd else "")
        + "."
    )
    if summary["unmatched"]:
        typer.echo(f"{summary['unmatched']} question(s) matched no bank question (listed in the report).")
    matching = summary.get("llm_match")
    if matching:
        typer.echo(
            f"--llm-match: {matching['calls']} call(s) this run, {matching['decided']} question(s) decided by the model"
            + (f", {matching['failures']} left to the word matcher" if matching["failures"] else "")
            + "."
        )
    if summary["needs_review"]:
        typer.echo(f"Needs human review: {len(summary['needs_review'])} answer(s).")
    warning = summary["verbosity_bias"].get("warning")
    if warning:
        typer.echo(f"Warning: {warning}.")
    out = outcome.out
    typer.echo(f"Results: {out / 'results.jsonl'}  Summary: {out / 'summary.json'}  Report: {out / 'report.html'}")
    if outcome.stopped == "over_budget":
        typer.echo(
            f"Stopped by --max-cost with {pending} answer(s) pending: raise --max-cost and run again with --resume."
        )
    elif pending:
        typer.echo(f"{pending} answer(s) pending: run the same command with --resume to grade them.")


def _write_csv(path: Path, out: Path, settings: Settings) -> None:
    from grader.bank.base import Bank
    from grader.bank.questions import load_questions
    from grader.batch.ranking import results_csv
    from grader.batch.reports import RESULTS, read_results, write_atomic

    records, _ = read_results(out / RESULTS, repair=False)
    questions = {q.id: q.question for q in load_questions(Bank.open(settings.bank))}
    write_atomic(path, results_csv(records, questions))
    typer.echo(f"CSV: {path} ({len(records)} rows, one per candidate x question)")


# --- the provider Batch API path (grader/batch/provider.py) ---------------------------------------------------


def _provider_command(paths: list[Path], settings: Settings, options: Any, *, dry_run: bool, export_to: Path | None,
                      import_from: Path | None, poll: float, output_format: OutputFormat, no_progress: bool,
                      strict: bool) -> None:  # fmt: skip
    """--provider-batch, --export-requests and --import-results."""
    from grader.batch import provider
    from grader.batch.provider_files import STATE, batch_price
    from grader.batch.run import dry_run as plan_dry_run

    if export_to is not None and import_from is not None:
        raise typer.BadParameter("give one of --export-requests and --import-results", param_hint="--export-requests")
    if dry_run:
        report = plan_dry_run(paths, settings, options)
        rate = batch_price(settings.model, options.price)
        if report.calls_model:
            report.price = rate.price
            tokens = (report.prompt_tokens, report.completion_tokens)
            report.cost_usd = None if rate.price is None else round(rate.price.cost(*tokens), 6)
        print_dry_run(report, output_format)
        if output_format is OutputFormat.text and report.calls_model:
            typer.echo(f"  priced at the Batch API rate: {rate.source}")
        return
    if export_to is not None:
        export = provider.export_requests(paths, settings, options, export_to)
        typer.echo(f"Wrote {export.requests} Batch API request(s) to {export.path} (in the cache: {export.cached}; "
                   f"already in --out: {export.done}; skipped: {len(export.skipped)}).")  # fmt: skip
        for line in export.skipped[:10]:
            typer.echo(f"  skipped {line}", err=True)
        return
    progress = _BarProgress(enabled=False)  # notes only: a batch has no per-answer progress to draw
    try:
        if import_from is not None:
            outcome = provider.import_results(paths, settings, options, import_from, progress=progress)
        else:
            opts = provider.ProviderOptions(poll_seconds=poll)
            outcome = provider.run_provider_batch(paths, settings, options, opts, progress=progress)
    except KeyboardInterrupt:
        from grader.batch.provider_files import read_state

        waiting = [b.id for b in read_state(options.out).waiting()] if (options.out / STATE).is_file() else []
        if waiting:
            typer.echo(f"grader: stopped waiting; batch {', '.join(waiting)} keeps running on the server (ids in "
                       f"{options.out / STATE}). Collect it with the same command and --resume.", err=True)  # fmt: skip
        else:
            typer.echo("grader: interrupted; no batch was created. Run the same command again.", err=True)
        raise typer.Exit(code=130) from None
    _print_outcome(outcome, output_format)
    if output_format is OutputFormat.text:
        typer.echo(f"Batch: {outcome.from_batch} graded from batch replies, {outcome.reasked_live} failed line(s) "
                   f"asked live, {outcome.left} left; batches {', '.join(outcome.collected) or 'none'} "
                   f"({outcome.price_source}).")  # fmt: skip
    for reason in outcome.reasons:
        typer.echo(f"grader: {reason}", err=True)
    if outcome.stopped == "over_budget":
        typer.echo(f"grader: --max-cost ${options.max_cost:g} reached before upload; the rest is left for --resume",
                   err=True)  # fmt: skip
    if (strict and outcome.summary.get("ungraded", 0)) or outcome.left or outcome.stopped:
        raise typer.Exit(code=1)


def register(app: typer.Typer) -> None:
    """Add `grader batch` to the app."""
    app.command("batch")(grading_options()(batch))
