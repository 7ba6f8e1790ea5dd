"""Which client speaks to the model: the one registration point of the client backends."""

from __future__ import annotations

from grader.clients.base import ClientOptions, LLMClient


def make_client(options: ClientOptions) -> LLMClient:
    """The client for these options: recorded replay, recording, or the real OpenAI SDK client."""
    if options.record_dir is not None and not options.record:
        from grader.clients.fake import RecordedClient

        return RecordedClient(options.record_dir)
    from grader.clients.openai_client import OpenAIClient

    client = OpenAIClient.from_options(options)
    if options.record_dir is not None:
        from grader.clients.fake import RecordingClient

        return RecordingClient(client, options.record_dir)
    return client
