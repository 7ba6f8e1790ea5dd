"""`grader review DIR`: serve the review page, or report agreement (--summary), or feed the bank (--to-bank)."""

from __future__ import annotations

import getpass
import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from grader.cli.options import BankOpt


class SummaryFormat(StrEnum):
    """How --summary and --to-bank print."""

    text = "text"
    json = "json"


def register(app: typer.Typer) -> None:
    """Attach the review command to the main app."""
    app.command("review")(review)


def _default_reviewer() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        return "reviewer"


def review(
    folder: Annotated[
        Path, typer.Argument(help="A folder written by `grader batch --out`.", metavar="DIR", show_default=False)
    ],
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port on 127.0.0.1 (0: a free one).")] = 0,
    reviewer: Annotated[
        str | None, typer.Option("--reviewer", help="Who reviews (default: the OS user).", show_default=False)
    ] = None,
    blind: Annotated[
        bool, typer.Option("--blind", help="Hide the grader's levels and score until the reviewer has saved.")
    ] = False,
    summary: Annotated[
        bool, typer.Option("--summary", help="Print agreement (grader vs reviewers, reviewer vs reviewer) and exit.")
    ] = False,
    to_bank: Annotated[
        bool, typer.Option("--to-bank", help="Append the reviewed answers to the bank's graded answers, and exit.")
    ] = False,
    bank: BankOpt = None,
    output_format: Annotated[
        SummaryFormat, typer.Option("--format", help="text or json (--summary, --to-bank).")
    ] = SummaryFormat.text,
) -> None:
    """Review the grades of a batch in the browser: confirm or correct each criterion's level, with a note.

    Serves a page on 127.0.0.1 and prints its URL, with a random token every request must carry. Reviews are
    appended to DIR/reviews.jsonl; results.jsonl is never changed. The rubrics come from --bank (default: the
    shipped bank, or GRADER_BANK), which --to-bank also writes to.
    """
    from grader.review._grader import Bank, settings_from_env
    from grader.review.store import ReviewLog, check_reviewer, latest_reviews, load_batch

    if summary and to_bank:
        raise typer.BadParameter("give --summary or --to-bank, not both", param_hint="--to-bank")
    opened = Bank.open(bank or settings_from_env().bank)
    batch = load_batch(folder, opened)
    for message in batch.skipped:
        typer.echo(f"Warning: not reviewable: {message}", err=True)
    if summary or to_bank:
        latest = latest_reviews(batch, ReviewLog(folder).read())
        if summary:
            _print_summary(batch, latest, output_format)
        else:
            _print_to_bank(batch, latest, opened, output_format)
        return
    name = check_reviewer(reviewer if reviewer is not None else _default_reviewer())
    _serve(batch, name, blind, port)


def _print_summary(batch: Any, latest: Any, output_format: SummaryFormat) -> None:
    from grader.review.agreement import agreement, agreement_text

    report = agreement(batch, latest)
    if output_format is SummaryFormat.json:
        typer.echo(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        typer.echo(agreement_text(report), nl=False)


def _print_to_bank(batch: Any, latest: Any, bank: Any, output_format: SummaryFormat) -> None:
    from grader.review.to_bank import add_reviewed_to_bank

    update = add_reviewed_to_bank(batch, latest, bank)

    def who(answer: Any) -> dict[str, Any]:
        return {"answer_id": answer.answer_id, "question_id": answer.question_id, "transcript": answer.transcript,
                "candidate": answer.candidate}  # fmt: skip

    if output_format is SummaryFormat.json:
        document = {
            "bank": str(bank.root),
            "added": [{**who(a), "score": round(s, 2), "max_score": a.max_score} for a, s in update.added],
            "refused": [{**who(a), "reason": reason} for a, reason in update.refused],
            "already_in_bank": [who(a) for a in update.present],
        }
        typer.echo(json.dumps(document, indent=2, ensure_ascii=False))
        return
    typer.echo(f"Added {len(update.added)} reviewed answers to {bank.root / 'graded'}.")
    for answer, score in update.added:
        typer.echo(f"  {answer.question_id} {answer.candidate or '-'}: {score:g}/{answer.max_score:g}")
    if update.present:
        typer.echo(f"{len(update.present)} already in the bank, not added again.")
    if update.refused:
        typer.echo(f"Refused by the screen ({len(update.refused)}):")
        for answer, reason in update.refused:
            typer.echo(f"  {answer.question_id} {answer.candidate or '-'} ({answer.transcript}): {reason}")


def _serve(batch: Any, reviewer: str, blind: bool, port: int) -> None:
    from grader.review.server import ReviewSession, bind_loopback, run

    session = ReviewSession(batch=batch, reviewer=reviewer, blind=blind)
    sock = bind_loopback(port)
    bound = sock.getsockname()[1]
    typer.echo(f"http://127.0.0.1:{bound}/?token={session.token}")
    sys.stdout.flush()
    typer.echo(
        f"Reviewing {len(batch.answers)} answers of {batch.folder} as {reviewer}"
        f"{' (blind)' if blind else ''}; reviews go to {session.log.path}. Ctrl+C stops.",
        err=True,
    )
    run(session, sock)
