"""Interviews as people speak them, in every export format: the word matcher alone, offline, grades each bank
answer under its id, lists every off-bank question as unmatched, and accounts for every candidate word."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from spoken import FORMATS, conversations, render

from grader.transcripts.interview import read_interview
from grader.transcripts.matching import QuestionMatcher
from grader.transcripts.read import parse_turns

REPO = Path(__file__).resolve().parent.parent
CASES = [pytest.param(c, fmt, id=f"{c['name']}-{fmt}") for c in conversations() for fmt in FORMATS]


@pytest.fixture(scope="module")
def matcher() -> QuestionMatcher:
    from grader.batch.plan import rubric_hints
    from grader.config import Settings
    from grader.grading.service import GradingService

    service = GradingService(Settings(backend="offline", use_cache=False, bank=REPO))
    return QuestionMatcher(service.questions, rubric_hints(service))


@pytest.mark.parametrize(("conversation", "fmt"), CASES)
def test_bank_answers_under_their_ids_and_off_bank_questions_unmatched(
    conversation: dict[str, Any], fmt: str, matcher: QuestionMatcher, tmp_path: Path
) -> None:
    path = tmp_path / f"{conversation['name']}.{fmt}"
    path.write_text(render(conversation, fmt), encoding="utf-8")
    interview = read_interview(path, matcher.match)
    assert sorted(a.question_id for a in interview.answers) == sorted(conversation["expect"])
    assert len(interview.unmatched) == conversation["unmatched"], [u.asked for u in interview.unmatched]
    assert all(u.question_id is None and u.words > 0 for u in interview.unmatched)


@pytest.mark.parametrize(("conversation", "fmt"), CASES)
def test_graded_plus_reported_ungraded_words_are_all_the_candidates_words(
    conversation: dict[str, Any], fmt: str, matcher: QuestionMatcher, tmp_path: Path
) -> None:
    path = tmp_path / f"{conversation['name']}.{fmt}"
    path.write_text(render(conversation, fmt), encoding="utf-8")
    interview = read_interview(path, matcher.match)
    said = sum(len(t.text.split()) for t in parse_turns(path) if t.speaker == interview.candidate)
    coverage = interview.coverage
    assert coverage.candidate_words == said
    assert coverage.graded_words + coverage.ungraded_words == said
    assert coverage.graded_words == sum(len(a.answer.split()) for a in interview.answers)
    unmatched_words = sum(int(str(s["words"])) for s in coverage.ungraded if s["reason"] == "unmatched question")
    assert unmatched_words == sum(u.words for u in interview.unmatched)
    assert 0 < (coverage.share or 0) < 1


def test_follow_ups_stay_with_their_question_and_new_topics_do_not(matcher: QuestionMatcher, tmp_path: Path) -> None:
    [maya] = [c for c in conversations() if c["name"] == "meet_maya_chen"]
    path = tmp_path / "maya.vtt"
    path.write_text(render(maya, "teams.vtt"), encoding="utf-8")
    interview = read_interview(path, matcher.match)
    by_id = {a.question_id: a for a in interview.answers}
    assert by_id["q17"].follow_ups == ["and the decoder side?"]
    assert "caching keys and values" in by_id["q17"].answer
    assert "gradient norms" in by_id["q11"].answer  # "And how would you notice it's happening …?"
    assert "keep the training stable" in by_id["q11"].asked  # no "?" at all
    unmatched = [u.asked for u in interview.unmatched]
    assert any("positional encodings" in u for u in unmatched)  # "Next topic, …": never merged into q06
    assert any("leave your current role" in u for u in unmatched)
    assert "Self-attention is permutation invariant" not in by_id["q06"].answer


def test_a_raw_asr_transcript_with_no_punctuation_yields_its_answers(matcher: QuestionMatcher, tmp_path: Path) -> None:
    [sara] = [c for c in conversations() if c["name"] == "zoom_sara_lopez"]
    path = tmp_path / "sara.txt"
    path.write_text(render(sara, "asr.txt"), encoding="utf-8")
    assert "?" not in path.read_text(encoding="utf-8")
    interview = read_interview(path, matcher.match)
    assert len(interview.answers) == len(sara["expect"])


PARAPHRASES = Path(__file__).parent / "data" / "spoken" / "paraphrases.txt"
REPLY = "I would look at it from first principles, measure carefully and compare two options on real data first."


@pytest.mark.parametrize("fmt", ["meet.txt", "asr.txt", "teams.vtt"])
def test_each_paraphrase_is_graded_under_its_id_and_each_off_bank_question_nowhere(
    fmt: str, matcher: QuestionMatcher, tmp_path: Path
) -> None:
    rows = [line.split(" | ", 1) for line in PARAPHRASES.read_text(encoding="utf-8").splitlines() if line.strip()]
    turns = [["Ann Interviewer", "Hi, can you hear me?"], ["Bob Candidate", "Yes, all good."]]
    for n, (_, asked) in enumerate(rows):
        turns += [["Ann Interviewer", asked], ["Bob Candidate", f"Reply {n} here. {REPLY}"]]
    path = tmp_path / f"paraphrases.{fmt}"
    path.write_text(render({"name": "p", "turns": turns}, fmt), encoding="utf-8")
    interview = read_interview(path, matcher.match)
    where = {}
    for exchange in interview.answers + interview.unmatched:
        for n in range(len(rows)):
            if f"reply {n} here" in exchange.answer.casefold():
                where[n] = exchange.question_id
    assert {n: where.get(n, "lost") for n in range(len(rows))} == {
        n: None if qid == "none" else qid for n, (qid, _) in enumerate(rows)
    }
