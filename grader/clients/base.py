"""The client seam: what the grader needs from a language model, whatever serves it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from pydantic import BaseModel

from grader.models import Message, Usage

if TYPE_CHECKING:
    from grader.config import Settings

T = TypeVar("T", bound=BaseModel)


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


def make_client(settings: Settings) -> LLMClient:
    """The client for these settings: recorded replay, recording, or the real OpenAI SDK client."""
    if settings.record_dir is not None and not settings.record:
        from grader.clients.fake import RecordedClient

        return RecordedClient(settings.record_dir)
    from grader.clients.openai_client import OpenAIClient

    client = OpenAIClient.from_settings(settings)
    if settings.record_dir is not None:
        from grader.clients.fake import RecordingClient

        return RecordingClient(client, settings.record_dir)
    return client
