"""Token counting offline: the shipped o200k ranks, tiktoken's own pattern, truncation at a marked boundary."""

from __future__ import annotations

import gzip
from importlib import resources
from pathlib import Path

import pytest
import tiktoken

from grader.text.tokens import (
    O200K_PATTERN,
    TRUNCATION_MARK,
    TokenCounter,
    cannot_exceed,
    load_o200k_ranks,
    o200k,
)


def test_counts_offline_with_a_cold_tiktoken_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # conftest points TIKTOKEN_CACHE_DIR at an empty folder and blocks the network: a download would fail.
    o200k.cache_clear()
    counter = TokenCounter.for_model("gpt-4.1-mini")
    assert counter.exact and counter.method == "o200k_base"
    assert counter.count("hello world") == 2
    assert counter.count("<|endoftext|>") > 1  # special-token text counts as text, never raises


def test_pattern_is_tiktokens_own(monkeypatch: pytest.MonkeyPatch) -> None:
    from tiktoken_ext import openai_public

    ranks = load_o200k_ranks(resources.files("grader.data").joinpath("o200k_base.tiktoken.gz").read_bytes())
    monkeypatch.setattr(openai_public, "load_tiktoken_bpe", lambda *a, **k: ranks)
    assert openai_public.o200k_base()["pat_str"] == O200K_PATTERN


def test_tampered_ranks_are_refused() -> None:
    with pytest.raises(ValueError, match="sha256"):
        load_o200k_ranks(gzip.compress(b"aGVsbG8= 0\n"))


@pytest.mark.parametrize(
    ("model", "exact"),
    [
        pytest.param("gpt-4o-mini", True, id="gpt4o"),
        pytest.param("gpt-5", True, id="gpt5"),
        pytest.param("openai/gpt-4.1", True, id="routed_name"),
        pytest.param("meta-llama/Llama-3.1-8B-Instruct", False, id="vllm_llama"),
        pytest.param("qwen2.5:7b", False, id="ollama_qwen"),
    ],
)
def test_exactness_by_model(model: str, exact: bool) -> None:
    counter = TokenCounter.for_model(model)
    assert counter.exact is exact
    assert ("approximate" in counter.method) is (not exact)


def test_truncate_marks_the_cut_at_a_word_boundary() -> None:
    counter = TokenCounter.for_model("gpt-4.1")
    text = " ".join(f"word{i}" for i in range(500))
    result = counter.truncate(text, 100)
    assert result.truncated and result.total_tokens == counter.count(text)
    body, mark = result.text.split("\n[…", 1)
    assert text.startswith(body) and not body.endswith(" ")
    assert text[len(body)] == " "  # cut between words
    assert f"{result.kept_tokens} of {result.total_tokens} tokens kept" in mark
    assert result.kept_tokens <= 100


def test_short_text_is_untouched() -> None:
    counter = TokenCounter.for_model("gpt-4.1")
    result = counter.truncate("short answer", 100)
    assert result.text == "short answer" and not result.truncated


def test_estimate_when_no_encoding() -> None:
    counter = TokenCounter(model="x", encoding=None)
    assert counter.count("abcdefgh") == 2 and "estimated" in counter.method
    result = counter.truncate("word " * 100, 10)
    assert result.truncated and result.text.endswith(TRUNCATION_MARK.format(kept=result.kept_tokens, total=125))


def test_counts_match_tiktoken_reference_encoding() -> None:
    # A byte-level encoding built in the test (no download) gives a lower bound sanity check.
    byte_level = tiktoken.Encoding(
        name="bytes", pat_str=O200K_PATTERN, mergeable_ranks={bytes([i]): i for i in range(256)}, special_tokens={}
    )
    text = "KL(q(z|x) ‖ p(z)) is not symmetric."
    assert TokenCounter.for_model("gpt-4o").count(text) < len(byte_level.encode(text))


@pytest.mark.parametrize(
    "text",
    ["hello world", "ünïcödé " * 40, "日本語のテキスト" * 30, "x" * 500, "😀🚀" * 60, "a1b2,c3;" * 60, "\n \t" * 100],
)
def test_a_text_that_cannot_exceed_a_budget_never_counts_over_it(text: str) -> None:
    # The bound the service uses to skip the token table: an answer of at most `budget` UTF-8 bytes.
    counter = TokenCounter.for_model("gpt-4.1-mini")
    for budget in (len(text), len(text.encode("utf-8")), len(text.encode("utf-8")) - 1):
        if cannot_exceed(text, budget):
            assert counter.count(text) <= budget
    assert cannot_exceed(text, len(text.encode("utf-8")))
    assert not cannot_exceed(text, len(text.encode("utf-8")) - 1)
