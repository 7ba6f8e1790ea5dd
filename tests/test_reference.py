"""Rubrics built from a reference answer alone: valid, faithful to the reference, gradable by any judge."""

from __future__ import annotations

import pytest

from grader.bank.reference import LEVEL_COUNT, MAX_CRITERIA, REFERENCE_TAG, reference_rubric
from grader.judges.base import GradingTask
from grader.judges.offline import OfflineJudge
from grader.models import Question, Rubric
from grader.scoring import missing_evidence, total_score, verdict_problems

QUESTION = Question(id="q900", section="test", question="Why does TCP use a three-way handshake?")
REFERENCE = (
    "The three-way handshake (SYN, SYN-ACK, ACK) lets both sides agree on initial sequence numbers. "
    "It confirms that both directions of the connection work before data is sent. "
    "It also protects against old duplicate connection requests."
)


def build(reference: str = REFERENCE, max_score: float = 3.0) -> Rubric:
    return reference_rubric(QUESTION, reference, max_score)


@pytest.mark.parametrize(
    ("reference", "criteria"),
    [
        pytest.param("Binary encoding, because every clock is perfect.", 1, id="one_sentence"),
        pytest.param(REFERENCE, 3, id="three_sentences"),
        pytest.param(" ".join(f"Point {n} is about topic{n}." for n in range(10)), MAX_CRITERIA, id="ten_sentences"),
        pytest.param("- first bullet point\n- second bullet point\n- third one", 3, id="bullets"),
        pytest.param(
            "Der Handschlag synchronisiert die Sequenznummern. Er schützt vor alten Duplikaten.", 2, id="german"
        ),
        pytest.param("握手用于同步序列号", 1, id="chinese_no_spaces"),
        pytest.param("It is what it is. Sequence numbers are agreed.", 2, id="stop_words_only_sentence"),
    ],
)
def test_rubric_from_reference(reference: str, criteria: int) -> None:
    rubric = build(reference)
    assert len(rubric.criteria) == criteria
    assert rubric.question_id == QUESTION.id and rubric.max_score == 3.0
    assert REFERENCE_TAG in rubric.tags and rubric.exemplars == []
    assert rubric.reference_answer == reference.strip()
    # Every sentence becomes a key point, in order, and nothing else does.
    points = [p for c in rubric.criteria for p in c.key_points]
    joined = " ".join(points)
    assert all(p in reference for p in points) and len(joined) <= len(reference)
    for criterion in rubric.criteria:
        assert criterion.weight > 0 and len(criterion.levels) == LEVEL_COUNT
    assert len({c.id for c in rubric.criteria}) == len(rubric.criteria)


def test_weights_follow_content() -> None:
    rubric = build("Short. " + "This sentence carries many more distinct content words than the first one does.")
    first, second = rubric.criteria
    assert second.weight > first.weight


def test_round_trips_through_the_model() -> None:
    rubric = build()
    assert Rubric.model_validate(rubric.model_dump()) == rubric


@pytest.mark.parametrize(
    ("reference", "max_score", "message"),
    [
        pytest.param("", 3.0, "no words", id="empty"),
        pytest.param("   \n ", 3.0, "no words", id="blank"),
        pytest.param("... ?! --", 3.0, "no words", id="punctuation_only"),
        pytest.param(REFERENCE, 0.0, "max_score", id="zero_max"),
        pytest.param(REFERENCE, -1.0, "max_score", id="negative_max"),
    ],
)
def test_unusable_references(reference: str, max_score: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        reference_rubric(QUESTION, reference, max_score)


def grade(rubric: Rubric, answer: str) -> float:
    verdict = OfflineJudge().decide(GradingTask(QUESTION, rubric, answer))
    assert verdict_problems(verdict, rubric) == []
    assert missing_evidence(verdict, answer) == []
    return total_score(verdict, rubric)


def test_offline_judge_grades_against_the_reference() -> None:
    rubric = build()
    full = grade(rubric, REFERENCE)
    good = grade(rubric, "Both hosts agree on initial sequence numbers and confirm both directions work.")
    poor = grade(rubric, "TCP is faster than UDP because it encrypts packets.")
    assert full == rubric.max_score
    assert full >= good > poor
    assert poor <= 0.5 * rubric.max_score
