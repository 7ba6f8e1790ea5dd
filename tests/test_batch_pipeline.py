"""A batch grades while it reads: the first calls go out once the first input file is read (issue 15).

What it writes and prints must be what reading every input first writes (`read_first=True`, the path of
`--max-cost` and `--llm-match`): the same files byte for byte, the same messages and exit codes.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fakeserver import FakeOpenAIServer
from typer.testing import CliRunner

import grader.batch.run as batch_run
import grader.transcripts.interview as interview
from grader.batch import BatchOptions, run_batch
from grader.cli import app
from grader.config import Settings

DATA = Path(__file__).parent / "data" / "transcripts"
REPO = Path(__file__).resolve().parent.parent
ZOOM = DATA / "zoom_priya_raman.vtt"
TEAMS = DATA / "teams_sofia_alvarez.vtt"
OUTPUTS = ("results.jsonl", "summary.json", "report.md", "report.html")


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Timestamps of grades and of the summary fixed, so two runs can be compared byte for byte."""
    moment = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC)
    monkeypatch.setattr("grader.grading.service._now", lambda: moment.isoformat(timespec="seconds"))
    clock = SimpleNamespace(UTC=dt.UTC, datetime=SimpleNamespace(now=lambda tz=None: moment))
    monkeypatch.setattr("grader.batch.reports.dt", clock)


def offline() -> Settings:
    return Settings(backend="offline", bank=REPO, use_cache=False)


def outputs(out: Path) -> dict[str, bytes]:
    return {name: (out / name).read_bytes() for name in OUTPUTS}


def broken(folder: Path) -> Path:
    bad = folder / "bad.vtt"
    bad.write_text("WEBVTT\n\n00:00:01 --> 00:00:02\nAnn: hi\n", encoding="utf-8")
    return bad


class Recorder:
    """A progress that keeps every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def start(self, total: int, done: int) -> None:
        self.calls.append(("start", total, done))

    def advance(self, record: dict[str, Any]) -> None:
        self.calls.append(("advance", record["item"]))

    def note(self, message: str) -> None:
        self.calls.append(("note", message))


@pytest.mark.parametrize("middle_file_broken", [False, True])
def test_grading_while_reading_writes_what_reading_first_writes(tmp_path: Path, middle_file_broken: bool) -> None:
    inputs = [ZOOM, broken(tmp_path), TEAMS, DATA] if middle_file_broken else [DATA]
    written, progress = {}, {}
    for read_first in (True, False):
        out = tmp_path / f"out-{read_first}"
        recorder = Recorder()
        outcome = run_batch(inputs, offline(), BatchOptions(out=out, concurrency=1), progress=recorder,
                            read_first=read_first)  # fmt: skip
        written[read_first], progress[read_first] = outputs(out), recorder.calls
        assert outcome.written == outcome.total == len(written[read_first]["results.jsonl"].splitlines())
    assert written[False] == written[True]
    assert progress[False] == progress[True]  # start(total, done) first, then one advance per result, in order
    summary = json.loads(written[False]["summary.json"])
    assert [s["file"] for s in summary["skipped"]] == ([str(tmp_path / "bad.vtt")] if middle_file_broken else [])


def test_the_first_calls_go_out_before_the_last_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[str] = []
    plan_interview = interview._plan_interview

    def reading(path: Path, given: str, *args: Any) -> None:
        events.append(f"read {Path(given).name}")
        plan_interview(path, given, *args)

    agrade = batch_run.GradingService.agrade

    async def grading(self: Any, staged: Any) -> Any:
        events.append("grade")
        return await agrade(self, staged)

    monkeypatch.setattr(interview, "_plan_interview", reading)
    monkeypatch.setattr(batch_run.GradingService, "agrade", grading)
    run_batch([ZOOM, TEAMS], offline(), BatchOptions(out=tmp_path / "out"))
    assert events.index("grade") < events.index("read teams_sofia_alvarez.vtt")
    events.clear()
    run_batch([ZOOM, TEAMS], offline(), BatchOptions(out=tmp_path / "first"), read_first=True)
    assert events.index("grade") > events.index("read teams_sofia_alvarez.vtt")


def test_through_the_sdk_the_same_requests_and_results(fake_server: FakeOpenAIServer, tmp_path: Path) -> None:
    settings = Settings(backend="openai", base_url=fake_server.url, bank=REPO, use_cache=False)
    sent, written = {}, {}
    for read_first in (True, False):
        fake_server.requests.clear()
        out = tmp_path / f"out-{read_first}"
        run_batch([DATA], settings, BatchOptions(out=out, concurrency=4), read_first=read_first)
        sent[read_first] = sorted(json.dumps(body, sort_keys=True) for body in fake_server.requests)
        written[read_first] = outputs(out)
    assert sent[False] == sent[True] and len(sent[True]) == 25
    # The results come back in the order the calls finish, in either run: compare what does not depend on it.
    assert sorted(written[False]["results.jsonl"].splitlines()) == sorted(written[True]["results.jsonl"].splitlines())
    summaries = [json.loads(written[read_first]["summary.json"]) for read_first in (True, False)]
    for summary in summaries:
        for entry in summary["transcripts"]:
            entry["questions"].sort()
        summary["needs_review"].sort(key=lambda r: r["item"])
    assert summaries[0] == summaries[1]


def test_resume_reads_on_and_grades_only_what_is_left(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_batch([ZOOM, TEAMS], offline(), BatchOptions(out=out))
    lines = (out / "results.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    for name in OUTPUTS[1:]:
        (out / name).unlink()
    calls = {}
    for read_first in (True, False):
        copy = tmp_path / f"resume-{read_first}"
        shutil.copytree(out, copy)
        (copy / "results.jsonl").write_text("".join(lines[:2]) + lines[5][:40], encoding="utf-8")  # torn last line
        recorder = Recorder()
        outcome = run_batch([ZOOM, TEAMS], offline(), BatchOptions(out=copy, resume=True, concurrency=1),
                            progress=recorder, read_first=read_first)  # fmt: skip
        assert (outcome.done_before, outcome.written, outcome.repaired) == (2, 6, True)
        calls[read_first] = [c if c[0] != "note" else ("note", c[1].replace(str(copy), "")) for c in recorder.calls]
    assert calls[False] == calls[True] and calls[True][:2] == [
        ("note", "/results.jsonl: the last line was cut off (killed mid-write); removed it, will redo it"),
        ("start", 8, 2),
    ]


def test_cli_a_transcript_that_fails_to_read(tmp_path: Path) -> None:
    """Its one line on stderr, exit 1 under --strict, and every answer of the other files in the results."""
    bad = broken(tmp_path)
    results = {}
    for read_first in (True, False):
        out = tmp_path / f"out-{read_first}"
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(batch_run, "run_batch", functools.partial(batch_run.run_batch, read_first=read_first))
            args = ["batch", str(ZOOM), str(bad), str(TEAMS), "--out", str(out), "--backend", "offline"]
            result = CliRunner().invoke(app, [*args, "--no-progress", "--strict", "--no-cache"])
        assert result.exit_code == 1
        assert f"grader: skipped {bad}:3: bad cue timing" in result.stderr
        assert "grader: 1 file(s) skipped (--strict)" in result.stderr
        results[read_first] = (result.stdout.replace(str(out), "OUT"), result.stderr, outputs(out)["results.jsonl"])
        assert len(results[read_first][2].splitlines()) == 8
    assert results[False][:2] == results[True][:2]
    assert sorted(results[False][2].splitlines()) == sorted(results[True][2].splitlines())
