"""`grader rubric draft`: through the real SDK against the local fake server, with hand-made replies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from fakeserver import FakeOpenAIServer, Reply
from typer.testing import CliRunner

from grader.authoring.drafting import draft_messages
from grader.authoring.schemas import DraftRubric, ReviewReply, strict_schema_problems
from grader.bank import Bank
from grader.cli import app
from grader.clients.openai_client import response_format
from grader.models import Question

DATA = Path(__file__).parent / "data" / "authoring"
GOLDEN = Path(__file__).parent / "data" / "golden"
Q51 = "When would you use retrieval-augmented generation instead of fine-tuning?"


def run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def reply(name: str) -> Reply:
    return Reply(json.loads((DATA / name).read_text(encoding="utf-8")), prompt_tokens=1500, completion_tokens=1800)


@pytest.fixture
def bank(tmp_path: Path) -> Path:
    root = tmp_path / "mybank"
    result = run("bank", "init", str(root), "--extend")
    assert result.exit_code == 0, result.stderr
    return root


def draft(bank: Path, server: FakeOpenAIServer, *extra: str):  # type: ignore[no-untyped-def]
    return run("rubric", "draft", "q51", "--question", Q51, "--bank", str(bank), "--base-url", server.url, *extra)


@pytest.mark.parametrize("schema", [DraftRubric, ReviewReply])
def test_schemas_sent_are_strict_mode_valid(schema: type) -> None:
    sent = response_format(schema)
    assert sent["json_schema"]["strict"] is True
    assert strict_schema_problems(sent["json_schema"]["schema"]) == []


@pytest.mark.parametrize(
    ("schema", "problem"),
    [
        pytest.param({"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
                     "additionalProperties", id="open_object"),
        pytest.param({"type": "object", "properties": {"a": {"type": "string"}}, "required": [],
                      "additionalProperties": False}, "not every property", id="optional_property"),
        pytest.param({"type": "object", "properties": {"a": {"type": "string", "minLength": 1}}, "required": ["a"],
                      "additionalProperties": False}, "minLength", id="length_bound"),
        pytest.param({"type": "object", "properties": {"m": {"type": "object",
                                                               "additionalProperties": {"type": "integer"}}},
                      "required": ["m"], "additionalProperties": False}, "#.properties.m", id="free_keyed_map"),
    ],
)  # fmt: skip
def test_strict_checker_names_what_strict_mode_refuses(schema: dict, problem: str) -> None:
    assert any(problem in p for p in strict_schema_problems(schema))


def test_well_formed_reply_writes_a_lint_clean_draft_and_adds_the_question(
    bank: Path, fake_server: FakeOpenAIServer
) -> None:
    fake_server.enqueue(reply("draft_q51.json"))
    result = draft(bank, fake_server)
    assert result.exit_code == 0, result.stderr
    path = bank / "rubrics" / "q51.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# DRAFT written by a model")
    data = yaml.safe_load(text)
    assert [e["expected_score"] for e in data["exemplars"]] == [8.67, 0, 2.33]  # recomputed by the formula
    assert data["exemplars"][0]["levels"] == {"rag_mechanism": 3, "fine_tuning": 2, "choice": 2}
    assert len(fake_server.requests) == 1
    body = fake_server.requests[0]
    assert body["response_format"]["json_schema"]["strict"] is True
    assert strict_schema_problems(body["response_format"]["json_schema"]["schema"]) == []
    assert Q51 in body["messages"][1]["content"]
    # the question is in the bank, and every command printed works as printed
    listed = json.loads(run("questions", "--bank", str(bank), "--format", "json").stdout)
    assert listed[-1] == {"id": "q51", "section": "Custom", "subsection": None, "question": Q51}
    assert len(listed) == 51
    hints = [line.strip() for line in result.stdout.splitlines() if line.strip().startswith("grader rubric lint")]
    assert hints and f"--bank {bank}" in hints[0]
    lint = run(*hints[0].split()[1:])
    assert lint.exit_code == 0, lint.stdout + lint.stderr
    assert "1 rubrics checked: 0 errors" in lint.stderr
    assert "1 request to" in result.stderr and "1500 prompt + 1800 completion tokens" in result.stderr


def test_a_reply_that_fails_lint_is_re_asked_with_lint_messages(bank: Path, fake_server: FakeOpenAIServer) -> None:
    fake_server.enqueue(reply("draft_q51_lint_errors.json"), reply("draft_q51.json"))
    result = draft(bank, fake_server)
    assert result.exit_code == 0, result.stderr
    assert len(fake_server.requests) == 2
    reask = fake_server.requests[1]["messages"]
    assert reask[-2]["role"] == "assistant"
    assert "criterion 'fine_tuning' has 2 levels; use at least 3" in reask[-1]["content"]
    assert "2 exemplars; write at least 3" in reask[-1]["content"]
    assert "2 requests" in result.stderr
    assert (bank / "rubrics" / "q51.yaml").is_file()


def test_garbage_exits_1_after_the_re_asks_with_one_line_and_no_file(bank: Path, fake_server: FakeOpenAIServer) -> None:
    before = (bank / "questions.yaml").read_bytes()
    fake_server.enqueue(
        Reply("Sure! Here is a great rubric."), Reply({"rubric": "x"}), reply("draft_q51_lint_errors.json")
    )
    result = draft(bank, fake_server)
    assert result.exit_code == 1
    assert len(fake_server.requests) == 3  # the first ask and two re-asks
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("Error: no lint-clean rubric for q51")
    assert "nothing written" in result.stderr
    assert not (bank / "rubrics" / "q51.yaml").exists()
    assert (bank / "questions.yaml").read_bytes() == before


def test_max_reasks_bounds_the_requests(bank: Path, fake_server: FakeOpenAIServer) -> None:
    fake_server.enqueue(Reply("no"), Reply("no"))
    result = draft(bank, fake_server, "--max-reasks", "0")
    assert result.exit_code == 1 and len(fake_server.requests) == 1


def test_never_overwrites_without_force_and_the_cache_spares_the_second_call(
    bank: Path, fake_server: FakeOpenAIServer
) -> None:
    fake_server.enqueue(reply("draft_q51.json"))
    assert draft(bank, fake_server).exit_code == 0
    path = bank / "rubrics" / "q51.yaml"
    path.write_text(path.read_text() + "# my edit\n")
    again = draft(bank, fake_server)
    assert again.exit_code == 1 and "exists; pass --force" in again.stderr
    assert path.read_text().endswith("# my edit\n")
    forced = draft(bank, fake_server, "--force")
    assert forced.exit_code == 0, forced.stderr
    assert len(fake_server.requests) == 1 and "from the cache" in forced.stderr
    assert not path.read_text().endswith("# my edit\n")


def test_a_shipped_rubric_is_replaced_in_the_bank_not_in_the_base(
    bank: Path, fake_server: FakeOpenAIServer, repo: Path
) -> None:
    result = run("rubric", "draft", "q05", "--bank", str(bank), "--base-url", fake_server.url)
    assert result.exit_code == 1 and "q05.yaml exists; pass --force" in result.stderr
    assert not fake_server.requests


def test_dry_run_calls_no_model_and_writes_nothing(bank: Path, fake_server: FakeOpenAIServer) -> None:
    before = (bank / "questions.yaml").read_bytes()
    result = run(
        "rubric", "draft", "q51", "--question", Q51, "--bank", str(bank), "--dry-run", "--model", "gpt-4.1-mini"
    )
    assert result.exit_code == 0, result.stderr
    assert "dry run: drafting q51 would send" in result.stdout and "prompt tokens" in result.stdout
    assert "$" in result.stdout  # gpt-4.1-mini has a known price
    assert not fake_server.requests and not (bank / "rubrics" / "q51.yaml").exists()
    assert (bank / "questions.yaml").read_bytes() == before


def test_without_a_model_it_says_how_to_configure_one(bank: Path) -> None:
    result = run("rubric", "draft", "q51", "--question", Q51, "--bank", str(bank))
    assert result.exit_code == 1
    assert "OPENAI_API_KEY" in result.stderr and "--base-url" in result.stderr
    assert not (bank / "rubrics" / "q51.yaml").exists()


def test_a_new_id_needs_the_question_text(bank: Path, fake_server: FakeOpenAIServer) -> None:
    result = run("rubric", "draft", "q51", "--bank", str(bank), "--base-url", fake_server.url)
    assert result.exit_code == 1 and "--question TEXT" in result.stderr and f"--bank {bank}" in result.stderr


def test_notes_reach_the_prompt(bank: Path, fake_server: FakeOpenAIServer, tmp_path: Path) -> None:
    notes = tmp_path / "notes.md"
    notes.write_text("- must mention that RAG answers can cite their sources\n")
    fake_server.enqueue(reply("draft_q51.json"))
    result = draft(bank, fake_server, "--notes", str(notes))
    assert result.exit_code == 0, result.stderr
    user = fake_server.requests[0]["messages"][1]["content"]
    assert "must mention that RAG answers can cite their sources" in user
    assert "author's own notes" in fake_server.requests[0]["messages"][0]["content"]


def test_recorded_exchange_replays_the_draft(bank: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADER_RECORDINGS", str(Path(__file__).parent / "data" / "recordings"))
    result = run("rubric", "draft", "q51", "--question", Q51, "--bank", str(bank), "--no-cache")
    assert result.exit_code == 0, result.stderr
    assert yaml.safe_load((bank / "rubrics" / "q51.yaml").read_text())["criteria"][0]["id"] == "rag_mechanism"


def test_draft_prompt_matches_golden(repo: Path) -> None:
    question = Question(id="q51", section="Custom", question=Q51)
    messages, _ = draft_messages(Bank.open(repo), question, "- must mention citations\n")
    text = "".join(f"--- {m.role}\n{m.content}" for m in messages)
    path = GOLDEN / "draft_q51_prompt.txt"
    import os

    if os.environ.get("UPDATE_GOLDEN") == "1" or not path.exists():
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), "draft prompt changed; rerun with UPDATE_GOLDEN=1 if intended"


def test_a_refusal_is_one_line_and_no_re_ask(bank: Path, fake_server: FakeOpenAIServer) -> None:
    from fakeserver import refusal

    fake_server.enqueue(refusal)
    result = draft(bank, fake_server)
    assert result.exit_code == 1 and "the model refused to draft a rubric for q51" in result.stderr
    assert len(fake_server.requests) == 1 and not (bank / "rubrics" / "q51.yaml").exists()


def test_exemplar_levels_that_name_no_criterion_go_back_to_the_model(bank: Path, fake_server: FakeOpenAIServer) -> None:
    wrong = json.loads((DATA / "draft_q51.json").read_text())  # hand-made, then broken on purpose
    wrong["exemplars"][0]["levels"][0]["criterion"] = "mechanism"
    wrong["exemplars"][1]["levels"].append({"criterion": "choice", "level": 1})
    fake_server.enqueue(Reply(wrong), reply("draft_q51.json"))
    result = draft(bank, fake_server)
    assert result.exit_code == 0, result.stderr
    feedback = fake_server.requests[1]["messages"][-1]["content"]
    assert "levels name unknown criteria: mechanism" in feedback
    assert "exemplars[1].levels: criterion 'choice' is given twice" in feedback
