"""The client seam: what the grader needs from a language model, whatever serves it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel

from grader.models import Message, Usage

T = TypeVar("T", bound=BaseModel)


@dataclass(frozen=True)
class ClientOptions:
    """How to reach a model server: plain values, so no client depends on the grader's Settings."""

    provider: str = "openai"
    """Which provider's client (grader.clients.select.PROVIDERS)."""
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    timeout: float = 60.0
    max_retries: int = 2
    record_dir: Path | None = None
    """Test doubles: replay (or with record=True, record) exchanges in this folder."""
    record: bool = False


@dataclass(frozen=True)
class RequestOptions:
    """Sampling options for one request; None means: leave it to the server."""

    temperature: float | None = 0.0
    seed: int | None = None
    n: int = 1
    logprobs: bool = False
    store: bool | None = False
    max_completion_tokens: int | None = 4096


@dataclass(frozen=True)
class Choice(Generic[T]):
    """One reply of the model."""

    parsed: T | None
    """None when the reply failed validation, was cut off or refused."""
    raw_text: str
    """Kept for audit and for the re-ask."""
    error: str | None = None
    """Why parsed is None: a validation message to show the model, or the refusal (then `refused` is set)."""
    refused: bool = False
    logprobs: list[dict[str, Any]] | None = None
    """Per output token: {"token", "logprob", "top_logprobs": [{"token", "logprob"}]}, when requested."""


@dataclass(frozen=True)
class Completion(Generic[T]):
    """A model's answer to one request."""

    choices: list[Choice[T]]
    usage: Usage = field(default_factory=Usage)
    model: str | None = None
    system_fingerprint: str | None = None

    @property
    def first(self) -> Choice[T]:
        """The first choice (requests ask for at least one)."""
        return self.choices[0]


class LLMClient(Protocol):
    """Anything that turns messages and a response schema into a Completion.

    Only the async method exists: a single grade runs the same path under asyncio.run, so there is one
    code path to test, and batch shares one client across concurrent requests.
    """

    name: str
    """Backend name shown in grades: "openai", "recorded", "scripted" …"""
    base_url: str | None

    async def acomplete(
        self, messages: list[Message], schema: type[T], *, model: str, options: RequestOptions
    ) -> Completion[T]:
        """Send one request; raise LLMUnavailable, LLMTimeout or ConfigError when there is no reply."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
