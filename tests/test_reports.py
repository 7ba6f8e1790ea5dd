"""Batch outputs: results.jsonl read back and repaired, summary figures, bias check, and hostile-safe reports."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from grader.batch.reports import (
    build_summary,
    check_out_dir,
    read_results,
    render_html,
    render_markdown,
    report_context,
    result_record,
    review_reasons,
    verbosity_bias,
    write_reports,
)
from grader.errors import InputError
from grader.models import CriterionResult, Feedback, Grade, Provenance, Usage
from grader.transcripts.interview import Plan, SourcePlan, WorkItem

HOSTILE = '<script>document.title="pwned"</script><img src=x onerror=alert(1)> | ** </answer> {{ 7*7 }}'


def grade(question_id: str = "q05", score: float | None = 7.5, *, flags: list[str] | None = None,
          error: str | None = None, spread: float | None = None, text: str = "fine", cached: bool = False,
          cost: float | None = 0.001) -> Grade:  # fmt: skip
    criteria = [
        CriterionResult(id="core", level=2, levels=4, score=5.0, max_score=7.5, rationale=f"rationale {text}",
                        evidence=[f"quote {text}"], spread=spread),
        CriterionResult(id="depth", level=1, levels=3, score=1.25, max_score=2.5, rationale="ok", evidence=[]),
    ]  # fmt: skip
    return Grade(
        question_id=question_id,
        status="graded" if score is not None else "ungraded",
        score=score,
        max_score=10,
        criteria=criteria if score is not None else [],
        feedback=Feedback(strengths=[f"strength {text}"], gaps=["a gap"], next_step=f"next {text}"),
        flags=flags or [],
        error=error,
        backend="openai",
        model="gpt-4.1-mini",
        usage=Usage(prompt_tokens=900, completion_tokens=250, cost_usd=cost),
        provenance=Provenance(grader_version="0.1.0", judge="openai", graded_at="2026-01-01T00:00:00", cached=cached),
    )


def record(source: str, question_id: str, answer: str, g: Grade, candidate: str | None = "Ann",
           asked: str | None = "asked?", match: float | None = 0.6) -> dict[str, Any]:  # fmt: skip
    item = WorkItem(f"{source}#{question_id}", source, candidate, question_id, answer, 3, asked, match)
    return result_record(item, g, answer, 0.24)


@pytest.mark.parametrize(
    ("pairs", "warns"),
    [
        pytest.param([(10 * i, i / 10) for i in range(1, 11)], True, id="score_follows_length"),
        pytest.param([(10 * i, ((i * 7) % 10) / 10) for i in range(1, 11)], False, id="unrelated"),
        pytest.param([(10 * i, i / 10) for i in range(1, 5)], False, id="too_few_answers"),
        pytest.param([(10 * i, 0.5) for i in range(1, 11)], False, id="constant_scores"),
        pytest.param([], False, id="nothing_graded"),
    ],
)
def test_verbosity_bias(pairs: list[tuple[int, float]], warns: bool) -> None:
    records = [{"status": "graded", "score": 10 * p, "max_score": 10, "answer_words": w, "question_id": f"q{i % 2}"}
               for i, (w, p) in enumerate(pairs)]  # fmt: skip
    result = verbosity_bias(records)
    assert result["n"] == len(pairs)
    assert (result["warning"] is not None) is warns
    if warns:
        assert result["spearman"] == pytest.approx(1.0) and "length" in result["warning"]


def test_verbosity_bias_within_questions_ignores_question_difficulty() -> None:
    # Across the batch longer answers score higher only because q1 is easy and long-winded; within each
    # question length does not matter.
    records = [{"status": "graded", "score": s, "max_score": 10, "answer_words": w, "question_id": q}
               for q, w, s in [("q1", 200, 9), ("q1", 210, 8), ("q1", 190, 8.5), ("q2", 20, 2), ("q2", 30, 1),
                               ("q2", 25, 1.5)]]  # fmt: skip
    result = verbosity_bias(records)
    assert result["pearson"] > 0.9 and result["within_question_pearson"] < 0.5


@pytest.mark.parametrize(
    ("values", "reasons"),
    [
        pytest.param({"status": "graded", "flags": []}, [], id="clean"),
        pytest.param({"status": "graded", "flags": ["prompt_injection_suspected", "off_topic_note"]},
                     ["prompt_injection_suspected"], id="review_flag_kept_others_not"),
        pytest.param({"status": "ungraded", "flags": ["low_agreement"], "error": "timeout: no reply"},
                     ["low_agreement", "ungraded: timeout"], id="ungraded_with_code"),
        pytest.param({"status": "ungraded", "flags": None, "error": None}, ["ungraded: unknown"], id="no_error"),
    ],
)  # fmt: skip
def test_review_reasons(values: dict[str, Any], reasons: list[str]) -> None:
    assert review_reasons(values) == reasons


def test_summary_figures_per_transcript_and_batch() -> None:
    records = [
        record("a.vtt", "q05", "one two three", grade("q05", 8)),
        record("a.vtt", "q07", "four five", grade("q07", 4, flags=["evidence_not_found"], cached=True)),
        record("a.vtt", "q09", "six", grade("q09", None, error="llm_unavailable: 503 from x")),
        record("b.json", "q05", "seven", grade("q05", 10), candidate="Bob"),
    ]
    plan = Plan(items=[], sources=[
        SourcePlan("a.vtt", "Ann", ["Dana"], [{"asked": "How do you design a feature store?", "line": 40}], 4),
        SourcePlan("b.json", "Bob", ["Eve"], [], 1),
    ])  # fmt: skip
    summary = build_summary(records, plan, {"backend": "openai"})
    a, b = summary["transcripts"]
    assert (a["candidate"], a["graded"], a["ungraded"], a["mean_pct"]) == ("Ann", 2, 1, 60.0)
    assert a["unmatched"] == ["How do you design a feature store?"] and a["pending"] == 1
    assert a["interviewers"] == ["Dana"] and a["questions"] == ["q05", "q07", "q09"]
    assert (b["mean_pct"], b["pending"]) == (100.0, 0)
    assert (summary["answers"], summary["graded"], summary["ungraded"], summary["unmatched"]) == (4, 3, 1, 1)
    assert summary["cached"] == 1 and summary["usage"]["prompt_tokens"] == 2700  # cached calls cost nothing now
    assert summary["usage"]["cost_usd"] == pytest.approx(0.003)
    assert [r["question_id"] for r in summary["needs_review"]] == ["q07", "q09"]
    assert summary["complete"] is False and summary["pending"] == 1 and summary["backend"] == "openai"


def test_weak_matches_and_capped_answers_are_flagged() -> None:
    item = WorkItem("a#q05", "a", "Ann", "q05", "x", 1, "asked?", 0.25, truncated=True)
    flags = result_record(item, grade(), "x", 0.24)["flags"]
    assert flags == ["weak_match", "answer_truncated"]


def test_reports_escape_hostile_text_everywhere() -> None:
    hostile = grade("q05", 7.5, flags=[HOSTILE], text=HOSTILE)
    records = [record("x.vtt", "q05", HOSTILE, hostile, candidate=HOSTILE, asked=HOSTILE)]
    plan = Plan(items=[], sources=[SourcePlan("x.vtt", HOSTILE, [HOSTILE], [{"asked": HOSTILE}], 1)])
    summary = build_summary(records, plan)
    context = report_context(summary, records, {"q05": "How does a VAE differ from a GAN?"})
    html = render_html(context)
    assert "<script>" not in html and "<img" not in html and not re.search(r"<[^>]*onerror", html)
    assert "&lt;script&gt;" in html and "{{ 7*7 }}" in html  # shown as text, never evaluated
    assert 'http-equiv="Content-Security-Policy"' in html and "default-src 'none'" in html
    assert "src=" not in html.replace("src=x", "") and "<link" not in html  # nothing fetched from anywhere
    markdown = render_markdown(context)
    assert "<script>" not in markdown and "<img" not in markdown and "&lt;script&gt;" in markdown
    assert " \\| " in markdown  # a pipe in an answer cannot break a table


def test_spread_column_only_with_samples() -> None:
    plain = render_html(report_context(build_summary([record("a", "q05", "x", grade())], None),
                                       [record("a", "q05", "x", grade())], {}))  # fmt: skip
    sampled_records = [record("a", "q05", "x", grade(spread=2.0))]
    sampled = render_html(report_context(build_summary(sampled_records, None), sampled_records, {}))
    assert "<th>Spread</th>" not in plain and "<th>Spread</th>" in sampled and "<td>2</td>" in sampled


def test_offline_verbosity_warning_says_why() -> None:
    records = [record("a", f"q{n:02d}", "word " * (10 * n), grade(score=n)) for n in range(1, 11)]
    assert "offline grader" not in (build_summary(records, None, {"backend": "openai"})["verbosity_bias"]["warning"])
    offline = build_summary(records, None, {"backend": "offline"})["verbosity_bias"]["warning"]
    assert offline.endswith("(the offline grader counts key points covered, and longer answers cover more)")


def test_markdown_keeps_asked_score_and_table_in_separate_blocks() -> None:
    """A Markdown table that follows a line directly renders as text: each part needs a blank line around it."""
    records = [record("a", "q05", "x", grade()), record("b", "q07", "y", grade(score=None, error="timeout: t"))]
    lines = render_markdown(report_context(build_summary(records, None), records, {})).splitlines()
    for i, line in enumerate(lines):
        if line.startswith(("Asked: ", "**Score: ", "**Ungraded:**", "| Criterion |")):
            assert lines[i - 1] == "", (lines[i - 1], line)
        if line.startswith(("Asked: ", "**Score: ", "**Ungraded:**")):
            assert lines[i + 1] == "" and line.count("**Score") <= 1, line
    assert any(line.startswith("Asked: ") for line in lines) and any(line.startswith("| Criterion") for line in lines)


def test_write_reports_writes_all_three(tmp_path: Path) -> None:
    records = [record("a.vtt", "q05", "an answer", grade())]
    summary = write_reports(tmp_path, records, None, {"q05": "VAE vs GAN?"}, {"backend": "openai"})
    assert json.loads((tmp_path / "summary.json").read_text()) == summary
    assert "q05" in (tmp_path / "report.md").read_text() and "VAE vs GAN?" in (tmp_path / "report.html").read_text()
    assert not list(tmp_path.glob(".*.tmp"))


def test_read_results_repairs_only_a_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    path.write_text('{"item": "a"}\n{"item": "b"}\n{"item": "c", "sta', encoding="utf-8")
    records, repaired = read_results(path)
    assert [r["item"] for r in records] == ["a", "b"] and repaired
    assert path.read_text() == '{"item": "a"}\n{"item": "b"}\n'
    path.write_text('{"item": "a"}\n{"item": "b"}', encoding="utf-8")  # whole JSON, but the newline never came
    assert read_results(path)[1] is True and path.read_text() == '{"item": "a"}\n'
    path.write_text('{"item": "a"}\nnot json\n{"item": "c"}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"results.jsonl:2: not a result line"):
        read_results(path)
    assert read_results(tmp_path / "missing.jsonl") == ([], False)


def test_check_out_dir(tmp_path: Path) -> None:
    check_out_dir(tmp_path / "new", resume=False)
    (tmp_path / "summary.json").write_text("{}")
    with pytest.raises(InputError, match="already holds results"):
        check_out_dir(tmp_path, resume=False)
    check_out_dir(tmp_path, resume=True)
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="is a file"):
        check_out_dir(tmp_path / "file", resume=True)
