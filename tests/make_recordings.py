"""Regenerate tests/data/recordings/exchanges.jsonl from the hand-written verdicts beside it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from fakeserver import FakeOpenAIServer, Reply  # noqa: E402

from grader.config import Settings  # noqa: E402
from grader.grading.service import GradingService  # noqa: E402

RECORDINGS = HERE / "data" / "recordings"
CASES = [("q05", HERE.parent / "examples" / "q05_answer.txt", RECORDINGS / "q05_verdict.json")]


def main() -> None:
    (RECORDINGS / "exchanges.jsonl").unlink(missing_ok=True)
    with FakeOpenAIServer() as server:
        for question_id, answer_path, verdict_path in CASES:
            server.enqueue(Reply(json.loads(verdict_path.read_text()), prompt_tokens=2720, completion_tokens=412))
            settings = Settings(
                backend="openai", base_url=server.url, use_cache=False, record_dir=RECORDINGS, record=True
            )
            GradingService(settings).grade_answer(question_id, answer_path.read_text(encoding="utf-8"))
    print(f"wrote {RECORDINGS / 'exchanges.jsonl'}")


if __name__ == "__main__":
    main()
