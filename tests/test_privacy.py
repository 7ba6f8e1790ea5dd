"""Privacy: redaction before anything leaves the machine, `store` off, and the API key kept out of everything.

The redaction table lists what must go and, as carefully, what must stay: a technical answer is full of
numbers that look like phone numbers to a careless rule (years, versions, sizes, ratios, dates).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from fakeserver import FakeOpenAIServer, Hang, Status, refusal, wrong_schema

from grader.config import Secret, Settings, settings_from_env
from grader.errors import GraderError
from grader.grading.service import GradingService
from grader.text.redaction import redact

E, P, C = "[EMAIL]", "[PHONE]", "[CANDIDATE]"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("write to jane.doe@example.com today", f"write to {E} today", id="email"),
        pytest.param("Mail: J.Doe+ml@mail.example.co.uk.", f"Mail: {E}.", id="email_plus_subdomain"),
        pytest.param("jane [at] example [dot] org", E, id="email_bracketed_at_dot"),
        pytest.param("jane(at)example(dot)org", E, id="email_parenthesised_at_dot"),
        pytest.param("<a.b@c-d.io>", f"<{E}>", id="email_in_angle_brackets"),
        pytest.param("x@localhost is not an address", "x@localhost is not an address", id="no_tld_kept"),
        pytest.param("the @decorator and a@b", "the @decorator and a@b", id="at_sign_alone_kept"),
    ],
)
def test_redact_emails(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("+44 20 7946 0958", P, id="uk_international"),
        pytest.param("+44 (0)20 7946 0958", P, id="uk_international_trunk_in_parens"),
        pytest.param("(+44) 20 7946 0958", P, id="country_code_in_parens"),
        pytest.param("020 7946 0958", P, id="uk_national"),
        pytest.param("07700 900123", P, id="uk_mobile"),
        pytest.param("07700900123", P, id="uk_mobile_unspaced"),
        pytest.param("+1 (555) 123-4567", P, id="us_international"),
        pytest.param("(555) 123-4567", P, id="us_parens"),
        pytest.param("555-123-4567", P, id="us_dashes"),
        pytest.param("555.123.4567", P, id="us_dots"),
        pytest.param("1-800-555-0199", P, id="us_toll_free"),
        pytest.param("+12025550143", P, id="e164_unspaced"),
        pytest.param("+49 30 12345678", P, id="de_international"),
        pytest.param("030 12345678", P, id="de_national"),
        pytest.param("0049 30 12345678", P, id="double_zero_prefix"),
        pytest.param("+33 1 23 45 67 89", P, id="fr_international"),
        pytest.param("01 23 45 67 89", P, id="fr_national"),
        pytest.param("+91 98765 43210", P, id="in_international"),
        pytest.param("+81-3-1234-5678", P, id="jp_international"),
        pytest.param("+61 2 9876 5432", P, id="au_international"),
        pytest.param("call me on 555 0199", f"call me on {P}", id="short_number_with_context"),
        pytest.param("Phone: 123-4567.", f"Phone: {P}.", id="local_number_with_label"),
        pytest.param("my number is 5551234567", f"my number is {P}", id="bare_digits_with_context"),
        pytest.param("Tel. +44 20 7946 0958, e-mail a@b.com", f"Tel. {P}, e-mail {E}", id="phone_and_email"),
    ],
)
def test_redact_phone_numbers(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("GPT-4.1 and gpt-4o-2024-08-06 are models", id="model_versions"),
        pytest.param("GPT-3 has 175B parameters, 175 000 000 000 in all", id="parameter_counts"),
        pytest.param("2:4 sparsity halves the weights", id="sparsity_ratio"),
        pytest.param("temperature 0.7, top-p 0.95, lr 3e-4, eps 1e-8", id="hyperparameters"),
        pytest.param("from 2014 to 2017; GANs (2014-2017) and 1990-2000", id="years_and_ranges"),
        pytest.param("published 2017-06-12, or 12/06/2017, or 12.06.2017", id="dates"),
        pytest.param("1,000,000 tokens or 1.000.000 or 10 000 000 steps", id="thousands_separators"),
        pytest.param("served from 192.168.100.200 on port 8080", id="ip_address"),
        pytest.param("image sizes 128 256 512 1024 2048", id="list_of_sizes"),
        pytest.param("classes 0 1 2 3 4 5 6 7 8 9", id="list_of_digits"),
        pytest.param("arXiv:1706.03762 and (1706.03762)", id="arxiv_id"),
        pytest.param("ISBN 978-0-262-03561-3", id="isbn"),
        pytest.param("version 1.2.3 and v2.10.1, CUDA 12.4", id="software_versions"),
        pytest.param("a 1024x1024 image, 3.14159265, 6.02e23", id="sizes_and_constants"),
        pytest.param("pi = 3.141592653589793", id="long_decimal"),
        pytest.param("seed 1234567 and step 7654321", id="seven_digit_numbers"),
        pytest.param("ran 1000000000 steps", id="bare_big_number"),
        pytest.param("at 12:30:45 on 05/10", id="times"),
        pytest.param("the BLEU went from 27.3 to 28.4 (+1.1)", id="signed_delta"),
        pytest.param("", id="empty"),
    ],
)
def test_redact_keeps_technical_numbers(text: str) -> None:
    assert redact(text) == text


@pytest.mark.parametrize(
    ("text", "names", "expected"),
    [
        pytest.param("Ada Lovelace said", ["Ada Lovelace"], f"{C} said", id="full_name"),
        pytest.param(
            "as Ada explained, Lovelace's view",
            ["Ada Lovelace"],
            f"as {C} explained, {C}'s view",
            id="parts_and_possessive",
        ),  # fmt: skip
        pytest.param("ADA and ada", ["Ada Lovelace"], f"{C} and {C}", id="case_insensitive"),
        pytest.param("Adaptive Adam, Lovelaces", ["Ada Lovelace"], "Adaptive Adam, Lovelaces", id="word_boundaries"),
        pytest.param("Ada’s point", ["Ada"], f"{C}’s point", id="curly_possessive"),
        pytest.param("Dr. Ada Lovelace, PhD", ["Dr. Ada Lovelace"], f"{C}, PhD", id="honorific_full_name"),
        pytest.param("Dr. Who", ["Dr. Ada Lovelace"], "Dr. Who", id="honorific_alone_kept"),
        pytest.param("Mary-Jane O'Neil and O’Neil", ["Mary-Jane O'Neil"], f"{C} and {C}", id="hyphen_apostrophe"),
        pytest.param("José and Jose", ["José Núñez"], f"{C} and {C}", id="accents"),
        pytest.param("Ada\nLovelace", ["Ada Lovelace"], C, id="full_name_across_lines"),
        pytest.param("I will mark it", ["Will Mark"], "I will mark it", id="common_words_lowercase_kept"),
        pytest.param("Will said Mark's idea", ["Will Mark"], f"{C} said {C}'s idea", id="common_words_capitalised"),
        pytest.param(
            "Speaker 1 said 1 thing", ["Speaker 1", "SPEAKER_00"], "Speaker 1 said 1 thing", id="speaker_labels_ignored"
        ),  # fmt: skip
        pytest.param("the candidate", ["Candidate"], "the candidate", id="role_label_ignored"),
        pytest.param("A. Turing", ["A. Turing"], f"A. {C}", id="initial_kept"),
        pytest.param("Grace Hopper", ["Ada", "Grace Hopper"], C, id="several_names"),
        pytest.param("ada@example.com", ["Ada"], E, id="email_before_name"),
        pytest.param("no names here", [], "no names here", id="no_names"),
        pytest.param("no names here", ["", "  "], "no names here", id="blank_names"),
        pytest.param("a (b) [c]", ["(b)", "[c]"], "a (b) [c]", id="punctuation_names_ignored"),
    ],
)
def test_redact_names(text: str, names: Sequence[str], expected: str) -> None:
    assert redact(text, names) == expected


def test_redact_is_idempotent_and_leaves_placeholders_alone() -> None:
    text = "Ada Lovelace, ada@example.com, +44 20 7946 0958"
    once = redact(text, ["Ada Lovelace"])
    assert once == f"{C}, {E}, {P}"
    assert redact(once, ["Ada Lovelace"]) == once


def test_redact_is_linear_on_long_hostile_input() -> None:
    import time

    hostile = "1 " * 20_000 + "a." * 20_000 + "x@" + "a" * 20_000 + ("+44 " * 5_000)
    started = time.perf_counter()
    redact(hostile, ["Ada Lovelace"])
    assert time.perf_counter() - started < 5  # a catastrophic backtrack would take minutes


# --- redaction in the grading path: what reaches the server -------------------------------------------


def test_redact_flag_changes_what_the_server_receives(fake_server: FakeOpenAIServer) -> None:
    answer = "I'm Ada Lovelace (ada@example.com, +44 20 7946 0958). A VAE has an encoder; GPT-4.1 has 2:4 sparsity."
    settings = Settings(backend="openai", base_url=fake_server.url, use_cache=False, max_retries=0, redact=True)
    grade = GradingService(settings).grade_answer("q05", answer, names=["Ada Lovelace"])
    assert grade.status == "graded"
    sent = json.dumps(fake_server.requests[0])
    for secret in ("Ada", "Lovelace", "ada@example.com", "7946"):
        assert secret not in sent
    user = fake_server.requests[0]["messages"][1]["content"]
    assert f"I'm {C} ({E}, {P}). A VAE has an encoder; GPT-4.1 has 2:4 sparsity." in user


def test_grade_cli_redacts_the_named_candidate(fake_server: FakeOpenAIServer) -> None:
    from typer.testing import CliRunner

    from grader.cli import app

    answer = "Hi, Ada Lovelace here; Ada's view: a VAE has an encoder and a decoder."
    base = ["grade", "q05", "--answer", answer, "--base-url", fake_server.url, "--no-cache"]
    result = CliRunner().invoke(app, [*base, "--redact", "--candidate", "Ada Lovelace"])
    assert result.exit_code == 0, result.output
    sent = json.dumps(fake_server.requests[0])
    assert "Ada" not in sent and "Lovelace" not in sent and C in sent
    refused = CliRunner().invoke(app, [*base, "--candidate", "Ada Lovelace"])
    assert refused.exit_code == 2 and "add --redact" in refused.output + refused.stderr
    assert len(fake_server.requests) == 1  # the refused command sent nothing


def test_without_redact_the_answer_is_sent_verbatim(fake_server: FakeOpenAIServer) -> None:
    answer = "I'm Ada (ada@example.com). A VAE has an encoder."
    settings = Settings(backend="openai", base_url=fake_server.url, use_cache=False, max_retries=0)
    GradingService(settings).grade_answer("q05", answer, names=["Ada"])
    assert answer in fake_server.requests[0]["messages"][1]["content"]


def test_redaction_is_part_of_the_cache_key(fake_server: FakeOpenAIServer, tmp_path: Path) -> None:
    base = Settings(backend="openai", base_url=fake_server.url, cache_path=tmp_path / "c.sqlite", max_retries=0)
    answer = "A VAE has an encoder and a decoder; mail me at ada@example.com"
    GradingService(base).grade_answer("q05", answer)
    GradingService(base.with_overrides(redact=True)).grade_answer("q05", answer)
    assert len(fake_server.requests) == 2  # the redacted request is a different request, not a cache hit


def test_store_is_false_by_default_and_sent(fake_server: FakeOpenAIServer) -> None:
    assert Settings().store is False and settings_from_env({}).store is False
    GradingService(Settings(backend="openai", base_url=fake_server.url, use_cache=False)).grade_answer("q05", "A VAE.")
    assert fake_server.requests[0]["store"] is False


# --- key hygiene: a canary key must appear nowhere ----------------------------------------------------

CANARY = "sk-canary-" + "7f3a9c" * 6


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "GRADER_"))}
    env.update(extra)
    return env


def _everything_written(tmp_path: Path) -> str:
    """Every byte under tmp_path (cache, results, recordings), decoded leniently, plus the cache's rows."""
    chunks = []
    for path in tmp_path.rglob("*"):
        if path.is_file():
            chunks.append(path.read_bytes().decode("utf-8", "replace"))
            if path.suffix == ".sqlite":
                with sqlite3.connect(path) as db:
                    chunks.extend(str(row) for row in db.execute("SELECT * FROM grades"))
    return "\n".join(chunks)


@pytest.mark.parametrize(
    ("queued", "expected"),
    [
        pytest.param([], "graded", id="ok"),
        pytest.param(
            [Status(401, f"Incorrect API key provided: {CANARY}.")],
            "Error: OPENAI_API_KEY rejected",
            id="401_echoing_the_key",
        ),  # fmt: skip
        pytest.param([Status(404, f"no model for key {CANARY}")], "Error: 404 from", id="404_echoing_the_key"),
        pytest.param([Status(500, f"upstream failed for key {CANARY}")] * 3, "llm_unavailable", id="500_echoing"),
        pytest.param([refusal], "refused", id="refusal"),
        pytest.param([wrong_schema] * 3, "invalid_verdict", id="wrong_schema"),
    ],
)
def test_api_key_never_appears_in_cli_output_or_files(
    fake_server: FakeOpenAIServer, tmp_path: Path, queued: list[object], expected: str
) -> None:
    from typer.testing import CliRunner

    from grader.cli import app

    fake_server.enqueue(*queued)
    env = {"OPENAI_API_KEY": CANARY, "GRADER_RECORDINGS": str(tmp_path / "rec"), "GRADER_RECORD": "1"}
    args = ["grade", "q05", "--answer", "A VAE has an encoder.", "--format", "json", "--base-url", fake_server.url]
    result = CliRunner().invoke(app, args, env=env, catch_exceptions=False)
    output = result.stdout + result.stderr
    assert expected in output
    assert CANARY not in output
    assert CANARY not in _everything_written(tmp_path)
    headers = {k.lower(): v for k, v in fake_server.headers[0].items()}
    assert headers["authorization"] == f"Bearer {CANARY}"  # the key did go where it belongs


@pytest.mark.slow
def test_api_key_stays_out_of_a_subprocess_with_sdk_debug_logging(
    fake_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    fake_server.enqueue(Status(500, f"upstream failed for key {CANARY}"), Status(401, f"bad key {CANARY}"))
    env = _clean_env(OPENAI_API_KEY=CANARY, OPENAI_LOG="debug", GRADER_CACHE=str(tmp_path / "cache.sqlite"))
    result = subprocess.run(
        [sys.executable, "-m", "grader", "grade", "q05", "--answer", "A VAE has an encoder.", "--base-url",
         fake_server.url],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1 and "Error: OPENAI_API_KEY rejected" in result.stderr
    assert "Traceback" not in result.stderr
    assert "HTTP Response: POST 500" in result.stderr  # the SDK's debug log did run
    assert CANARY not in result.stdout + result.stderr + _everything_written(tmp_path)


def test_api_key_never_appears_in_exceptions_or_reprs(fake_server: FakeOpenAIServer) -> None:
    settings = Settings(backend="openai", base_url=fake_server.url, api_key=Secret(CANARY), use_cache=False,
                        max_retries=0, timeout=0.5)  # fmt: skip
    assert CANARY not in repr(settings) and CANARY not in str(settings)
    assert CANARY not in repr(settings.api_key)
    for queued in ([Status(401, f"bad key {CANARY}")], [Status(403, f"forbidden {CANARY}")], [Hang(2)]):
        fake_server.enqueue(*queued)
        try:
            grade = GradingService(settings).grade_answer("q05", "A VAE has an encoder.")
        except GraderError as exc:
            assert CANARY not in str(exc) and CANARY not in repr(exc)
        else:
            assert CANARY not in grade.model_dump_json()


def test_key_in_base_url_is_not_echoed(fake_server: FakeOpenAIServer) -> None:
    from typer.testing import CliRunner

    from grader.cli import app

    port = fake_server.url.split(":")[2].split("/")[0]
    fake_server.enqueue(*[Status(500, "boom", {"retry-after-ms": "5"})] * 3)
    cases = [
        (f"http://user:{CANARY}@127.0.0.1:{port}/v1", "llm_unavailable: 500 from http://127.0.0.1:"),
        (f"http://user:{CANARY}@127.0.0.1:{port}/v1", '"status": "graded"'),
        (f"http://127.0.0.1:{port}/v1?api-key={CANARY}", "Error: 404 from http://127.0.0.1:"),  # the SDK mangles it
    ]
    for url, expected in cases:
        args = ["grade", "q05", "--answer", "A VAE.", "--base-url", url, "--format", "json", "--no-cache"]
        result = CliRunner().invoke(app, args, catch_exceptions=False)
        assert expected in result.stdout + result.stderr
        assert CANARY not in result.stdout + result.stderr


def test_api_key_never_appears_in_batch_results_or_reports(fake_server: FakeOpenAIServer, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from grader.cli import app

    rows = tmp_path / "answers.jsonl"
    rows.write_text("".join(json.dumps({"question_id": "q05", "answer": f"({i}) A VAE has an encoder."}) + "\n"
                            for i in range(4)))  # fmt: skip
    fake_server.enqueue(Status(500, f"upstream failed for key {CANARY}"), refusal)
    env = {"OPENAI_API_KEY": CANARY}
    args = ["batch", str(rows), "--out", str(tmp_path / "out"), "--base-url", fake_server.url, "--no-progress",
            "--concurrency", "1"]  # fmt: skip
    result = CliRunner().invoke(app, args, env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert CANARY not in result.stdout + result.stderr
    assert CANARY not in _everything_written(tmp_path)
    assert len(list((tmp_path / "out").iterdir())) >= 4  # results, summary and both reports were scanned
