"""Test doubles behind the same seam as the real client.

- ScriptedClient replies from a queue (llm's MockModel, inspect's mockllm): for service logic.
- RecordedClient replays exchanges recorded from a real server, keyed by a hash of the request; a missing
  exchange fails loudly and says how to record it.
- RecordingClient wraps a real client and appends each exchange to the recording file.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from grader.clients.base import Choice, Completion, LLMClient, RequestOptions, T
from grader.models import Message, Usage

RECORDING_FILE = "exchanges.jsonl"


def request_key(messages: list[Message], schema: type[BaseModel], model: str, options: RequestOptions) -> str:
    """sha256 of a canonical form of everything that shapes a request."""
    canonical = json.dumps(
        {
            "model": model,
            "messages": [m.model_dump() for m in messages],
            "schema": schema.__name__,
            "schema_json": schema.model_json_schema(),
            "options": asdict(options),
        },
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _choice_from_text(text: str, schema: type[T]) -> Choice[T]:
    try:
        return Choice(parsed=schema.model_validate_json(text), raw_text=text)
    except ValidationError as exc:
        errors = "\n".join(
            f"{'.'.join(map(str, e['loc'])) or '(reply)'}: {e['msg']}" for e in exc.errors(include_url=False)
        )
        return Choice(parsed=None, raw_text=text, error=errors)


@dataclass
class ScriptedCall:
    """One request a ScriptedClient received."""

    messages: list[Message]
    schema: type[BaseModel]
    model: str
    options: RequestOptions


@dataclass
class ScriptedClient:
    """Replies from a queue of scripted replies; records each request in `.calls`.

    A reply is a pydantic model or dict (sent as its JSON), a raw string (sent as is, so it may be invalid
    JSON), or an Exception to raise.
    """

    name: str = "scripted"
    base_url: str | None = None
    replies: list[object] = field(default_factory=list)
    calls: list[ScriptedCall] = field(default_factory=list)
    usage: Usage = field(default_factory=lambda: Usage(prompt_tokens=100, completion_tokens=50))

    def enqueue(self, *replies: object) -> ScriptedClient:
        """Add replies to the queue; returns self so tests can chain."""
        self.replies.extend(replies)
        return self

    async def acomplete(
        self, messages: list[Message], schema: type[T], *, model: str, options: RequestOptions
    ) -> Completion[T]:
        """Pop the next reply (n of them when options.n > 1)."""
        self.calls.append(ScriptedCall(list(messages), schema, model, options))
        choices = []
        for _ in range(options.n):
            if not self.replies:
                raise AssertionError("ScriptedClient: no scripted reply left")
            reply = self.replies.pop(0)
            if isinstance(reply, BaseException):
                raise reply
            if isinstance(reply, BaseModel):
                text = reply.model_dump_json()
            elif isinstance(reply, dict):
                text = json.dumps(reply)
            else:
                text = str(reply)
            choices.append(_choice_from_text(text, schema))
        return Completion(choices=choices, usage=self.usage, model=model, system_fingerprint="fp_scripted")

    async def aclose(self) -> None:
        """Nothing to release."""


class MissingRecording(AssertionError):
    """A request with no recorded exchange."""


class RecordedClient:
    """Replays recorded exchanges; never touches the network."""

    name = "recorded"

    def __init__(self, directory: Path) -> None:
        """Load every exchange from directory/exchanges.jsonl."""
        self.base_url: str | None = None
        self.directory = directory
        self._exchanges: dict[str, dict[str, Any]] = {}
        path = directory / RECORDING_FILE
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    exchange = json.loads(line)
                    self._exchanges[exchange["key"]] = exchange

    async def acomplete(
        self, messages: list[Message], schema: type[T], *, model: str, options: RequestOptions
    ) -> Completion[T]:
        """The recorded reply to exactly this request."""
        key = request_key(messages, schema, model, options)
        exchange = self._exchanges.get(key)
        if exchange is None:
            raise MissingRecording(
                f"no recorded exchange {key[:12]}… in {self.directory / RECORDING_FILE}: the request changed. "
                "Re-record with GRADER_RECORD=1, GRADER_RECORDINGS=<dir> and a real OPENAI_API_KEY "
                "(or --base-url), then review the diff of the recording."
            )
        response = exchange["response"]
        return Completion(
            choices=[_choice_from_text(text, schema) for text in response["choices"]],
            usage=Usage(**exchange.get("usage", {})),
            model=response.get("model"),
            system_fingerprint=response.get("system_fingerprint"),
        )

    async def aclose(self) -> None:
        """Nothing to release."""


class RecordingClient:
    """Wraps a real client and records every exchange it completes."""

    def __init__(self, inner: LLMClient, directory: Path) -> None:
        """Record inner's exchanges into directory/exchanges.jsonl."""
        self.inner = inner
        self.name = inner.name
        self.base_url = inner.base_url
        self.path = directory / RECORDING_FILE
        directory.mkdir(parents=True, exist_ok=True)

    async def acomplete(
        self, messages: list[Message], schema: type[T], *, model: str, options: RequestOptions
    ) -> Completion[T]:
        """Forward the request and append the exchange."""
        completion = await self.inner.acomplete(messages, schema, model=model, options=options)
        exchange = {
            "key": request_key(messages, schema, model, options),
            "request": {"model": model, "schema": schema.__name__, "messages": [m.model_dump() for m in messages]},
            "response": {
                "choices": [c.raw_text for c in completion.choices],
                "model": completion.model,
                "system_fingerprint": completion.system_fingerprint,
            },
            "usage": completion.usage.model_dump(exclude={"cost_usd"}),
        }
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(exchange, ensure_ascii=False) + "\n")
        return completion

    async def aclose(self) -> None:
        """Close the wrapped client."""
        await self.inner.aclose()
