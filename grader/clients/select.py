"""Which client speaks to the model: the one registration point of the model providers.

A new provider SDK is a module beside openai_client.py and one entry in PROVIDERS (plus its name among the
`--backend` choices, config.Backend).
"""

from __future__ import annotations

from collections.abc import Callable

from grader.clients.base import ClientOptions, LLMClient
from grader.errors import ConfigError


def _openai(options: ClientOptions) -> LLMClient:
    from grader.clients.openai_client import OpenAIClient  # imported on use: the SDK takes a moment to load

    return OpenAIClient.from_options(options)


PROVIDERS: dict[str, Callable[[ClientOptions], LLMClient]] = {"openai": _openai}
"""Provider name (a `--backend` value) -> the factory of its client."""


def make_client(options: ClientOptions) -> LLMClient:
    """The client for these options: recorded replay, recording, or the provider's real SDK client."""
    if options.record_dir is not None and not options.record:
        from grader.clients.fake import RecordedClient

        return RecordedClient(options.record_dir)
    factory = PROVIDERS.get(options.provider)
    if factory is None:
        raise ConfigError(f"unknown backend {options.provider!r}: choose one of {', '.join(sorted(PROVIDERS))}")
    client = factory(options)
    if options.record_dir is not None:
        from grader.clients.fake import RecordingClient

        return RecordingClient(client, options.record_dir)
    return client
