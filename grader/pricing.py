"""Cost of model calls, from genai-prices' bundled price list (works offline)."""

from __future__ import annotations

import functools
from dataclasses import dataclass


@dataclass(frozen=True)
class Price:
    """USD per million input and output tokens."""

    input_per_mtok: float
    output_per_mtok: float

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """USD for a number of tokens."""
        return (prompt_tokens * self.input_per_mtok + completion_tokens * self.output_per_mtok) / 1_000_000


@functools.lru_cache(maxsize=64)
def known_price(model: str) -> Price | None:
    """The price genai-prices lists for an OpenAI model name, or None for a model it does not know."""
    try:
        from genai_prices import Usage, calc_price
    except ImportError:  # pragma: no cover - genai-prices is a dependency; a broken install should not stop grading
        return None
    name = model.removeprefix("openai/")
    try:
        per_input = calc_price(Usage(input_tokens=1_000_000, output_tokens=0), model_ref=name, provider_id="openai")
        per_output = calc_price(Usage(input_tokens=0, output_tokens=1_000_000), model_ref=name, provider_id="openai")
    except (LookupError, ValueError):
        return None
    return Price(float(per_input.total_price), float(per_output.total_price))


def cost_usd(
    model: str | None, prompt_tokens: int | None, completion_tokens: int | None, price: Price | None = None
) -> float | None:
    """Cost of one call, or None when the price or the token counts are unknown."""
    price = price or (known_price(model) if model else None)
    if price is None or prompt_tokens is None or completion_tokens is None:
        return None
    return round(price.cost(prompt_tokens, completion_tokens), 8)
