"""What the commands share: options, the one place that turns them into Settings, error handling, answer input."""

from __future__ import annotations

import functools
import inspect
import sys
import typing
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from grader.vocabulary import DEFAULT_MODEL, OutputFormat, ReportFormat

__all__ = ["OutputFormat", "ReportFormat"]

if TYPE_CHECKING:
    from grader.config import Settings

DEFAULT_MODEL_HELP = DEFAULT_MODEL


MAX_ANSWER_BYTES = 1_000_000


class GuardedGroup(TyperGroup):
    """Turns GraderError into one line on stderr and exit 1: user errors are never tracebacks."""

    def invoke(self, ctx: Any) -> Any:
        from grader.errors import GraderError

        try:
            return super().invoke(ctx)
        except GraderError as exc:
            message = " ".join(str(exc).split("\n")[:1])
            typer.echo(f"Error: {message}", err=True)
            raise typer.Exit(code=1) from None
        except KeyboardInterrupt:
            typer.echo("Interrupted.", err=True)
            raise typer.Exit(code=130) from None


def read_answer(answer: str | None, answer_file: Path | None) -> str:
    """The answer from --answer, --answer-file (PATH, or "-" for standard input) or standard input.

    Never waits on a terminal.

    Any bytes are read: text that is not UTF-8 is decoded with a detected encoding, said on stderr.
    """
    from grader.errors import InputError
    from grader.text.textfile import decode_bytes, read_bytes

    if answer is not None and answer_file is not None:
        raise InputError("give the answer once: --answer or --answer-file, not both")
    if answer_file is not None and str(answer_file) == "-":
        answer_file = None  # "-" is standard input, as for most command-line tools (a file named "-" is ./-)
    if answer is not None:
        data, name = answer.encode("utf-8", "surrogateescape"), "--answer"
    elif answer_file is not None:
        name = f"answer file {answer_file}"
        data = read_bytes(answer_file, name, max_bytes=MAX_ANSWER_BYTES)
    elif sys.stdin is None or sys.stdin.isatty():
        raise InputError("no answer: pass --answer TEXT, --answer-file PATH, or pipe the answer on standard input")
    else:
        name, raw = "standard input", getattr(sys.stdin, "buffer", None)
        data = (
            raw.read(MAX_ANSWER_BYTES + 1)
            if raw is not None
            else sys.stdin.read(MAX_ANSWER_BYTES + 1).encode("utf-8", "surrogateescape")
        )
        if len(data) > MAX_ANSWER_BYTES:  # cut at the limit, but never through a UTF-8 character
            data = data[:MAX_ANSWER_BYTES]
            end = len(data)
            while end > len(data) - 4 and end > 0 and (data[end - 1] & 0xC0) == 0x80:
                end -= 1
            if end > 0 and data[end - 1] >= 0xC0:
                data = data[: end - 1]
    text, encoding = decode_bytes(data, name)
    if encoding is not None:
        typer.echo(f"grader: {name} is not UTF-8; read it as {encoding}", err=True)
    return text


def read_text_file(path: Path, what: str) -> str:
    """A UTF-8 text file of at most MAX_ANSWER_BYTES, with one-line errors."""
    from grader.text.textfile import read_text

    return read_text(path, what, max_bytes=MAX_ANSWER_BYTES)


class BackendChoice(StrEnum):
    """Who decides the levels (kept for callers that pass an enum; the options themselves take the strings)."""

    auto = "auto"
    openai = "openai"
    offline = "offline"


class Audience(StrEnum):
    """Whom the feedback addresses."""

    interviewer = "interviewer"
    candidate = "candidate"


class LongAnswer(StrEnum):
    """What to do with an answer over the token budget."""

    truncate = "truncate"
    reject = "reject"


GRADING = ("bank", "backend", "model", "base_url", "timeout", "samples", "temperature", "seed", "use_cache", "redact",
           "audience", "max_answer_tokens", "on_long_answer", "logprobs", "shuffle_criteria")  # fmt: skip
"""The options of `grade` and `batch`: every setting with a flag."""
MEASURING = ("backend", "model", "base_url", "timeout", "use_cache", "bank")
"""The options of `eval` and `rubric calibrate`."""


def option(name: str) -> Any:
    """The typer annotation of a shared option, built from its declaration on the Settings field."""
    from grader.config import option_specs

    spec = option_specs()[name]
    if spec.flag is None:
        raise KeyError(f"{name} has no command-line flag")
    bounds: dict[str, Any] = {k: v for k, v in (("min", spec.minimum), ("max", spec.maximum)) if v is not None}
    hint = _settings_hints()[name]
    if spec.env is not None or cli_default(name) is None:  # not given: leave the environment's value alone
        return Annotated[hint | None, typer.Option(spec.flag, help=spec.help, show_default=False, **bounds)]
    return Annotated[hint, typer.Option(spec.flag, help=spec.help, **bounds)]


def cli_default(name: str) -> Any:
    """What a shared option is when not given: the Settings default, or None when the environment may set it."""
    from grader.config import option_specs

    return None if option_specs()[name].env is not None else _settings_default(name)


@functools.cache
def _settings_hints() -> dict[str, Any]:  # once: resolving them all for each of ~50 options was a third of --help
    import typing

    from grader.config import Settings

    return typing.get_type_hints(Settings)


def _settings_default(name: str) -> Any:
    from dataclasses import fields

    from grader.config import Settings

    return next(f.default for f in fields(Settings) if f.name == name)


def grading_options(names: tuple[str, ...] = GRADING) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Give a command the shared options `names`, as declared on Settings; it receives them as `settings`.

    The command declares a `settings: Settings` parameter instead of one parameter per option, so an option
    added to Settings reaches every grading command, and Settings' declaration says what it does to the cache.
    """

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        hints = typing.get_type_hints(command, include_extras=True)
        signature = inspect.signature(command)
        own = [p.replace(annotation=hints.get(p.name, p.annotation)) for p in signature.parameters.values()]
        own = [p for p in own if p.name != "settings"]
        added = [
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                default=cli_default(name),
                annotation=option(name),
            )
            for name in names
        ]

        @functools.wraps(command)
        def run(**values: Any) -> None:
            chosen = {name: values.pop(name) for name in names}
            settings = build_settings(announce=False, **chosen)
            command(settings=settings, **values)
            announce_fallback(settings)  # after the work, so an informational notice never comes before an error

        parameters = [*own, *added]
        run.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        run.__annotations__ = {p.name: p.annotation for p in parameters}
        return run

    return decorate


if TYPE_CHECKING:  # what the type checker needs to know; the flags come from the declaration below
    BankOpt = Path | None
    BackendOpt = str | None
    ModelOpt = str | None
    BaseUrlOpt = str | None
    TimeoutOpt = float | None
else:
    BankOpt = option("bank")
    BackendOpt = option("backend")
    ModelOpt = option("model")
    BaseUrlOpt = option("base_url")
    TimeoutOpt = option("timeout")
StrictOpt = Annotated[bool, typer.Option("--strict", help="Exit 1 if any answer ends ungraded.")]


def build_settings(*, announce: bool = True, **options: Any) -> Settings:
    """Environment first, then the options given on top (None: not given); announces the offline fallback.

    Options are named as the Settings fields (`no_cache=True` is accepted for `use_cache=False`).
    """
    from grader.config import settings_from_env

    if "no_cache" in options:
        options["use_cache"] = not options.pop("no_cache")
    values = {name: value.value if isinstance(value, StrEnum) else value for name, value in options.items()}
    settings = settings_from_env().with_overrides(**values)
    if announce:
        announce_fallback(settings)
    return settings


def announce_fallback(settings: Settings) -> None:
    """Say on stderr that no LLM is configured and the offline grader is grading."""
    if settings.offline_fallback:
        typer.echo(
            "grader: no LLM configured (set OPENAI_API_KEY, or --base-url for a local server): grading with the "
            "built-in offline grader, whose score is a key-point estimate, not a model's reading of the answer.",
            err=True,
        )
