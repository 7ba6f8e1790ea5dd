"""What `grader batch --dry-run` and `--plan` show.

Each asked question with the bank id it matched, as text, as JSON, or as a plan file to correct and grade from
with `--use-plan`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from grader.cli.options import OutputFormat

if TYPE_CHECKING:
    from grader.batch.run import DryRun


def write_plan(path: Path, report: DryRun) -> None:
    """Write the plan of a dry run to a file (atomically) for `--use-plan`."""
    from grader.batch.plan import plan_document
    from grader.batch.reports import write_atomic

    document = plan_document(report.plan, report.would_ask)
    write_atomic(path, json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    typer.echo(f"grader: plan written to {path}; correct a question_id and run with --use-plan {path}", err=True)


def print_plan(report: DryRun) -> None:
    """Print each transcript's asked questions with their bank id, score and how they matched."""
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


def print_dry_run(report: DryRun, output_format: OutputFormat) -> None:
    """Print a dry run: tokens, estimated cost and the plan, as text or JSON."""
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
        "plan": plan_data(report),
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
    print_plan(report)


def plan_data(report: DryRun) -> list[dict[str, Any]]:
    """The plan's transcripts as the plan file holds them."""
    from grader.batch.plan import plan_document

    return list(plan_document(report.plan, report.would_ask)["transcripts"])
