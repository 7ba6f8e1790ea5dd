"""`grader batch` against a flaky server: the two figures of the fault-tolerance target.

1. 128 answers (exemplar answers of all 50 rubrics) against a server answering 15% 429 (with Retry-After),
   5% 500 and 10% truncated JSON: is every answer accounted for exactly once, and what share is graded?
   (target: every answer once, at least 97% graded)
2. 64 answers against a server where 5% of calls hang for 30 s, with --timeout 3: the wall time.
   (target: well inside a minute)

The fake OpenAI-compatible server (tests/fakeserver.py) runs in this process, with a latency per call; the
grader runs as `python -m grader batch`, through the real SDK, as a user would run it.
Usage: python bench/faults.py [seeds] [latency_seconds]
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from fakeserver import FakeOpenAIServer, FaultPlan  # noqa: E402


def exemplar_answers(count: int) -> list[dict[str, str]]:
    """Answers to every question of the shipped bank, taken round-robin from the rubrics' exemplars."""
    pools = []
    for path in sorted((REPO / "rubrics").glob("q*.yaml")):
        rubric = yaml.safe_load(path.read_text(encoding="utf-8"))
        pools.append([(rubric["question_id"], e["answer"]) for e in rubric.get("exemplars", [])])
    rows = []
    for i in range(count):
        pool = pools[i % len(pools)]
        qid, answer = pool[(i // len(pools)) % len(pool)]
        rows.append({"question_id": qid, "answer": answer, "candidate": f"candidate{i % 16:02d}"})
    return rows


def run_batch(rows: list[dict[str, str]], plan: FaultPlan, latency: float, timeout: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, FakeOpenAIServer(latency=latency, faults=plan) as server:
        table = Path(tmp) / "answers.jsonl"
        table.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        out = Path(tmp) / "out"
        command = [sys.executable, "-m", "grader", "batch", str(table), "--out", str(out), "--base-url", server.url,
                   "--timeout", f"{timeout:g}", "--no-cache", "--no-progress", "--concurrency", "8"]  # fmt: skip
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "GRADER_"))}
        started = time.perf_counter()
        result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
        wall = time.perf_counter() - started
        records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
        requests = len(server.requests)
    items = collections.Counter(r["item"] for r in records)
    return {
        "exit": result.returncode,
        "traceback": "Traceback" in result.stderr,
        "wall": wall,
        "answers": len(rows),
        "results": len(records),
        "once": len(items) == len(rows) == len(records),
        "graded": sum(r["status"] == "graded" for r in records),
        "ungraded": collections.Counter(r["error"].split(":")[0] for r in records if r["status"] != "graded"),
        "requests": requests,
        "faults": dict(plan.counts),
    }


def show(name: str, figures: dict[str, Any]) -> None:
    pct = 100 * figures["graded"] / figures["answers"]
    print(
        f"  {name}: exit {figures['exit']}, {figures['wall']:.1f} s wall, {figures['results']} results for "
        f"{figures['answers']} answers, each exactly once: {figures['once']}, graded {figures['graded']} "
        f"({pct:.1f}%), ungraded {dict(figures['ungraded']) or 0}, traceback: {figures['traceback']}"
    )
    print(f"      {figures['requests']} requests; server faults drawn: {figures['faults']}")


def main() -> None:
    seeds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    latency = float(sys.argv[2]) if len(sys.argv) > 2 else 0.2
    print(f"command: python bench/faults.py {seeds} {latency:g}")
    print(f"fake server latency {latency:g} s per call; grader batch --concurrency 8")

    print("1. 128 answers, 15% 429 (Retry-After 0.5 s), 5% 500, 10% truncated JSON, --timeout 10")
    worst = 100.0
    for seed in range(seeds):
        plan = FaultPlan(rate_429=0.15, rate_500=0.05, rate_truncated=0.10, retry_after="0.5", seed=seed)
        figures = run_batch(exemplar_answers(128), plan, latency, timeout=10)
        show(f"seed {seed}", figures)
        worst = min(worst, 100 * figures["graded"] / figures["answers"] if figures["once"] else 0.0)
    print(f"   worst graded share over {seeds} seeds: {worst:.1f}% (target: every answer once, >= 97%)")

    print("2. 64 answers, 5% of calls hang 30 s, --timeout 3")
    slowest = 0.0
    for seed in range(seeds):
        plan = FaultPlan(rate_hang=0.05, hang_seconds=30, seed=seed)
        figures = run_batch(exemplar_answers(64), plan, latency, timeout=3)
        show(f"seed {seed}", figures)
        slowest = max(slowest, figures["wall"])
    print(f"   slowest wall time over {seeds} seeds: {slowest:.1f} s (target: well inside 60 s)")


if __name__ == "__main__":
    main()
