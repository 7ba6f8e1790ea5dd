"""Several samples: one request with n, the fallback to separate requests, spread and the low_agreement flag."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from fakeserver import FakeOpenAIServer, Raw, Reply, Status, completion_body, synthesise_verdict
from typer.testing import CliRunner

from grader.cli import app
from grader.cli.render import grade_markdown, grade_text
from grader.clients.fake import ScriptedClient
from grader.config import Settings
from grader.errors import LLMUnavailable
from grader.grading.service import GradingService
from grader.models import CriterionVerdict, Rubric, Verdict
from grader.scoring import agreement_threshold, combine_verdicts, disagreeing_criteria

LEVELS = {"vae_mechanism": 3, "gan_mechanism": 2, "tradeoffs": 2, "context": 1}


def verdict(levels: dict[str, int] | None = None) -> dict[str, Any]:
    return {
        "criteria": {
            cid: {"evidence": [], "rationale": f"because {cid}", "level": level}
            for cid, level in (levels or LEVELS).items()
        },
        "feedback": {"strengths": ["s"], "gaps": [], "misconceptions": [], "next_step": "n", "follow_up_questions": []},
    }


def scripted(tmp_path: Path, client: ScriptedClient, **overrides: Any) -> GradingService:
    settings = Settings(backend="openai", cache_path=tmp_path / "c.sqlite", use_cache=False)
    return GradingService(settings.with_overrides(**overrides), client=client)


def served(server: FakeOpenAIServer, **overrides: Any) -> GradingService:
    settings = Settings(backend="openai", base_url=server.url, use_cache=False, max_retries=0, timeout=5)
    return GradingService(settings.with_overrides(**overrides))


def random_policy(seed: int) -> Any:
    rng = random.Random(seed)
    return lambda cid, levels: rng.randrange(levels)


def cli_grade(server: FakeOpenAIServer, answer: str, *args: str) -> dict[str, Any]:
    result = CliRunner().invoke(
        app,
        ["grade", "q05", "--answer", answer, "--base-url", server.url, "--format", "json", "--no-cache", *args],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


# The acceptance criteria of the issue, through the CLI and the real client.


def test_random_server_reports_spread_and_flags_disagreement(fake_server: FakeOpenAIServer, q05_answer: str) -> None:
    fake_server.policy = random_policy(7)
    data = cli_grade(fake_server, q05_answer, "--samples", "5")
    assert data["status"] == "graded"
    assert "low_agreement" in data["flags"]
    spreads = {c["id"]: c["spread"] for c in data["criteria"]}
    assert all(isinstance(s, float) for s in spreads.values()) and max(spreads.values()) >= 2
    assert data["provenance"]["samples"] == 5 and data["provenance"]["temperature"] == 0.7
    assert len(fake_server.requests) == 1 and fake_server.requests[0]["n"] == 5


def test_deterministic_server_has_no_flag(fake_server: FakeOpenAIServer, q05_answer: str) -> None:
    data = cli_grade(fake_server, q05_answer, "--samples", "5")
    assert data["status"] == "graded" and data["score"] == 10.0
    assert "low_agreement" not in data["flags"] and "samples_missing" not in data["flags"]
    assert [c["spread"] for c in data["criteria"]] == [0.0, 0.0, 0.0, 0.0]


def test_single_sample_has_no_spread_and_no_n(fake_server: FakeOpenAIServer, q05_answer: str) -> None:
    data = cli_grade(fake_server, q05_answer)
    assert all(c["spread"] is None for c in data["criteria"]) and data["flags"] == []
    assert "n" not in fake_server.requests[0] and fake_server.requests[0]["temperature"] == 0


# One request with n, and the fallbacks.


def test_server_refusing_n_gets_separate_requests_with_distinct_seeds(
    fake_server: FakeOpenAIServer, q05_answer: str
) -> None:
    fake_server.enqueue(Status(400, "Unsupported parameter: 'n' is not supported with this model."))
    grade = served(fake_server, samples=4).grade_answer("q05", q05_answer)
    assert grade.status == "graded" and grade.flags == []
    first, *rest = fake_server.requests
    assert first["n"] == 4
    assert all("n" not in body for body in rest) and sorted(b["seed"] for b in rest) == [0, 1, 2, 3]
    assert grade.attempts == 4  # requests that were answered: the refused one is the client's business


def one_choice_only(body: dict[str, Any]) -> Raw:
    """A server that ignores n and answers with a single choice."""
    payload = completion_body(Reply(synthesise_verdict(body)), body["model"], 1)
    return Raw(json.dumps(payload).encode())


def test_fewer_choices_than_asked_are_completed_by_separate_requests(
    fake_server: FakeOpenAIServer, q05_answer: str
) -> None:
    fake_server.enqueue(one_choice_only)
    grade = served(fake_server, samples=3).grade_answer("q05", q05_answer)
    assert grade.status == "graded" and "samples_missing" not in grade.flags
    assert [b.get("n") for b in fake_server.requests] == [3, None, None]
    assert sorted(b["seed"] for b in fake_server.requests[1:]) == [1, 2]
    assert all(c.spread == 0.0 for c in grade.criteria)


def test_invalid_choice_is_re_asked_alone(tmp_path: Path, q05_answer: str) -> None:
    client = ScriptedClient().enqueue(verdict(), "not json", verdict(dict(LEVELS, context=3)), verdict())
    grade = scripted(tmp_path, client, samples=3).grade_answer("q05", q05_answer)
    assert grade.status == "graded" and grade.flags == ["low_agreement"] and grade.attempts == 2
    first, reask = client.calls
    assert first.options.n == 3 and first.options.seed == 0 and first.options.temperature == 0.7
    assert reask.options.n == 1 and reask.options.seed == 1
    assert reask.messages[-2].content == "not json"
    assert reask.messages[-1].content.startswith("Your previous reply was invalid:")
    context = next(c for c in grade.criteria if c.id == "context")
    assert context.level == 1 and context.spread == 2.0


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param("still not json", id="invalid_after_reasks"),
        pytest.param(LLMUnavailable("503 from http://x: overloaded"), id="reask_unavailable"),
    ],
)
def test_a_failed_sample_is_flagged_not_fatal(tmp_path: Path, q05_answer: str, failure: object) -> None:
    client = ScriptedClient().enqueue(verdict(), "not json", verdict(), failure)
    grade = scripted(tmp_path, client, samples=3, reask_limit=1).grade_answer("q05", q05_answer)
    assert grade.status == "graded" and "samples_missing" in grade.flags
    assert grade.score == 7.0


def test_every_sample_failing_is_ungraded(tmp_path: Path, q05_answer: str) -> None:
    client = ScriptedClient().enqueue("a", "b")
    grade = scripted(tmp_path, client, samples=2, reask_limit=0).grade_answer("q05", q05_answer)
    assert grade.status == "ungraded" and grade.score is None
    assert grade.error is not None and grade.error.startswith("invalid_verdict: ")


def test_unreachable_server_is_ungraded_whatever_the_samples(tmp_path: Path, q05_answer: str) -> None:
    client = ScriptedClient().enqueue(LLMUnavailable("cannot connect to http://x"))
    grade = scripted(tmp_path, client, samples=5).grade_answer("q05", q05_answer)
    assert grade.error == "llm_unavailable: cannot connect to http://x"


def test_samples_and_flag_survive_the_cache(tmp_path: Path, q05_answer: str) -> None:
    replies = [verdict(dict(LEVELS, tradeoffs=level)) for level in (0, 3, 3)]
    client = ScriptedClient().enqueue(*replies)
    first = scripted(tmp_path, client, samples=3, use_cache=True).grade_answer("q05", q05_answer)
    again = scripted(tmp_path, client, samples=3, use_cache=True).grade_answer("q05", q05_answer)
    assert len(client.calls) == 1 and again.provenance.cached
    assert "low_agreement" in first.flags and again.flags == first.flags
    assert [c.spread for c in again.criteria] == [c.spread for c in first.criteria]


# The threshold (pure).


@pytest.mark.parametrize(
    ("levels", "spread", "disagree"),
    [
        pytest.param(2, 0.0, False, id="binary_unanimous"),
        pytest.param(2, 1.0, True, id="binary_split"),
        pytest.param(3, 1.0, True, id="three_levels_one_apart"),
        pytest.param(4, 1.0, False, id="four_levels_one_apart"),
        pytest.param(4, 2.0, True, id="four_levels_two_apart"),
        pytest.param(5, 1.0, False, id="five_levels_one_apart"),
        pytest.param(5, 2.0, True, id="five_levels_half_range"),
        pytest.param(7, 2.0, True, id="seven_levels_two_apart"),
        pytest.param(7, 1.0, False, id="seven_levels_one_apart"),
    ],
)
def test_agreement_threshold(levels: int, spread: float, disagree: bool) -> None:
    rubric = Rubric(
        question_id="q01",
        max_score=10,
        reference_answer="r",
        criteria=[
            {
                "id": "c0",
                "description": "d",
                "weight": 1,
                "levels": [f"l{i}" for i in range(levels)],
                "key_points": ["k"],
            }
        ],
    )
    decided = Verdict(criteria={"c0": CriterionVerdict(level=0, spread=spread)})
    assert (disagreeing_criteria(decided, rubric) == ["c0"]) is disagree
    assert agreement_threshold(levels) == min(2.0, (levels - 1) / 2)


def test_no_spread_means_no_disagreement() -> None:
    rubric = Rubric(
        question_id="q01",
        max_score=10,
        reference_answer="r",
        criteria=[{"id": "c0", "description": "d", "weight": 1, "levels": ["a", "b"], "key_points": ["k"]}],
    )
    assert disagreeing_criteria(Verdict(criteria={"c0": CriterionVerdict(level=1)}), rubric) == []


def test_combine_keeps_sample_rationale_of_the_median() -> None:
    rubric = Rubric(
        question_id="q01",
        max_score=10,
        reference_answer="r",
        criteria=[{"id": "c0", "description": "d", "weight": 1, "levels": ["a", "b", "c"], "key_points": ["k"]}],
    )
    samples = [Verdict(criteria={"c0": CriterionVerdict(level=lv, rationale=f"r{lv}")}) for lv in (2, 0, 2)]
    combined = combine_verdicts(samples, rubric).verdict.criteria["c0"]
    assert (combined.level, combined.spread, combined.rationale, combined.level_probs) == (2, 2.0, "r2", None)


# What a reader sees.


def test_text_and_markdown_show_spread_and_review(tmp_path: Path, q05_answer: str) -> None:
    replies = [verdict(dict(LEVELS, tradeoffs=level)) for level in (0, 3, 3)]
    grade = scripted(tmp_path, ScriptedClient().enqueue(*replies), samples=3).grade_answer("q05", q05_answer)
    text = grade_text(grade)
    assert "Judged: 3 samples at temperature 0.7, median level per criterion" in text
    assert "Needs human review: the samples disagree on tradeoffs." in text
    assert "spread 3 (disagree)" in text and "spread 0" in text
    markdown = grade_markdown(grade)
    assert "| Criterion | Level | Score | Spread | Why |" in markdown
    assert "| tradeoffs | 3/3 | 3.00 / 3.00 | 3 (disagree) |" in markdown
