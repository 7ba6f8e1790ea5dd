"""--llm-match: the model settles the questions the word matcher is unsure of, through the real SDK."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from fakeserver import FakeOpenAIServer, Status
from typer.testing import CliRunner

from grader.batch import BatchOptions, dry_run, run_batch
from grader.batch.llm_matching import DECISIONS, decision_schema
from grader.cli import app
from grader.config import Settings
from grader.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent
ASKED = {
    "clear": "How does a VAE differ from a GAN?",  # the word matcher is sure: q05
    "paraphrase": "How would you keep customer emails from leaking out of a model you trained on them?",  # q48
    "off_bank": "What is your experience with Kubernetes autoscaling for web services?",  # nothing in the bank
}
REPLY = "I would {n} think carefully about it, with concrete steps, measurements and trade-offs for the team."


def transcript(folder: Path) -> Path:
    lines = ["WEBVTT", ""]
    for n, asked in enumerate(ASKED.values()):
        for speaker, text in (("Interviewer", asked), ("Ada Lovelace", REPLY.format(n=n))):
            lines += [f"00:00:{n * 10 + (speaker != 'Interviewer') * 5:02d}.000 --> 00:00:{n * 10 + 5:02d}.000"]
            lines += [f"<v {speaker}>{text}", ""]
    path = folder / "interview.vtt"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def choose(body: dict[str, Any], allowed: list[str]) -> str:
    """A model that knows the bank: emails leaking is data privacy (q48); Kubernetes is not in the bank."""
    asked = body["messages"][1]["content"]
    return "q48" if "customer emails" in asked else "none"


def settings(server: FakeOpenAIServer) -> Settings:
    return Settings(backend="openai", base_url=server.url, bank=REPO, cache_path=Path(os.environ["GRADER_CACHE"]))


def match_requests(server: FakeOpenAIServer) -> list[dict[str, Any]]:
    return [b for b in server.requests if b["response_format"]["json_schema"]["name"] == "QuestionChoice"]


def records(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text(encoding="utf-8").splitlines()]


def test_the_model_settles_only_what_the_words_were_unsure_of(fake_server: FakeOpenAIServer, tmp_path: Path) -> None:
    fake_server.choose = choose
    out = tmp_path / "out"
    outcome = run_batch([transcript(tmp_path)], settings(fake_server), BatchOptions(out=out, llm_match=True))
    asked = [b["messages"][1]["content"] for b in match_requests(fake_server)]
    assert len(asked) == 2 and not any(ASKED["clear"] in a for a in asked)  # the sure match costs no call
    by_question = {r["question_id"]: r for r in records(out)}
    assert set(by_question) == {"q05", "q48"}
    assert by_question["q05"]["matched_by"] == "words" and by_question["q48"]["matched_by"] == "llm"
    assert "weak_match" in by_question["q48"]["flags"]  # the words were unsure: a person checks the id
    summary = outcome.summary
    assert [u["asked"] for u in summary["transcripts"][0]["unmatched_detail"]] == [ASKED["off_bank"]]
    assert summary["transcripts"][0]["unmatched_detail"][0]["matched_by"] == "llm"
    assert summary["llm_match"]["calls"] == 2 and summary["llm_match"]["decided"] == 2
    kept = json.loads((out / DECISIONS).read_text(encoding="utf-8"))
    assert kept["decisions"] == {ASKED["paraphrase"]: "q48", ASKED["off_bank"]: None}


def test_resume_reuses_the_decisions(fake_server: FakeOpenAIServer, tmp_path: Path) -> None:
    fake_server.choose = choose
    path, out = transcript(tmp_path), tmp_path / "out"
    run_batch([path], settings(fake_server), BatchOptions(out=out, llm_match=True))
    first = [r["item"] for r in records(out)]
    fake_server.requests.clear()
    fake_server.choose = lambda body, allowed: "none"  # a model that would now decide otherwise is not asked
    run_batch([path], settings(fake_server), BatchOptions(out=out, llm_match=True, resume=True))
    assert fake_server.requests == [] and [r["item"] for r in records(out)] == first


def test_a_failing_or_invalid_match_call_keeps_the_word_matcher(fake_server: FakeOpenAIServer, tmp_path: Path) -> None:
    fake_server.choose = lambda body, allowed: "q99"  # not among the allowed ids: the reply fails validation
    fake_server.enqueue(Status(500, "boom"), Status(500, "boom"))
    out = tmp_path / "out"
    notes: list[str] = []

    class Notes:
        def start(self, total: int, done: int) -> None: ...
        def advance(self, record: dict[str, Any]) -> None: ...
        def note(self, message: str) -> None:
            notes.append(message)

    outcome = run_batch([transcript(tmp_path)], settings(fake_server), BatchOptions(out=out, llm_match=True,
                        concurrency=1), progress=Notes())  # fmt: skip
    assert [r["question_id"] for r in records(out)] == ["q05"]  # as without --llm-match
    assert outcome.summary["llm_match"]["failures"] == 2 and len(notes) == 2
    assert all(n.startswith("--llm-match kept the word matcher's answer") for n in notes)


def test_llm_match_needs_a_model(tmp_path: Path) -> None:
    offline = Settings(backend="offline", bank=REPO, use_cache=False)
    with pytest.raises(ConfigError, match="--llm-match needs a model"):
        run_batch([transcript(tmp_path)], offline, BatchOptions(out=tmp_path / "out", llm_match=True))


def test_dry_run_counts_the_calls_and_makes_none(fake_server: FakeOpenAIServer, tmp_path: Path) -> None:
    report = dry_run([transcript(tmp_path)], settings(fake_server), BatchOptions(out=tmp_path / "o", llm_match=True))
    assert report.llm_match_calls == 2 and fake_server.requests == []
    result = CliRunner().invoke(
        app, ["batch", str(tmp_path / "interview.vtt"), "--out", str(tmp_path / "o2"), "--dry-run", "--llm-match",
              "--base-url", fake_server.url, "--bank", str(REPO)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "2 unsure question(s) would go to the model" in result.output and fake_server.requests == []


def test_the_choice_schema_allows_only_bank_ids_or_none() -> None:
    schema = decision_schema(["q48", "q05"]).model_json_schema()
    assert schema["properties"]["question_id"]["enum"] == ["q48", "q05", "none"]
    assert schema["additionalProperties"] is False and schema["required"] == ["question_id"]


def test_a_kept_decision_for_a_question_the_bank_lost_is_asked_again(
    fake_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    fake_server.choose = choose
    out = tmp_path / "out"
    out.mkdir()
    stale = {"model": "gpt-4.1-mini", "decisions": {ASKED["paraphrase"]: "q99", ASKED["off_bank"]: None}}
    (out / DECISIONS).write_text(json.dumps(stale), encoding="utf-8")
    planned = dry_run([transcript(tmp_path)], settings(fake_server), BatchOptions(out=out, llm_match=True))
    assert planned.llm_match_calls == 1 and "q99" not in {i.question_id for i in planned.plan.items}  # as the run
    run_batch([transcript(tmp_path)], settings(fake_server), BatchOptions(out=out, llm_match=True))
    assert len(match_requests(fake_server)) == 1  # only the stale one; "none" was kept
    assert {r["question_id"] for r in records(out)} == {"q05", "q48"}
