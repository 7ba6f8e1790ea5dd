"""The files of the provider Batch API path: request lines, their split, the recorded batch ids, output lines, prices.

Pure and synchronous; grader/batch/provider.py runs the batch. Formats (OpenAI Batch API, also `vllm run-batch`):

    request line   {"custom_id": ID, "method": "POST", "url": "/v1/chat/completions", "body": {...}}
    output line    {"id": ..., "custom_id": ID, "response": {"status_code": 200, "request_id": ..., "body": {...}},
                    "error": null}
    error line     {"id": ..., "custom_id": ID, "response": null | {"status_code": 500, ...},
                    "error": {"code": ..., "message": ...}}
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.errors import InputError
from grader.pricing import Price, known_price

ENDPOINT = "/v1/chat/completions"
REQUESTS = "batch_requests.jsonl"
STATE = "provider_batch.json"
MAX_REQUESTS = 50_000
"""OpenAI's limit of requests per batch input file."""
MAX_BYTES = 200 * 1024 * 1024
"""OpenAI's limit on a batch input file's size."""
TERMINAL = ("completed", "failed", "expired", "cancelled")


def request_line(custom_id: str, body: dict[str, Any]) -> bytes:
    """One line of a Batch API request file (with its newline)."""
    line = {"custom_id": custom_id, "method": "POST", "url": ENDPOINT, "body": body}
    return (json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def split_lines(
    lines: Sequence[tuple[str, bytes]], max_requests: int = MAX_REQUESTS, max_bytes: int = MAX_BYTES
) -> list[list[tuple[str, bytes]]]:
    """Request lines (custom_id, bytes) in input files within the provider's limits, in order."""
    chunks: list[list[tuple[str, bytes]]] = []
    size = 0
    for custom_id, data in lines:
        if len(data) > max_bytes:
            raise InputError(f"the request for {custom_id} alone is {len(data):,} bytes, over the {max_bytes:,} limit")
        if not chunks or len(chunks[-1]) >= max_requests or size + len(data) > max_bytes:
            chunks.append([])
            size = 0
        chunks[-1].append((custom_id, data))
        size += len(data)
    return chunks


# --- the recorded batches: DIR/provider_batch.json, written before any wait -------------------------------------


@dataclass
class Recorded:
    """One batch created on the server, and the answers it carries."""

    id: str
    input_file_id: str
    custom_ids: list[str]
    collected: bool = False
    """Its results are written (and its failed lines re-asked live): it is never polled again."""
    status: str | None = None
    reason: str | None = None


@dataclass
class State:
    """Every batch this out folder created, in order."""

    batches: list[Recorded] = field(default_factory=list)

    def waiting(self) -> list[Recorded]:
        """Batches not collected yet."""
        return [b for b in self.batches if not b.collected]

    def carried(self) -> set[str]:
        """custom_ids that a batch not yet collected carries."""
        return {cid for b in self.waiting() for cid in b.custom_ids}


def read_state(out: Path) -> State:
    """The recorded batches of an out folder (none when there is no file)."""
    path = out / STATE
    if not path.is_file():
        return State()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return State([Recorded(**entry) for entry in data["batches"]])
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path}: not a record of provider batches ({exc}); restore it or start a new --out") from None


def write_state(out: Path, state: State) -> None:
    """Record the batches atomically (write, fsync, rename), so a kill never leaves half a record."""
    path = out / STATE
    data = {"batches": [vars(b) for b in state.batches]}
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


# --- output and error files ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineResult:
    """What a Batch API output or error file says about one request."""

    custom_id: str
    body: dict[str, Any] | None
    """The chat completion, when the request succeeded (status 200)."""
    error: str | None = None
    """Why it failed, in the server's words."""


def read_output(lines: Iterable[bytes | str]) -> dict[str, LineResult]:
    """The results of output and error file lines by custom_id (a success wins over a failure of the same id)."""
    found: dict[str, LineResult] = {}
    for number, raw in enumerate(lines, 1):
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        if not text.strip():
            continue
        try:
            line = json.loads(text)
        except ValueError:
            raise InputError(f"line {number} of a batch output file is not JSON: {text[:80]!r}") from None
        if not isinstance(line, dict) or not isinstance(line.get("custom_id"), str):
            raise InputError(f"line {number} of a batch output file has no custom_id")
        result = _line_result(line)
        if line["custom_id"] not in found or result.body is not None:
            found[line["custom_id"]] = result
    return found


def _line_result(line: dict[str, Any]) -> LineResult:
    custom_id = line["custom_id"]
    response = line.get("response") if isinstance(line.get("response"), dict) else None
    error = line.get("error")
    status = response.get("status_code") if response else None
    body = response.get("body") if response else None
    if status == 200 and isinstance(body, dict) and not error:
        return LineResult(custom_id, body)
    if isinstance(error, dict):
        reason = f"{error.get('code') or 'error'}: {error.get('message') or ''}".strip()
    elif isinstance(body, dict) and isinstance(body.get("error"), dict):
        reason = f"{status}: {body['error'].get('message', '')}"
    else:
        reason = f"status {status}" if status is not None else "no response"
    return LineResult(custom_id, None, reason[:300])


def batch_reason(batch: dict[str, Any]) -> str:
    """Why a batch ended without completing, in the server's words where it gave some."""
    status = batch.get("status")
    errors = batch.get("errors") or {}
    messages = [str(e.get("message") or e.get("code")) for e in errors.get("data") or [] if isinstance(e, dict)]
    if messages:
        return f"{status}: " + "; ".join(messages[:3])
    if status == "expired":
        return "expired: the 24 h completion window ended before every request ran"
    if status == "cancelled":
        return "cancelled (on the server, or by someone with access to the batch)"
    return f"{status}"


# --- prices --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchPrice:
    """The batch rate of a model and where it comes from."""

    price: Price | None
    source: str
    """ "genai-prices' batch price", or why it is half the live price."""

    def factor(self, live: Price | None) -> float:
        """Batch cost over live cost (applied to replies the batch returned)."""
        if self.price is None or live is None or not live.input_per_mtok:
            return 0.5
        return self.price.input_per_mtok / live.input_per_mtok


def batch_price(model: str, override: Price | None) -> BatchPrice:
    """genai-prices' batch price of a model when it lists one, else half the live price (--price-in/out or listed)."""
    if override is not None:
        half = Price(override.input_per_mtok / 2, override.output_per_mtok / 2)
        return BatchPrice(half, "half of --price-in/--price-out (the usual Batch API discount)")
    live = known_price(model)
    if live is None:
        return BatchPrice(None, f"{model} has no listed price")
    listed = _listed_batch_price(model)
    if listed is not None and listed != live:
        return BatchPrice(listed, "genai-prices' batch price")
    half = Price(live.input_per_mtok / 2, live.output_per_mtok / 2)
    return BatchPrice(half, f"half the live price: genai-prices lists no batch price for {model}")


def _listed_batch_price(model: str) -> Price | None:
    try:
        from genai_prices import Usage, calc_price
    except ImportError:  # pragma: no cover
        return None
    name, context = model.removeprefix("openai/"), {"processing": "batch"}
    try:
        per_in = calc_price(Usage(input_tokens=1_000_000, output_tokens=0), model_ref=name, provider_id="openai",
                            price_context=context)  # fmt: skip
        per_out = calc_price(Usage(input_tokens=0, output_tokens=1_000_000), model_ref=name, provider_id="openai",
                             price_context=context)  # fmt: skip
    except (LookupError, ValueError, TypeError):
        return None
    return Price(float(per_in.total_price), float(per_out.total_price))
