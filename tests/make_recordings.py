"""Regenerate tests/data/recordings/exchanges.jsonl from the hand-written replies beside it and in ../authoring."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from fakeserver import FakeOpenAIServer, Reply  # noqa: E402

from grader.config import Settings  # noqa: E402
from grader.grading.service import GradingService  # noqa: E402

RECORDINGS = HERE / "data" / "recordings"
CASES = [("q05", HERE.parent / "examples" / "q05_answer.txt", RECORDINGS / "q05_verdict.json")]
AUTHORING = HERE / "data" / "authoring"
Q51 = "When would you use retrieval-augmented generation instead of fine-tuning?"


def authoring_bank(root: Path) -> Path:
    """A bank extending the shipped one, with the frozen copy of q05's rubric the review tests read."""
    (root / "rubrics").mkdir(parents=True)
    (root / "bank.yaml").write_text("base: shipped\n")
    (root / "questions.yaml").write_text("[]\n")
    shutil.copy(AUTHORING / "q05_rubric.yaml", root / "rubrics" / "q05.yaml")
    return root


def record_authoring(server: FakeOpenAIServer) -> None:
    """`rubric draft q51` and `rubric review q05`, recorded through the CLI as the tests replay them."""
    from typer.testing import CliRunner

    from grader.cli import app

    os.environ.update({"GRADER_RECORD": "1", "GRADER_RECORDINGS": str(RECORDINGS)})
    try:
        for args, reply in [
            (["rubric", "draft", "q51", "--question", Q51], "draft_q51.json"),
            (["rubric", "review", "q05"], "review_q05.json"),
        ]:
            with tempfile.TemporaryDirectory() as scratch:
                bank = authoring_bank(Path(scratch) / "bank")
                server.enqueue(
                    Reply(json.loads((AUTHORING / reply).read_text()), prompt_tokens=1500, completion_tokens=1800)
                )
                result = CliRunner().invoke(
                    app, [*args, "--bank", str(bank), "--base-url", server.url, "--no-cache"], catch_exceptions=False
                )
                assert result.exit_code == 0, result.stderr
    finally:
        os.environ.pop("GRADER_RECORD")
        os.environ.pop("GRADER_RECORDINGS")


def main() -> None:
    (RECORDINGS / "exchanges.jsonl").unlink(missing_ok=True)
    with FakeOpenAIServer() as server:
        for question_id, answer_path, verdict_path in CASES:
            server.enqueue(Reply(json.loads(verdict_path.read_text()), prompt_tokens=2720, completion_tokens=412))
            settings = Settings(
                backend="openai", base_url=server.url, use_cache=False, record_dir=RECORDINGS, record=True
            )
            GradingService(settings).grade_answer(question_id, answer_path.read_text(encoding="utf-8"))
        record_authoring(server)
    print(f"wrote {RECORDINGS / 'exchanges.jsonl'}")


if __name__ == "__main__":
    main()
