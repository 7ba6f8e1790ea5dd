"""`grader rubric draft`, `grader rubric review` and `grader bank init`: authoring rubrics with a model.

Thin: options -> Settings -> grader.authoring -> printed result. The model calls go through the same client,
cache file, prices and dry run as grading.
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from grader.cli.options import BankOpt, BaseUrlOpt, ModelOpt, TimeoutOpt

if TYPE_CHECKING:
    from grader.authoring.calls import AuthoringSession
    from grader.bank.base import Bank
    from grader.config import Settings

T = TypeVar("T")


class ReviewFormat(StrEnum):
    """Output of `rubric review`."""

    text = "text"
    json = "json"


DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Print the tokens and the cost; call no model.")]
TemperatureOpt = Annotated[
    float | None,
    typer.Option("--temperature", min=0.0, max=2.0, help="Sampling temperature \\[default: 0].", show_default=False),
]
NoCacheOpt = Annotated[bool, typer.Option("--no-cache", help="Neither read nor write the cache (drafts and reviews).")]
ReasksOpt = Annotated[
    int, typer.Option("--max-reasks", min=0, max=10, help="Re-asks after an unusable reply (lint errors included).")
]


def register(app: typer.Typer, rubric_app: typer.Typer) -> None:
    """Attach `draft` and `review` to `grader rubric`, and the `grader bank` group to the app."""
    from grader.cli.options import GuardedGroup

    rubric_app.command("draft")(draft)
    rubric_app.command("review")(review)
    bank_app = typer.Typer(cls=GuardedGroup, no_args_is_help=True, help="Question banks.")
    bank_app.command("init")(bank_init)
    app.add_typer(bank_app, name="bank")


def _settings(
    bank: Path | None,
    model: str | None,
    base_url: str | None,
    timeout: float | None,
    temperature: float | None,
    no_cache: bool,
    max_reasks: int,
) -> Settings:
    from grader.config import settings_from_env

    return settings_from_env().with_overrides(
        bank=bank,
        model=model,
        base_url=base_url,
        timeout=timeout,
        temperature=temperature,
        use_cache=not no_cache,
        reask_limit=max_reasks,
    )


def _open(settings: Settings) -> Bank:
    from grader.bank.base import Bank

    return Bank.open(settings.bank)


def _run(session: AuthoringSession, work: Callable[[], Awaitable[T]]) -> T:
    async def go() -> T:
        try:
            return await work()
        finally:
            await session.aclose()

    import asyncio  # here, not at the top: --help need not import it

    return asyncio.run(go())


def _shown(path: Path) -> str:
    """A path as the user would type it: relative to the working directory when inside it."""
    try:
        return str(path.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def draft(
    question_id: Annotated[str, typer.Argument(help="Question id, e.g. q51 (new or already in the bank).")],
    question: Annotated[
        str | None,
        typer.Option(
            "--question", help="The question's text (required when the bank lacks the id).", show_default=False
        ),
    ] = None,
    notes: Annotated[
        Path | None,
        typer.Option("--notes", help="A file of your own points that a good answer must make.", show_default=False),
    ] = None,
    section: Annotated[
        str | None, typer.Option("--section", help="Section of a new question \\[default: Custom].", show_default=False)
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing rubric.")] = False,
    dry_run: DryRunOpt = False,
    max_reasks: ReasksOpt = 2,
    bank: BankOpt = None,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    timeout: TimeoutOpt = None,
    temperature: TemperatureOpt = None,
    no_cache: NoCacheOpt = False,
) -> None:
    """Draft a complete rubric with the model; it is linted, fixed by re-asks, and written as a draft to review."""
    from grader.authoring.banks import add_question, bank_flag, ensure_writable, resolve_question
    from grader.authoring.calls import AuthoringSession
    from grader.authoring.drafting import adraft, dry_run_draft
    from grader.bank.lint import prompt_counter
    from grader.bank.questions import load_questions
    from grader.cli.options import read_text_file
    from grader.errors import InputError

    settings = _settings(bank, model, base_url, timeout, temperature, no_cache, max_reasks)
    opened = _open(settings)
    asked, is_new = resolve_question(opened, question_id, question, section)
    existing = opened.rubric_path(question_id)
    if existing.is_file() and not force:
        raise InputError(f"{existing} exists; pass --force to replace it")
    notes_text = read_text_file(notes, "notes file") if notes is not None else None
    session = AuthoringSession(settings)
    if dry_run:
        typer.echo(dry_run_draft(session, opened, asked, notes_text).describe(f"drafting {question_id}"))
        return
    ensure_writable(opened)
    session.ensure_model()
    questions = load_questions(opened) + ([asked] if is_new else [])
    prompt_tokens = prompt_counter(opened.prompts_dir, questions, settings.model)
    result = _run(session, lambda: adraft(session, opened, asked, questions, notes_text, prompt_tokens))
    if is_new:
        add_question(opened, asked)
    target = opened.own_rubric_path(question_id)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(result.text, encoding="utf-8")
    flag = bank_flag(opened)
    typer.echo(f"Wrote {_shown(target)}: a DRAFT, lint-clean, to review before grading with it.")
    if is_new:
        typer.echo(f"Added {question_id} to {_shown(opened.questions_path)}.")
    for warning in result.warnings:
        typer.echo(f"lint warning: {warning}")
    typer.echo("Next: edit it, then check it with")
    typer.echo(f"  grader rubric lint {_shown(target)}{flag}")
    typer.echo(f"  grader rubric calibrate {question_id}{flag}")
    typer.echo(f"  grader rubric review {question_id}{flag}")
    typer.echo(f"grader: {session.spent()}", err=True)


def review(
    question_id: Annotated[str, typer.Argument(help="Question id, e.g. q05.")],
    output_format: Annotated[ReviewFormat, typer.Option("--format", help="text or json.")] = ReviewFormat.text,
    dry_run: DryRunOpt = False,
    max_reasks: ReasksOpt = 2,
    bank: BankOpt = None,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    timeout: TimeoutOpt = None,
    temperature: TemperatureOpt = None,
    no_cache: NoCacheOpt = False,
) -> None:
    """Have the model review a rubric as a senior reviewer; prints findings with file:line, edits nothing."""
    from grader.authoring.calls import AuthoringSession
    from grader.authoring.reviewing import areview, dry_run_review
    from grader.bank.questions import find_question, load_questions
    from grader.bank.rubrics import load_rubric

    settings = _settings(bank, model, base_url, timeout, temperature, no_cache, max_reasks)
    opened = _open(settings)
    questions = load_questions(opened)
    asked = find_question(questions, question_id, opened)
    loaded = load_rubric(opened, question_id)
    session = AuthoringSession(settings)
    if dry_run:
        typer.echo(dry_run_review(session, opened, asked, loaded).describe(f"reviewing {question_id}"))
        return
    session.ensure_model()
    shown = _shown(loaded.path)
    result = _run(session, lambda: areview(session, opened, asked, loaded, shown))
    if output_format is ReviewFormat.json:
        data = result.to_json()
        data["model"] = session.served_model or settings.model
        data["usage"] = session.usage.model_dump()
        data["cached"] = session.cached
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        typer.echo(result.to_text(), nl=False)
    typer.echo(f"grader: {session.spent()}", err=True)


def bank_init(
    directory: Annotated[Path, typer.Argument(help="A new (or empty) folder for the bank.")],
    extend: Annotated[
        bool,
        typer.Option(
            "--extend",
            help="Write only a bank.yaml building on the shipped bank and an empty questions.yaml: "
            "add your questions without copying the shipped ones.",
        ),
    ] = False,
) -> None:
    """Write the shipped bank (questions.yaml, rubrics/, prompts/) to a folder, to edit; or one that extends it."""
    import shlex

    from grader.authoring.banks import init_bank

    init_bank(directory, extend)
    flag = f"--bank {shlex.quote(os.fspath(directory))}"
    if extend:
        typer.echo(f"Wrote a bank in {directory} that builds on the shipped one (bank.yaml). Add a question:")
        typer.echo(f"  grader rubric draft q51 --question 'Your question?' {flag}")
        typer.echo(f"  grader rubric new q51 --question 'Your question?' {flag}")
    else:
        typer.echo(f"Wrote the shipped bank to {directory} (questions.yaml, rubrics/, prompts/). Use it with:")
        typer.echo(f"  grader rubric lint {flag}")
    typer.echo(f"  grader questions {flag}")
