"""The provider Batch API path (--provider-batch, --export-requests, --import-results), through the real SDK
against the fake server's /v1/files and /v1/batches."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakeserver import FakeOpenAIServer, Reply, completion_body, synthesise_verdict, wrong_schema
from typer.testing import CliRunner

from grader.batch import BatchOptions, run_batch
from grader.batch.provider import ProviderOptions, import_results, run_provider_batch
from grader.batch.provider_files import STATE, batch_price, read_output, split_lines
from grader.batch.reports import read_results
from grader.cli import app
from grader.config import Settings
from grader.pricing import Price, known_price

REPO = Path(__file__).resolve().parent.parent
QUESTIONS = ["q05", "q07", "q09", "q12", "q14"]
FAST = ProviderOptions(poll_seconds=0.05)


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    """A server of its own: its batch settings are changed per test."""
    with FakeOpenAIServer() as fake:
        fake.batch_api.seconds = 0.3
        yield fake


def answers(tmp_path: Path, count: int = 40) -> Path:
    """An answer table of `count` distinct answers over a few bank questions."""
    path = tmp_path / "answers.jsonl"
    rows = [{"question_id": QUESTIONS[i % len(QUESTIONS)], "candidate": f"Candidate {i}",
             "answer": f"Answer {i}: retrieval grounds the model in documents; chunk, embed, rerank, cite {i}."}
            for i in range(count)]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def llm(server: FakeOpenAIServer, **changes: Any) -> Settings:
    base = Settings(backend="openai", base_url=server.url, bank=REPO, cache_path=Path(os.environ["GRADER_CACHE"]))
    return base.with_overrides(model="gpt-4.1-mini", **changes)


def results(out: Path) -> list[dict[str, Any]]:
    return read_results(out / "results.jsonl", repair=False)[0]


def graded_view(records: list[dict[str, Any]]) -> dict[str, Any]:
    """What must not depend on the path a reply came by: levels, score, flags, status."""
    return {r["item"]: (r["status"], r["score"], r["flags"], {c["id"]: c["level"] for c in r.get("criteria") or []})
            for r in records}  # fmt: skip


def test_forty_answers_one_batch_failed_lines_reasked_live(server: FakeOpenAIServer, tmp_path: Path) -> None:
    server.batch_api.fail_rate = 0.1
    out = tmp_path / "out"
    outcome = run_provider_batch([answers(tmp_path)], llm(server), BatchOptions(out=out), FAST)
    records = results(out)
    assert server.batch_api.created == 1 and server.batch_api.lines == 40
    assert len(records) == len({r["item"] for r in records}) == 40
    assert all(r["status"] == "graded" for r in records)
    assert outcome.from_batch == 36 and outcome.reasked_live == 4
    assert len(server.requests) == 4, "only the failed lines go live"
    state = json.loads((out / STATE).read_text())
    assert [b["id"] for b in state["batches"]] == outcome.created and state["batches"][0]["collected"]
    lines = (out / "batch_requests.jsonl").read_text().splitlines()
    assert len(lines) == 40 and json.loads(lines[0])["url"] == "/v1/chat/completions"
    bodies = [json.loads(line)["body"] for line in lines]
    assert all(live in bodies for live in server.requests), "a batch line's body is exactly the live request's"
    assert bodies[0]["response_format"]["json_schema"]["strict"] is True


def _cli(server: FakeOpenAIServer, table: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "grader", "batch", str(table), "--out", str(out), "--base-url", server.url,
            "--model", "gpt-4.1-mini", "--provider-batch", "--batch-poll", "0.05", *extra]  # fmt: skip


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "GRADER_"))}
    env["GRADER_CACHE"] = str(tmp_path / "cache.sqlite")
    return env


def _start_and_wait_for_the_batch(command: list[str], env: dict[str, str], out: Path) -> subprocess.Popen[str]:
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (out / STATE).is_file():
        time.sleep(0.02)
    assert (out / STATE).is_file(), "the batch id is recorded before waiting"
    time.sleep(0.3)  # well into the wait
    assert process.poll() is None, "still waiting for the batch"
    return process


def test_sigkill_while_waiting_then_resume_one_batch_all_graded_once(server: FakeOpenAIServer, tmp_path: Path) -> None:
    server.batch_api.seconds, server.batch_api.fail_rate = 30.0, 0.1  # not done before the kill on a loaded machine
    out, env = tmp_path / "out", _env(tmp_path)
    command = _cli(server, answers(tmp_path), out)
    process = _start_and_wait_for_the_batch(command, env, out)
    try:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    assert results(out) == []
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 1 and "pass --resume" in again.stderr, "no second batch without --resume"
    server.batch_api.seconds = 0.5  # running longer than that already: done when polled
    resumed = subprocess.run([*command, "--resume"], env=env, capture_output=True, text=True, timeout=60)
    assert resumed.returncode == 0, resumed.stderr
    records = results(out)
    assert server.batch_api.created == 1, "exactly one batch created"
    assert len(records) == len({r["item"] for r in records}) == 40, "40 of 40, none twice"
    assert all(r["status"] == "graded" for r in records)
    assert len(server.requests) == 4, "the 4 failed lines (10%) re-asked live, nothing else"
    assert "4 failed line(s) asked live" in resumed.stdout and "36 graded from batch replies" in resumed.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["complete"] is True and summary["provider_batch"]["reasked_live"] == 4


def test_ctrl_c_while_waiting_leaves_the_batch_running_and_says_how_to_resume(
    server: FakeOpenAIServer, tmp_path: Path
) -> None:
    server.batch_api.seconds = 30.0  # it cannot finish before the signal on a loaded machine (2 s once did)
    out, env = tmp_path / "out", _env(tmp_path)
    command = _cli(server, answers(tmp_path, 10), out)
    process = _start_and_wait_for_the_batch(command, env, out)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "keeps running on the server" in stderr and "--resume" in stderr and "batch_0001" in stderr
    assert "Traceback" not in stderr
    assert server.batch_api.batches["batch_0001"]["_cancel"] is False, "not cancelled"
    server.batch_api.seconds = 0.5  # the batch has been running longer than that: it is done when polled
    resumed = subprocess.run([*command, "--resume"], env=env, capture_output=True, text=True, timeout=60)
    assert resumed.returncode == 0, resumed.stderr
    assert len(results(out)) == 10 and server.batch_api.created == 1


@pytest.mark.parametrize("end", ["expired", "failed", "cancelled"])
def test_a_batch_that_did_not_complete_is_reported_with_the_servers_reason_keeping_what_finished(
    server: FakeOpenAIServer, tmp_path: Path, end: str
) -> None:
    out = tmp_path / "out"
    if end == "cancelled":
        server.batch_api.seconds = 1.0
        notes: list[str] = []

        class Cancel:  # someone cancels the batch on the server while the grader waits
            def start(self, total: int, done: int) -> None: ...
            def advance(self, record: dict[str, Any]) -> None: ...
            def note(self, message: str) -> None:
                notes.append(message)
                if "in_progress" in message and not server.batch_api.batches["batch_0001"]["_cancel"]:
                    server.batch_api.post("/v1/batches/batch_0001/cancel", b"", "")

        progress: Any = Cancel()
    else:
        server.batch_api.end, progress = end, None
    outcome = run_provider_batch([answers(tmp_path, 20)], llm(server), BatchOptions(out=out), FAST, progress=progress)
    kept = results(out)
    assert outcome.reasons and outcome.reasons[0].startswith(f"batch batch_0001 {end}")
    if end == "expired":
        assert len(kept) == 10 and outcome.left == 10 and "24 h" in outcome.reasons[0]
    if end == "failed":
        assert kept == [] and outcome.left == 20 and "Enqueued token limit" in outcome.reasons[0]
    if end == "cancelled":
        assert outcome.left == 20 - len(kept) and all(r["status"] == "graded" for r in kept)
    assert server.requests == [], "the rest is not graded live behind the user's back"
    assert json.loads((out / STATE).read_text())["batches"][0]["status"] == end
    summary = json.loads((out / "summary.json").read_text())
    assert summary["provider_batch"]["left"] == outcome.left and summary["complete"] is (outcome.left == 0)
    # A later run sends what was left, in a new batch; nothing is graded twice.
    server.batch_api.end = "completed"
    again = run_provider_batch([answers(tmp_path, 20)], llm(server), BatchOptions(out=out, resume=True), FAST)
    assert again.created == ["batch_0002"] and len(results(out)) == len({r["item"] for r in results(out)}) == 20


def test_past_the_limits_the_requests_split_into_several_batches(server: FakeOpenAIServer, tmp_path: Path) -> None:
    out = tmp_path / "out"
    limits = ProviderOptions(poll_seconds=0.05, max_requests=15)
    outcome = run_provider_batch([answers(tmp_path)], llm(server), BatchOptions(out=out), limits)
    assert outcome.created == ["batch_0001", "batch_0002", "batch_0003"]
    assert [len(b["_lines"]) for b in server.batch_api.batches.values()] == [15, 15, 10]
    assert len(results(out)) == 40 and server.requests == []
    state = json.loads((out / STATE).read_text())["batches"]
    assert [b["id"] for b in state] == outcome.created and all(b["collected"] for b in state)
    size = len((out / "batch_requests.jsonl").read_bytes())
    by_bytes = ProviderOptions(poll_seconds=0.05, max_bytes=size // 4 + 1)
    run_provider_batch([answers(tmp_path)], llm(server, use_cache=False), BatchOptions(out=tmp_path / "b"), by_bytes)
    assert server.batch_api.created >= 3 + 4
    inputs = [server.batch_api.files[b["input_file_id"]] for b in list(server.batch_api.batches.values())[3:]]
    assert all(len(data) <= size // 4 + 1 for data in inputs) and sum(len(data) for data in inputs) == size


def test_split_lines_within_both_limits() -> None:
    lines = [(f"id{i}", b"x" * 10) for i in range(7)]
    assert [len(c) for c in split_lines(lines, max_requests=3, max_bytes=1000)] == [3, 3, 1]
    assert [len(c) for c in split_lines(lines, max_requests=100, max_bytes=25)] == [2, 2, 2, 1]


def test_cached_answers_are_not_sent(server: FakeOpenAIServer, tmp_path: Path) -> None:
    table = answers(tmp_path)
    first = tmp_path / "first.jsonl"
    first.write_text("".join(table.read_text().splitlines(keepends=True)[:10]))
    run_batch([first], llm(server), BatchOptions(out=tmp_path / "live"))
    assert len(server.requests) == 10
    outcome = run_provider_batch([table], llm(server), BatchOptions(out=tmp_path / "out"), FAST)
    assert outcome.cached == 10 and server.batch_api.lines == 30 and len(results(tmp_path / "out")) == 40


def test_an_invalid_reply_in_the_batch_is_reasked_live_as_a_live_one_is(
    server: FakeOpenAIServer, tmp_path: Path
) -> None:
    server.batch_api.reply = lambda body: wrong_schema(body) if "Answer 3:" in json.dumps(body) else None
    outcome = run_provider_batch([answers(tmp_path, 8)], llm(server), BatchOptions(out=tmp_path / "out"), FAST)
    assert all(r["status"] == "graded" for r in results(tmp_path / "out"))
    assert len(server.requests) == 1 and "previous reply was invalid" in json.dumps(server.requests[0])
    assert outcome.from_batch == 8 and outcome.reasked_live == 0


def test_max_cost_applies_before_upload(server: FakeOpenAIServer, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["batch", str(answers(tmp_path)), "--out", str(out), "--base-url", server.url,
                                      "--model", "gpt-4.1-mini", "--provider-batch", "--batch-poll", "0.05",
                                      "--max-cost", "0.00001"])  # fmt: skip
    assert result.exit_code == 1, result.output
    assert server.batch_api.created == 0 and server.batch_api.files == {} and server.requests == []
    assert "--max-cost" in result.stderr


def test_dry_run_prices_at_the_batch_rate(server: FakeOpenAIServer, tmp_path: Path) -> None:
    table = answers(tmp_path)
    args = ["batch", str(table), "--out", str(tmp_path / "o"), "--base-url", server.url, "--model", "gpt-4.1-mini",
            "--dry-run", "--format", "json"]  # fmt: skip
    live = json.loads(CliRunner().invoke(app, args).stdout)
    batch = json.loads(CliRunner().invoke(app, [*args, "--provider-batch"]).stdout)
    assert batch["cost_usd_estimate"] == pytest.approx(live["cost_usd_estimate"] / 2, rel=1e-3)
    text = CliRunner().invoke(app, [*args[:-2], "--provider-batch"]).stdout
    assert "Batch API rate: genai-prices' batch price" in text
    assert server.batch_api.created == 0 and server.requests == []
    assert batch_price("gpt-4.1-mini", None).source == "genai-prices' batch price"
    live_price = known_price("gpt-4.1-mini")
    assert live_price is not None and batch_price("gpt-4.1-mini", None).price == Price(
        live_price.input_per_mtok / 2, live_price.output_per_mtok / 2
    )
    assert "half" in batch_price("x", Price(2, 8)).source and batch_price("x", Price(2, 8)).price == Price(1, 4)


def _vllm_run_batch(requests: Path, output: Path, server: FakeOpenAIServer) -> None:
    """What `vllm run-batch -i requests -o output` writes: one output line per request line."""
    rows = []
    for number, raw in enumerate(requests.read_text().splitlines()):
        line = json.loads(raw)
        reply = completion_body(Reply(synthesise_verdict(line["body"], server.policy)), line["body"]["model"])
        response = {"status_code": 200, "request_id": f"vllm-batch-{number}", "body": reply}
        rows.append({"id": f"vllm-{number}", "custom_id": line["custom_id"], "error": None, "response": response})
    output.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_export_then_import_gives_what_the_live_path_gives(server: FakeOpenAIServer, tmp_path: Path) -> None:
    server.policy = lambda cid, levels: len(cid) % levels  # levels that differ by criterion
    table = answers(tmp_path, 12)
    requests, output = tmp_path / "requests.jsonl", tmp_path / "output.jsonl"
    result = CliRunner().invoke(app, ["batch", str(table), "--out", str(tmp_path / "x"), "--base-url", server.url,
                                      "--model", "gpt-4.1-mini", "--export-requests", str(requests)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Wrote 12 Batch API request(s)" in result.stdout and server.requests == []
    lines = [json.loads(line) for line in requests.read_text().splitlines()]
    assert len(lines) == 12 and len({line["custom_id"] for line in lines}) == 12
    for line in lines:  # a valid Batch API line
        assert set(line) == {"custom_id", "method", "url", "body"} and line["method"] == "POST"
        assert line["url"] == "/v1/chat/completions" and line["body"]["model"] == "gpt-4.1-mini"
        assert line["body"]["response_format"]["json_schema"]["strict"] is True
    _vllm_run_batch(requests, output, server)
    assert set(read_output(output.read_bytes().splitlines())) == {line["custom_id"] for line in lines}
    imported = import_results([table], llm(server, use_cache=False), BatchOptions(out=tmp_path / "imp"), output)
    assert imported.from_batch == 12 and server.requests == []
    run_batch([table], llm(server, use_cache=False), BatchOptions(out=tmp_path / "live"))
    assert len(server.requests) == 12
    same = sorted(json.dumps(r, sort_keys=True) for r in server.requests)
    assert same == sorted(json.dumps(line["body"], sort_keys=True) for line in lines), "exactly the live bodies"
    assert graded_view(results(tmp_path / "imp")) == graded_view(results(tmp_path / "live"))


def test_samples_ride_in_one_batch_line_with_n(server: FakeOpenAIServer, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_provider_batch([answers(tmp_path, 5)], llm(server, samples=3), BatchOptions(out=out), FAST)
    lines = [json.loads(line) for line in (out / "batch_requests.jsonl").read_text().splitlines()]
    assert all(line["body"]["n"] == 3 for line in lines) and server.requests == []
    records = results(out)
    assert len(records) == 5 and all(r["status"] == "graded" and r["provenance"]["samples"] == 3 for r in records)


def test_killed_while_writing_the_results_then_resume_grades_the_rest_once(
    server: FakeOpenAIServer, tmp_path: Path
) -> None:
    out = tmp_path / "out"

    class DiesAfterFive:
        written = 0

        def start(self, total: int, done: int) -> None: ...
        def note(self, message: str) -> None: ...
        def advance(self, record: dict[str, Any]) -> None:
            self.written += 1
            if self.written == 5:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_provider_batch([answers(tmp_path, 20)], llm(server), BatchOptions(out=out), FAST, progress=DiesAfterFive())
    assert 5 <= len(results(out)) < 20
    assert json.loads((out / STATE).read_text())["batches"][0]["collected"] is False
    again = run_provider_batch([answers(tmp_path, 20)], llm(server), BatchOptions(out=out, resume=True), FAST)
    records = results(out)
    assert len(records) == len({r["item"] for r in records}) == 20 and server.batch_api.created == 1
    assert again.created == [] and again.collected == ["batch_0001"]
