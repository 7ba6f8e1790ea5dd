"""Inputs never vanish and never crash: any bytes to `grader grade`, nearest ids, notices after errors."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from grader.bank.questions import nearest_id
from grader.cli import app
from grader.text.textfile import decode_bytes

OFFLINE = {"OPENAI_API_KEY": "", "GRADER_BACKEND": "offline", "GRADER_NO_CACHE": "1"}
HOSTILE = [
    b"",
    b"\x00",
    b"\xff\xfe",
    b"\xfe\xff\x00a\x00b",
    b"\xff\xfe" + "attention".encode("utf-16-le"),
    "Attention is “all” you need – naïve".encode("cp1252"),
    "Внимание — это всё".encode("cp1251"),
    b"\xc3\x28 broken utf-8 \xa0\xa1",
    b"\xed\xa0\x80 lone surrogate",
    b"\x81\x8d\x8f\x90\x9d",
    b"\r\n\r\n\t\x0b\x0c",
    b"\x1b[31mred\x1b[0m ANSI",
    "\u202eright-to-left \u200b zero width".encode(),
    b"A GAN has a generator and a discriminator." * 2000,
]


def grade(data: bytes):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, ["grade", "q05", "--backend", "offline", "--no-cache"], input=data, env=OFFLINE)


@pytest.mark.parametrize("data", HOSTILE)
def test_grade_reads_any_bytes_on_stdin_without_a_traceback(data: bytes) -> None:
    result = grade(data)
    assert result.exit_code in (0, 1, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output + result.stderr


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_grade_never_tracebacks_on_random_bytes(data: bytes) -> None:
    result = grade(data)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)


def test_windows_1252_is_decoded_and_said_on_stderr() -> None:
    result = grade("The generator’s “mode collapse” – a GAN failure".encode("cp1252"))
    assert result.exit_code == 0
    assert "not UTF-8; read it as windows-1252" in result.stderr


@pytest.mark.parametrize(
    ("data", "text", "encoding"),
    [
        (b"plain", "plain", None),
        ("naïve “quotes”".encode("cp1252"), "naïve “quotes”", "windows-1252"),
        (b"\xff\xfe" + "hi".encode("utf-16-le"), "hi", "utf-16"),
        ("привет мир как дела сегодня".encode("cp1251"), "привет мир как дела сегодня", "cp1251"),
    ],
)
def test_decode_bytes(data: bytes, text: str, encoding: str | None) -> None:
    assert decode_bytes(data, "x") == (text, encoding)


@pytest.mark.parametrize(("wanted", "near"), [("q5", "q05"), ("Q005", "q05"), ("q50a", "q50"), ("zzz", None)])
def test_unknown_ids_suggest_the_nearest(wanted: str, near: str | None) -> None:
    assert nearest_id(wanted, [f"q{n:02d}" for n in range(1, 51)]) == near


def test_an_unknown_id_says_did_you_mean_and_no_notice_comes_before_the_error() -> None:
    env = {**OFFLINE, "GRADER_BACKEND": ""}
    result = CliRunner().invoke(app, ["grade", "q5", "--answer", "GANs"], env=env)
    assert result.exit_code != 0
    assert "did you mean q05?" in result.stderr
    assert "no LLM configured" not in result.stderr.split("did you mean")[0]


@pytest.mark.parametrize("command", [["rubric", "show", "q05"], ["batch", "x.vtt", "--out", "o"]])
def test_a_format_the_command_does_not_print_is_refused(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--format", "markdown"], env=OFFLINE)
    assert result.exit_code == 2 and "text or json" in result.stderr


def test_ctrl_c_during_a_batch_says_how_to_resume(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import grader.batch.run

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(grader.batch.run, "run_batch", interrupted)
    path = tmp_path / "a.txt"
    path.write_text("Ann: What is a GAN?\nBob: Two networks.\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["batch", str(path), "--out", str(tmp_path / "o"), "--no-progress"], env=OFFLINE)
    assert result.exit_code == 130 and "--resume" in result.stderr and "results.jsonl" in result.stderr


def test_the_reported_cost_includes_llm_matching() -> None:
    from grader.batch.reports import build_summary

    summary = build_summary([], None, {"llm_match": {"calls": 3, "usage": {"cost_usd": 0.0012}}})
    assert summary["usage"]["cost_usd"] == 0.0012 and summary["usage"]["matching_cost_usd"] == 0.0012


def test_an_evidence_quote_not_in_the_answer_is_marked_on_the_card() -> None:
    from grader.cli.render import grade_text
    from grader.models import CriterionResult, Grade, Provenance

    criterion = CriterionResult(id="mechanism", level=1, levels=3, score=1.0, max_score=2.0, rationale="ok",
                                evidence=["two networks compete", "uses a KL term"])  # fmt: skip
    grade = Grade(question_id="q02", status="graded", score=1.0, max_score=2.0, backend="openai", criteria=[criterion],
                  provenance=Provenance(grader_version="0", judge="x", graded_at="now"))  # fmt: skip
    card = grade_text(grade, None, "In a GAN, two networks compete, roughly.")
    found, invented = (line for line in card.splitlines() if "›" in line)
    assert "NOT FOUND" not in found and "two networks compete" in found
    assert "uses a KL term" in invented and "NOT FOUND in the answer" in invented


def test_an_answer_over_the_limit_is_cut_between_characters_not_through_one() -> None:
    result = grade("é".encode() * 600_001)
    assert result.exit_code == 0 and "not UTF-8" not in result.stderr
