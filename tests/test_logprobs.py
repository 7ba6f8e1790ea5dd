"""Logprob-weighted levels (G-Eval): finding the level tokens, their probabilities, the score, the fallback."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import pytest
from fakeserver import FakeOpenAIServer, Reply, Status, synthesise_verdict

from grader.cli.render import grade_markdown, grade_text
from grader.config import Settings
from grader.grading.service import GradingService
from grader.models import CriterionVerdict, Grade, Rubric, Verdict
from grader.scoring import (
    combine_verdicts,
    criterion_results,
    expected_level,
    level_offsets,
    level_probabilities,
    level_probs_from_logprobs,
    round_level,
    scored_level,
    total_score,
    verdict_problems,
)


def rubric(*levels: int) -> Rubric:
    return Rubric(
        question_id="q01",
        max_score=10,
        reference_answer="r",
        criteria=[
            {"id": f"c{i}", "description": "d", "weight": 1, "levels": [f"l{k}" for k in range(n)], "key_points": ["k"]}
            for i, n in enumerate(levels)
        ],
    )


def tokens_for(text: str, dists: dict[str, dict[str, float]]) -> list[dict[str, Any]]:
    """Split text into tokens (digit runs apart) and give each criterion's level token the alternatives in dists.

    The level tokens of criteria not in dists carry no logprob, as from a server that returns none for them.
    """
    offsets = level_offsets(text)
    at = {offsets[cid]: dist for cid, dist in dists.items()}
    bare = set(offsets.values()) - set(at)
    tokens, position = [], 0
    for piece in re.findall(r"\d+|\D+", text):
        entry: dict[str, Any] = {"token": piece, "logprob": -0.01, "top_logprobs": []}
        if position in bare:
            entry = {"token": piece, "logprob": None, "top_logprobs": None}
        if position in at:
            dist = at[position]
            entry["logprob"] = math.log(dist.get(piece, 1e-6))
            entry["top_logprobs"] = [{"token": t, "logprob": math.log(p)} for t, p in dist.items()]
        tokens.append(entry)
        position += len(piece)
    assert "".join(t["token"] for t in tokens) == text
    return tokens


# Finding each criterion's level in the reply (pure).


@pytest.mark.parametrize(
    "marked",
    [
        pytest.param('{"criteria": {"a": {"level": §2}}}', id="plain"),
        pytest.param('{ "criteria" : { "a" : { "evidence" : [] , "level" :\n §1 } } }', id="spaced"),
        pytest.param(
            '{"criteria": {"a": {"evidence": ["\\"level\\": 9", "}}{"], '
            '"rationale": "{\\"level\\": 0}", "level": §3}}}',
            id="fake_level_inside_strings",
        ),
        pytest.param('{"criteria": {"b": {"level": §1}, "a": {"level": §0}}}', id="any_order"),
        pytest.param('{"feedback": {"level": 1}, "criteria": {}}', id="level_outside_criteria"),
        pytest.param('{"criteria": {"a": {"x": {"level": 1}}}}', id="nested_too_deep_to_be_a_level"),
        pytest.param('{"criteria": {"a": {"level": 2}', id="truncated"),
        pytest.param("Sure! level: 2", id="prose"),
        pytest.param("", id="empty"),
        pytest.param("[" * 5000, id="hostile_nesting"),
    ],
)
def test_level_offsets(marked: str) -> None:
    """Each § marks where a criterion's level starts (ids a, b in order of appearance)."""
    text = marked.replace("§", "")
    positions = [m.start() - i for i, m in enumerate(re.finditer("§", marked))]
    found = level_offsets(text)
    assert sorted(found.values()) == positions
    assert all(text[offset].isdigit() for offset in found.values())


def test_level_offsets_decode_escaped_ids() -> None:
    text = '{"criteria": {"a\\u00e9": {"level": 0}}}'
    assert level_offsets(text) == {"a\u00e9": text.rindex("0")}


def test_level_probs_read_from_top_logprobs() -> None:
    text = json.dumps({"criteria": {"c0": {"evidence": ["level 3"], "level": 2}, "c1": {"level": 0}}})
    tokens = tokens_for(text, {"c0": {"2": 0.6, "1": 0.25, " 1": 0.05, "}": 0.05, "7": 0.05}, "c1": {"0": 1.0}})
    probs = level_probs_from_logprobs(tokens, rubric(4, 2))
    # " 1" joins "1"; "}" is not a level; 7 is outside 0..3; the rest is renormalised over the levels.
    assert probs["c0"] == pytest.approx([0.0, 0.3 / 0.9, 0.6 / 0.9, 0.0], abs=1e-4)
    assert probs["c1"] == [1.0, 0.0]


def test_level_token_that_carries_the_separator() -> None:
    text = '{"criteria": {"c0": {"level":2}}}'
    start = text.index(":2")
    tokens = [
        {"token": text[:start], "logprob": 0.0, "top_logprobs": []},
        {"token": ":2", "logprob": math.log(0.7), "top_logprobs": [
            {"token": ":2", "logprob": math.log(0.7)}, {"token": ":1", "logprob": math.log(0.3)}]},
        {"token": text[start + 2 :], "logprob": 0.0, "top_logprobs": []},
    ]  # fmt: skip
    assert level_probs_from_logprobs(tokens, rubric(3)) == {"c0": [0.0, 0.3, 0.7]}


@pytest.mark.parametrize(
    "tokens",
    [
        pytest.param(None, id="none"),
        pytest.param([], id="empty"),
        pytest.param([{"token": None}], id="token_not_text"),
        pytest.param([{"token": "not json"}], id="not_json"),
        pytest.param([{"token": '{"criteria": {"c0": {"level": '}, {"token": "1"}, {"token": "}}}"}], id="no_logprob"),
        pytest.param(
            [{"token": '{"criteria": {"c0": {"level": '}, {"token": "1", "logprob": float("nan")}, {"token": "}}}"}],
            id="nan_logprob",
        ),
        pytest.param(["oops"], id="token_not_a_dict"),
    ],
)
def test_unusable_logprobs_give_nothing(tokens: Any) -> None:
    assert level_probs_from_logprobs(tokens, rubric(3)) == {}


# From probabilities to a score (pure).


@pytest.mark.parametrize(
    ("mass", "probs"),
    [
        pytest.param([1, 1, 2], [0.25, 0.25, 0.5], id="normalised"),
        pytest.param([0, 0, 0], None, id="no_mass"),
        pytest.param([], None, id="no_levels"),
        pytest.param([1e-300, 0, 0], [1.0, 0.0, 0.0], id="tiny_mass"),
    ],
)
def test_level_probabilities(mass: list[float], probs: list[float] | None) -> None:
    assert level_probabilities(mass) == probs


def test_negative_mass_is_a_bug() -> None:
    with pytest.raises(ValueError):
        level_probabilities([0.5, -0.1])


@pytest.mark.parametrize(
    ("expected", "level"),
    [
        pytest.param(0.0, 0, id="zero"),
        pytest.param(1.49, 1, id="below_half"),
        pytest.param(1.5, 1, id="half_goes_down"),
        pytest.param(1.51, 2, id="above_half"),
        pytest.param(2.9999, 3, id="near_top"),
    ],
)
def test_round_level(expected: float, level: int) -> None:
    assert round_level(expected) == level


def test_score_follows_the_expected_level() -> None:
    r = rubric(4, 2)
    v = Verdict(
        criteria={
            "c0": CriterionVerdict(level=2, level_probs=[0.0, 0.0, 0.5, 0.5]),
            "c1": CriterionVerdict(level=1),
        }
    )
    assert scored_level(v.criteria["c0"]) == 2.5 and expected_level([0.0, 0.0, 0.5, 0.5]) == 2.5
    # c0: 5 points * 2.5/3; c1: 5 points * 1/1.
    assert total_score(v, r) == round(5 * 2.5 / 3 + 5, 2)
    assert [c.score for c in criterion_results(v, r)] == [4.17, 5.0]
    assert [c.level for c in criterion_results(v, r)] == [2, 1]


def test_level_probs_of_the_wrong_length_are_a_problem() -> None:
    v = Verdict(criteria={"c0": CriterionVerdict(level=1, level_probs=[0.5, 0.5])})
    assert verdict_problems(v, rubric(3)) == ["criteria.c0.level_probs: 2 values for 3 levels"]


def test_samples_with_probabilities_are_mixed() -> None:
    r = rubric(4)
    samples = [
        Verdict(criteria={"c0": CriterionVerdict(level=1, level_probs=[0.2, 0.6, 0.2, 0.0])}),
        Verdict(criteria={"c0": CriterionVerdict(level=3, level_probs=[0.0, 0.0, 0.2, 0.8])}),
    ]
    combined = combine_verdicts(samples, r).verdict.criteria["c0"]
    assert combined.level_probs == [0.1, 0.3, 0.2, 0.4]
    assert combined.level == round_level(expected_level([0.1, 0.3, 0.2, 0.4])) == 2
    assert combined.spread == 2.0


def test_samples_without_probabilities_everywhere_use_the_median() -> None:
    samples = [
        Verdict(criteria={"c0": CriterionVerdict(level=1, level_probs=[0.2, 0.6, 0.2, 0.0])}),
        Verdict(criteria={"c0": CriterionVerdict(level=3)}),
    ]
    combined = combine_verdicts(samples, rubric(4)).verdict.criteria["c0"]
    assert combined.level == 1 and combined.level_probs is None


# Through the real client and the fake server.


def grade(server: FakeOpenAIServer, answer: str, **overrides: Any) -> Grade:
    settings = Settings(backend="openai", base_url=server.url, use_cache=False, max_retries=0, timeout=5)
    return GradingService(settings.with_overrides(**overrides)).grade_answer("q05", answer)


DISTS = {
    "vae_mechanism": {"3": 0.5, "2": 0.5},
    "gan_mechanism": {"1": 0.7, "0": 0.2, "2": 0.1},
    "tradeoffs": {"3": 0.9, "2": 0.1},
    "context": {"3": 1.0},
}


def with_logprobs(dists: dict[str, dict[str, float]]) -> Any:
    def reply(body: dict[str, Any]) -> Reply:
        content = synthesise_verdict(body)
        for cid, dist in dists.items():
            content["criteria"][cid]["level"] = int(max(dist, key=lambda t: dist[t]))
        text = json.dumps(content)
        return Reply(text, logprobs=tokens_for(text, dists))

    return reply


def test_logprob_weighted_grade(fake_server: FakeOpenAIServer, q05_answer: str) -> None:
    fake_server.enqueue(with_logprobs(DISTS))
    result = grade(fake_server, q05_answer, logprobs=True)
    body = fake_server.requests[0]
    assert body["logprobs"] is True and body["top_logprobs"] == 5
    assert result.status == "graded" and result.provenance.level_mode == "logprobs"
    by_id = {c.id: c for c in result.criteria}
    assert by_id["vae_mechanism"].level_probs == [0.0, 0.0, 0.5, 0.5]
    assert by_id["vae_mechanism"].level == 2  # E = 2.5, halves go down
    assert by_id["vae_mechanism"].score == 2.5  # 3 points * 2.5 / 3
    assert by_id["gan_mechanism"].level_probs == [0.2, 0.7, 0.1, 0.0] and by_id["gan_mechanism"].level == 1
    assert by_id["context"].level == 3 and by_id["context"].score == 2.0
    # 2.5 + 2*0.9/3 + 3*2.9/3 + 2 = 2.5 + 0.6 + 2.9 + 2.0
    assert result.score == 8.0
    text = grade_text(result)
    assert "Judged: levels: logprobs" in text and "expected level 2.50  (P 0:0.00 1:0.00 2:0.50 3:0.50)" in text
    assert "| Criterion | Level | Score | P(level) | Why |" in grade_markdown(result)


def test_no_logprobs_returned_falls_back_to_argmax(fake_server: FakeOpenAIServer, q05_answer: str) -> None:
    result = grade(fake_server, q05_answer, logprobs=True)
    assert result.status == "graded" and result.score == 10.0
    assert result.provenance.level_mode == "argmax (fallback: no logprobs returned)"
    assert all(c.level_probs is None for c in result.criteria)


def test_server_refusing_logprobs_falls_back(fake_server: FakeOpenAIServer, q05_answer: str) -> None:
    fake_server.enqueue(Status(400, "logprobs is not supported by this model"))
    result = grade(fake_server, q05_answer, logprobs=True)
    assert result.status == "graded"
    assert result.provenance.level_mode == "argmax (fallback: no logprobs returned)"
    assert "logprobs" not in fake_server.requests[-1]


def test_some_criteria_without_logprobs_is_partial(fake_server: FakeOpenAIServer, q05_answer: str) -> None:
    fake_server.enqueue(with_logprobs({"context": {"1": 0.5, "2": 0.5}}))
    result = grade(fake_server, q05_answer, logprobs=True)
    assert result.provenance.level_mode == "logprobs (partial: argmax where no logprobs were returned)"
    assert [c.level_probs is not None for c in result.criteria] == [False, False, False, True]


def test_without_the_flag_no_logprobs_are_asked(fake_server: FakeOpenAIServer, q05_answer: str) -> None:
    fake_server.enqueue(with_logprobs(DISTS))
    result = grade(fake_server, q05_answer)
    assert "logprobs" not in fake_server.requests[0] and result.provenance.level_mode == "argmax"
    assert all(c.level_probs is None for c in result.criteria)


def test_samples_with_logprobs(fake_server: FakeOpenAIServer, q05_answer: str) -> None:
    fake_server.enqueue(with_logprobs(DISTS))
    result = grade(fake_server, q05_answer, logprobs=True, samples=2)
    assert fake_server.requests[0]["n"] == 2 and result.provenance.level_mode == "logprobs"
    assert result.score == 8.0 and all(c.spread == 0.0 for c in result.criteria)
