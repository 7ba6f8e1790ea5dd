"""The CLI: golden output from recorded exchanges, the JSON contract, and one-line errors for bad input."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grader import __version__
from grader.cli import app
from grader.cli.options import DEFAULT_MODEL_HELP
from grader.config import DEFAULT_MODEL

RECORDINGS = Path(__file__).parent / "data" / "recordings"
GOLDEN = Path(__file__).parent / "data" / "golden"


def run(*args: str, env: dict[str, str] | None = None, stdin: str | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, list(args), env=env, input=stdin, catch_exceptions=False)


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1" or not path.exists():
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{name} changed; rerun with UPDATE_GOLDEN=1 if intended"


@pytest.fixture
def recorded() -> dict[str, str]:
    return {"GRADER_RECORDINGS": str(RECORDINGS)}


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_grade_output_matches_golden(recorded: dict[str, str], repo: Path, fmt: str) -> None:
    result = run(
        "grade", "q05", "--answer-file", str(repo / "examples" / "q05_answer.txt"), "--format", fmt, env=recorded
    )
    assert result.exit_code == 0, result.stderr
    check_golden(f"grade_q05.{fmt}", result.stdout)


def test_grade_json_has_the_interface_fields(recorded: dict[str, str], repo: Path) -> None:
    result = run(
        "grade", "q05", "--answer-file", str(repo / "examples" / "q05_answer.txt"), "--format", "json", env=recorded
    )
    data = json.loads(result.stdout)
    assert {"question_id", "status", "score", "max_score", "criteria", "feedback", "flags", "error", "backend", "model",
            "usage", "provenance"} <= set(data)  # fmt: skip
    assert data["status"] == "graded" and data["score"] == 8.67 and data["max_score"] == 10
    assert data["error"] is None and data["flags"] == []
    assert {"id", "level", "score", "max_score", "rationale", "evidence"} <= set(data["criteria"][0])
    assert {"strengths", "gaps", "misconceptions", "next_step"} <= set(data["feedback"])
    assert set(data["usage"]) == {"prompt_tokens", "completion_tokens", "cost_usd"}
    assert {"rubric_sha256", "prompt_sha256", "grader_version", "bank"} <= set(data["provenance"])
    assert data["provenance"]["grader_version"] == __version__


def test_missing_recording_fails_loudly_with_instructions(recorded: dict[str, str]) -> None:
    with pytest.raises(AssertionError, match="Re-record with GRADER_RECORD=1"):
        run("grade", "q05", "--answer", "an answer nobody recorded", env=recorded)


def test_answer_from_stdin(recorded: dict[str, str], repo: Path) -> None:
    answer = (repo / "examples" / "q05_answer.txt").read_text()
    result = run("grade", "q05", "--format", "json", env=recorded, stdin=answer)
    assert json.loads(result.stdout)["score"] == 8.67


def test_answer_file_dash_is_stdin(recorded: dict[str, str], repo: Path) -> None:
    answer = (repo / "examples" / "q05_answer.txt").read_text()
    result = run("grade", "q05", "--answer-file", "-", "--format", "json", env=recorded, stdin=answer)
    assert json.loads(result.stdout)["score"] == 8.67


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["grade", "q99", "--answer", "x"], "Error: no question 'q99' in the bank", id="unknown_question"),
        pytest.param(["grade", "q05", "--answer-file", "/nonexistent/a.txt"], "no such file", id="missing_file"),
        pytest.param(["grade", "q05", "--answer", ""], "Error: the answer is empty", id="empty_answer"),
        pytest.param(["grade", "q05", "--answer", "x", "--answer-file", "y"], "give the answer once", id="two_answers"),
        pytest.param(["grade", "q05", "--answer", "x", "--bank", "/nonexistent"], "no such directory", id="bad_bank"),
        pytest.param(["grade", "../q05", "--answer", "x"], "no question '../q05'", id="path_as_id"),
    ],
)
def test_bad_input_is_one_line_and_exit_1(args: list[str], message: str) -> None:
    result = run(*args)
    assert result.exit_code == 1
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2  # the offline notice may precede the error
    assert "Traceback" not in result.stderr + result.stdout


def test_binary_answer_file(tmp_path: Path) -> None:
    path = tmp_path / "a.bin"
    path.write_bytes(b"\x89PNG\x00\x00")
    result = run("grade", "q05", "--answer-file", str(path))
    assert result.exit_code == 1 and "binary file, expected text" in result.stderr


def test_broken_rubric_names_file_and_line(tmp_path: Path, repo: Path) -> None:
    bank = tmp_path / "bank"
    shutil.copytree(repo / "rubrics", bank / "rubrics", ignore=shutil.ignore_patterns("q0[!5]*", "q[1-9]*"))
    shutil.copy(repo / "questions.yaml", bank)
    rubric = bank / "rubrics" / "q05.yaml"
    rubric.write_text(rubric.read_text().replace("    weight: 2\n", "    weight: heavy\n", 1))
    result = run("grade", "q05", "--answer", "x", "--bank", str(bank))
    assert result.exit_code == 1
    line = rubric.read_text().splitlines().index("    weight: heavy") + 1
    assert f"{rubric}:{line}: criteria.1.weight: Input should be a valid number" in result.stderr


def test_usage_error_exits_2() -> None:
    result = CliRunner().invoke(app, ["grade", "q05", "--no-such-flag"])
    assert result.exit_code == 2


def test_version() -> None:
    assert run("--version").stdout.strip() == f"grader {__version__}"


def test_help_states_the_default_model() -> None:
    assert DEFAULT_MODEL_HELP == DEFAULT_MODEL
    assert DEFAULT_MODEL in " ".join(run("grade", "--help").stdout.split())


def test_questions_lists_fifty() -> None:
    data = json.loads(run("questions", "--format", "json").stdout)
    assert len(data) == 50 and data[4]["id"] == "q05"
    assert "q05  How does a Variational Autoencoder (VAE) differ from a GAN?" in run("questions").stdout


def test_rubric_show_json_has_the_contract_keys() -> None:
    data = json.loads(run("rubric", "show", "q05", "--format", "json").stdout)
    assert {"question_id", "max_score", "criteria", "reference_answer", "exemplars"} <= set(data)
    assert {"id", "weight", "levels", "key_points"} <= set(data["criteria"][0])
    assert {"answer", "expected_score"} <= set(data["exemplars"][0])


def test_rubric_schema_is_json_schema() -> None:
    data = json.loads(run("rubric", "schema").stdout)
    assert data["$schema"].startswith("https://json-schema.org/") and data["additionalProperties"] is False


def test_rubric_new_scaffold_then_lint_points_at_todos(tmp_path: Path, repo: Path) -> None:
    bank = tmp_path / "bank"
    bank.mkdir()
    shutil.copy(repo / "questions.yaml", bank)
    result = run("rubric", "new", "q07", "--bank", str(bank))
    assert result.exit_code == 0 and (bank / "rubrics" / "q07.yaml").is_file()
    again = run("rubric", "new", "q07", "--bank", str(bank))
    assert again.exit_code == 1 and "--force" in again.stderr
    lint = run("rubric", "lint", str(bank / "rubrics" / "q07.yaml"), "--bank", str(bank))
    assert lint.exit_code == 1 and "reference answer has 1 words" in lint.stdout
    errors = [line for line in lint.stdout.splitlines() if ": error: " in line]
    # The scaffold's structure is valid (criteria, levels, exemplar scores): only what the author must write is left.
    assert all("placeholder left in" in e or "reference answer has" in e for e in errors), errors
    assert sum("placeholder left in" in e for e in errors) == 13
    assert any(":14: error: placeholder left in criteria[0].description" in e for e in errors), errors


def test_cache_clear(tmp_path: Path, recorded: dict[str, str], repo: Path) -> None:
    run("grade", "q05", "--answer-file", str(repo / "examples" / "q05_answer.txt"), env=recorded)
    result = run("cache", "clear")
    assert "Removed 1 cached grades" in result.stdout
