"""`grader batch`: grade interview transcripts and answer tables into a results folder (see grader.batch.run)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from grader.cli.options import OutputFormat, StrictOpt, grading_options
from grader.config import Settings
from grader.vocabulary import DEFAULT_MATCH_THRESHOLD, DEFAULT_MAX_ANSWER_TOKENS  # noqa: F401  (tests read them here)

if TYPE_CHECKING:
    from grader.batch.run import BatchOutcome, DryRun

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
    if dry_run or plan_file is not None:
        report = plan_dry_run(paths, settings, options)
        if plan_file is not None:
            _write_plan(plan_file, report)
    if dry_run:
        _print_dry_run(report, output_format)
        _print_inputs(report.plan.skipped, report.plan.notes, [w for s in report.plan.sources for w in s.warnings])
        if strict and report.plan.skipped:
            raise typer.Exit(code=1)
        return
    progress = _BarProgress(enabled=not no_progress)
    try:
        outcome = run_batch(paths, settings, options, progress=progress)
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


def _write_plan(path: Path, report: DryRun) -> None:
    from grader.batch.plan import plan_document
    from grader.batch.reports import write_atomic

    document = plan_document(report.plan, report.would_ask)
    write_atomic(path, json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    typer.echo(f"grader: plan written to {path}; correct a question_id and run with --use-plan {path}", err=True)


def _print_plan(report: DryRun) -> None:
    from grader.batch.plan import plan_document

    for transcript in plan_document(report.plan, report.would_ask)["transcripts"]:
        coverage = transcript["coverage"] or {}
        share = coverage.get("graded_share")
        said = f"; {share:.0%} of the candidate's words graded" if share is not None else ""
        typer.echo(f"  {transcript['transcript']} ({transcript['candidate'] or 'table'}{said})")
        for entry in transcript["questions"]:
            qid = entry["question_id"] or "none"
            how = entry["matched_by"] or "given"
            score = f"{entry['score']:.2f}" if isinstance(entry["score"], int | float) else "  - "
            mark = "  [--llm-match would ask]" if entry.get("llm_match") else ""
            asked = " ".join(str(entry["asked"]).split())
            asked = asked if len(asked) <= 90 else asked[:89] + "…"
            extra = f" (+{len(entry['follow_ups'])} follow-up)" if entry.get("follow_ups") else ""
            typer.echo(f"    {qid:<5} {score} {how:<5} line {entry['line']}: {asked}{extra}{mark}")


def _print_dry_run(report: DryRun, output_format: OutputFormat) -> None:
    unmatched = sum(len(s.unmatched) for s in report.plan.sources)
    data = {
        "answers": report.items,
        "interviews": len(report.plan.sources),
        "unmatched": unmatched,
        "already_done": report.done,
        "cached": report.cached,
        "to_grade": report.to_call,
        "prompt_tokens": report.prompt_tokens,
        "completion_tokens_estimate": report.completion_tokens,
        "token_method": report.token_method,
        "model": report.model,
        "backend": report.backend,
        "cost_usd_estimate": report.cost_usd,
        "price_per_mtok": None if report.price is None else [report.price.input_per_mtok, report.price.output_per_mtok],
        "llm_match_calls": report.llm_match_calls,
        "problems": report.problems,
        "plan": _plan_data(report),
        "skipped": report.plan.skipped,
        "warnings": [w for s in report.plan.sources for w in s.warnings],
    }
    if output_format is OutputFormat.json:
        typer.echo(json.dumps(data, indent=2))
        return
    typer.echo("Dry run: no model call, nothing written.")
    typer.echo(
        f"  answers           {report.items} from {len(report.plan.sources)} interview(s); {unmatched} unmatched"
    )
    typer.echo(f"  to grade          {report.to_call} (already in --out: {report.done}; in the cache: {report.cached})")
    typer.echo(f"  prompt tokens     {report.prompt_tokens:,} ({report.token_method})")
    typer.echo(f"  completion tokens ~{report.completion_tokens:,} (estimated)")
    if not report.calls_model:
        typer.echo("  cost              $0 (the offline grader calls no model)")
    elif report.cost_usd is None:
        typer.echo(f"  cost              unknown: {report.model} has no listed price; pass --price-in and --price-out")
    else:
        assert report.price is not None
        typer.echo(
            f"  cost              ~${report.cost_usd:.4f} for {report.model} "
            f"(${report.price.input_per_mtok:g} in / ${report.price.output_per_mtok:g} out per million tokens)"
        )
    if report.llm_match_calls:
        calls = report.llm_match_calls
        typer.echo(f"  --llm-match       {calls} unsure question(s) would go to the model (not costed)")
    for problem in report.problems:
        typer.echo(f"  problem: {problem}")
    typer.echo("Plan (question id, match score, matched by, where, as asked):")
    _print_plan(report)


def _plan_data(report: DryRun) -> list[dict[str, Any]]:
    from grader.batch.plan import plan_document

    return list(plan_document(report.plan, report.would_ask)["transcripts"])


def register(app: typer.Typer) -> None:
    """Add `grader batch` to the app."""
    app.command("batch")(grading_options()(batch))
