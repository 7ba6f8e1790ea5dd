"""Settings: the only place that reads the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

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


@dataclass(frozen=True)
class Settings:
    """Everything that configures a grading run; built once, from flags and the environment."""

    backend: Backend = "auto"
    model: str = DEFAULT_MODEL
    base_url: str | None = None
    api_key: Secret | None = field(default=None, repr=False)
    timeout: float = DEFAULT_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES
    reask_limit: int = DEFAULT_REASK_LIMIT
    samples: int = 1
    temperature: float | None = None
    """None: 0 for one sample, 0.7 for several."""
    seed: int = 0
    store: bool = False
    """OpenAI's `store` flag: off so that candidates' answers are not retained by the provider."""
    bank: Path | None = None
    cache_path: Path | None = None
    use_cache: bool = True
    max_answer_tokens: int = DEFAULT_MAX_ANSWER_TOKENS
    on_long_answer: Literal["truncate", "reject"] = "truncate"
    redact: bool = False
    audience: Literal["interviewer", "candidate"] = "interviewer"
    logprobs: bool = False
    shuffle_criteria: bool = False
    record_dir: Path | None = None
    """Test doubles: replay (or with record=True, record) exchanges in this folder."""
    record: bool = False

    @property
    def effective_temperature(self) -> float:
        """The sampling temperature actually sent."""
        if self.temperature is not None:
            return self.temperature
        return 0.7 if self.samples > 1 else 0.0

    @property
    def resolved_backend(self) -> Literal["openai", "offline"]:
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
