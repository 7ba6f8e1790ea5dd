"""The real client: the official openai SDK, for OpenAI and any OpenAI-compatible server.

This is the only module that imports openai. It sends the per-rubric schema as a strict structured output
(the same `json_schema` response_format `chat.completions.parse` sends, built once per schema), lets the SDK
do its own retries (408, 409, 429 with Retry-After, 5xx), and translates every failure at this one boundary:
bad output becomes a Choice with an error (the grader re-asks), an unreachable or failing server becomes
LLMUnavailable (quoting the server's Retry-After), a rejected key becomes ConfigError.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
import re
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import openai
import pydantic

from grader.clients.base import Choice, ClientOptions, Completion, RequestOptions, T
from grader.errors import ConfigError, LLMTimeout, LLMUnavailable
from grader.models import Message, Usage

DEFAULT_BASE_URL = "https://api.openai.com/v1"
PLACEHOLDER_KEY = "not-needed"
"""Sent to a --base-url server when no key is set: the SDK insists on one, local servers ignore it."""
# Parameters some models or servers refuse (reasoning models refuse temperature; some proxies refuse
# seed or store): on a 400 naming one, it is dropped for the rest of the run and the request sent again.
_OPTIONAL_PARAMS = ("temperature", "seed", "store", "logprobs", "top_logprobs", "n", "max_completion_tokens")
_KEY_LIKE = re.compile(r"\bsk-[A-Za-z0-9_\-*.]{12,}")


def safe_url(url: str | None) -> str:
    """A base URL fit for messages: no user info, no query (either may carry a key)."""
    if not url:
        return DEFAULT_BASE_URL
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _check_base_url(url: str) -> None:
    """Refuse a base URL the SDK would crash on; the message never echoes the URL (it may hold a key)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ConfigError("--base-url is not a valid URL (bad host or port); e.g. http://localhost:8000/v1") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError("--base-url must be an http:// or https:// URL with a host, e.g. http://localhost:8000/v1")


class OpenAIClient:
    """LLMClient over openai.AsyncOpenAI; one instance is shared by all concurrent requests."""

    name = "openai"

    def __init__(self, sdk: openai.AsyncOpenAI, *, base_url: str | None, timeout: float) -> None:
        """Wrap an AsyncOpenAI client (tests pass one built on a local server)."""
        self._sdk = sdk
        self.base_url: str | None = safe_url(base_url)
        self.timeout = timeout
        self._dropped: set[str] = set()

    @classmethod
    def from_options(cls, options: ClientOptions) -> OpenAIClient:
        """Build the SDK client: explicit timeout (the SDK default is 600 s) and retries."""
        if not options.api_key and not options.base_url:
            raise ConfigError("No API key: set OPENAI_API_KEY, or pass --base-url for a local server")
        if options.base_url:
            _check_base_url(options.base_url)
        sdk = openai.AsyncOpenAI(
            api_key=str(options.api_key) if options.api_key else PLACEHOLDER_KEY,
            base_url=options.base_url,
            timeout=options.timeout,
            max_retries=options.max_retries,
        )
        return cls(sdk, base_url=options.base_url, timeout=options.timeout)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._sdk.close()

    async def acomplete(
        self, messages: list[Message], schema: type[T], *, model: str, options: RequestOptions
    ) -> Completion[T]:
        """One structured-output request; see the module docstring for what each failure becomes."""
        for _ in range(len(_OPTIONAL_PARAMS) + 1):
            params = self._params(options)
            try:
                raw = await self._sdk.chat.completions.with_raw_response.create(
                    **self.request_body(messages, schema, model=model, options=options)
                )
            except openai.BadRequestError as exc:
                refused = _refused_param(exc, params)
                if refused is None:
                    raise self._unavailable(exc) from None
                self._dropped.add(refused)
                continue
            except openai.APIError as exc:
                raise self._translate(exc) from None
            return _completion(raw, schema)
        raise LLMUnavailable(f"{self.base_url} refused every optional parameter")  # pragma: no cover

    def request_body(
        self, messages: list[Message], schema: type[T], *, model: str, options: RequestOptions
    ) -> dict[str, Any]:
        """The chat-completions body a live call sends: also one line's `body` in a Batch API request file."""
        return {
            "model": model,
            "messages": [m.model_dump() for m in messages],
            "response_format": response_format(schema),
            **self._params(options),
        }

    def parse_body(self, body: object, schema: type[T]) -> Completion[T]:
        """A chat completion's JSON (a Batch API output line's `response.body`), validated as a live reply is."""
        return completion_from_body(body, schema, json.dumps(body)[:500])

    # --- the Files and Batches APIs (the provider batch path, grader/batch/provider.py) ---

    async def upload_batch_file(self, name: str, data: bytes) -> str:
        """Upload a JSONL request file with purpose "batch"; its file id."""
        try:
            uploaded = await self._sdk.files.create(file=(name, data, "application/jsonl"), purpose="batch")
        except openai.APIError as exc:
            raise self._translate(exc) from None
        return str(uploaded.id)

    async def create_batch(self, input_file_id: str, metadata: dict[str, str]) -> dict[str, Any]:
        """Create a chat-completions batch over an uploaded file (24 h window); the Batch as a dict."""
        try:
            batch = await self._sdk.batches.create(
                input_file_id=input_file_id,
                endpoint="/v1/chat/completions",
                completion_window="24h",
                metadata=metadata,
            )
        except openai.APIError as exc:
            raise self._translate(exc) from None
        return batch.model_dump()

    async def retrieve_batch(self, batch_id: str) -> dict[str, Any]:
        """The Batch as a dict (status, request_counts, output_file_id, error_file_id, errors …)."""
        try:
            return (await self._sdk.batches.retrieve(batch_id)).model_dump()
        except openai.APIError as exc:
            raise self._translate(exc) from None

    async def cancel_batch(self, batch_id: str) -> dict[str, Any]:
        """Ask the server to cancel a batch; the Batch as a dict."""
        try:
            return (await self._sdk.batches.cancel(batch_id)).model_dump()
        except openai.APIError as exc:
            raise self._translate(exc) from None

    async def file_content(self, file_id: str) -> bytes:
        """The bytes of a file (a batch's output or error file)."""
        try:
            return (await self._sdk.files.content(file_id)).content
        except openai.APIError as exc:
            raise self._translate(exc) from None

    def _params(self, options: RequestOptions) -> dict[str, Any]:
        params: dict[str, Any] = {
            "temperature": options.temperature,
            "seed": options.seed,
            "store": options.store,
            "max_completion_tokens": options.max_completion_tokens,
        }
        if options.n > 1:
            params["n"] = options.n
        if options.logprobs:
            params["logprobs"] = True
            params["top_logprobs"] = 5
        return {k: v for k, v in params.items() if v is not None and k not in self._dropped}

    def _translate(self, exc: openai.APIError) -> Exception:
        if isinstance(exc, openai.APITimeoutError):
            return LLMTimeout(f"no reply from {self.base_url} within {self.timeout:g} s (--timeout)")
        if isinstance(exc, openai.AuthenticationError):
            return ConfigError(f"OPENAI_API_KEY rejected by {self.base_url} (401); set a valid key or --base-url")
        if isinstance(exc, openai.NotFoundError):
            message = self._scrub(_message(exc))
            return ConfigError(f"404 from {self.base_url}: {message} (check --model and --base-url)")
        if isinstance(exc, openai.APIConnectionError):
            reason = self._scrub(str(exc.__cause__ or exc.message))
            return LLMUnavailable(f"cannot connect to {self.base_url}: {reason}", transient=True)
        return self._unavailable(exc)

    def _unavailable(self, exc: openai.APIError) -> LLMUnavailable:
        status = getattr(exc, "status_code", None)
        message = f"{status or 'error'} from {self.base_url}: {self._scrub(_message(exc))}"
        wait = retry_after(exc)
        if wait is not None:  # for the person reading the error; the batch reads the number
            message += f" (retry after {wait:g} s)"
        # What the batch may try again: rate limits, server errors, and failures with no status at all.
        transient = status is None or status == 429 or 500 <= status <= 599
        return LLMUnavailable(message, retry_after=wait, transient=transient, rate_limited=status == 429)

    def _scrub(self, text: str) -> str:
        """Some servers and proxies echo the key in their error messages: never pass it on."""
        key = str(self._sdk.api_key or "")
        if len(key) >= 8:
            text = text.replace(key, "***")
        return _KEY_LIKE.sub("sk-***", text)


@functools.cache
def response_format(schema: type[pydantic.BaseModel]) -> dict[str, Any]:
    """The strict json_schema response_format for a schema, built once.

    `.parse` rebuilt it on every call, which was half the grader's CPU per request in a batch. Same builder as
    the SDK's, so the same bytes go out (tests/test_openai_client.py checks it against `.parse`'s own).
    """
    from openai.lib._pydantic import to_strict_json_schema  # the SDK's builder; openai is pinned to 3.x

    return {
        "type": "json_schema",
        "json_schema": {"schema": to_strict_json_schema(schema), "name": schema.__name__, "strict": True},
    }


def retry_after(exc: openai.APIError) -> float | None:
    """Seconds the server asked us to wait, capped at the SDK's own 120 s; None when it did not say."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    return parse_retry_after(headers.get("retry-after-ms"), headers.get("retry-after"))


def parse_retry_after(milliseconds: str | None, seconds_or_date: str | None) -> float | None:
    """Pure: the two Retry-After headers to seconds (retry-after-ms first, as the SDK reads them).

    retry-after may be seconds or an HTTP date; garbage, negative or non-finite values give None, a date
    already past gives 0.
    """
    wait: float | None = None
    for text, scale in ((milliseconds, 1000.0), (seconds_or_date, 1.0)):
        try:
            wait = float(text) / scale if text is not None else None
        except ValueError:
            wait = None
        if wait is not None:
            break
    if wait is None and seconds_or_date:
        try:
            when = parsedate_to_datetime(seconds_or_date)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        wait = max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())
    if wait is None or not math.isfinite(wait) or wait < 0:
        return None
    return min(wait, 120.0)


def _message(exc: openai.APIError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])[:300]
    return str(exc.message)[:300]


def _refused_param(exc: openai.BadRequestError, params: dict[str, Any]) -> str | None:
    """The optional parameter a 400 complains about, if it names one we sent."""
    text = _message(exc).lower()
    if not re.search(r"unsupported|not supported|does not support|unrecognized|unknown|not allowed|invalid", text):
        return None
    for name in _OPTIONAL_PARAMS:
        if name in params and re.search(rf"(?<![\w.]){name}(?![\w])", text):
            return name
    return None


def _completion(raw: Any, schema: type[T]) -> Completion[T]:
    """Turn the raw HTTP response into choices, validating each one on its own."""
    try:
        body = json.loads(raw.http_response.text)
    except (ValueError, UnicodeDecodeError):
        body = None
    return completion_from_body(body, schema, raw.http_response.text[:500])


def completion_from_body(body: object, schema: type[T], text: str) -> Completion[T]:
    """A chat completion's decoded JSON into choices, each validated on its own; `text` quotes a broken body."""
    if not isinstance(body, dict) or not isinstance(body.get("choices"), list) or not body["choices"]:
        return Completion(
            choices=[Choice(parsed=None, raw_text=text, error="the server's reply was not a chat completion")]
        )
    usage: dict[str, Any] = body["usage"] if isinstance(body.get("usage"), dict) else {}
    return Completion(
        choices=[_choice(item, schema) for item in body["choices"]],
        usage=Usage(
            prompt_tokens=_int(usage.get("prompt_tokens")), completion_tokens=_int(usage.get("completion_tokens"))
        ),
        model=body.get("model") if isinstance(body.get("model"), str) else None,
        system_fingerprint=body.get("system_fingerprint") if isinstance(body.get("system_fingerprint"), str) else None,
    )


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _choice(item: object, schema: type[T]) -> Choice[T]:
    if not isinstance(item, dict) or not isinstance(item.get("message"), dict):
        return Choice(parsed=None, raw_text=json.dumps(item)[:500], error="a choice without a message")
    message = item["message"]
    content = message.get("content") if isinstance(message.get("content"), str) else ""
    logprobs = item.get("logprobs", {}) or {}
    tokens = logprobs.get("content") if isinstance(logprobs, dict) else None
    tokens = tokens if isinstance(tokens, list) else None
    if message.get("refusal"):
        return Choice(parsed=None, raw_text=content, error=str(message["refusal"]), refused=True)
    finish = item.get("finish_reason")
    if finish == "content_filter":
        return Choice(
            parsed=None, raw_text=content, error="the server's content filter stopped the reply", refused=True
        )
    if finish == "length":
        return Choice(
            parsed=None,
            raw_text=content,
            error="the reply was cut off at the token limit (finish_reason=length); be brief",
        )
    try:
        parsed = schema.model_validate_json(content)
    except pydantic.ValidationError as exc:
        return Choice(parsed=None, raw_text=content, error=_validation_text(exc), logprobs=tokens)
    return Choice(parsed=parsed, raw_text=content, logprobs=tokens)


def _validation_text(exc: pydantic.ValidationError) -> str:
    lines = []
    for error in exc.errors(include_url=False)[:20]:
        loc = ".".join(str(p) for p in error["loc"]) or "(reply)"
        lines.append(f"{loc}: {error['msg']}")
    return "\n".join(lines)
