"""What limits a batch: the --max-cost budget and the server's rate limits.

A call starts only if what is spent, what is in flight and its own estimate (grader/estimate.py) fit the
budget, its completion never estimated below the longest completion seen. A rate limit's Retry-After (or a
backoff) closes a gate that every worker waits at before its next call.
"""

from __future__ import annotations

import asyncio
import random
import time

from grader.errors import Failure
from grader.models import Grade
from grader.pricing import Price, known_price


def price_for(model: str, override: Price | None) -> Price | None:
    """--price-in/--price-out, else the listed price of the model, else None."""
    return override or known_price(model)


class Budget:
    """--max-cost: a call starts only if what is spent, what is in flight and its own estimate fit."""

    def __init__(self, limit: float, price: Price) -> None:
        """A budget of `limit` USD at `price`."""
        self.limit, self.price = limit, price
        self.spent = self.reserved = 0.0
        self.max_completion = 0

    def reserve(self, prompt_tokens: int, completion_tokens: int) -> float | None:
        """Reserve the estimated cost of a call; None when it would not fit."""
        estimate = self.price.cost(prompt_tokens, max(completion_tokens, self.max_completion))
        if self.spent + self.reserved + estimate > self.limit:
            return None
        self.reserved += estimate
        return estimate

    def settle(self, reserved: float, grade: Grade) -> None:
        """Replace a reservation by what the call cost."""
        self.reserved -= reserved
        cost = grade.usage.cost_usd
        if cost is None:  # unknown: a server that reports no usage still charged, a refused call did not
            cost = reserved if grade.status == "graded" or grade.usage.prompt_tokens else 0.0
        self.spent += cost
        self.max_completion = max(self.max_completion, grade.usage.completion_tokens or 0)


def retry_delay(failure: Failure, attempt: int) -> float:
    """Seconds before trying a transient failure again: the server's Retry-After when it gave one, else a backoff."""
    if failure.retry_after is not None:
        return failure.retry_after  # the client capped it already
    backoff: float = min(30.0, 0.5 * 2**attempt)
    return backoff * (0.75 + random.random() / 2)


class RateGate:
    """While a server's Retry-After runs, nobody starts a call."""

    def __init__(self) -> None:
        """Open."""
        self.until = 0.0

    def hold(self, seconds: float) -> None:
        """Close the gate for this many seconds (never shortening a longer hold)."""
        self.until = max(self.until, time.monotonic() + seconds)

    async def wait(self) -> None:
        """Return once the gate is open."""
        while (left := self.until - time.monotonic()) > 0:
            await asyncio.sleep(left)
