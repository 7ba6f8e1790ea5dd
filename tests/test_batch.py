"""`grader batch`: bounded concurrency through the real SDK, the cache, resume after a kill, dry run, budget."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from fakeserver import FakeOpenAIServer, Hang, Status
from typer.testing import CliRunner

from grader.batch import BatchOptions, run_batch
from grader.batch.limits import Budget, RateGate, retry_delay
from grader.batch.reports import locked, read_results
from grader.cli import app
from grader.config import Settings
from grader.errors import Failure, InputError
from grader.models import Grade, Provenance, Usage
from grader.pricing import Price
from grader.vocabulary import ErrorCode

DATA = Path(__file__).parent / "data" / "transcripts"
REPO = Path(__file__).resolve().parent.parent
ZOOM = DATA / "zoom_priya_raman.vtt"  # q07 q05 q09 q50 and one unmatched
TEAMS = DATA / "teams_sofia_alvarez.vtt"  # q14 q15 q24 q19
INTERFACE_KEYS = {"question_id", "status", "score", "max_score", "criteria", "feedback", "flags", "error", "backend",
                  "model", "usage", "provenance", "transcript", "candidate", "asked", "match_score"}  # fmt: skip


def offline(**changes: Any) -> Settings:
    return Settings(backend="offline", bank=REPO, cache_path=Path(os.environ["GRADER_CACHE"])).with_overrides(**changes)


def llm(server: FakeOpenAIServer, **changes: Any) -> Settings:
    base = Settings(backend="openai", base_url=server.url, bank=REPO, cache_path=Path(os.environ["GRADER_CACHE"]))
    return base.with_overrides(**changes)


def lines(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text(encoding="utf-8").splitlines()]


def test_every_sample_is_graded_under_its_bank_ids_with_reports(tmp_path: Path) -> None:
    out = tmp_path / "out"
    outcome = run_batch([DATA], offline(), BatchOptions(out=out))
    records = lines(out)
    assert outcome.graded == len(records) == 25 and outcome.ungraded == 0
    assert all(INTERFACE_KEYS <= set(r) for r in records)
    by_source = {(r["transcript"], r["question_id"]) for r in records}
    assert (str(ZOOM), "q07") in by_source and (str(DATA / "diarized_turns.json"), "q46") in by_source
    q07 = next(r for r in records if r["item"] == f"{ZOOM}#q07")
    assert q07["candidate"] == "Priya Raman" and q07["asked"].startswith("Walk me through training a GAN")
    assert 0 < q07["match_score"] <= 1 and q07["follow_ups"]
    summary = json.loads((out / "summary.json").read_text())
    zoom = next(t for t in summary["transcripts"] if t["transcript"] == str(ZOOM))
    assert zoom["candidate"] == "Priya Raman" and zoom["graded"] == 4 and zoom["ungraded"] == 0
    assert zoom["unmatched"] == [
        "Something a bit different: how would you design a feature store for our recommendation system?"
    ]
    assert 0 <= zoom["mean_pct"] <= 100 and summary["complete"] is True
    assert "verbosity_bias" in summary and summary["verbosity_bias"]["n"] == 25
    tables = {
        (t["transcript"], t["candidate"]): t["questions"] for t in summary["transcripts"] if "table" in t["transcript"]
    }
    assert tables == {
        (str(DATA / "answer_table.csv"), "Omar Haddad"): ["q33", "q50"],
        (str(DATA / "answer_table.jsonl"), "Lena Ortiz"): ["q12", "q15"],  # q15 matched from the question asked
        (str(DATA / "answer_table.jsonl"), "Omar Haddad"): ["q26"],
    }
    markdown = (out / "report.md").read_text()
    html = (out / "report.html").read_text()
    for record in records:
        assert f"{record['question_id']}" in markdown and f"{record['score']:g} / 10" in markdown
    assert "feature store" in html and "Needs human review" in html


def test_a_folder_with_results_is_refused_without_resume(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_batch([ZOOM], offline(), BatchOptions(out=out))
    with pytest.raises(InputError, match="already holds results.*--resume"):
        run_batch([ZOOM], offline(), BatchOptions(out=out))
    outcome = run_batch([ZOOM], offline(), BatchOptions(out=out, resume=True))
    assert outcome.written == 0 and outcome.done_before == 4


def test_through_the_sdk_a_second_run_makes_no_model_call(fake_server: FakeOpenAIServer, tmp_path: Path) -> None:
    first = run_batch([ZOOM, TEAMS], llm(fake_server), BatchOptions(out=tmp_path / "a", concurrency=4))
    assert first.graded == 8 and len(fake_server.requests) == 8
    assert all(r["backend"] == "openai" and r["usage"]["prompt_tokens"] == 900 for r in lines(tmp_path / "a"))
    assert fake_server.requests[0]["response_format"]["json_schema"]["strict"] is True
    second = run_batch([ZOOM, TEAMS], llm(fake_server), BatchOptions(out=tmp_path / "b", concurrency=4))
    assert second.graded == 8 and second.cached == 8 and len(fake_server.requests) == 8
    assert all(r["provenance"]["cached"] for r in lines(tmp_path / "b"))


def test_dry_run_counts_tokens_and_cost_without_a_call(fake_server: FakeOpenAIServer, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["batch", str(ZOOM), "--out", str(out), "--dry-run", "--base-url", fake_server.url],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Dry run: no model call" in result.stdout and "prompt tokens" in result.stdout
    assert "~$" in result.stdout and "gpt-4.1-mini" in result.stdout
    assert fake_server.requests == [] and not out.exists()
    data = CliRunner().invoke(app, ["batch", str(ZOOM), "--out", str(out), "--dry-run", "--base-url",
                                    fake_server.url, "--model", "local-llm", "--format", "json"])  # fmt: skip
    report = json.loads(data.stdout)
    assert report["to_grade"] == 4 and report["prompt_tokens"] > 4 * 500 and report["cost_usd_estimate"] is None
    priced = CliRunner().invoke(app, ["batch", str(ZOOM), "--out", str(out), "--dry-run", "--base-url",
                                      fake_server.url, "--model", "local-llm", "--price-in", "1", "--price-out", "2",
                                      "--format", "json"])  # fmt: skip
    assert json.loads(priced.stdout)["cost_usd_estimate"] > 0
    assert fake_server.requests == []


def test_spent_is_what_this_run_paid(fake_server: FakeOpenAIServer, tmp_path: Path) -> None:
    per_call = (900 * 0.4 + 250 * 1.6) / 1e6  # the fake server's usage at gpt-4.1-mini's price
    settings = llm(fake_server, use_cache=False)
    first = run_batch([ZOOM], settings, BatchOptions(out=tmp_path / "out"))
    assert first.spent_usd == pytest.approx(4 * per_call)
    second = run_batch([ZOOM, TEAMS], settings, BatchOptions(out=tmp_path / "out", resume=True))
    assert second.spent_usd == pytest.approx(4 * per_call)  # the four Teams answers, not the Zoom ones again
    assert second.summary["spent_usd"] == pytest.approx(4 * per_call)


def test_resume_repairs_a_torn_last_line_and_grades_each_answer_once(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_batch([ZOOM, TEAMS], offline(), BatchOptions(out=out))
    kept = (out / "results.jsonl").read_bytes().splitlines(keepends=True)
    (out / "results.jsonl").write_bytes(b"".join(kept[:3]) + kept[3][: len(kept[3]) // 2])  # killed mid-write
    notes: list[str] = []

    class Notes:
        def start(self, total: int, done: int) -> None:
            assert (total, done) == (8, 3)

        def advance(self, record: dict[str, Any]) -> None: ...

        def note(self, message: str) -> None:
            notes.append(message)

    outcome = run_batch([ZOOM, TEAMS], offline(), BatchOptions(out=out, resume=True), progress=Notes())
    assert outcome.repaired and any("cut off" in n for n in notes)
    items = [r["item"] for r in lines(out)]
    assert len(items) == len(set(items)) == 8 and outcome.written == 5


def test_sigkill_mid_run_then_resume_yields_every_answer_exactly_once(
    fake_server: FakeOpenAIServer, tmp_path: Path
) -> None:
    fake_server.latency = 0.25
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "GRADER_"))}
    env["GRADER_CACHE"] = str(tmp_path / "cache.sqlite")
    command = [sys.executable, "-m", "grader", "batch", str(ZOOM), str(TEAMS), "--out", str(out), "--base-url",
               fake_server.url, "--concurrency", "2", "--no-progress"]  # fmt: skip
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            results = out / "results.jsonl"
            if results.exists() and results.read_bytes().count(b"\n") >= 2:
                break
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    before = len(read_results(out / "results.jsonl", repair=False)[0])
    assert 2 <= before < 8, "the kill should land mid-run"
    resumed = subprocess.run([*command, "--resume"], env=env, capture_output=True, text=True, timeout=60)
    assert resumed.returncode == 0, resumed.stderr
    items = [r["item"] for r in lines(out)]
    assert len(items) == len(set(items)) == 8
    assert json.loads((out / "summary.json").read_text())["complete"] is True


def test_max_cost_stops_cleanly_before_exceeding(fake_server: FakeOpenAIServer, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["batch", str(ZOOM), str(TEAMS), "--out", str(out), "--base-url", fake_server.url, "--model", "local-llm",
            "--concurrency", "1", "--no-progress"]  # fmt: skip
    unpriced = CliRunner().invoke(app, [*args, "--max-cost", "0.01"])
    assert unpriced.exit_code == 1 and "--price-in and --price-out" in unpriced.stderr
    result = CliRunner().invoke(app, [*args, "--max-cost", "0.006", "--price-in", "1", "--price-out", "1"])
    assert result.exit_code == 1, result.output
    assert "stopped before exceeding --max-cost $0.006" in result.stderr and "--resume" in result.stderr
    records = lines(out)
    spent = sum(r["usage"]["cost_usd"] for r in records)
    assert 0 < len(records) < 8 and len(fake_server.requests) == len(records) and spent <= 0.006
    summary = json.loads((out / "summary.json").read_text())
    assert summary["complete"] is False and summary["stopped"] == "over_budget" and summary["pending"] > 0
    assert f"Graded {len(records)} of 8 answers ({summary['pending']} pending)" in result.stdout
    assert f"Stopped by --max-cost with {summary['pending']} answer(s) pending" in result.stdout
    finish = CliRunner().invoke(app, [*args, "--resume", "--max-cost", "1", "--price-in", "1", "--price-out", "1"])
    assert finish.exit_code == 0, finish.output
    items = [r["item"] for r in lines(out)]
    assert len(items) == len(set(items)) == 8


def test_a_rate_limit_is_honoured_and_the_worker_moves_on(fake_server: FakeOpenAIServer, tmp_path: Path) -> None:
    fake_server.enqueue(Status(429, "Rate limit reached. Please try again in 300ms.", {"retry-after": "0.3"}))
    started = time.monotonic()
    outcome = run_batch([ZOOM], llm(fake_server), BatchOptions(out=tmp_path / "out", concurrency=1))
    assert time.monotonic() - started >= 0.3
    assert outcome.graded == 4 and outcome.retried == 1 and len(fake_server.requests) == 5
    assert [r["question_id"] for r in lines(tmp_path / "out")] == ["q05", "q09", "q50", "q07"]  # q07 waited


def test_a_retry_after_header_alone_is_honoured(fake_server: FakeOpenAIServer, tmp_path: Path) -> None:
    """Servers that put the wait only in the header (vLLM, proxies): the batch still waits it out."""
    fake_server.enqueue(Status(429, "Too many requests", {"retry-after-ms": "1200"}))  # above any first backoff
    outcome = run_batch([ZOOM], llm(fake_server), BatchOptions(out=tmp_path / "out", concurrency=1))
    assert fake_server.arrivals[1] - fake_server.arrivals[0] >= 1.2  # nobody called while it ran
    assert outcome.graded == 4 and outcome.retried == 1 and len(fake_server.requests) == 5


def test_a_hanging_call_times_out_without_stalling_the_batch(fake_server: FakeOpenAIServer, tmp_path: Path) -> None:
    fake_server.enqueue(Hang(20), Hang(20))
    started = time.monotonic()
    outcome = run_batch([ZOOM], llm(fake_server, timeout=0.5), BatchOptions(out=tmp_path / "out", concurrency=2))
    assert time.monotonic() - started < 8
    records = lines(tmp_path / "out")
    assert len(records) == 4 and outcome.graded + outcome.ungraded == 4
    assert all(r["status"] == "graded" or r["error"].startswith("timeout:") for r in records)


def test_strict_exits_1_when_an_answer_is_ungraded(tmp_path: Path) -> None:
    transcript = tmp_path / "t.txt"
    transcript.write_text(
        "Ann: How does a VAE differ from a GAN?\nBob: A VAE has an encoder and a decoder trained on the ELBO.\n"
        "Ann: What are diffusion models, and how do they differ from traditional generative models?\n"
        "Ann: Thanks, that's all from me.\n",
        encoding="utf-8",
    )
    base = ["batch", str(transcript), "--backend", "offline", "--no-progress"]
    relaxed = CliRunner().invoke(app, [*base, "--out", str(tmp_path / "a")])
    assert relaxed.exit_code == 0 and "1 ungraded" in relaxed.stdout
    strict = CliRunner().invoke(app, [*base, "--out", str(tmp_path / "b"), "--strict"])
    assert strict.exit_code == 1 and "ungraded (--strict)" in strict.stderr
    q25 = next(r for r in lines(tmp_path / "b") if r["question_id"] == "q25")
    assert q25["status"] == "ungraded" and q25["error"].startswith("no_answer:")


def test_redact_passes_the_candidate_name_from_the_transcript(tmp_path: Path) -> None:
    transcript = tmp_path / "t.txt"
    transcript.write_text(
        "Dana: How does a VAE differ from a GAN?\n"
        "Priya Raman: As Priya Raman I built both: a VAE has an encoder, mail me at priya@example.com.\n",
        encoding="utf-8",
    )
    run_batch([transcript], offline(redact=True, use_cache=False), BatchOptions(out=tmp_path / "out"))
    answer = lines(tmp_path / "out")[0]["answer"]
    assert "Priya" not in answer and "priya@example.com" not in answer and "encoder" in answer


def test_cli_json_summary(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["batch", str(ZOOM), "--out", str(tmp_path / "o"), "--backend", "offline",
                                      "--format", "json", "--no-progress"])  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["graded"] == 4 and summary["transcripts"][0]["candidate"] == "Priya Raman"


def test_an_unparseable_input_is_listed_and_the_others_graded(fake_server: FakeOpenAIServer, tmp_path: Path) -> None:
    bad = tmp_path / "bad.vtt"
    bad.write_text("WEBVTT\n\n00:00:01 --> 00:00:02\nAnn: hi\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["batch", str(ZOOM), str(bad), "--out", str(tmp_path / "o"), "--base-url",
                                      fake_server.url, "--no-progress"])  # fmt: skip
    assert result.exit_code == 0 and f"grader: skipped {bad}:3: bad cue timing" in result.stderr
    assert (tmp_path / "o" / "results.jsonl").exists()
    summary = json.loads((tmp_path / "o" / "summary.json").read_text(encoding="utf-8"))
    assert [s["file"] for s in summary["skipped"]] == [str(bad)]


def test_two_batches_cannot_write_one_folder(tmp_path: Path) -> None:
    with locked(tmp_path), pytest.raises(InputError, match="another grader batch"), locked(tmp_path):
        pass


@pytest.mark.parametrize(
    ("retry_after", "attempt", "low", "high"),
    [
        pytest.param(0.45, 0, 0.45, 0.45, id="retry_after_ms"),
        pytest.param(2.0, 0, 2.0, 2.0, id="retry_after_s"),
        pytest.param(None, 0, 0.375, 0.625, id="backoff_first"),
        pytest.param(None, 3, 3.0, 5.0, id="backoff_grows"),
    ],
)
def test_retry_delay(retry_after: float | None, attempt: int, low: float, high: float) -> None:
    failure = Failure(ErrorCode.llm_unavailable, "429 from x: busy", retry_after=retry_after, transient=True)
    assert low <= retry_delay(failure, attempt) <= high


def test_budget_reserves_in_flight_calls_and_settles_actual_costs() -> None:
    budget = Budget(0.01, Price(1000.0, 1000.0))  # $0.001 a token
    assert budget.reserve(3, 2) == pytest.approx(0.005)
    assert budget.reserve(3, 2) == pytest.approx(0.005)
    assert budget.reserve(1, 0) is None  # 0.01 in flight already
    grade = Grade(question_id="q05", status="graded", score=1, max_score=10, backend="x",
                  usage=Usage(prompt_tokens=2, completion_tokens=1, cost_usd=0.003),
                  provenance=Provenance(grader_version="0", judge="x", graded_at="now"))  # fmt: skip
    budget.settle(0.005, grade)
    # the completion estimate never drops below the longest completion seen (1 token here)
    assert budget.spent == pytest.approx(0.003) and budget.reserve(1, 0) == pytest.approx(0.002)
    refused = grade.model_copy(update={"status": "ungraded", "score": None, "usage": Usage()})
    budget.settle(0.002, refused)  # a 429 costs nothing
    assert budget.spent == pytest.approx(0.003)
    unreported = grade.model_copy(update={"usage": Usage()})
    budget.settle(0.005, unreported)  # a server that reports no usage still charged: count the estimate
    assert budget.spent == pytest.approx(0.008)


def test_rate_gate_holds_every_caller() -> None:
    gate = RateGate()
    gate.hold(0.05)
    started = time.monotonic()
    asyncio.run(gate.wait())
    assert time.monotonic() - started >= 0.05


def test_cli_defaults_match_the_modules_they_mirror() -> None:
    from grader import config
    from grader.cli import batch as cli_batch
    from grader.transcripts import matching

    assert cli_batch.DEFAULT_MATCH_THRESHOLD == matching.DEFAULT_THRESHOLD
    assert cli_batch.DEFAULT_MAX_ANSWER_TOKENS == config.DEFAULT_MAX_ANSWER_TOKENS
