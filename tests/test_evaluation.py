"""Measuring the grader: run_eval and calibrate through the GradingService, and the eval / calibrate commands."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fakeserver import FakeOpenAIServer
from typer.testing import CliRunner

from grader.bank import Bank
from grader.bank.examples import load_bank_examples, parse_rows, read_rows
from grader.bank.questions import find_question, load_questions
from grader.bank.reference import REFERENCE_TAG
from grader.bank.rubrics import load_rubric
from grader.cli import app
from grader.config import Settings
from grader.errors import Failure, InputError, QuestionNotFound
from grader.evaluation.measure import (
    ExemplarCheck,
    Ordering,
    calibrate,
    exclude_evaluated,
    exemplar_ordering,
    run_eval,
    synthetic_question,
)
from grader.grading.service import GradingService
from grader.judges.base import GradingTask, Judgement
from grader.judges.offline import OfflineJudge
from grader.models import CriterionVerdict, Question, Rubric, Verdict
from grader.vocabulary import ErrorCode

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data" / "eval"


def bank_rubrics(question_id: str) -> tuple[Question, Rubric]:
    bank = Bank.open(REPO)
    return find_question(load_questions(bank), question_id), load_rubric(bank, question_id).rubric


def via(judge: object) -> GradingService:
    """The service eval and calibrate grade through, with this judge in it."""
    return GradingService(Settings(backend="offline", bank=REPO, use_cache=False), judge=judge)  # type: ignore[arg-type]


def no_bank(question_id: str) -> tuple[Question, Rubric]:
    raise QuestionNotFound(f"no question {question_id!r}")


@dataclass
class ScriptedJudge:
    """Gives every criterion the same level (or no verdict), and records each task."""

    level: int | None = 1
    name: str = "scripted"
    tasks: list[GradingTask] = field(default_factory=list)

    async def judge(self, task: GradingTask) -> Judgement:
        self.tasks.append(task)
        if self.level is None:
            return Judgement(verdict=None, failure=Failure(ErrorCode.llm_unavailable, "down"))
        return Judgement(
            verdict=Verdict(criteria={c.id: CriterionVerdict(level=self.level) for c in task.rubric.criteria})
        )


def test_run_eval_scores_through_the_service() -> None:
    rows = read_rows(DATA / "reference_rows.jsonl")
    judge = ScriptedJudge(level=4)  # reference rubrics have nine levels: 4/8 of every criterion is half marks
    result = run_eval(rows, via(judge), no_bank, resamples=0)
    assert len(judge.tasks) == len(rows) == result.agreement.n
    assert {i.grader for i in result.items} == {0.5}
    assert result.agreement.pearson is None  # the judge is constant: undefined, not NaN
    assert result.agreement.mae is not None and result.questions == 2 and result.ungraded == 0
    rubric = judge.tasks[0].rubric
    assert REFERENCE_TAG in rubric.tags and rubric.question_id == synthetic_question(rows[0].key).id


def test_ungraded_answers_are_counted_not_scored() -> None:
    rows = read_rows(DATA / "reference_rows.jsonl")
    result = run_eval(rows, via(ScriptedJudge(level=None)), no_bank, resamples=0)
    assert result.ungraded == len(rows) and result.agreement.n == 0
    assert all(i.grader is None and i.error == "llm_unavailable: down" for i in result.items)


def test_invalid_verdicts_are_ungraded() -> None:
    rows = read_rows(DATA / "reference_rows.jsonl")
    result = run_eval(rows, via(ScriptedJudge(level=99)), no_bank, resamples=0)
    assert result.ungraded == len(rows)
    assert all((i.error or "").startswith("invalid_verdict: criteria.part_1.level: 99") for i in result.items)


def test_offline_judge_agrees_with_the_fixture_graders() -> None:
    rows = read_rows(DATA / "reference_rows.jsonl")
    test = [r for r in rows if r.split == "test"]
    train = [r for r in rows if r.split == "train"]
    alone = run_eval(test, via(OfflineJudge()), no_bank, resamples=200)
    taught = run_eval(test, via(OfflineJudge()), no_bank, examples=train, resamples=200)
    for result in (alone, taught):
        assert result.agreement.pearson is not None and result.agreement.pearson > 0.5
        assert set(result.agreement.ci) == {"pearson", "spearman", "qwk", "mae"}
    assert taught.examples_used == len(train) and alone.examples_used == 0
    assert run_eval(test, via(OfflineJudge()), no_bank, resamples=200) == alone  # deterministic, bootstrap included


def test_bank_rows_use_the_rubric_and_its_max_score() -> None:
    rows = read_rows(DATA / "bank_rows.jsonl")
    judge = ScriptedJudge(level=3)
    result = run_eval(rows, via(judge), bank_rubrics, resamples=0)
    assert {t.rubric.question_id for t in judge.tasks} == {"q05"}
    assert [i.human for i in result.items][:2] == [0.85, 0.45]  # score / the rubric's max_score of 10
    assert {i.grader for i in result.items} == {1.0}
    offline = run_eval(rows, via(OfflineJudge()), bank_rubrics, resamples=0)
    assert offline.agreement.spearman is not None and offline.agreement.spearman > 0.5


def test_unknown_question_id_is_an_error() -> None:
    rows = parse_rows(['{"question_id": "q99", "answer": "a", "score": 1}'], "f")
    with pytest.raises(QuestionNotFound):
        run_eval(rows, via(ScriptedJudge()), no_bank, resamples=0)


def test_examples_never_include_the_evaluated_rows() -> None:
    rows = read_rows(DATA / "reference_rows.jsonl")
    test = [r for r in rows if r.split == "test"]
    kept, dropped = exclude_evaluated(rows, test)
    assert dropped == len(test) and len(kept) == len(rows) - len(test)
    judge = ScriptedJudge()
    result = run_eval(test, via(judge), no_bank, examples=rows, resamples=0)
    assert result.examples_excluded == len(test)
    shown = {e.answer for t in judge.tasks for e in t.examples}
    assert not shown & {r.answer for r in test}
    assert all(e.answer for t in judge.tasks for e in t.examples)


def test_calibrate_leaves_each_exemplar_out() -> None:
    question, rubric = bank_rubrics("q05")
    judge = ScriptedJudge(level=2)
    result = calibrate([(question, rubric)], via(judge))
    assert len(judge.tasks) == len(rubric.exemplars) == len(result.rubrics[0].checks)
    for task in judge.tasks:
        assert task.answer not in {e.answer for e in task.rubric.exemplars}
        assert len(task.rubric.exemplars) == len(rubric.exemplars) - 1
    check = result.rubrics[0].checks[0]
    assert check.levels == dict.fromkeys((c.id for c in rubric.criteria), 2) and check.score is not None
    assert result.rubrics[0].level_exact is not None and result.overall.n == 4
    whole = ScriptedJudge(level=2)
    calibrate([(question, rubric)], via(whole), leave_one_out=False)
    assert all(t.rubric is rubric for t in whole.tasks)


def test_calibrate_offline_on_q05() -> None:
    question, rubric = bank_rubrics("q05")
    result = calibrate([(question, rubric)], via(OfflineJudge()))
    one = result.rubrics[0]
    assert one.mae_pct is not None and one.mae_pct < 0.35
    assert one.agreement.pearson is not None and one.agreement.pearson > 0.5


def test_calibrate_reports_ungraded_exemplars() -> None:
    result = calibrate([bank_rubrics("q05")], via(ScriptedJudge(level=None)))
    assert all(c.score is None and c.error for c in result.rubrics[0].checks)
    assert result.rubrics[0].mae_pct is None and result.overall.n == 0


def cli(*args: str) -> object:
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def test_cli_eval_json_and_text() -> None:
    path = str(DATA / "reference_rows.jsonl")
    result = cli("eval", path, "--split", "test", "--examples", path, "--examples-split", "train",
                 "--format", "json", "--backend", "offline", "--resamples", "100")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert {"n", "pearson", "spearman", "qwk", "mae", "exact", "adjacent", "confusion", "ci"} <= set(data)
    assert data["n"] == 6 and data["examples_used"] == 9 and data["judge"] == "offline"
    text = cli("eval", path, "--backend", "offline", "--per-question", "--bins", "4", "--resamples", "50")
    assert text.exit_code == 0
    for word in ("pearson", "spearman", "qwk", "mae", "95% interval", "Confusion", "0-25%", "hash table"):
        assert word in text.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--split", "nope"], "no rows with split 'nope' (splits present: test, train)", id="empty_split"),
        pytest.param(["--score-field", "points"], "reference_rows.jsonl:1: missing field 'points'", id="score_field"),
    ],
)
def test_cli_eval_errors_are_one_line(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["eval", str(DATA / "reference_rows.jsonl"), "--backend", "offline", *args])
    assert result.exit_code == 1
    assert message in result.stderr and result.stderr.count("\n") == 1


def test_cli_eval_bad_row(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text('{"question_id": "q05", "answer": "a", "score": 1}\n{"answer": "b", "score": "x"}\n')
    result = CliRunner().invoke(app, ["eval", str(path), "--backend", "offline"])
    assert result.exit_code == 1 and f"{path}:2: score 'x' is not a number" in result.stderr


def test_cli_calibrate() -> None:
    result = cli("rubric", "calibrate", "q05", "--backend", "offline", "--format", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert [r["question_id"] for r in data["rubrics"]] == ["q05"] and len(data["rubrics"][0]["exemplars"]) == 4
    text = cli("rubric", "calibrate", "q05", "--backend", "offline")
    assert "q05" in text.stdout and "Overall: 4 exemplars" in text.stdout


@pytest.fixture
def bank(tmp_path: Path) -> Path:
    shutil.copy(REPO / "questions.yaml", tmp_path / "questions.yaml")
    (tmp_path / "rubrics").mkdir()
    shutil.copy(REPO / "rubrics" / "q05.yaml", tmp_path / "rubrics" / "q05.yaml")
    return tmp_path


def test_cli_add_example(bank: Path, tmp_path: Path) -> None:
    answer = tmp_path / "answer.txt"
    answer.write_text("A VAE encodes to a distribution; a GAN plays a minimax game.", encoding="utf-8")
    result = cli("rubric", "add-example", "q05", "--answer-file", str(answer), "--score", "6", "--bank", str(bank))
    assert result.exit_code == 0, result.stderr
    examples = load_bank_examples(Bank.open(bank), "q05", 10)
    assert [(e.answer, e.score_norm) for e in examples] == [(answer.read_text(encoding="utf-8"), 0.6)]
    calibrated = cli("rubric", "calibrate", "--backend", "offline", "--bank", str(bank))
    assert calibrated.exit_code == 0 and "q05" in calibrated.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["q05", "--answer", "text", "--score", "11"], "outside 0 … 10", id="score_too_high"),
        pytest.param(["q05", "--answer", "text", "--score", "-1"], "outside 0 … 10", id="negative"),
        pytest.param(["q05", "--answer", "  ", "--score", "5"], "empty", id="blank_answer"),
        pytest.param(["q77", "--answer", "text", "--score", "5"], "q77", id="unknown_question"),
    ],
)
def test_cli_add_example_refuses(bank: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["rubric", "add-example", *args, "--bank", str(bank)])
    assert result.exit_code == 1 and message in result.stderr
    assert not Bank.open(bank).examples_path("q05").exists()


def test_input_error_type_for_bad_data() -> None:
    with pytest.raises(InputError):
        parse_rows(['{"answer": 1, "score": 1, "question_id": "q05"}'], "f")


def test_rows_and_examples_share_the_default_score_max() -> None:
    q = '"question": "Q?", "reference_answer": "Hashing maps keys to buckets."'
    rows = parse_rows([f'{{{q}, "answer": "keys to buckets", "score": 2}}'], "rows")
    examples = parse_rows([f'{{{q}, "answer": "hashing maps keys to buckets", "score": 4}}'], "examples")
    judge = ScriptedJudge()
    result = run_eval(rows, via(judge), no_bank, examples=examples, resamples=0)
    assert result.items[0].human == 0.5  # 2 of the 4 seen across rows and examples
    assert judge.tasks[0].rubric.max_score == 4 and judge.tasks[0].examples[0].score_norm == 1.0


def test_eval_grades_like_grade_does_and_uses_the_cache(fake_server: FakeOpenAIServer) -> None:
    """eval goes through the GradingService: the same request as `grader grade`, and a re-run costs no call."""
    path = str(DATA / "bank_rows.jsonl")
    rows = read_rows(DATA / "bank_rows.jsonl")
    args = ["eval", path, "--base-url", fake_server.url, "--model", "gpt-4.1", "--resamples", "0", "--format", "json"]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    assert len(fake_server.requests) == len(rows)
    assert {b["model"] for b in fake_server.requests} == {"gpt-4.1"}
    assert fake_server.requests[0]["response_format"]["json_schema"]["strict"] is True
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0 and len(fake_server.requests) == len(rows)  # all from the cache
    assert json.loads(again.stdout)["n"] == json.loads(first.stdout)["n"] == len(rows)


def check(expected: float, score: float | None) -> ExemplarCheck:
    return ExemplarCheck("q05", 0, expected, score, 10, None, None)


@pytest.mark.parametrize(
    ("pairs", "concordant", "discordant", "tied", "top"),
    [
        pytest.param([(9, 8), (5, 4), (1, 0)], 3, 0, 0, True, id="in_order"),
        pytest.param([(9, 1), (1, 9)], 0, 1, 0, False, id="reversed"),
        pytest.param([(9, 5), (1, 5)], 0, 0, 1, False, id="tied_is_not_above"),
        pytest.param([(5, 3), (5, 7)], 0, 0, 0, None, id="same_expected_nothing_to_compare"),
        pytest.param([(9, None), (1, 0)], 0, 0, 0, None, id="ungraded_left_out"),
        pytest.param([], 0, 0, 0, None, id="no_exemplars"),
        pytest.param([(9, 9), (5, 2), (1, 3)], 2, 1, 0, True, id="one_pair_swapped"),
    ],
)
def test_exemplar_ordering(
    pairs: list[tuple[float, float | None]], concordant: int, discordant: int, tied: int, top: bool | None
) -> None:
    assert exemplar_ordering([check(e, s) for e, s in pairs]) == Ordering(concordant, discordant, tied, top)


def test_cli_calibrate_reports_the_order() -> None:
    result = cli("rubric", "calibrate", "q05", "q07", "--backend", "offline", "--format", "json")
    data = json.loads(result.stdout)  # type: ignore[attr-defined]
    assert data["ordering"]["rubrics"] == 2 and data["ordering"]["top_above_bottom"] == 2
    assert all(r["ordering"]["top_above_bottom"] is True for r in data["rubrics"])
