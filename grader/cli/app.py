"""The command line: arguments -> Settings -> service -> rendered output. The only module that prints or exits.

Heavy modules (pydantic models, jinja2, openai) are imported inside the commands so `grader --help` is fast.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Annotated

import typer
from typer.main import get_command_name
from typer.models import CommandInfo, TyperInfo

from grader.cli.options import BankOpt, GuardedGroup, OutputFormat, StrictOpt, grading_options, read_answer
from grader.config import Settings
from grader.version import __version__
from grader.vocabulary import ErrorCode

app = typer.Typer(
    cls=GuardedGroup,
    pretty_exceptions_show_locals=False,
    no_args_is_help=True,
    help="Grade technical-interview answers on Generative AI against rubrics, with an LLM or offline.",
)
cache_app = typer.Typer(cls=GuardedGroup, no_args_is_help=True, help="The grade cache.")
app.add_typer(cache_app, name="cache")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"grader {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Grade technical-interview answers on Generative AI against rubrics, with an LLM or offline."""


@app.command()
@grading_options()
def grade(
    question_id: Annotated[str, typer.Argument(help="Question id, e.g. q05 (see `grader questions`).")],
    answer: Annotated[str | None, typer.Option("--answer", help="The answer text.", show_default=False)] = None,
    answer_file: Annotated[
        Path | None, typer.Option("--answer-file", help="A file holding the answer ('-': stdin).", show_default=False)
    ] = None,
    output_format: Annotated[OutputFormat, typer.Option("--format", help="Output format.")] = OutputFormat.text,
    candidate: Annotated[
        list[str] | None,
        typer.Option(
            "--candidate",
            help="The candidate's name, replaced by --redact before the answer leaves the machine (repeatable).",
            show_default=False,
        ),
    ] = None,
    strict: StrictOpt = False,
    *,
    settings: Settings,
) -> None:
    """Grade one answer to one question."""
    from grader.cli.render import grade_markdown, grade_text
    from grader.grading.service import GradingService

    if candidate and not settings.redact:
        raise typer.BadParameter("names are only used to redact: add --redact", param_hint="--candidate")
    text = read_answer(answer, answer_file)
    with GradingService(settings) as service:
        question = service.question(question_id)
        service.rubric(question_id)
        result = service.grade_answer(question_id, text, names=candidate or ())
    if output_format is OutputFormat.json:
        typer.echo(result.model_dump_json(indent=2))
    elif output_format is OutputFormat.markdown:
        typer.echo(grade_markdown(result, question), nl=False)
    else:
        typer.echo(grade_text(result, question, text), nl=False)
    if result.status == "ungraded":
        typer.echo(f"grader: ungraded: {result.error}", err=True)
        unreachable = result.failure is not None and result.failure.code in (
            ErrorCode.llm_unavailable,
            ErrorCode.timeout,
        )
        if unreachable or strict:
            raise typer.Exit(code=1)


@app.command()
def questions(
    output_format: Annotated[OutputFormat, typer.Option("--format", help="text or json.")] = OutputFormat.text,
    bank: BankOpt = None,
) -> None:
    """List the questions of the bank."""
    import json

    from grader.bank.base import Bank
    from grader.bank.questions import load_questions
    from grader.config import settings_from_env

    items = load_questions(Bank.open(bank or settings_from_env().bank))
    if output_format is OutputFormat.json:
        typer.echo(json.dumps([q.model_dump() for q in items], indent=2, ensure_ascii=False))
        return
    section = None
    for q in items:
        heading = q.section + (f" / {q.subsection}" if q.subsection else "")
        if heading != section:
            typer.echo(("\n" if section else "") + heading)
            section = heading
        typer.echo(f"  {q.id}  {q.question}")


@cache_app.command("clear")
def cache_clear() -> None:
    """Empty the grade cache."""
    from grader.config import settings_from_env
    from grader.grading.cache import GradeCache

    path = settings_from_env().cache_path
    if path is None or not path.exists():
        typer.echo("The cache is already empty.")
        return
    from grader.authoring.calls import ResultStore

    store = ResultStore(path)  # drafts and reviews live in the same file
    authored = store.clear()
    store.close()
    cache = GradeCache(path)
    removed = cache.clear()
    cache.close()
    extra = f" and {authored} cached rubric drafts and reviews" if authored else ""
    typer.echo(f"Removed {removed} cached grades{extra} from {path}.")


def _register_subcommands() -> None:
    from grader.cli import audit as cli_audit
    from grader.cli import rubric as cli_rubric

    cli_rubric.register(app)
    cli_audit.register(app)
    from grader.cli import batch as cli_batch

    cli_batch.register(app)
    from grader.review import cli as review_cli

    review_cli.register(app)


_register_subcommands()


def main() -> None:
    """Console entry point."""
    _only_what_runs(app, sys.argv[1:])()


def _only_what_runs(root: typer.Typer, args: list[str]) -> typer.Typer:
    """`root` without what `args` will not run, for typer to build (a copy: `root` is left whole).

    Typer turns every command's signature into options before it parses anything (~12 ms for all of them).
    `grader CMD ...` needs only CMD; `grader` and `grader --help` list the commands, which needs their names
    and help, not their options. Anything else (a root option, an unknown command and its suggestions) is
    built in full, as before.
    """
    commands = {info.name or get_command_name(info.callback.__name__): info for info in root.registered_commands
                if info.callback is not None}  # fmt: skip
    groups = {info.name: info for info in root.registered_groups if info.name}
    if len(commands) != len(root.registered_commands) or len(groups) != len(root.registered_groups):
        return root  # a command or group typer names in another way: build everything
    first = args[0] if args else None
    trimmed = copy.copy(root)
    if first in commands or first in groups:
        trimmed.registered_commands = [commands[first]] if first in commands else []
        trimmed.registered_groups = [groups[first]] if first in groups else []
    elif not args or args == ["--help"]:
        trimmed.registered_commands = [_listed(info) for info in root.registered_commands]
        trimmed.registered_groups = [_listed_group(info) for info in root.registered_groups]
    else:
        return root
    return trimmed


def _listed(info: CommandInfo) -> CommandInfo:
    """A command as the list of commands shows it: its name and help, no options (so none to build)."""

    def listed() -> None:
        """Never run: only listed."""

    listed.__doc__ = info.callback.__doc__ if info.callback is not None else None
    shown = copy.copy(info)
    shown.name = info.name or get_command_name(getattr(info.callback, "__name__", ""))
    shown.callback = listed
    return shown


def _listed_group(info: TyperInfo) -> TyperInfo:
    """A group as the list of commands shows it: its name and help, none of its commands."""
    shown = copy.copy(info)
    if info.typer_instance is not None:
        shown.typer_instance = copy.copy(info.typer_instance)
        shown.typer_instance.registered_commands = []
        shown.typer_instance.registered_groups = []
    return shown
