"""Provenance on every grade, and `grader audit`: hashes change exactly when the rubric or the prompt changes."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fakeserver import FakeOpenAIServer
from typer.testing import CliRunner

from grader import __version__
from grader.bank import Bank
from grader.bank.audit import audit_results
from grader.bank.prompts import PromptRenderer
from grader.cli import app
from grader.clients.fake import ScriptedClient
from grader.config import Settings
from grader.grading.service import GradingService
from grader.models import Grade

LEVELS = {"vae_mechanism": 3, "gan_mechanism": 2, "tradeoffs": 2, "context": 1}
VERDICT = {
    "criteria": {cid: {"evidence": [], "rationale": "r", "level": level} for cid, level in LEVELS.items()},
    "feedback": {"strengths": [], "gaps": [], "misconceptions": [], "next_step": "", "follow_up_questions": []},
}


@pytest.fixture
def bank(tmp_path: Path, repo: Path) -> Path:
    root = tmp_path / "bank"
    (root / "rubrics").mkdir(parents=True)
    shutil.copy(repo / "questions.yaml", root)
    shutil.copy(repo / "rubrics" / "q05.yaml", root / "rubrics")
    shutil.copy(repo / "rubrics" / "q07.yaml", root / "rubrics")
    shutil.copytree(repo / "prompts", root / "prompts")
    return root


def llm_grade(bank: Path, answer: str, question_id: str = "q05") -> Grade:
    settings = Settings(backend="openai", bank=bank, use_cache=False)
    client = ScriptedClient().enqueue(VERDICT if question_id == "q05" else _top(bank, question_id))
    return GradingService(settings, client=client).grade_answer(question_id, answer)


def _top(bank: Path, question_id: str) -> dict[str, Any]:
    from grader.bank.rubrics import load_rubric

    rubric = load_rubric(Bank.open(bank), question_id).rubric
    return {
        "criteria": {c.id: {"evidence": [], "rationale": "r", "level": len(c.levels) - 1} for c in rubric.criteria},
        "feedback": VERDICT["feedback"],
    }


def offline_grade(bank: Path, answer: str) -> Grade:
    return GradingService(Settings(backend="offline", bank=bank, use_cache=False)).grade_answer("q05", answer)


def write_results(path: Path, *grades: Grade, candidate: str | None = None) -> Path:
    lines = [json.dumps({**g.model_dump(mode="json"), "candidate": candidate}) for g in grades]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# Provenance is filled for both judges.


def test_llm_provenance_is_complete(fake_server: FakeOpenAIServer, q05_answer: str) -> None:
    settings = Settings(backend="openai", base_url=fake_server.url, use_cache=False, max_retries=0, samples=3, seed=4)
    prov = GradingService(settings).grade_answer("q05", q05_answer).provenance
    assert all(value is not None for value in prov.model_dump().values()), prov
    assert prov.judge == "openai" and prov.model == "gpt-4.1-mini" and prov.system_fingerprint == "fp_fake"
    assert (prov.temperature, prov.seed, prov.samples, prov.level_mode) == (0.7, 4, 3, "argmax")
    assert prov.base_url == fake_server.url and prov.grader_version == __version__
    assert dt.datetime.fromisoformat(prov.graded_at).tzinfo is not None


def test_offline_provenance_is_complete(bank: Path, q05_answer: str) -> None:
    prov = offline_grade(bank, q05_answer).provenance
    assert prov.rubric_sha256 == hashlib.sha256((bank / "rubrics" / "q05.yaml").read_bytes()).hexdigest()
    assert prov.judge == "offline" and prov.bank == str(bank.resolve()) and prov.samples == 1
    assert dt.datetime.fromisoformat(prov.graded_at).tzinfo is not None
    # What does not apply to a judge without a model stays null rather than invented.
    assert prov.prompt_sha256 is None and prov.model is None and prov.temperature is None


# The hashes change exactly when the rubric or the prompt changes.


def test_hashes_follow_the_bytes_of_rubric_and_prompt(bank: Path, q05_answer: str) -> None:
    first = llm_grade(bank, q05_answer).provenance
    rubric, system = bank / "rubrics" / "q05.yaml", bank / "prompts" / "grade.system.j2"
    assert first.rubric_sha256 == hashlib.sha256(rubric.read_bytes()).hexdigest()
    assert first.prompt_sha256 == PromptRenderer(bank / "prompts").sha256()

    rubric.touch()  # a new mtime and the same bytes is no change
    assert llm_grade(bank, q05_answer).provenance.rubric_sha256 == first.rubric_sha256

    original = rubric.read_bytes()
    rubric.write_bytes(original + b"\n# reviewed again\n")
    edited = llm_grade(bank, q05_answer).provenance
    assert edited.rubric_sha256 != first.rubric_sha256 and edited.prompt_sha256 == first.prompt_sha256

    rubric.write_bytes(original)
    system.write_text(system.read_text() + "\nBe strict.\n")
    prompted = llm_grade(bank, q05_answer).provenance
    assert prompted.rubric_sha256 == first.rubric_sha256 and prompted.prompt_sha256 != first.prompt_sha256


# The audit.


def edit(old: str, new: str) -> Callable[[Path], None]:
    def apply(bank: Path) -> None:
        path = bank / "rubrics" / "q05.yaml"
        text = path.read_text()
        assert old in text
        path.write_text(text.replace(old, new, 1))

    return apply


def edit_prompt(bank: Path) -> None:
    path = bank / "prompts" / "grade.user.j2"
    path.write_text(path.read_text() + "\n")


def remove_rubric(bank: Path) -> None:
    (bank / "rubrics" / "q05.yaml").unlink()


def both(bank: Path) -> None:
    edit_prompt(bank)
    edit("max_score: 10", "max_score: 20")(bank)


@pytest.mark.parametrize(
    ("change", "status", "changes", "note"),
    [
        pytest.param(None, "unchanged", [], None, id="nothing"),
        pytest.param(lambda b: (b / "rubrics" / "q05.yaml").touch(), "unchanged", [], None, id="touched_only"),
        pytest.param(edit_prompt, "changed", ["prompt"], "prompt templates changed", id="prompt"),
        pytest.param(
            edit("question_id: q05", "question_id: q05\n# a comment"),
            "changed",
            ["rubric"],
            "same score under the current rubric",
            id="rubric_comment",
        ),
        pytest.param(edit("max_score: 10", "max_score: 20"), "changed", ["rubric"], "score 7 -> 14", id="max_score"),
        pytest.param(
            edit("    weight: 2\n", "    weight: 6\n"), "changed", ["rubric"], "under the current rubric", id="weight"
        ),
        pytest.param(remove_rubric, "rubric_missing", [], "no such file", id="rubric_removed"),
        pytest.param(both, "changed", ["rubric", "prompt"], "max_score 10 -> 20", id="rubric_and_prompt"),
    ],
)
def test_audit_says_what_changed(
    bank: Path,
    tmp_path: Path,
    q05_answer: str,
    change: Callable[[Path], None] | None,
    status: str,
    changes: list[str],
    note: str | None,
) -> None:
    results = write_results(tmp_path / "results.jsonl", llm_grade(bank, q05_answer), candidate="alice")
    if change:
        change(bank)
    report = audit_results(results, grader_version=__version__)
    (result,) = report.results
    assert (result.status, result.changes, result.candidate) == (status, changes, "alice")
    assert report.ok is (status == "unchanged")
    if note:
        assert any(note in n for n in result.notes), result.notes


def test_weight_change_rescores_the_stored_levels(bank: Path, tmp_path: Path, q05_answer: str) -> None:
    results = write_results(tmp_path / "r.jsonl", llm_grade(bank, q05_answer))
    edit("max_score: 10", "max_score: 20")(bank)
    (result,) = audit_results(results).results
    assert result.score == 7.0 and result.rescored == 14.0


def test_structural_change_cannot_be_rescored(bank: Path, tmp_path: Path, q05_answer: str) -> None:
    results = write_results(tmp_path / "r.jsonl", llm_grade(bank, q05_answer))
    path = bank / "rubrics" / "q05.yaml"
    path.write_text(path.read_text().replace("id: context", "id: setting"))
    (result,) = audit_results(results).results
    assert result.rescored is None
    assert "criteria added: setting" in result.notes and "criteria removed: context" in result.notes


def test_offline_grades_ignore_prompt_changes(bank: Path, tmp_path: Path, q05_answer: str) -> None:
    results = write_results(tmp_path / "r.jsonl", offline_grade(bank, q05_answer))
    edit_prompt(bank)
    (result,) = audit_results(results).results
    assert result.status == "unchanged" and result.prompt.recorded is None


def test_moved_bank_is_missing_until_given(bank: Path, tmp_path: Path, q05_answer: str) -> None:
    results = write_results(tmp_path / "r.jsonl", llm_grade(bank, q05_answer))
    moved = bank.rename(tmp_path / "moved")
    (result,) = audit_results(results).results
    assert result.status == "bank_missing" and "--bank" in result.notes[0]
    assert audit_results(results, Bank.open(moved)).ok


def test_per_question_summary(bank: Path, tmp_path: Path, q05_answer: str) -> None:
    grades = [llm_grade(bank, q05_answer), llm_grade(bank, "An answer."), llm_grade(bank, "Another.", "q07")]
    results = write_results(tmp_path / "r.jsonl", *grades)
    edit_prompt(bank)
    edit("max_score: 10", "max_score: 12")(bank)
    report = audit_results(results)
    q05, q07 = report.questions
    assert (q05.question_id, q05.results, q05.rubric_changed, q05.prompt_changed) == ("q05", 2, 2, 2)
    assert (q07.question_id, q07.rubric_changed, q07.prompt_changed) == ("q07", 0, 1)
    assert report.summary == {"changed": 3}


@pytest.mark.parametrize(
    ("line", "status"),
    [
        pytest.param("{not json", "unreadable", id="broken_json"),
        pytest.param("[1, 2]", "unreadable", id="json_list"),
        pytest.param('"a string"', "unreadable", id="json_string"),
        pytest.param('{"question_id": "q05"}', "unverifiable", id="no_provenance"),
        pytest.param('{"question_id": "q05", "provenance": {"rubric_sha256": 5}}', "unverifiable", id="hash_not_text"),
        pytest.param('{"provenance": {"rubric_sha256": "ab"}}', "unverifiable", id="no_question"),
        pytest.param(
            '{"question_id": "../etc/passwd", "provenance": {"rubric_sha256": "ab"}}', "unreadable", id="hostile_id"
        ),
        pytest.param(
            '{"question_id": "q05", "provenance": {"rubric_sha256": "ab", "bank": "/no/such/bank"}}',
            "bank_missing",
            id="bank_gone",
        ),
    ],
)
def test_bad_lines_are_reported_not_fatal(tmp_path: Path, bank: Path, q05_answer: str, line: str, status: str) -> None:
    path = write_results(tmp_path / "r.jsonl", llm_grade(bank, q05_answer))
    path.write_text(path.read_text() + "\n" + line + "\n")
    report = audit_results(path)
    assert [r.status for r in report.results] == ["unchanged", status]
    assert report.results[1].line == 3 and not report.ok


# The command.


def run(*args: str) -> Any:
    return CliRunner().invoke(app, ["audit", *args], catch_exceptions=False)


def test_cli_unchanged_exits_0(bank: Path, tmp_path: Path, q05_answer: str) -> None:
    results = write_results(tmp_path / "r.jsonl", llm_grade(bank, q05_answer))
    result = run(str(results))
    assert result.exit_code == 0, result.output
    assert "q05  unchanged (1 result)" in result.stdout
    assert "Summary: 1 unchanged: nothing changed since the grading." in result.stdout


def test_cli_shows_the_change_and_exits_1(bank: Path, tmp_path: Path, q05_answer: str) -> None:
    results = write_results(tmp_path / "r.jsonl", llm_grade(bank, q05_answer), candidate="alice")
    edit("max_score: 10", "max_score: 20")(bank)
    result = run(str(results))
    assert result.exit_code == 1
    assert "q05  rubric changed (1 of 1)" in result.stdout
    assert "line 1 (alice): rubric changed: max_score 10 -> 20; score 7 -> 14 under the current rubric" in result.stdout
    data = json.loads(run(str(results), "--format", "json").stdout)
    assert data["ok"] is False and data["results"][0]["changes"] == ["rubric"]
    assert data["results"][0]["rubric"]["recorded"] != data["results"][0]["rubric"]["current"]


def test_cli_reads_the_output_of_grade_format_json(bank: Path, tmp_path: Path, q05_answer: str) -> None:
    path = tmp_path / "grade.json"
    path.write_text(llm_grade(bank, q05_answer).model_dump_json(indent=2))
    result = run(str(path), "--bank", str(bank))
    assert result.exit_code == 0 and "1 unchanged" in result.stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(None, "no such file", id="missing"),
        pytest.param("", "no results in it", id="empty"),
        pytest.param(b"\xff\xfe\x00", "binary file", id="binary"),
        pytest.param(b"\xff\xfe results", "not UTF-8", id="not_utf8"),
    ],
)
def test_cli_bad_file_is_one_line_error(tmp_path: Path, content: str | bytes | None, message: str) -> None:
    path = tmp_path / "r.jsonl"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    result = run(str(path))
    assert result.exit_code == 1 and result.stderr.startswith("Error: results file") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
