"""Graded answers as data: row parsing with file:line errors, score_max defaults, bank example files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from grader.bank import Bank
from grader.bank.examples import (
    append_example,
    group_examples,
    load_bank_examples,
    normalized,
    parse_row,
    parse_rows,
    read_rows,
    score_maxima,
)
from grader.errors import BankError, InputError

DATA = Path(__file__).parent / "data" / "eval"


def line(**fields: object) -> str:
    return json.dumps(fields)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(line(question_id="q05", answer="A VAE …", score=7), ("q05", 7.0, None), id="bank_row"),
        pytest.param(
            line(question="Q?", reference_answer="R.", answer="a", score=1, score_max=2, split="train"),
            ("Q?", 1.0, 2.0),
            id="reference_row",
        ),
        pytest.param(line(question_id="q05", answer="x", score="2.5"), ("q05", 2.5, None), id="score_as_text"),
        pytest.param(line(question_id="q05", answer="", score=0), ("q05", 0.0, None), id="empty_answer_kept"),
        pytest.param(line(question_id="q05", answer="ü ✓ 中文", score=1, extra=[1]), ("q05", 1.0, None), id="unicode"),
    ],
)
def test_parse_row(text: str, expected: tuple[str, float, float | None]) -> None:
    row = parse_row(text, "data.jsonl:3")
    assert (row.key, row.score, row.score_max) == expected
    assert row.where == "data.jsonl:3"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("{not json", "not valid JSON", id="bad_json"),
        pytest.param("[1, 2]", "expected a JSON object, got list", id="array"),
        pytest.param(line(question_id="q05", score=1), "missing field 'answer'", id="no_answer"),
        pytest.param(line(question_id="q05", answer="a"), "missing field 'score'", id="no_score"),
        pytest.param(line(question_id="q05", answer="a", score="high"), "score 'high' is not a number", id="text"),
        pytest.param(line(question_id="q05", answer="a", score=True), "is not a number", id="boolean"),
        pytest.param('{"question_id": "q05", "answer": "a", "score": NaN}', "is not a number", id="nan"),
        pytest.param(line(question_id="q05", answer="a", score=[1]), "is not a number", id="list_score"),
        pytest.param(line(question_id="q05", answer=5, score=1), "answer must be a string", id="answer_not_text"),
        pytest.param(line(question_id="q05", answer="a", score=-1), "is negative", id="negative"),
        pytest.param(line(question_id="q05", answer="a", score=3, score_max=2), "above score_max 2", id="over_max"),
        pytest.param(line(question_id="q05", answer="a", score=0, score_max=0), "must be above 0", id="zero_max"),
        pytest.param(line(answer="a", score=1), "needs question_id, or question and reference_answer", id="no_q"),
        pytest.param(line(question="Q?", answer="a", score=1), "needs question_id", id="no_reference"),
        pytest.param(line(question="Q?", reference_answer=" ", answer="a", score=1), "needs question_id", id="blank"),
    ],
)
def test_bad_rows_name_file_and_line(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as caught:
        parse_row(text, "data.jsonl:7")
    assert str(caught.value).startswith("data.jsonl:7: ")
    assert "\n" not in str(caught.value)


def test_parse_rows_counts_lines_and_skips_blanks() -> None:
    lines = [line(question_id="q05", answer="a", score=1), "", "  ", "{oops"]
    with pytest.raises(InputError, match=r"^f\.jsonl:4: "):
        parse_rows(lines, "f.jsonl")
    assert len(parse_rows(lines[:3], "f.jsonl")) == 1


def test_read_rows_from_file_with_other_score_field(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text(line(question_id="q05", answer="a", score_avg=4) + "\n", encoding="utf-8")
    assert read_rows(path, "score_avg")[0].score == 4
    with pytest.raises(InputError, match=r"rows\.jsonl:1: missing field 'score'"):
        read_rows(path)


def test_fixture_rows_load() -> None:
    rows = read_rows(DATA / "reference_rows.jsonl")
    assert len(rows) == 15 and {r.split for r in rows} == {"train", "test"}
    assert len({r.key for r in rows}) == 2


@pytest.mark.parametrize(
    ("make", "message"),
    [
        pytest.param(lambda p: p / "absent.jsonl", "no such file", id="missing"),
        pytest.param(lambda p: p, "is a folder", id="folder"),
        pytest.param(lambda p: _write(p / "latin1.jsonl", b'{"answer": "caf\xe9"}\n'), "not UTF-8", id="not_utf8"),
    ],
)
def test_unreadable_files(tmp_path: Path, make, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError, match=message):
        read_rows(make(tmp_path))


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_score_max_defaults() -> None:
    rows = parse_rows(
        [
            line(question_id="q05", answer="a", score=5),
            line(question="Q?", reference_answer="R.", answer="b", score=2),
            line(question="Q?", reference_answer="R.", answer="c", score=4),
            line(question="Q?", reference_answer="R.", answer="d", score=1, score_max=10),
        ],
        "f",
    )
    maxima = score_maxima(rows, {"q05": 10.0})
    assert maxima == {"q05": 10.0, "Q?": 4.0}
    assert [normalized(r, maxima) for r in rows] == [0.5, 0.5, 1.0, 0.1]


def test_score_above_rubric_max_is_an_error() -> None:
    rows = parse_rows([line(question_id="q05", answer="a", score=12)], "f.jsonl")
    with pytest.raises(InputError, match=r"f\.jsonl:1: score 12 is above the rubric's max_score 10"):
        score_maxima(rows, {"q05": 10.0})


def test_all_zero_scores_normalise_to_zero() -> None:
    rows = parse_rows([line(question="Q?", reference_answer="R.", answer="a", score=0)], "f")
    maxima = score_maxima(rows, {})
    assert normalized(rows[0], maxima) == 0.0


def test_group_examples_by_question() -> None:
    rows = read_rows(DATA / "reference_rows.jsonl")
    grouped = group_examples(rows, score_maxima(rows, {}))
    assert sorted(len(v) for v in grouped.values()) == [7, 8]
    assert all(0 <= e.score_norm <= 1 for v in grouped.values() for e in v)


@pytest.fixture
def bank(tmp_path: Path, repo: Path) -> Bank:
    shutil.copy(repo / "questions.yaml", tmp_path / "questions.yaml")
    (tmp_path / "rubrics").mkdir()
    shutil.copy(repo / "rubrics" / "q05.yaml", tmp_path / "rubrics" / "q05.yaml")
    return Bank.open(tmp_path)


def test_append_and_load_bank_examples(bank: Bank) -> None:
    assert load_bank_examples(bank, "q05", 10) == []
    path = append_example(bank, "q05", "A VAE encodes to a distribution …", 0.7)
    append_example(bank, "q05", "Both generate images.\nSecond line, ünïcode.", 0.1)
    assert path == bank.examples_path("q05") and path.is_relative_to(bank.root)
    loaded = load_bank_examples(bank, "q05", 10)
    assert [e.score_norm for e in loaded] == [0.7, 0.1]
    assert loaded[1].answer == "Both generate images.\nSecond line, ünïcode."
    assert all(e.question_id == "q05" for e in loaded)


def test_append_after_a_file_without_final_newline(bank: Bank) -> None:
    path = bank.examples_path("q05")
    path.parent.mkdir()
    path.write_text(line(answer="hand written, no question_id", score=5), encoding="utf-8")
    append_example(bank, "q05", "appended", 1.0)
    assert [e.score_norm for e in load_bank_examples(bank, "q05", 10)] == [0.5, 1.0]


@pytest.mark.parametrize(
    ("answer", "score", "message"),
    [
        pytest.param("  ", 0.5, "empty", id="blank_answer"),
        pytest.param("ok", 1.5, "between 0 and 1", id="above_one"),
        pytest.param("ok", -0.1, "between 0 and 1", id="negative"),
        pytest.param("ok", float("nan"), "between 0 and 1", id="nan"),
    ],
)
def test_append_refuses_bad_examples(bank: Bank, answer: str, score: float, message: str) -> None:
    with pytest.raises(InputError, match=message):
        append_example(bank, "q05", answer, score)
    assert not bank.examples_path("q05").exists()


def test_example_file_of_another_question_is_refused(bank: Bank) -> None:
    path = bank.examples_path("q05")
    path.parent.mkdir()
    path.write_text(line(question_id="q07", answer="x", score=1), encoding="utf-8")
    with pytest.raises(InputError, match="q05.jsonl:1: question_id q07 in the file of q05"):
        load_bank_examples(bank, "q05", 10)


def test_example_path_cannot_escape_the_bank(bank: Bank) -> None:
    with pytest.raises(BankError, match="not a question id"):
        append_example(bank, "../../etc/passwd", "x", 0.5)
