"""The real OpenAI client through the official SDK against the local fake server (hand-made responses)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fakeserver import FakeOpenAIServer, Hang, Raw, Reply, Status, synthesise_verdict

from grader.config import Secret, Settings
from grader.errors import ConfigError
from grader.grading.service import GradingService
from grader.models import Grade


def grade(server: FakeOpenAIServer, answer: str, **overrides: Any) -> Grade:
    settings = Settings(backend="openai", base_url=server.url, use_cache=False, max_retries=0, timeout=5)
    return GradingService(settings.with_overrides(**overrides)).grade_answer("q05", answer)


def good(body: dict[str, Any]) -> Reply:
    return Reply(synthesise_verdict(body))


def test_request_carries_the_strict_per_rubric_schema(fake_server: FakeOpenAIServer, q05_answer: str) -> None:
    result = grade(fake_server, q05_answer)
    assert result.status == "graded" and result.score == 10.0
    body = fake_server.requests[0]
    fmt = body["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    schema = fmt["json_schema"]["schema"]
    criteria = schema["$defs"]["Criteria_q05"]
    assert criteria["required"] == ["vae_mechanism", "gan_mechanism", "tradeoffs", "context"]
    assert criteria["additionalProperties"] is False
    level = schema["$defs"]["CriterionVerdict4Levels"]["properties"]["level"]
    assert level["enum"] == [0, 1, 2, 3]
    assert schema["$defs"]["CriterionVerdict4Levels"]["required"] == ["evidence", "rationale", "level"]
    assert body["temperature"] == 0 and body["seed"] == 0 and body["store"] is False
    assert body["model"] == "gpt-4.1-mini"
    assert q05_answer in body["messages"][1]["content"]


def test_usage_cost_and_provenance(fake_server: FakeOpenAIServer, q05_answer: str) -> None:
    result = grade(fake_server, q05_answer)
    assert result.usage.prompt_tokens == 900 and result.usage.completion_tokens == 250
    assert result.usage.cost_usd == pytest.approx((900 * 0.4 + 250 * 1.6) / 1e6)
    assert result.provenance.system_fingerprint == "fp_fake"
    assert result.provenance.prompt_sha256 and result.provenance.rubric_sha256
    assert result.backend == "openai" and result.model == "gpt-4.1-mini"


def test_rate_limit_then_success_uses_the_sdk_retry(fake_server: FakeOpenAIServer, q05_answer: str) -> None:
    fake_server.enqueue(Status(429, "Rate limit reached", {"retry-after": "0"}))
    result = grade(fake_server, q05_answer, max_retries=1)
    assert result.status == "graded"
    assert len(fake_server.requests) == 2


def test_server_error_is_ungraded_llm_unavailable(fake_server: FakeOpenAIServer, q05_answer: str) -> None:
    fake_server.enqueue(Status(500, "boom"), Status(500, "boom"))
    result = grade(fake_server, q05_answer, max_retries=1)
    assert result.status == "ungraded" and result.score is None
    assert result.error is not None and result.error.startswith("llm_unavailable: 500 from http://127.0.0.1:")
    assert "boom" in result.error


def test_malformed_json_is_re_asked(fake_server: FakeOpenAIServer, q05_answer: str) -> None:
    fake_server.enqueue(Reply('{"criteria": {"vae_mechanism": '), good)
    result = grade(fake_server, q05_answer)
    assert result.status == "graded" and result.attempts == 2
    second = fake_server.requests[1]["messages"]
    assert second[-2] == {"role": "assistant", "content": '{"criteria": {"vae_mechanism": '}
    assert second[-1]["content"].startswith("Your previous reply was invalid:\n")
    assert second[-1]["content"].endswith("Return corrected JSON.")


def test_wrong_schema_is_re_asked_then_ungraded(fake_server: FakeOpenAIServer, q05_answer: str) -> None:
    wrong = {"score": 10, "feedback": "great"}
    fake_server.enqueue(Reply(wrong), Reply(wrong), Reply(wrong))
    result = grade(fake_server, q05_answer)
    assert result.status == "ungraded" and result.score is None and result.attempts == 3
    assert result.error is not None and result.error.startswith("invalid_verdict: ")
    assert "criteria" in result.error


def test_length_cut_off_is_re_asked(fake_server: FakeOpenAIServer, q05_answer: str) -> None:
    fake_server.enqueue(Reply('{"criteria": {', finish_reason="length"), good)
    result = grade(fake_server, q05_answer)
    assert result.status == "graded" and result.attempts == 2
    assert "finish_reason=length" in fake_server.requests[1]["messages"][-1]["content"]


def test_refusal_is_ungraded_refused(fake_server: FakeOpenAIServer, q05_answer: str) -> None:
    fake_server.enqueue(Reply(None, refusal="I can't help with that."))
    result = grade(fake_server, q05_answer)
    assert result.status == "ungraded" and result.error == "refused: I can't help with that."
    assert len(fake_server.requests) == 1


def test_broken_200_body_is_invalid_not_a_crash(fake_server: FakeOpenAIServer, q05_answer: str) -> None:
    fake_server.enqueue(Raw(b"<html>bad gateway</html>", 200, "text/html"), Raw(b'{"choices": null}'), Raw(b""))
    result = grade(fake_server, q05_answer)
    assert result.status == "ungraded" and result.error is not None
    assert result.error.startswith("invalid_verdict: ")


def test_rejected_key_is_a_config_error(fake_server: FakeOpenAIServer, q05_answer: str) -> None:
    fake_server.enqueue(Status(401, "Incorrect API key provided: sk-canary"))
    with pytest.raises(ConfigError, match="OPENAI_API_KEY rejected") as caught:
        grade(fake_server, q05_answer, api_key=Secret("sk-canary"))
    assert "sk-canary" not in str(caught.value)


def test_unsupported_parameter_is_dropped_and_resent(fake_server: FakeOpenAIServer, q05_answer: str) -> None:
    fake_server.enqueue(Status(400, "Unsupported value: 'temperature' does not support 0 with this model."))
    result = grade(fake_server, q05_answer)
    assert result.status == "graded"
    assert "temperature" in fake_server.requests[0] and "temperature" not in fake_server.requests[1]


def test_hanging_call_times_out(fake_server: FakeOpenAIServer, q05_answer: str) -> None:
    fake_server.enqueue(Hang(5))
    result = grade(fake_server, q05_answer, timeout=0.5)
    assert result.status == "ungraded"
    assert result.error is not None and result.error.startswith("timeout: no reply from http://127.0.0.1:")


def test_unreachable_server(q05_answer: str) -> None:
    settings = Settings(backend="openai", base_url="http://127.0.0.1:9/v1", use_cache=False, max_retries=0, timeout=2)
    result = GradingService(settings).grade_answer("q05", q05_answer)
    assert result.status == "ungraded"
    assert result.error is not None and result.error.startswith(
        "llm_unavailable: cannot connect to http://127.0.0.1:9/v1"
    )


def test_invented_evidence_is_flagged(fake_server: FakeOpenAIServer, q05_answer: str) -> None:
    def invented(body: dict[str, Any]) -> Reply:
        verdict = synthesise_verdict(body)
        verdict["criteria"]["tradeoffs"]["evidence"] = ["GANs are trained by maximum likelihood"]
        verdict["criteria"]["vae_mechanism"]["evidence"] = ["reparameterization trick, z = mu + sigma * epsilon"]
        return Reply(verdict)

    fake_server.enqueue(invented)
    result = grade(fake_server, q05_answer)
    assert result.status == "graded" and "evidence_not_found" in result.flags


def test_recorded_exchange_file_is_json_lines(fake_server: FakeOpenAIServer, q05_answer: str, tmp_path: Any) -> None:
    grade(fake_server, q05_answer, record_dir=tmp_path, record=True)
    lines = (tmp_path / "exchanges.jsonl").read_text().splitlines()
    assert len(lines) == 1 and set(json.loads(lines[0])) == {"key", "request", "response", "usage"}


def test_response_format_is_what_parse_would_send(fake_server: FakeOpenAIServer, q05_answer: str) -> None:
    """The cached response_format must stay byte-for-byte the SDK's own, through SDK upgrades."""
    from openai.lib._parsing._completions import type_to_response_format_param

    from grader.clients.openai_client import response_format

    grade(fake_server, q05_answer)
    sent = fake_server.requests[0]["response_format"]
    schema_name = sent["json_schema"]["name"]
    from grader.bank import Bank
    from grader.bank.rubrics import load_rubric
    from grader.judges.llm import verdict_model

    model = verdict_model(load_rubric(Bank.open(None), "q05").rubric)
    assert model.__name__ == schema_name
    assert response_format(model) == type_to_response_format_param(model) == sent
    assert response_format(model) is response_format(model)  # built once


@pytest.mark.parametrize(
    ("ms", "value", "expected"),
    [
        pytest.param(None, None, None, id="absent"),
        pytest.param(None, "2", 2.0, id="seconds"),
        pytest.param(None, "0.25", 0.25, id="fraction"),
        pytest.param("450", "9", 0.45, id="ms_first"),
        pytest.param("soon", "3", 3.0, id="bad_ms_falls_back"),
        pytest.param(None, "999", 120.0, id="capped_like_the_sdk"),
        pytest.param(None, "-5", None, id="negative"),
        pytest.param(None, "nan", None, id="nan"),
        pytest.param(None, "inf", None, id="inf"),
        pytest.param(None, "tomorrow", None, id="garbage"),
        pytest.param(None, "Wed, 21 Oct 2015 07:28:00 GMT", 0.0, id="date_in_the_past"),
        pytest.param(None, "", None, id="empty"),
    ],
)
def test_parse_retry_after(ms: str | None, value: str | None, expected: float | None) -> None:
    from grader.clients.openai_client import parse_retry_after

    assert parse_retry_after(ms, value) == expected


def test_retry_after_date_in_the_future() -> None:
    import datetime as dt
    from email.utils import format_datetime

    from grader.clients.openai_client import parse_retry_after

    when = format_datetime(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30), usegmt=True)
    wait = parse_retry_after(None, when)
    assert wait is not None and 25 <= wait <= 30


def test_a_rate_limit_carries_the_servers_retry_after(fake_server: FakeOpenAIServer, q05_answer: str) -> None:
    """A server whose message says nothing of waiting: the header alone reaches the error (and the batch)."""
    fake_server.enqueue(Status(429, "Too many requests", {"retry-after-ms": "1500"}))
    result = grade(fake_server, q05_answer)
    assert result.status == "ungraded" and result.error is not None
    assert result.error.endswith("Too many requests (retry after 1.5 s)")
