"""`grader rubric review`: strict findings at file:line, the rubric left untouched (hand-made replies)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from fakeserver import FakeOpenAIServer, Reply
from typer.testing import CliRunner

from grader.authoring.reviewing import field_loc, place
from grader.authoring.schemas import strict_schema_problems
from grader.bank.rubrics import load_rubric_file
from grader.cli import app

DATA = Path(__file__).parent / "data" / "authoring"


def run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


@pytest.fixture
def bank(tmp_path: Path) -> Path:
    """A bank on the shipped one whose q05 rubric is the frozen copy the hand-made review quotes."""
    root = tmp_path / "bank"
    assert run("bank", "init", str(root), "--extend").exit_code == 0
    shutil.copy(DATA / "q05_rubric.yaml", root / "rubrics" / "q05.yaml")
    return root


def review_reply() -> Reply:
    return Reply(json.loads((DATA / "review_q05.json").read_text()), prompt_tokens=3000, completion_tokens=400)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_review_sends_a_strict_schema_prints_findings_and_edits_nothing(
    bank: Path, fake_server: FakeOpenAIServer
) -> None:
    rubric = bank / "rubrics" / "q05.yaml"
    before = sha(rubric), rubric.stat().st_mtime_ns
    fake_server.enqueue(review_reply())
    result = run("rubric", "review", "q05", "--bank", str(bank), "--base-url", fake_server.url)
    assert result.exit_code == 0, result.stderr
    assert (sha(rubric), rubric.stat().st_mtime_ns) == before
    sent = fake_server.requests[0]["response_format"]["json_schema"]
    assert sent["strict"] is True and strict_schema_problems(sent["schema"]) == []
    assert "findings" in sent["schema"]["properties"]
    assert (
        "VAE outputs are blurry because the latent space is too small"
        in fake_server.requests[0]["messages"][1]["content"]
    )
    lines = rubric.read_text().splitlines()
    misconception_line = next(i for i, line in enumerate(lines, 1) if "latent space is too small" in line)
    assert (
        f"{rubric}:{misconception_line}: misconception_docks_correct_answer (medium confidence) misconceptions[4]"
        in result.stdout
    )
    level_line = next(i for i, line in enumerate(lines, 1) if "but not the probabilistic objective" in line)
    assert f":{level_line}: vague_level (low confidence) criteria[0].levels[1]" in result.stdout
    assert "missing_topic" in result.stdout and "q05: 3 findings." in result.stdout
    assert "1 request to" in result.stderr


def test_review_json_has_findings_with_lines(bank: Path, fake_server: FakeOpenAIServer) -> None:
    fake_server.enqueue(review_reply())
    result = run("rubric", "review", "q05", "--bank", str(bank), "--base-url", fake_server.url, "--format", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["question_id"] == "q05" and len(data["findings"]) == 3
    first = data["findings"][0]
    assert set(first) == {"kind", "field", "line", "quote", "fix", "confidence"}
    assert isinstance(first["line"], int)
    assert data["usage"]["prompt_tokens"] == 3000 and data["cached"] is False


def test_review_of_an_unchanged_rubric_is_served_from_the_cache(bank: Path, fake_server: FakeOpenAIServer) -> None:
    fake_server.enqueue(review_reply())
    first = run("rubric", "review", "q05", "--bank", str(bank), "--base-url", fake_server.url)
    second = run("rubric", "review", "q05", "--bank", str(bank), "--base-url", fake_server.url)
    assert first.stdout == second.stdout and len(fake_server.requests) == 1
    assert "from the cache" in second.stderr


def test_garbage_review_exits_1_with_one_line(bank: Path, fake_server: FakeOpenAIServer) -> None:
    fake_server.enqueue(Reply("Looks fine to me!"), Reply({"ok": True}), Reply("still prose"))
    rubric = bank / "rubrics" / "q05.yaml"
    before = sha(rubric)
    result = run("rubric", "review", "q05", "--bank", str(bank), "--base-url", fake_server.url)
    assert result.exit_code == 1 and len(fake_server.requests) == 3
    assert result.stderr.startswith("Error: no usable review of q05") and result.stderr.count("\n") == 1
    assert sha(rubric) == before


def test_a_review_with_no_findings_exits_0(bank: Path, fake_server: FakeOpenAIServer) -> None:
    fake_server.enqueue(Reply({"findings": [], "summary": "Nothing to fix."}))
    result = run("rubric", "review", "q05", "--bank", str(bank), "--base-url", fake_server.url)
    assert result.exit_code == 0 and "q05: 0 findings. Nothing to fix." in result.stdout


def test_review_cannot_run_without_a_rubric_or_a_model(bank: Path, fake_server: FakeOpenAIServer) -> None:
    assert run("bank", "init", str(bank.parent / "b2"), "--extend").exit_code == 0
    (bank.parent / "b2" / "questions.yaml").write_text("- {id: q51, section: Custom, question: What is RAG?}\n")
    missing = run("rubric", "review", "q51", "--bank", str(bank.parent / "b2"), "--base-url", fake_server.url)
    assert missing.exit_code == 1 and "grader rubric new q51 --bank" in missing.stderr
    no_model = run("rubric", "review", "q05", "--bank", str(bank))
    assert no_model.exit_code == 1 and "OPENAI_API_KEY" in no_model.stderr
    assert not fake_server.requests


def test_review_dry_run(bank: Path, fake_server: FakeOpenAIServer) -> None:
    result = run("rubric", "review", "q05", "--bank", str(bank), "--dry-run")
    assert result.exit_code == 0 and "dry run: reviewing q05 would send" in result.stdout
    assert not fake_server.requests


def test_recorded_exchange_replays_the_review(bank: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADER_RECORDINGS", str(Path(__file__).parent / "data" / "recordings"))
    result = run("rubric", "review", "q05", "--bank", str(bank), "--no-cache")
    assert result.exit_code == 0, result.stderr
    assert "q05: 3 findings." in result.stdout


@pytest.mark.parametrize(
    ("field", "loc"),
    [
        pytest.param("criteria[1].levels[2]", ("criteria", 1, "levels", 2), id="brackets"),
        pytest.param("criteria.gan_mechanism.levels.0", ("criteria", 1, "levels", 0), id="criterion_id"),
        pytest.param("criteria[gan_mechanism].key_points", ("criteria", 1, "key_points"), id="id_in_brackets"),
        pytest.param("misconceptions[99]", ("misconceptions",), id="index_past_the_end"),
        pytest.param("reference_answer", ("reference_answer",), id="top_level"),
        pytest.param("the whole rubric", None, id="not_a_path"),
        pytest.param("", None, id="empty"),
    ],
)
def test_field_paths_are_placed(field: str, loc: tuple | None) -> None:
    loaded = load_rubric_file(DATA / "q05_rubric.yaml")
    assert field_loc(field, loaded) == loc


def test_a_finding_without_a_path_is_placed_by_its_quote() -> None:
    loaded = load_rubric_file(DATA / "q05_rubric.yaml")
    text = (DATA / "q05_rubric.yaml").read_text()
    line = place("somewhere", "GANs are trained by maximising the likelihood of the data.", loaded, text)
    assert line is not None and "GANs are trained by maximising" in text.splitlines()[line - 1]
    assert place("somewhere", "words the rubric never says", loaded, text) is None


def test_review_prompt_matches_golden() -> None:
    import os

    from grader.authoring.reviewing import review_messages
    from grader.bank import Bank
    from grader.models import Question

    repo = Path(__file__).resolve().parent.parent
    loaded = load_rubric_file(DATA / "q05_rubric.yaml")
    question = Question(id="q05", section="Fundamentals", question="How does a VAE differ from a GAN?")
    text = (DATA / "q05_rubric.yaml").read_text()
    messages, _ = review_messages(Bank.open(repo), question, loaded, text)
    rendered = "".join(f"--- {m.role}\n{m.content}" for m in messages)
    path = Path(__file__).parent / "data" / "golden" / "review_q05_prompt.txt"
    if os.environ.get("UPDATE_GOLDEN") == "1" or not path.exists():
        path.write_text(rendered, encoding="utf-8")
    assert rendered == path.read_text(encoding="utf-8"), "review prompt changed; rerun with UPDATE_GOLDEN=1 if intended"


def test_cache_clear_empties_the_reviews_too(bank: Path, fake_server: FakeOpenAIServer) -> None:
    fake_server.enqueue(review_reply(), review_reply())
    assert run("rubric", "review", "q05", "--bank", str(bank), "--base-url", fake_server.url).exit_code == 0
    cleared = run("cache", "clear")
    assert "and 1 cached rubric drafts and reviews" in cleared.stdout
    assert run("rubric", "review", "q05", "--bank", str(bank), "--base-url", fake_server.url).exit_code == 0
    assert len(fake_server.requests) == 2
