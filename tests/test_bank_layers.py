"""Banks built on a base (bank.yaml), `grader bank init`, `rubric new --question`, and calibrate's gate."""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from grader.authoring.banks import add_question
from grader.bank import Bank
from grader.bank.questions import load_questions
from grader.bank.rubrics import load_rubric
from grader.cli import app
from grader.errors import BankError
from grader.models import Question


def run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


@pytest.fixture
def extended(tmp_path: Path) -> Path:
    root = tmp_path / "team"
    result = run("bank", "init", str(root), "--extend")
    assert result.exit_code == 0, result.stderr
    return root


def test_an_extending_bank_sees_the_shipped_questions_and_rubrics(extended: Path, repo: Path) -> None:
    bank = Bank.open(extended)
    assert bank.base is not None and bank.base.root == repo
    assert len(load_questions(bank)) == 50
    assert bank.rubric_path("q05") == repo / "rubrics" / "q05.yaml"
    assert load_rubric(bank, "q05").rubric.question_id == "q05"
    assert len(bank.rubric_paths()) == 50
    assert not any((extended / "rubrics").iterdir())  # nothing copied
    assert bank.prompts_dir == repo / "prompts"


def test_its_own_questions_and_rubrics_add_to_or_replace_the_base(extended: Path, repo: Path) -> None:
    (extended / "questions.yaml").write_text(
        "- {id: q05, section: Mine, question: 'How does a VAE differ from a GAN, in one line?'}\n"
        "- {id: q51, section: Custom, question: What is RAG?}\n"
    )
    shutil.copy(repo / "rubrics" / "q05.yaml", extended / "rubrics" / "q05.yaml")
    bank = Bank.open(extended)
    questions = load_questions(bank)
    assert [q.id for q in questions][-1] == "q51" and len(questions) == 51
    assert next(q for q in questions if q.id == "q05").section == "Mine"  # replaced in place
    assert [q.id for q in questions].index("q05") == 4
    assert bank.rubric_path("q05") == extended / "rubrics" / "q05.yaml"
    assert bank.rubric_paths().count(extended / "rubrics" / "q05.yaml") == 1
    assert repo / "rubrics" / "q05.yaml" not in bank.rubric_paths()


def test_grading_through_an_extending_bank(extended: Path, repo: Path) -> None:
    answer = repo / "examples" / "q05_answer.txt"
    result = run("grade", "q05", "--answer-file", str(answer), "--bank", str(extended), "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "graded"


def test_a_base_may_be_another_bank_folder(tmp_path: Path, extended: Path) -> None:
    (extended / "questions.yaml").write_text("- {id: q51, section: Custom, question: What is RAG?}\n")
    child = tmp_path / "child"
    child.mkdir()
    (child / "bank.yaml").write_text("base: ../team\n")
    assert [q.id for q in load_questions(Bank.open(child))][-1] == "q51"  # no questions.yaml of its own needed


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("base: ../nowhere\n", "no such directory", id="missing_base"),
        pytest.param("base: .\n", "cannot build on itself", id="itself"),
        pytest.param("base: [1]\n", "base must be", id="not_a_string"),
        pytest.param("basis: shipped\n", "expected one key", id="unknown_key"),
        pytest.param("base: ../loop_b\n", "a loop", id="loop"),
    ],
)
def test_bad_bank_yaml_is_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    for name, base in (("loop_a", "../loop_b"), ("loop_b", "../loop_a")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "bank.yaml").write_text(f"base: {base}\n")
    root = tmp_path / "bank"
    root.mkdir()
    (root / "bank.yaml").write_text(text)
    with pytest.raises(BankError, match=message):
        Bank.open(tmp_path / "loop_a" if "loop" in text else root)


def test_bank_init_writes_the_shipped_bank_out(tmp_path: Path, repo: Path) -> None:
    result = run("bank", "init", str(tmp_path / "copy"))
    assert result.exit_code == 0, result.stderr
    copy = tmp_path / "copy"
    assert (copy / "questions.yaml").read_bytes() == (repo / "questions.yaml").read_bytes()
    assert len(list((copy / "rubrics").glob("*.yaml"))) == 50 and (copy / "prompts" / "grade.user.j2").is_file()
    assert Bank.open(copy).base is None
    lint = run("rubric", "lint", "--bank", str(copy))
    assert "50 rubrics checked" in lint.stderr
    again = run("bank", "init", str(copy))
    assert again.exit_code == 1 and "not empty" in again.stderr


def test_rubric_new_adds_the_question_and_its_hint_works_as_printed(extended: Path) -> None:
    result = run("rubric", "new", "q51", "--question", "What is RAG, and when is it the wrong tool?",
                 "--bank", str(extended))  # fmt: skip
    assert result.exit_code == 0, result.stderr
    questions = yaml.safe_load((extended / "questions.yaml").read_text())
    assert questions == [{"id": "q51", "section": "Custom", "subsection": None,
                          "question": "What is RAG, and when is it the wrong tool?"}]  # fmt: skip
    assert "# Your own questions" in (extended / "questions.yaml").read_text()  # its comments kept
    hint = result.stdout.strip().splitlines()[-1].split("then run: ", 1)[1]
    assert f"--bank {extended}" in hint
    lint = run(*shlex.split(hint)[1:])
    assert lint.exit_code == 1  # the scaffold's TODOs, not a missing question
    assert "placeholder left in" in lint.stdout and "not a question" not in lint.stdout
    scaffold = (extended / "rubrics" / "q51.yaml").read_text()
    assert f"`{hint}`" in scaffold


def test_rubric_new_for_an_unknown_id_asks_for_the_question(extended: Path) -> None:
    result = run("rubric", "new", "q51", "--bank", str(extended))
    assert result.exit_code == 1 and "add it with --question TEXT" in result.stderr
    assert f"--bank {extended}" in result.stderr


def test_rubric_new_refuses_a_different_text_for_a_known_id(extended: Path) -> None:
    result = run("rubric", "new", "q05", "--question", "Something else?", "--bank", str(extended))
    assert result.exit_code == 1 and "already in the bank" in result.stderr


def test_add_question_appends_to_a_block_list_and_keeps_the_text(tmp_path: Path, repo: Path) -> None:
    root = tmp_path / "b"
    root.mkdir()
    shutil.copy(repo / "questions.yaml", root / "questions.yaml")
    before = (root / "questions.yaml").read_text()
    add_question(Bank.open(root), Question(id="q51", section="Custom", question="What is RAG?"))
    after = (root / "questions.yaml").read_text()
    assert after.startswith(before) and [q.id for q in load_questions(Bank.open(root))][-1] == "q51"


def test_hints_name_the_bank(extended: Path) -> None:
    (extended / "questions.yaml").write_text("- {id: q51, section: Custom, question: What is RAG?}\n")
    grade = run("grade", "q52", "--answer", "x", "--bank", str(extended))
    assert f"`grader questions --bank {extended}`" in grade.stderr
    missing = run("grade", "q51", "--answer", "x", "--bank", str(extended))
    assert f"`grader rubric new q51 --bank {extended}`" in missing.stderr


def test_calibrate_names_each_exemplar_and_gates_on_pearson() -> None:
    result = run("rubric", "calibrate", "q05", "--backend", "offline")
    assert result.exit_code == 0
    for index in range(1, 5):
        assert f"q05#{index}" in result.stdout
    assert "No mechanism and no real difference." in result.stdout  # the exemplar's note names it
    data = json.loads(run("rubric", "calibrate", "q05", "--backend", "offline", "--format", "json").stdout)
    assert [e["name"] for e in data["rubrics"][0]["exemplars"]] == ["q05#1", "q05#2", "q05#3", "q05#4"]
    passing = run("rubric", "calibrate", "q05", "--backend", "offline", "--fail-under", "0.5")
    assert passing.exit_code == 0
    failing = run("rubric", "calibrate", "q05", "--backend", "offline", "--fail-under", "1")
    assert failing.exit_code == 1 and "is under --fail-under 1" in failing.stderr


def test_the_bank_inside_an_installed_wheel_is_not_written_to(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import grader.authoring.banks as banks
    import grader.bank.base as bank_module

    installed = tmp_path / "site" / "grader" / "_bank"
    installed.mkdir(parents=True)
    (installed / "questions.yaml").write_text("- {id: q01, section: S, question: What is a GAN?}\n")
    monkeypatch.setattr(bank_module, "shipped_bank_root", lambda: installed)
    monkeypatch.setattr(banks, "shipped_bank_root", lambda: installed)
    result = run("rubric", "new", "q51", "--question", "What is RAG?")
    assert result.exit_code == 1 and "grader bank init mybank --extend" in result.stderr
    assert "q51" not in (installed / "questions.yaml").read_text()
