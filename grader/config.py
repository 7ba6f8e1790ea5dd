"""Settings: the only place that reads the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

from grader.errors import ConfigError
from grader.vocabulary import DEFAULT_MAX_ANSWER_TOKENS, DEFAULT_MODEL, DEFAULT_TIMEOUT

__all__ = ["DEFAULT_MAX_ANSWER_TOKENS", "DEFAULT_MODEL", "DEFAULT_TIMEOUT", "Secret", "Settings", "settings_from_env"]

DEFAULT_MAX_RETRIES = 2
DEFAULT_REASK_LIMIT = 2

Backend = Literal["auto", "openai", "offline"]


class Secret(str):
    """A string that never shows itself in repr, logs or tracebacks."""

    def __repr__(self) -> str:
        return "Secret('***')"


KEY = "key"
"""An option whose value goes into the cache key as it is."""
JUDGE = "judge"
"""An option that reaches the cache key through the judge's profile (model, server, backend)."""


@dataclass(frozen=True)
class OptionSpec:
    """What a setting is to the commands and the cache: declared once, on the Settings field."""

    cache: str
    """KEY, JUDGE, or why the value cannot change a grade (then it stays out of the cache key)."""
    flag: str | None = None
    """The flag every grading command shares, or None (environment or code only)."""
    help: str = ""
    minimum: float | None = None
    maximum: float | None = None
    key_as: str | None = None
    """The attribute whose value goes into the key, when it is not the field (e.g. the temperature sent)."""
    env: str | None = None
    """The environment variable that may set it (then the flag, when not given, leaves that value alone)."""


def setting(default: Any, cache: str, flag: str | None = None, help: str = "", **spec: Any) -> Any:
    """A Settings field with its OptionSpec (`repr` goes to the dataclass field, the rest to the spec)."""
    shown = spec.pop("repr", True)
    return field(default=default, repr=shown, metadata={"option": OptionSpec(cache, flag, help, **spec)})


@dataclass(frozen=True)
class Settings:
    """Everything that configures a grading run; built once, from flags and the environment.

    Each field declares its flag (for the options the grading commands share) and whether it shapes the
    request, so the commands (grader.cli.options) and the cache key (`cache_options`) follow from here:
    an option cannot be added without saying what it does to the cache key (tests/test_options.py).
    """

    backend: Backend = setting("auto", JUDGE, "--backend", "auto: openai when OPENAI_API_KEY or a base URL is set, "
                               "else the offline grader.")  # fmt: skip
    model: str = setting(DEFAULT_MODEL, JUDGE, "--model", f"Model name, sent verbatim (env GRADER_MODEL; default "
                         f"{DEFAULT_MODEL}).", env="GRADER_MODEL")  # fmt: skip
    base_url: str | None = setting(None, JUDGE, "--base-url", "OpenAI-compatible server, e.g. "
                                   "http://localhost:8000/v1 (env OPENAI_BASE_URL).",
                                   env="OPENAI_BASE_URL")  # fmt: skip
    api_key: Secret | None = setting(None, "who pays for a request does not change its reply", repr=False)
    timeout: float = setting(DEFAULT_TIMEOUT, "how long to wait does not change the reply", "--timeout",
                             f"Seconds per model request \\[default: {DEFAULT_TIMEOUT:g}].", minimum=0.1,
                             env="GRADER_TIMEOUT")  # fmt: skip
    max_retries: int = setting(DEFAULT_MAX_RETRIES, "a retried request asks the same")
    reask_limit: int = setting(DEFAULT_REASK_LIMIT, KEY)
    samples: int = setting(1, KEY, "--samples", "Independent judgements, combined per criterion.", minimum=1,
                           maximum=20)  # fmt: skip
    temperature: float | None = setting(None, KEY, "--temperature", "Sampling temperature \\[default: 0, or 0.7 "
                                        "with --samples > 1].", minimum=0.0, maximum=2.0,
                                        key_as="effective_temperature")  # fmt: skip
    """None: 0 for one sample, 0.7 for several."""
    seed: int = setting(0, KEY, "--seed", "Seed sent to the model (sample i uses seed + i).")
    store: bool = setting(False, "whether the provider keeps a request does not change its reply")
    """OpenAI's `store` flag: off so that candidates' answers are not retained by the provider."""
    bank: Path | None = setting(None, "the key holds the rubric, question and templates the bank gives", "--bank",
                                "Question bank folder (else GRADER_BANK, else the shipped bank).",
                                env="GRADER_BANK")  # fmt: skip
    cache_path: Path | None = setting(None, "where the cache lives")
    use_cache: bool = setting(True, "whether the cache is used", "--cache/--no-cache", "Read and write the grade "
                              "cache (--no-cache: neither).")  # fmt: skip
    max_answer_tokens: int = setting(DEFAULT_MAX_ANSWER_TOKENS, "the key holds the answer as fitted to the budget",
                                     "--max-answer-tokens", "Token budget for one answer.", minimum=50)  # fmt: skip
    on_long_answer: Literal["truncate", "reject"] = setting("truncate", "the key holds the answer as fitted (a "
                                                            "rejected one is never graded)", "--on-long-answer",
                                                            "Truncate (flag answer_truncated) or reject.")  # fmt: skip
    redact: bool = setting(False, KEY, "--redact", "Replace e-mails, phone numbers and known names before grading.")
    audience: Literal["interviewer", "candidate"] = setting("interviewer", KEY, "--audience",
                                                            "candidate: feedback addressed to the candidate, "
                                                            "no internal notes.")  # fmt: skip
    logprobs: bool = setting(False, KEY, "--logprobs", "Weight levels by their token probabilities where the model "
                             "returns logprobs.")  # fmt: skip
    shuffle_criteria: bool = setting(False, KEY, "--shuffle-criteria", "Shuffle criteria order in the prompt (tests "
                                     "order effects).")  # fmt: skip
    record_dir: Path | None = setting(None, "test doubles replay what was recorded")
    """Test doubles: replay (or with record=True, record) exchanges in this folder."""
    record: bool = setting(False, "test doubles record what the real client replies")

    @property
    def effective_temperature(self) -> float:
        """The sampling temperature actually sent."""
        if self.temperature is not None:
            return self.temperature
        return 0.7 if self.samples > 1 else 0.0

    @property
    def resolved_backend(self) -> str:
        """`auto` resolved: openai when a key or base URL is configured, else offline."""
        if self.backend == "auto":
            return "openai" if (self.api_key or self.base_url or self.record_dir) else "offline"
        return self.backend

    @property
    def offline_fallback(self) -> bool:
        """`auto` with no key, no base URL and no recordings: the offline judge grades (the CLI says so)."""
        return self.backend == "auto" and not (self.api_key or self.base_url or self.record_dir)

    def with_overrides(self, **changes: object) -> Settings:
        """A copy with some fields changed (None values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})  # type: ignore[arg-type]


def option_specs() -> dict[str, OptionSpec]:
    """Every Settings field's declaration, by field name."""
    return {f.name: f.metadata["option"] for f in fields(Settings)}


def cache_options(settings: Settings) -> dict[str, object]:
    """The settings that go into the cache key as they are (the KEY ones), by name."""
    return {name: getattr(settings, spec.key_as or name) for name, spec in option_specs().items() if spec.cache == KEY}


def _positive_float(value: str, name: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"{name}={value!r} is not a number") from None
    if not number > 0:
        raise ConfigError(f"{name}={value!r} must be above 0")
    return number


def settings_from_env(env: Mapping[str, str] | None = None) -> Settings:
    """Settings from the environment alone; the CLI then applies its flags on top."""
    env = os.environ if env is None else env
    key = env.get("OPENAI_API_KEY") or None
    cache = env.get("GRADER_CACHE")
    if cache is None:
        cache_home = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        cache = str(Path(cache_home) / "grader" / "cache.sqlite")
    record_dir = env.get("GRADER_RECORDINGS")
    return Settings(
        model=env.get("GRADER_MODEL") or DEFAULT_MODEL,
        base_url=env.get("OPENAI_BASE_URL") or None,
        api_key=Secret(key) if key else None,
        timeout=_positive_float(env["GRADER_TIMEOUT"], "GRADER_TIMEOUT")
        if env.get("GRADER_TIMEOUT")
        else DEFAULT_TIMEOUT,
        bank=Path(env["GRADER_BANK"]) if env.get("GRADER_BANK") else None,
        cache_path=Path(cache).expanduser(),
        record_dir=Path(record_dir) if record_dir else None,
        record=env.get("GRADER_RECORD") == "1",
    )
