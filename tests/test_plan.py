"""A plan you can check and correct: --dry-run prints it, --plan writes it, --use-plan grades from it."""

from __future__ import annotations

import json
from pathlib import Path

from spoken import conversations, render
from typer.testing import CliRunner

from grader.cli import app

OFFLINE = {"OPENAI_API_KEY": "", "GRADER_BACKEND": "offline", "GRADER_NO_CACHE": "1"}


def transcript(tmp_path: Path) -> Path:
    path = tmp_path / "arjun.vtt"
    path.write_text(render(conversations()[1], "zoom.vtt"), encoding="utf-8")
    return path


def batch(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, ["batch", *args, "--no-progress"], env=OFFLINE)


def test_the_dry_run_prints_each_asked_question_with_its_id_score_and_how(tmp_path: Path) -> None:
    result = batch(str(transcript(tmp_path)), "--out", str(tmp_path / "o"), "--dry-run")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert any(line.split()[:1] == ["q08"] and "words" in line and "handful of different outputs" in line
               for line in lines)  # fmt: skip
    assert any(line.split()[:1] == ["none"] and "Kubernetes" in line for line in lines)
    assert "% of the candidate's words graded" in result.stdout


def test_a_corrected_plan_is_graded_as_corrected(tmp_path: Path) -> None:
    path, plan = transcript(tmp_path), tmp_path / "plan.json"
    written = batch(str(path), "--out", str(tmp_path / "o"), "--dry-run", "--plan", str(plan))
    assert written.exit_code == 0 and plan.exists()
    document = json.loads(plan.read_text(encoding="utf-8"))
    entries = document["transcripts"][0]["questions"]
    stakeholder = next(e for e in entries if "stakeholder" in e["asked"])
    rlhf = next(e for e in entries if e["question_id"] == "q24")
    assert stakeholder["question_id"] is None
    stakeholder["question_id"], rlhf["question_id"] = "q44", None
    plan.write_text(json.dumps(document), encoding="utf-8")
    result = batch(str(path), "--out", str(tmp_path / "o2"), "--use-plan", str(plan))
    assert result.exit_code == 0, result.stderr
    summary = json.loads((tmp_path / "o2" / "summary.json").read_text(encoding="utf-8"))
    questions = summary["transcripts"][0]["questions"]
    assert "q44" in questions and "q24" not in questions
    assert any("RLHF" in u for u in summary["transcripts"][0]["unmatched"])


def test_a_plan_naming_an_id_not_in_the_bank_is_refused_with_the_nearest(tmp_path: Path) -> None:
    path, plan = transcript(tmp_path), tmp_path / "plan.json"
    batch(str(path), "--out", str(tmp_path / "o"), "--dry-run", "--plan", str(plan))
    document = json.loads(plan.read_text(encoding="utf-8"))
    document["transcripts"][0]["questions"][0]["question_id"] = "q8"
    plan.write_text(json.dumps(document), encoding="utf-8")
    result = batch(str(path), "--out", str(tmp_path / "o2"), "--use-plan", str(plan))
    assert result.exit_code != 0 and "did you mean q08?" in result.stderr


def test_llm_match_shows_the_model_the_turns_around_and_the_dry_run_marks_what_it_would_send(
    fake_server, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    import os

    from grader.batch.run import BatchOptions, dry_run, run_batch
    from grader.config import Settings

    fake_server.choose = lambda body, allowed: "none"
    path = transcript(tmp_path)
    settings = Settings(backend="openai", base_url=fake_server.url, bank=Path(__file__).resolve().parent.parent,
                        cache_path=Path(os.environ["GRADER_CACHE"]))  # fmt: skip
    planned = dry_run([path], settings, BatchOptions(out=tmp_path / "o", llm_match=True))
    assert planned.llm_match_calls > 0 and fake_server.requests == []
    from grader.batch.plan import plan_document

    marked = [q for t in plan_document(planned.plan, planned.would_ask)["transcripts"] for q in t["questions"]
              if q.get("llm_match")]  # fmt: skip
    assert 0 < len(marked) <= planned.llm_match_calls  # the rest are follow-ups it would also check
    run_batch([path], settings, BatchOptions(out=tmp_path / "o", llm_match=True))
    asked = [b["messages"][1]["content"] for b in fake_server.requests
             if b["response_format"]["json_schema"]["name"] == "QuestionChoice"]  # fmt: skip
    assert asked and all("[the candidate, after]" in a and "[the interviewer]" in a for a in asked)
