"""One authoring request through the grading machinery: the same client, cache file, prices and dry runs.

Drafts and reviews are cached beside the grades (same SQLite file, a table of their own), keyed on everything
that shapes the request, so running `rubric review` twice on an unchanged rubric makes one model call.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from grader.clients.base import Choice, LLMClient, RequestOptions, T
from grader.clients.select import make_client
from grader.config import Settings
from grader.errors import ConfigError, LLMUnavailable
from grader.grading.cache import cache_key
from grader.judges.select import client_options, judge_profile
from grader.models import Message, Usage
from grader.pricing import cost_usd, known_price
from grader.version import __version__

REASK = "Your previous reply was not usable:\n{errors}\nReturn the corrected, complete JSON."
_TABLE = """
CREATE TABLE IF NOT EXISTS authoring (
    key TEXT PRIMARY KEY,
    job TEXT NOT NULL,
    result TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
)
"""


class ResultStore:
    """Authoring results by key, in the grade cache's file (a corrupt file is reported, never fatal)."""

    def __init__(self, path: Path) -> None:
        """Open (creating) the table."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, timeout=30, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(_TABLE)
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"cache {path}: {exc} (use --no-cache or set GRADER_CACHE to another file)") from None

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored result, or None."""
        row = self._db.execute("SELECT result FROM authoring WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        try:
            value = json.loads(row[0])
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    def put(self, key: str, job: str, result: dict[str, Any]) -> None:
        """Store a result."""
        self._db.execute(
            "INSERT OR REPLACE INTO authoring (key, job, result) VALUES (?, ?, ?)",
            (key, job, json.dumps(result, ensure_ascii=False)),
        )

    def clear(self) -> int:
        """Delete every stored result; returns how many there were."""
        count = int(self._db.execute("SELECT COUNT(*) FROM authoring").fetchone()[0])
        self._db.execute("DELETE FROM authoring")
        return count

    def close(self) -> None:
        """Close the connection."""
        self._db.close()


@dataclass(frozen=True)
class DryRun:
    """What a request would cost, without making it."""

    model: str
    prompt_tokens: int
    max_completion_tokens: int
    max_requests: int
    cost_usd: float | None
    """For one request at its largest; None when the model has no known price."""

    def describe(self, job: str) -> str:
        """One paragraph for the user."""
        price = (
            f"at most ${self.cost_usd:.4f} a request"
            if self.cost_usd is not None
            else f"no known price for {self.model}"
        )
        return (
            f"dry run: {job} would send {self.prompt_tokens} prompt tokens (schema included) to {self.model}, "
            f"with up to {self.max_completion_tokens} completion tokens; {price}; "
            f"up to {self.max_requests} requests with the re-asks. Nothing was sent or written."
        )


@dataclass
class AuthoringSession:
    """Requests for one authoring command: one client, a running tally of tokens and cost."""

    settings: Settings
    client: LLMClient | None = None
    usage: Usage = field(default_factory=Usage)
    requests: int = 0
    served_model: str | None = None
    cached: bool = False
    _store: ResultStore | None = None

    def ensure_model(self) -> None:
        """Refuse to run without a model (there is no offline author)."""
        if self.client is None and not judge_profile(self.settings).calls_model:
            raise ConfigError(
                "drafting and reviewing rubrics need a model: set OPENAI_API_KEY, or pass --base-url for a local "
                "OpenAI-compatible server"
            )

    @property
    def store(self) -> ResultStore | None:
        """The result cache, unless --no-cache."""
        if self._store is None and self.settings.use_cache and self.settings.cache_path is not None:
            self._store = ResultStore(self.settings.cache_path)
        return self._store

    def key(self, job: str, parts: dict[str, Any]) -> str:
        """Cache key: the job's own parts plus the model, server and options that shape every request."""
        s = self.settings
        return cache_key(
            {
                "job": job,
                "grader": __version__,
                "model": s.model,
                "base_url": s.base_url,
                "options": [s.temperature, s.seed, s.reask_limit],
                **parts,
            }
        )

    def options(self, max_completion_tokens: int) -> RequestOptions:
        """Sampling options: deterministic unless --temperature says otherwise."""
        s = self.settings
        temperature = s.temperature if s.temperature is not None else 0.0
        return RequestOptions(
            temperature=temperature, seed=s.seed, store=s.store, max_completion_tokens=max_completion_tokens
        )

    async def ask(self, messages: list[Message], schema: type[T], max_completion_tokens: int) -> Choice[T]:
        """One request; its tokens and cost are added to the tally."""
        self.ensure_model()
        if self.client is None:
            self.client = make_client(client_options(self.settings))
        self.requests += 1
        completion = await self.client.acomplete(
            messages, schema, model=self.settings.model, options=self.options(max_completion_tokens)
        )
        cost = cost_usd(self.settings.model, completion.usage.prompt_tokens, completion.usage.completion_tokens)
        if cost is None and completion.model and completion.model != self.settings.model:
            cost = cost_usd(completion.model, completion.usage.prompt_tokens, completion.usage.completion_tokens)
        self.usage = self.usage + completion.usage.model_copy(update={"cost_usd": cost})
        self.served_model = self.served_model or completion.model
        if not completion.choices:
            raise LLMUnavailable(f"{self.client.base_url or self.client.name}: a completion without choices")
        return completion.first

    def dry_run(self, messages: list[Message], schema: type[BaseModel], max_completion_tokens: int) -> DryRun:
        """Tokens and the largest cost of one request, counted locally."""
        from grader.clients.openai_client import response_format
        from grader.text.tokens import TokenCounter

        counter = TokenCounter.for_model(self.settings.model)
        text = "".join(m.content for m in messages) + json.dumps(response_format(schema))
        tokens = counter.count(text)
        price = known_price(self.settings.model)
        cost = price.cost(tokens, max_completion_tokens) if price else None
        return DryRun(self.settings.model, tokens, max_completion_tokens, self.settings.reask_limit + 1, cost)

    def spent(self) -> str:
        """One line: requests, tokens and cost."""
        if self.cached:
            return "from the cache: no model call"
        u = self.usage
        cost = "cost unknown" if u.cost_usd is None else f"${u.cost_usd:.4f}"
        plural = "s" if self.requests != 1 else ""
        return (
            f"{self.requests} request{plural} to {self.served_model or self.settings.model}: "
            f"{u.prompt_tokens or 0} prompt + {u.completion_tokens or 0} completion tokens, {cost}"
        )

    async def aclose(self) -> None:
        """Release the client and the cache."""
        if self.client is not None:
            await self.client.aclose()
        if self._store is not None:
            self._store.close()
            self._store = None
