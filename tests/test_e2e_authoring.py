"""A custom question from nothing to a graded answer with the README's authoring commands alone.

`python -m grader` as a subprocess, the model being the local fake server behind the real SDK: hand-made draft
and review replies (tests/data/authoring), synthesised verdicts for grading.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

from fakeserver import FakeOpenAIServer, Reply, synthesise_verdict
from test_e2e import clean_env, grader

DATA = Path(__file__).parent / "data" / "authoring"
Q51 = "When would you use retrieval-augmented generation instead of fine-tuning?"
REVIEW = {  # a hand-made reply, not a model's
    "findings": [
        {"kind": "vague_level", "field": "criteria[2].levels[1]", "quote": "A choice with a generic reason.",
         "fix": "Chooses one and gives one reason tied to the situation.", "confidence": "medium"}
    ],
    "summary": "Sound; one level is vague.",
}  # fmt: skip


def dispatch(body: dict[str, Any]) -> Reply:
    name = body["response_format"]["json_schema"]["name"]
    if name == "DraftRubric":
        return Reply(json.loads((DATA / "draft_q51.json").read_text()))
    if name == "ReviewReply":
        return Reply(REVIEW)
    return Reply(synthesise_verdict(body))


def test_from_a_new_question_to_a_graded_answer(fake_server: FakeOpenAIServer, tmp_path: Path) -> None:
    fake_server.enqueue(*[dispatch] * 50)
    env = clean_env(GRADER_CACHE=str(tmp_path / "cache.sqlite"), OPENAI_BASE_URL=fake_server.url)
    bank = tmp_path / "mybank"
    steps = [
        ["bank", "init", str(bank), "--extend"],
        ["rubric", "draft", "q51", "--question", Q51, "--bank", str(bank)],
    ]
    outputs = []
    for args in steps:
        result = grader(*args, env=env)
        assert result.returncode == 0, (args, result.stderr)
        outputs.append(result.stdout)
    hints = [shlex.split(line.strip()) for line in outputs[1].splitlines() if line.strip().startswith("grader ")]
    assert [h[1:3] for h in hints] == [["rubric", "lint"], ["rubric", "calibrate"], ["rubric", "review"]]
    for hint in hints:  # every printed command works as printed
        result = grader(*hint[1:], env=env)
        assert result.returncode == 0, (hint, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
    gate = grader("rubric", "calibrate", "q51", "--bank", str(bank), "--backend", "offline", "--fail-under", "0.5",
                  env=env)  # fmt: skip
    assert gate.returncode == 0, gate.stderr
    graded = grader("grade", "q51", "--answer", "RAG retrieves chunks and puts them in the prompt.", "--bank",
                    str(bank), "--format", "json", env=env)  # fmt: skip
    assert graded.returncode == 0, graded.stderr
    data = json.loads(graded.stdout)
    assert data["question_id"] == "q51" and data["status"] == "graded" and data["backend"] == "openai"
    offline = grader("grade", "q51", "--answer", "RAG retrieves chunks.", "--bank", str(bank), "--backend", "offline",
                     env=env)  # fmt: skip
    assert offline.returncode == 0, offline.stderr
    assert not any((Path(__file__).parent.parent / "rubrics").glob("q51.yaml"))  # the shipped bank is untouched
