"""What the commands share: options, the one place that turns them into Settings, error handling, answer input."""

from __future__ import annotations

import sys
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
    """The answer from --answer, --answer-file or standard input (never waiting on a terminal)."""
    from grader.errors import InputError

    if answer is not None and answer_file is not None:
        raise InputError("give the answer once: --answer or --answer-file, not both")
    if answer is not None:
        return answer
    if answer_file is not None:
        return read_text_file(answer_file, "answer file")
    if sys.stdin is None or sys.stdin.isatty():
        raise InputError("no answer: pass --answer TEXT, --answer-file PATH, or pipe the answer on standard input")
    return sys.stdin.read(MAX_ANSWER_BYTES + 1)[:MAX_ANSWER_BYTES]


def read_text_file(path: Path, what: str) -> str:
    """A UTF-8 text file of at most MAX_ANSWER_BYTES, with one-line errors."""
    from grader.text.textfile import read_text

    return read_text(path, what, max_bytes=MAX_ANSWER_BYTES)


class BackendChoice(StrEnum):
    """Who decides the levels."""

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


BankOpt = Annotated[
    Path | None,
    typer.Option("--bank", help="Question bank folder (else GRADER_BANK, else the shipped bank).", show_default=False),
]
BackendOpt = Annotated[
    BackendChoice,
    typer.Option(help="auto: openai when OPENAI_API_KEY or a base URL is set, else the offline grader."),
]
ModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model",
        help=f"Model name, sent verbatim (env GRADER_MODEL; default {DEFAULT_MODEL_HELP}).",
        show_default=False,
    ),
]
BaseUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--base-url",
        help="OpenAI-compatible server, e.g. http://localhost:8000/v1 (env OPENAI_BASE_URL).",
        show_default=False,
    ),
]
TimeoutOpt = Annotated[
    float | None,
    typer.Option("--timeout", min=0.1, help="Seconds per model request \\[default: 60].", show_default=False),
]
SamplesOpt = Annotated[
    int, typer.Option("--samples", min=1, max=20, help="Independent judgements, combined per criterion.")
]
TemperatureOpt = Annotated[
    float | None,
    typer.Option(
        "--temperature",
        min=0.0,
        max=2.0,
        help="Sampling temperature \\[default: 0, or 0.7 with --samples > 1].",
        show_default=False,
    ),
]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed sent to the model (sample i uses seed + i).")]
NoCacheOpt = Annotated[bool, typer.Option("--no-cache", help="Neither read nor write the grade cache.")]
RedactOpt = Annotated[
    bool, typer.Option("--redact", help="Replace e-mails, phone numbers and known names before grading.")
]
AudienceOpt = Annotated[
    Audience, typer.Option(help="candidate: feedback addressed to the candidate, no internal notes.")
]
MaxTokensOpt = Annotated[int, typer.Option("--max-answer-tokens", min=50, help="Token budget for one answer.")]
LongAnswerOpt = Annotated[
    LongAnswer, typer.Option("--on-long-answer", help="Truncate (flag answer_truncated) or reject.")
]
LogprobsOpt = Annotated[
    bool,
    typer.Option("--logprobs", help="Weight levels by their token probabilities where the model returns logprobs."),
]
ShuffleOpt = Annotated[
    bool, typer.Option("--shuffle-criteria", help="Shuffle criteria order in the prompt (tests order effects).")
]
StrictOpt = Annotated[bool, typer.Option("--strict", help="Exit 1 if any answer ends ungraded.")]


def build_settings(
    *,
    bank: Path | None = None,
    backend: BackendChoice = BackendChoice.auto,
    model: str | None = None,
    base_url: str | None = None,
    timeout: float | None = None,
    samples: int = 1,
    temperature: float | None = None,
    seed: int = 0,
    no_cache: bool = False,
    redact: bool = False,
    audience: Audience = Audience.interviewer,
    max_answer_tokens: int | None = None,
    on_long_answer: LongAnswer = LongAnswer.truncate,
    logprobs: bool = False,
    shuffle_criteria: bool = False,
) -> Settings:
    """Environment first, then flags on top; announces the offline fallback on stderr."""
    from grader.config import settings_from_env

    settings = settings_from_env().with_overrides(
        bank=bank,
        backend=backend.value,
        model=model,
        base_url=base_url,
        timeout=timeout,
        samples=samples,
        temperature=temperature,
        seed=seed,
        use_cache=not no_cache,
        redact=redact,
        audience=audience.value,
        max_answer_tokens=max_answer_tokens,
        on_long_answer=on_long_answer.value,
        logprobs=logprobs,
        shuffle_criteria=shuffle_criteria,
    )
    if settings.offline_fallback:
        typer.echo(
            "grader: no LLM configured (set OPENAI_API_KEY, or --base-url for a local server): "
            "grading with the built-in offline grader.",
            err=True,
        )
    return settings
