"""Faults: what a flaky API or a not-quite-compatible server does to a grade, through the real SDK.

Every fault ends in a `graded` grade, or an `ungraded` one whose error names the reason
(`invalid_verdict`, `llm_unavailable`, `timeout`, `refused`), or for a rejected key or unknown model a
one-line configuration error; never a crash or a traceback. The table of faults runs through the CLI
in-process (the real service, SDK and a local fake server), which pins the exit codes: 0 for a grade,
ungraded or not, 1 when the model cannot be reached or times out, 1 with "Error: ..." for configuration
errors, and 1 for any ungraded answer under --strict; a few run as `python -m grader` subprocesses too.
Then batches under random faults, kill -9 and resume, and oversized input. Tests marked `slow` start
subprocesses; bench/faults.py runs the full-size batch scenarios.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fakeserver import (
    BROKEN_BODIES,
    Cut,
    FakeOpenAIServer,
    FaultPlan,
    Hang,
    Raw,
    Status,
    content_filter,
    extra_criterion,
    invalid_json,
    length_cut,
    level_out_of_range,
    missing_criterion,
    refusal,
    truncated,
    wrong_schema,
)

from grader.config import Settings
from grader.grading.service import GradingService

REPO_ROOT = Path(__file__).resolve().parent.parent
ANSWER = "A VAE learns an encoder and a decoder trained on the ELBO; a GAN trains a generator against a critic."


@dataclass(frozen=True)
class Fault:
    """A fault scenario: what the server sends (enough for every retry), and what must come of it."""

    queue: list[Any]
    outcome: str
    """"graded", an error code ("invalid_verdict", "llm_unavailable", "timeout", "refused"), or "config"."""
    exit_code: int
    detail: str = ""
    """Text the error message must contain."""
    timeout: float = 1.0


def times(item: Any, count: int) -> list[Any]:
    return [item] * count


FAST = {"retry-after-ms": "5"}
"""Servers may say how long to wait; a few milliseconds keeps the SDK's retries from dominating the suite."""


# Enough of each persistent fault for the CLI's default of 2 SDK retries and 2 re-asks (3 requests each).
FAULTS: dict[str, Fault] = {
    "429_then_ok": Fault([Status(429, "Rate limit reached", FAST)], "graded", 0),
    "429_persistent": Fault(
        times(Status(429, "Rate limit reached", FAST), 3),
        "llm_unavailable",
        1,
        "429 from http://127.0.0.1:",
    ),  # fmt: skip
    "500_then_ok": Fault([Status(500, "The server had an error", FAST)], "graded", 0),
    "500_persistent": Fault(times(Status(500, "The server had an error", FAST), 3), "llm_unavailable", 1, "500 from"),
    "503_persistent": Fault(times(Status(503, "Service unavailable", FAST), 3), "llm_unavailable", 1, "503 from"),
    "502_html_error_page": Fault(
        times(Raw(b"<html>Bad gateway</html>", 502, "text/html", FAST), 3), "llm_unavailable", 1, "502 from"
    ),  # fmt: skip
    "hang": Fault(times(Hang(3), 3), "timeout", 1, "no reply from http://127.0.0.1:", timeout=0.4),
    "slow_within_timeout": Fault([Hang(0.3)], "graded", 0, timeout=3),
    "connection_cut_mid_body": Fault(times(Cut(), 3), "llm_unavailable", 1),
    "truncated_json_then_ok": Fault([truncated], "graded", 0),
    "truncated_json_persistent": Fault(times(truncated, 3), "invalid_verdict", 0, "Invalid JSON"),
    "invalid_json_persistent": Fault(times(invalid_json, 3), "invalid_verdict", 0, "Invalid JSON"),
    "wrong_schema": Fault(times(wrong_schema, 3), "invalid_verdict", 0, "criteria"),
    "level_out_of_range": Fault(times(level_out_of_range, 3), "invalid_verdict", 0, "level"),
    "missing_criterion": Fault(times(missing_criterion, 3), "invalid_verdict", 0, "Field required"),
    "extra_criterion": Fault(times(extra_criterion, 3), "invalid_verdict", 0, "bonus_points"),
    "wrong_schema_then_ok": Fault([wrong_schema], "graded", 0),
    "refusal": Fault([refusal], "refused", 0, "I can't help with that"),
    "content_filter": Fault([content_filter], "refused", 0, "content filter"),
    "finish_reason_length": Fault(times(length_cut, 3), "invalid_verdict", 0, "finish_reason=length"),
    "finish_reason_length_then_ok": Fault([length_cut], "graded", 0),
    **{f"broken_200_{name}": Fault(times(body, 3), "invalid_verdict", 0) for name, body in BROKEN_BODIES.items()},
    "broken_200_then_ok": Fault([BROKEN_BODIES["html"]], "graded", 0),
    "400_bad_request": Fault([Status(400, "context length exceeded")], "llm_unavailable", 1, "400 from"),
    "413_too_large": Fault([Status(413, "request too large")], "llm_unavailable", 1, "413 from"),
    "401_rejected_key": Fault([Status(401, "Incorrect API key provided")], "config", 1, "OPENAI_API_KEY rejected"),
    "404_unknown_model": Fault([Status(404, "The model does not exist")], "config", 1, "check --model"),
}


def service_for(server: FakeOpenAIServer, **overrides: Any) -> GradingService:
    settings = Settings(backend="openai", base_url=server.url, use_cache=False, max_retries=2, timeout=1.0)
    return GradingService(settings.with_overrides(**overrides))


def test_retry_after_is_honoured(fake_server: FakeOpenAIServer) -> None:
    service = service_for(fake_server)
    service.prepare(ANSWER)  # load the tokenizer first, so the clock below times the wait only
    fake_server.enqueue(Status(429, "Rate limit reached", {"retry-after-ms": "400"}))
    started = time.perf_counter()
    grade = service.grade_answer("q05", ANSWER)
    assert grade.status == "graded" and len(fake_server.requests) == 2
    assert time.perf_counter() - started >= 0.35


def test_re_ask_shows_the_model_its_broken_reply(fake_server: FakeOpenAIServer) -> None:
    fake_server.enqueue(invalid_json)
    grade = service_for(fake_server).grade_answer("q05", ANSWER)
    assert grade.status == "graded" and grade.attempts == 2
    second = fake_server.requests[1]["messages"]
    assert second[-2]["role"] == "assistant" and "deserves 8/10" in second[-2]["content"]
    assert second[-1]["content"].startswith("Your previous reply was invalid:")


def test_a_fault_never_lands_in_the_cache(fake_server: FakeOpenAIServer, tmp_path: Any) -> None:
    fake_server.enqueue(*times(wrong_schema, 3))
    cached = {"use_cache": True, "cache_path": tmp_path / "cache.sqlite"}
    assert service_for(fake_server, **cached).grade_answer("q05", ANSWER).status == "ungraded"
    assert service_for(fake_server, **cached).grade_answer("q05", ANSWER).status == "graded"  # asked again
    assert len(fake_server.requests) == 4


def test_random_faults_never_crash_a_grade() -> None:
    plan = FaultPlan(rate_429=0.1, rate_500=0.1, rate_503=0.05, rate_truncated=0.1, rate_invalid_json=0.05,
                     rate_wrong_schema=0.05, rate_refusal=0.05, rate_length=0.05, rate_broken=0.1, rate_cut=0.05,
                     seed=7)  # fmt: skip
    with FakeOpenAIServer(faults=plan) as server:
        service = service_for(server, max_retries=0)

        async def grade_many() -> list[Any]:
            try:
                return [await service.agrade_answer("q05", f"{ANSWER} ({i})") for i in range(30)]
            finally:
                await service.aclose()

        grades = asyncio.run(grade_many())
    outcomes = {grade.error.split(":")[0] if grade.error else grade.status for grade in grades}
    assert all((grade.status == "graded") == (grade.error is None) for grade in grades)
    assert "graded" in outcomes
    assert outcomes <= {"graded", "invalid_verdict", "llm_unavailable", "refused", "timeout"}


# --- the same faults through the CLI: in-process for every fault, as subprocesses for one of each outcome ---


@dataclass(frozen=True)
class CliRun:
    returncode: int
    stdout: str
    stderr: str


def check_cli_outcome(fault: Fault, run: CliRun) -> None:
    assert "Traceback" not in run.stderr
    assert run.returncode == fault.exit_code, run.stderr
    if fault.outcome == "config":
        assert run.stdout == ""
        assert run.stderr.startswith("Error: ") and fault.detail in run.stderr
        assert run.stderr.count("\n") == 1
        return
    data = json.loads(run.stdout)
    assert data["status"] == ("graded" if fault.outcome == "graded" else "ungraded")
    if fault.outcome == "graded":
        assert data["score"] is not None and data["error"] is None
    else:
        assert data["error"].startswith(f"{fault.outcome}: ") and fault.detail in data["error"]
        assert "\n" not in data["error"] and len(data["error"]) <= 600
        assert data["score"] is None and data["criteria"] == []
        assert f"grader: ungraded: {fault.outcome}: " in run.stderr


CLI_ARGS = ["grade", "q05", "--answer", ANSWER, "--format", "json", "--no-cache"]


@pytest.mark.parametrize("name", list(FAULTS))
def test_cli_grade_under_each_fault(fake_server: FakeOpenAIServer, name: str) -> None:
    from typer.testing import CliRunner

    from grader.cli import app

    fault = FAULTS[name]
    fake_server.enqueue(*fault.queue)
    args = [*CLI_ARGS, "--base-url", fake_server.url, "--timeout", str(fault.timeout)]
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    check_cli_outcome(fault, CliRun(result.exit_code, result.stdout, result.stderr))


def _run_subprocess(fault: Fault, *extra: str) -> CliRun:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "GRADER_"))}
    with FakeOpenAIServer() as server:
        server.enqueue(*fault.queue)
        result = subprocess.run(
            [sys.executable, "-m", "grader", *CLI_ARGS, "--base-url", server.url, "--timeout", str(fault.timeout),
             *extra],
            capture_output=True, text=True, env=env, timeout=120,
        )  # fmt: skip
    return CliRun(result.returncode, result.stdout, result.stderr)


SUBPROCESS_FAULTS = ["429_then_ok", "500_persistent"]
"""Exit 0 after a retry, exit 1 when unreachable; plus an invalid verdict under --strict (exit 1). The CLI runs
in-process for every fault above; test_privacy runs a rejected key (exit 1, "Error: ...") as a subprocess."""


@pytest.fixture(scope="module")
def subprocess_runs() -> Iterator[dict[str, CliRun]]:
    """The representative faults through `python -m grader grade`, side by side, each with its own server."""
    jobs: dict[str, Callable[[], CliRun]] = {
        name: (lambda f=FAULTS[name]: _run_subprocess(f)) for name in SUBPROCESS_FAULTS
    }
    jobs["wrong_schema --strict"] = lambda: _run_subprocess(FAULTS["wrong_schema"], "--strict")
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {name: pool.submit(job) for name, job in jobs.items()}
        yield {name: future.result() for name, future in futures.items()}


@pytest.mark.slow
@pytest.mark.parametrize("name", SUBPROCESS_FAULTS)
def test_subprocess_grade_under_fault(subprocess_runs: dict[str, CliRun], name: str) -> None:
    check_cli_outcome(FAULTS[name], subprocess_runs[name])


@pytest.mark.slow
def test_subprocess_strict_turns_an_ungraded_answer_into_exit_1(subprocess_runs: dict[str, CliRun]) -> None:
    run = subprocess_runs["wrong_schema --strict"]
    assert run.returncode == 1 and json.loads(run.stdout)["status"] == "ungraded"


# --- batches under faults ------------------------------------------------------------------------------
# The batch is its own retry layer (the SDK's retries are off in a batch), so these go through
# grader.batch and `grader batch`, with small timeouts so the suite stays fast. bench/faults.py runs the
# full-size scenarios (128 answers over all 50 questions; 30 s hangs with --timeout 3).

BATCH_QUESTIONS = ["q01", "q05", "q13", "q24"]
KNOWN_ERRORS = {"invalid_verdict", "llm_unavailable", "timeout", "refused"}


def answers_table(path: Path, count: int) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for i in range(count):
            row = {"question_id": BATCH_QUESTIONS[i % len(BATCH_QUESTIONS)], "candidate": f"cand{i % 8}",
                   "answer": f"({i}) {ANSWER}"}  # fmt: skip
            handle.write(json.dumps(row) + "\n")
    return path


def results_of(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text(encoding="utf-8").splitlines()]


def check_accounted(out: Path, count: int) -> list[dict[str, Any]]:
    """Every answer exactly once, each graded or ungraded with a known reason; the summary agrees."""
    records = results_of(out)
    items = [r["item"] for r in records]
    assert len(items) == count and len(set(items)) == count, "an answer is missing or appears twice"
    for record in records:
        if record["status"] == "graded":
            assert record["error"] is None and record["score"] is not None
        else:
            assert record["status"] == "ungraded" and record["score"] is None
            assert record["error"].split(":")[0] in KNOWN_ERRORS, record["error"]
    summary = json.loads((out / "summary.json").read_text())
    graded = sum(r["status"] == "graded" for r in records)
    assert (summary["graded"], summary["ungraded"]) == (graded, count - graded)
    assert (out / "report.md").is_file() and (out / "report.html").is_file()
    return records


def batch_settings(server: FakeOpenAIServer, timeout: float = 2.0) -> Settings:
    return Settings(backend="openai", base_url=server.url, use_cache=False, timeout=timeout)


def test_batch_under_rate_limits_server_errors_and_truncated_json(tmp_path: Path) -> None:
    """The Done-when scenario in miniature: 15% 429, 5% 500, 10% truncated JSON."""
    from grader.batch import BatchOptions, run_batch

    rows = answers_table(tmp_path / "answers.jsonl", 128)
    plan = FaultPlan(rate_429=0.15, rate_500=0.05, rate_truncated=0.10, seed=11)
    with FakeOpenAIServer(faults=plan) as server:
        outcome = run_batch([rows], batch_settings(server), BatchOptions(out=tmp_path / "out", concurrency=16))
    records = check_accounted(tmp_path / "out", 128)
    graded = sum(r["status"] == "graded" for r in records)
    assert graded >= 0.97 * 128, f"only {graded} of 128 graded"
    assert plan.counts["429"] and plan.counts["500"] and plan.counts["truncated"]  # the faults did happen
    assert outcome.written == 128


def test_hanging_calls_do_not_stall_a_batch(tmp_path: Path) -> None:
    """5% of calls hang for 30 s; with a 0.5 s timeout the batch must end long before the first hang would."""
    from grader.batch import BatchOptions, run_batch

    rows = answers_table(tmp_path / "answers.jsonl", 64)
    plan = FaultPlan(rate_hang=0.05, hang_seconds=30, seed=3)
    started = time.perf_counter()
    with FakeOpenAIServer(faults=plan) as server:
        run_batch([rows], batch_settings(server, timeout=0.5), BatchOptions(out=tmp_path / "out", concurrency=8))
    elapsed = time.perf_counter() - started
    assert plan.counts["hang"] >= 1
    assert elapsed < 25, f"the batch took {elapsed:.1f} s: a hanging call held it"
    records = check_accounted(tmp_path / "out", 64)
    assert sum(r["status"] == "graded" for r in records) >= 60


EVERY_FAULT = FaultPlan(rate_429=0.08, rate_500=0.05, rate_503=0.05, rate_truncated=0.05, rate_hang=0.02,
                        hang_seconds=10, rate_invalid_json=0.05, rate_wrong_schema=0.05, rate_refusal=0.03,
                        rate_length=0.05, rate_broken=0.08, rate_slow=0.05, slow_seconds=0.2, rate_cut=0.03,
                        seed=5)  # fmt: skip


def test_cli_batch_under_every_kind_of_fault(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from grader.cli import app

    rows = answers_table(tmp_path / "answers.jsonl", 32)
    plan = FaultPlan(**{k: v for k, v in vars(EVERY_FAULT).items() if not k.startswith("_") and k != "counts"})
    with FakeOpenAIServer(faults=plan) as server:
        args = ["batch", str(rows), "--out", str(tmp_path / "out"), "--base-url", server.url, "--timeout", "1",
                "--no-cache", "--no-progress", "--concurrency", "8", "--format", "json"]  # fmt: skip
        result = CliRunner().invoke(app, args, catch_exceptions=False)
        strict = CliRunner().invoke(app, [*args, "--resume", "--strict"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert "Traceback" not in result.stderr
    records = check_accounted(tmp_path / "out", 32)
    assert json.loads(result.stdout)["answers"] == 32
    assert len(set(plan.counts) - {"ok"}) >= 8  # most kinds of fault were drawn
    ungraded = sum(r["status"] != "graded" for r in records)
    assert strict.exit_code == (1 if ungraded else 0)  # --resume finds nothing to do; --strict still judges


def test_batch_stops_with_one_line_on_a_rejected_key(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from grader.cli import app

    rows = answers_table(tmp_path / "answers.jsonl", 8)
    with FakeOpenAIServer() as server:
        server.enqueue(*times(Status(401, "Incorrect API key provided"), 50))
        args = ["batch", str(rows), "--out", str(tmp_path / "out"), "--base-url", server.url, "--no-cache",
                "--no-progress"]  # fmt: skip
        result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 1, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and "OPENAI_API_KEY rejected" in errors[0], result.stderr
    assert "Traceback" not in result.stderr


# --- crash safety: kill -9 mid-batch, a torn last line, resume exactly once --------------------------


def _start_batch(rows: Path, out: Path, url: str, *extra: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "GRADER_"))}
    return subprocess.Popen(
        [sys.executable, "-m", "grader", "batch", str(rows), "--out", str(out), "--base-url", url, "--no-cache",
         "--no-progress", "--concurrency", "4", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip


def _lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.is_file() else 0


def _kill_after(process: subprocess.Popen[str], results: Path, lines: int) -> None:
    deadline = time.monotonic() + 60
    while _lines(results) < lines:
        assert process.poll() is None, process.communicate()[1]
        assert time.monotonic() < deadline, "the batch wrote nothing in 60 s"
        time.sleep(0.02)
    process.kill()
    process.wait()


def _resume(rows: Path, out: Path, url: str) -> Any:
    from typer.testing import CliRunner

    from grader.cli import app

    args = ["batch", str(rows), "--out", str(out), "--base-url", url, "--no-cache", "--no-progress", "--resume"]
    return CliRunner().invoke(app, args, catch_exceptions=False)


@pytest.mark.slow
def test_killed_batch_resumes_exactly_once_and_repairs_a_torn_line(tmp_path: Path) -> None:
    rows, out = answers_table(tmp_path / "answers.jsonl", 40), tmp_path / "out"
    results = out / "results.jsonl"
    with FakeOpenAIServer(latency=0.05) as server:
        _kill_after(_start_batch(rows, out, server.url), results, 10)
        data = results.read_bytes()
        last_start = data.rstrip(b"\n").rfind(b"\n") + 1
        torn_item = json.loads(data[last_start:])["item"]
        results.write_bytes(data[: last_start + (len(data) - last_start) // 2])  # as if the kill cut the last write
        written_before = len(data[:last_start].splitlines())
        requests_before = len(server.requests)
        result = _resume(rows, out, server.url)
        requests_after = len(server.requests) - requests_before
    assert result.exit_code == 0, result.stderr
    assert "cut off" in result.stderr and f"resuming: {written_before} of 40" in result.stderr
    records = check_accounted(out, 40)
    assert all(r["status"] == "graded" for r in records)
    assert [r["item"] for r in records].count(torn_item) == 1
    assert requests_after == 40 - written_before  # nothing already written was graded again


def test_resume_of_a_finished_batch_calls_nothing(tmp_path: Path) -> None:
    rows, out = answers_table(tmp_path / "answers.jsonl", 6), tmp_path / "out"
    with FakeOpenAIServer() as server:
        assert _resume(rows, out, server.url).exit_code == 0
        first = len(server.requests)
        again = _resume(rows, out, server.url)
        assert again.exit_code == 0 and len(server.requests) == first == 6
    check_accounted(out, 6)


def test_results_without_resume_are_refused_and_a_corrupt_middle_line_is_an_error(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from grader.cli import app

    rows, out = answers_table(tmp_path / "answers.jsonl", 4), tmp_path / "out"
    with FakeOpenAIServer() as server:
        assert _resume(rows, out, server.url).exit_code == 0
        args = ["batch", str(rows), "--out", str(out), "--base-url", server.url, "--no-cache", "--no-progress"]
        refused = CliRunner().invoke(app, args, catch_exceptions=False)
        lines = (out / "results.jsonl").read_text().splitlines()
        (out / "results.jsonl").write_text("\n".join([lines[0], "{garbage", *lines[1:]]) + "\n")
        corrupt = _resume(rows, out, server.url)
    assert refused.exit_code == 1 and "--resume" in refused.stderr and "Traceback" not in refused.stderr
    assert corrupt.exit_code == 1 and "results.jsonl:2" in corrupt.stderr and "Traceback" not in corrupt.stderr


# --- oversized input ------------------------------------------------------------------------------------

LONG = ANSWER + " " + " ".join(f"point{i} about encoders and decoders." for i in range(400))


def test_long_answer_is_truncated_at_a_marked_boundary_and_flagged(fake_server: FakeOpenAIServer) -> None:
    from typer.testing import CliRunner

    from grader.cli import app

    args = [*CLI_ARGS[:3], LONG, *CLI_ARGS[4:], "--base-url", fake_server.url, "--max-answer-tokens", "100"]
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["status"] == "graded" and "answer_truncated" in data["flags"]
    sent = fake_server.requests[0]["messages"][1]["content"]
    assert "[… answer truncated by the grader: " in sent and LONG not in sent
    assert ANSWER in sent  # the head of the answer is kept


def test_long_answer_can_be_rejected_instead(fake_server: FakeOpenAIServer) -> None:
    from typer.testing import CliRunner

    from grader.cli import app

    args = [*CLI_ARGS[:3], LONG, *CLI_ARGS[4:], "--base-url", fake_server.url, "--max-answer-tokens", "100",
            "--on-long-answer", "reject"]  # fmt: skip
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith("Error: the answer is ") and "over the limit of 100" in result.stderr
    assert fake_server.requests == []


def test_rejected_long_answers_in_a_batch_are_ungraded_with_a_reason(tmp_path: Path) -> None:
    from grader.batch import BatchOptions, run_batch

    rows = tmp_path / "answers.jsonl"
    rows.write_text(json.dumps({"question_id": "q05", "answer": LONG}) + "\n"
                    + json.dumps({"question_id": "q05", "answer": ANSWER}) + "\n")  # fmt: skip
    with FakeOpenAIServer() as server:
        settings = batch_settings(server).with_overrides(max_answer_tokens=100, on_long_answer="reject")
        run_batch([rows], settings, BatchOptions(out=tmp_path / "out"))
        assert len(server.requests) == 1
    long, short = sorted(results_of(tmp_path / "out"), key=lambda r: -len(r["answer"] or ""))
    assert long["status"] == "ungraded" and "over the limit of 100" in long["error"]
    assert short["status"] == "graded"


def test_oversized_answer_file_is_refused(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from grader.cli import app

    big = tmp_path / "answer.txt"
    big.write_bytes(b"word " * 300_000)
    result = CliRunner().invoke(app, ["grade", "q05", "--answer-file", str(big), "--backend", "offline"],
                                catch_exceptions=False)  # fmt: skip
    assert result.exit_code == 1 and "larger than 1000 kB" in result.stderr


@pytest.mark.slow
def test_a_large_transcript_streams_in_flat_memory(tmp_path: Path) -> None:
    import tracemalloc

    from grader.bank import Bank
    from grader.bank.questions import load_questions
    from grader.transcripts.interview import read_interview
    from grader.transcripts.matching import QuestionMatcher

    path = tmp_path / "long_interview.txt"
    reply = "Candidate: the encoder maps inputs to a latent distribution and the decoder reconstructs them.\n"
    with path.open("w", encoding="utf-8") as handle:
        handle.write("Interviewer: How does a VAE differ from a GAN?\n")
        for i in range(16_000):  # about 1.5 MB
            handle.write(reply if i % 40 else "Interviewer: Could you say more about that?\n")
    matcher = QuestionMatcher(load_questions(Bank.open(REPO_ROOT))).match
    tracemalloc.start()
    try:
        interview = read_interview(path, matcher)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert path.stat().st_size > 1_400_000
    assert peak < 8_000_000, f"peak {peak / 1e6:.1f} MB: the transcript was held whole"
    [exchange] = interview.answers
    assert exchange.question_id == "q05" and exchange.truncated
