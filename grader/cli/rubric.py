"""`grader rubric …`: write, check and inspect rubrics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from grader.cli.options import BankOpt, GuardedGroup
from grader.vocabulary import DEFAULT_MODEL, OutputFormat


def register(app: typer.Typer) -> None:
    """Attach the rubric commands to the main app."""
    rubric_app = typer.Typer(cls=GuardedGroup, no_args_is_help=True, help="Write, check and inspect rubrics.")
    rubric_app.command("new")(new)
    rubric_app.command("lint")(lint)
    rubric_app.command("schema")(schema)
    rubric_app.command("show")(show)
    try:
        from grader.cli import eval as cli_eval
    except ImportError:
        pass
    else:
        cli_eval.register(app, rubric_app)
    from grader.cli import authoring as cli_authoring

    cli_authoring.register(app, rubric_app)
    app.add_typer(rubric_app, name="rubric")


def _bank(bank: Path | None):  # type: ignore[no-untyped-def]
    from grader.bank.base import Bank
    from grader.config import settings_from_env

    return Bank.open(bank or settings_from_env().bank)


def new(
    question_id: Annotated[str, typer.Argument(help="Question id, e.g. q07, or a new one such as q51.")],
    question: Annotated[
        str | None,
        typer.Option(
            "--question",
            help="The question's text: adds it to the bank when the bank lacks the id.",
            show_default=False,
        ),
    ] = None,
    section: Annotated[
        str | None, typer.Option("--section", help="Section of a new question \\[default: Custom].", show_default=False)
    ] = None,
    bank: BankOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing rubric.")] = False,
    stdout: Annotated[bool, typer.Option("--stdout", help="Print the scaffold instead of writing it.")] = False,
) -> None:
    """Scaffold a commented rubric for a question at rubrics/<id>.yaml (adding the question to the bank if new)."""
    import shlex

    from grader.authoring.banks import add_question, bank_flag, ensure_writable, resolve_question
    from grader.bank.rubrics import scaffold_rubric
    from grader.errors import InputError

    opened = _bank(bank)
    asked, is_new = resolve_question(opened, question_id, question, section)
    path = opened.own_rubric_path(question_id)
    check = f"grader rubric lint {shlex.quote(str(path))}{bank_flag(opened)}"
    text = scaffold_rubric(asked, check)
    if stdout:
        typer.echo(text, nl=False)
        return
    existing = opened.rubric_path(question_id)
    if existing.exists() and not force:
        raise InputError(f"{existing} exists; pass --force to overwrite it")
    ensure_writable(opened)
    if is_new:
        typer.echo(f"Added {question_id} to {add_question(opened, asked)}.")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    typer.echo(f"Wrote {path}. Fill in the TODOs, then run: {check}")


def lint(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Rubric files (default: every rubric of the bank).", show_default=False)
    ] = None,
    bank: BankOpt = None,
    allow_missing: Annotated[
        bool, typer.Option("--allow-missing", help="Do not fail on questions without a rubric.")
    ] = False,
    budget: Annotated[
        int, typer.Option("--budget", help="Token budget for a rendered grading prompt (answer excluded).")
    ] = 6000,
    model: Annotated[str, typer.Option("--model", help="Model whose tokenizer counts the prompt.")] = DEFAULT_MODEL,
) -> None:
    """Check rubrics: schema (file:line), criteria, levels, weights, exemplars, reference answer, prompt size."""
    from grader.bank.lint import lint_paths, missing_rubrics, prompt_counter
    from grader.bank.questions import load_questions
    from grader.judges.rubric_check import self_contradictions

    opened = _bank(bank)
    questions = load_questions(opened)
    prompt_tokens = prompt_counter(opened.prompts_dir, questions, model)
    targets = list(paths) if paths else opened.rubric_paths()
    messages = lint_paths(targets, questions, prompt_tokens, budget, self_contradictions)
    if not paths and not allow_missing:
        messages += missing_rubrics(questions, targets, opened.questions_path)
    for message in messages:
        typer.echo(str(message))
    errors = sum(1 for m in messages if m.severity == "error")
    warnings = len(messages) - errors
    summary = f"{len(targets)} rubrics checked: {errors} errors, {warnings} warnings"
    typer.echo(summary, err=True)
    if errors:
        raise typer.Exit(code=1)


def schema() -> None:
    """Print the JSON Schema of the rubric format (for editor completion)."""
    from grader.models import Rubric

    document = Rubric.model_json_schema()
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    document["title"] = "grader rubric"
    typer.echo(json.dumps(document, indent=2))


def show(
    question_id: Annotated[str, typer.Argument(help="Question id, e.g. q05.")],
    output_format: Annotated[OutputFormat, typer.Option("--format", help="text or json.")] = OutputFormat.text,
    bank: BankOpt = None,
) -> None:
    """Show a question's rubric."""
    if output_format is OutputFormat.markdown:
        raise typer.BadParameter("rubric show prints text or json", param_hint="--format")
    from grader.bank.questions import find_question, load_questions
    from grader.bank.rubrics import load_rubric
    from grader.scoring import criterion_points

    opened = _bank(bank)
    question = find_question(load_questions(opened), question_id, opened)
    rubric = load_rubric(opened, question_id).rubric
    if output_format is OutputFormat.json:
        typer.echo(rubric.model_dump_json(indent=2))
        return
    points = criterion_points(rubric)
    typer.echo(f"{question.id} · {question.question}")
    typer.echo(f"max score {rubric.max_score:g}; tags: {', '.join(rubric.tags) or '-'}")
    for c in rubric.criteria:
        typer.echo(f"\n{c.id} ({points[c.id]:.2f} points, weight {c.weight:g}): {c.description}")
        for index, level in enumerate(c.levels):
            typer.echo(f"  {index}: {level}")
        typer.echo("  key points:")
        for point in c.key_points:
            typer.echo(f"    - {point}")
    if rubric.misconceptions:
        typer.echo("\nmisconceptions:")
        for item in rubric.misconceptions:
            typer.echo(f"  - {item}")
    typer.echo(f"\nreference answer:\n{rubric.reference_answer.strip()}")
    typer.echo(f"\nexemplars: {', '.join(f'{e.expected_score:g}' for e in rubric.exemplars)}")
