"""`grader audit RESULTS`: what changed in the bank since these results were graded."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from grader.cli.options import BankOpt
from grader.vocabulary import ReportFormat as AuditFormat


def register(app: typer.Typer) -> None:
    """Attach the audit command to the main app."""
    app.command("audit")(audit)


def audit(
    results: Annotated[
        Path,
        typer.Argument(
            help="results.jsonl from `grader batch`, or the output of `grader grade --format json`.",
            metavar="RESULTS",
            show_default=False,
        ),
    ],
    bank: BankOpt = None,
    output_format: Annotated[AuditFormat, typer.Option("--format", help="text or json.")] = AuditFormat.text,
) -> None:
    """Re-check graded results against the bank: rubric changed, prompt changed, rubric missing, or unchanged.

    Without --bank (or GRADER_BANK), each result is checked against the bank it records.

    Exit 0 when every result still matches the bank; 1 when anything changed, is missing or cannot be verified.
    """
    from grader.bank.audit import audit_results, audit_text
    from grader.bank.base import Bank
    from grader.config import settings_from_env
    from grader.version import __version__

    chosen = bank or settings_from_env().bank
    report = audit_results(results, Bank.open(chosen) if chosen else None, grader_version=__version__)
    if output_format is AuditFormat.json:
        typer.echo(report.model_dump_json(indent=2))
    else:
        typer.echo(audit_text(report), nl=False)
    if not report.ok:
        raise typer.Exit(code=1)
