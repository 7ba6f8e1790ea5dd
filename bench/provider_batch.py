"""A 1,000-answer run, live against --provider-batch: HTTP requests, model requests and estimated cost.

    python bench/provider_batch.py [answers] [fail_rate]

Builds an answer table of `answers` realistic answers (bank questions q01..q50, ~150 words each), prices it with
`grader batch --dry-run` live and with `--provider-batch` (gpt-4.1-mini, genai-prices), then runs both paths
against the fake server (tests/fakeserver.py, in this process) with `fail_rate` of the batch lines failing, and
counts what each path sent. The fake answers at once, so the wall times are the grader's own overhead.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from fakeserver import FakeOpenAIServer  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from grader.cli import app  # noqa: E402

SENTENCES = [
    "Retrieval-augmented generation grounds the model in documents fetched at query time.",
    "I would chunk the corpus by headings, embed the chunks and keep the metadata for filtering.",
    "Hybrid search with BM25 and dense vectors, then a cross-encoder reranker, keeps recall and precision up.",
    "The answer should cite the chunks it used, so a reviewer can check every claim.",
    "Evaluation needs a labelled set of questions: recall at k for retrieval and faithfulness for the answer.",
    "Latency matters, so I would cache embeddings and cap the context at the top five chunks.",
    "Fine-tuning changes behaviour and style; retrieval is the better tool for fresh or private facts.",
    "Hallucinations drop when the prompt says to answer only from the context and to say when it is missing.",
]


def table(path: Path, count: int) -> Path:
    rows = []
    for i in range(count):
        words = " ".join(SENTENCES[(i + k) % len(SENTENCES)] for k in range(8))
        rows.append({"question_id": f"q{i % 50 + 1:02d}", "candidate": f"C{i}", "answer": f"({i}) {words}"})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    fail_rate = float(sys.argv[2]) if len(sys.argv) > 2 else 0.01
    tmp = Path(tempfile.mkdtemp(prefix="pbatch-bench-"))
    os.environ["GRADER_CACHE"] = str(tmp / "cache.sqlite")
    answers = table(tmp / "answers.jsonl", count)
    runner = CliRunner()
    with FakeOpenAIServer() as server:
        server.batch_api.seconds, server.batch_api.fail_rate = 1.0, fail_rate
        common = ["batch", str(answers), "--base-url", server.url, "--model", "gpt-4.1-mini", "--no-cache"]
        dry = [*common, "--out", str(tmp / "dry"), "--dry-run", "--format", "json"]
        live_price = json.loads(runner.invoke(app, dry).stdout)
        batch_price = json.loads(runner.invoke(app, [*dry, "--provider-batch"]).stdout)
        print(f"{count} answers, gpt-4.1-mini, prompt tokens {live_price['prompt_tokens']:,}, "
              f"completion ~{live_price['completion_tokens_estimate']:,}")  # fmt: skip
        print(f"  estimated cost  live ${live_price['cost_usd_estimate']:.4f}   "
              f"batch ${batch_price['cost_usd_estimate']:.4f}")  # fmt: skip

        start = time.perf_counter()
        result = runner.invoke(app, [*common, "--out", str(tmp / "live"), "--concurrency", "32", "--no-progress"])
        live_s, live_calls = time.perf_counter() - start, len(server.requests)
        assert result.exit_code == 0, result.output
        server.requests.clear()
        start = time.perf_counter()
        result = runner.invoke(app, [*common, "--out", str(tmp / "batch"), "--provider-batch", "--batch-poll", "0.25"])
        batch_s = time.perf_counter() - start
        assert result.exit_code == 0, result.output
        api = server.batch_api
        print(f"  live   {live_calls} chat requests (one per answer), {live_s:.1f} s")
        print(f"  batch  {api.created} batch, 1 upload, {api.lines} lines in the file, "
              f"{len(server.requests)} chat requests live (the {fail_rate:.0%} failed lines), {batch_s:.1f} s "
              f"(the fake batch takes {api.seconds:g} s)")  # fmt: skip
        summary = json.loads((tmp / "batch" / "summary.json").read_text())
        print(f"  batch run: graded {summary['graded']} of {summary['answers']}, "
              f"reasked live {summary['provider_batch']['reasked_live']}")  # fmt: skip


if __name__ == "__main__":
    main()
