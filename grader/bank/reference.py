"""A rubric built from a reference answer alone, for data that has only a question and a model answer.

The reference's sentences become the key points; consecutive sentences are grouped into at most four
criteria of similar size, weighted by how much content each holds, so the offline judge (or any judge)
can grade such data through the same Verdict and scoring path as a hand-written rubric.
"""

from __future__ import annotations

from grader.models import Criterion, Question, Rubric
from grader.text.textsim import sentences, tokens

REFERENCE_TAG = "from-reference-answer"
"""Tag of a generated rubric: its key points are the reference's sentences, not crisp hand-written points."""
MAX_CRITERIA = 4
LEVEL_COUNT = 9  # the range below spells out its middle levels
"""Eight steps per criterion: a reference rubric often has one or two criteria, and coarse levels would
quantise the total (measured on SAF train: 5 levels lose about 0.03 of Pearson with graded examples)."""
LEVELS = [
    "Absent, or wrong.",
    *(f"Covers about {step}/{LEVEL_COUNT - 1} of this part of the reference answer." for step in range(1, 8)),
    "Covers all of this part of the reference answer, correctly.",
]


def reference_rubric(question: Question, reference_answer: str, max_score: float) -> Rubric:
    """Build a rubric whose criteria and key points come from the reference answer's sentences.

    Args:
        question: The question the reference answers (its id becomes the rubric's question_id).
        reference_answer: The model answer; must contain at least one word.
        max_score: The score of a perfect answer (> 0).

    Returns:
        A valid Rubric with up to MAX_CRITERIA criteria of LEVEL_COUNT levels each, and no exemplars.

    Raises:
        ValueError: if the reference answer has no words or max_score is not positive.
    """
    if max_score <= 0:
        raise ValueError(f"max_score must be above 0, got {max_score}")
    points = [(s.text, len(tokens(s.text))) for s in sentences(reference_answer)]
    if not points:
        raise ValueError("the reference answer has no words")
    # A sentence made only of stop words still says something; give it a small weight rather than none.
    points = [(text, max(size, 1)) for text, size in points]
    groups = _group(points, MAX_CRITERIA)
    criteria = [
        Criterion(
            id=f"part_{number}",
            description=f"Explains: {_gist(group[0][0])}",
            weight=float(sum(size for _, size in group)),
            levels=LEVELS,
            key_points=[text for text, _ in group],
        )
        for number, group in enumerate(groups, start=1)
    ]
    return Rubric(
        question_id=question.id,
        max_score=max_score,
        criteria=criteria,
        reference_answer=reference_answer.strip() or reference_answer,
        tags=[REFERENCE_TAG],
    )


def _group(points: list[tuple[str, int]], limit: int) -> list[list[tuple[str, int]]]:
    """Split consecutive sentences into at most `limit` groups of near-equal content (greedy on the running total)."""
    count = min(limit, len(points))
    total = sum(size for _, size in points)
    groups: list[list[tuple[str, int]]] = [[] for _ in range(count)]
    running = 0
    for position, point in enumerate(points):
        left = len(points) - position
        slot = min(count - 1, int(running * count / total))
        # Never leave a later group empty: the last sentences go one per remaining group.
        slot = max(slot, count - left)
        groups[slot].append(point)
        running += point[1]
    return [g for g in groups if g]


def _gist(text: str, words: int = 12) -> str:
    parts = text.split()
    return " ".join(parts[:words]) + (" …" if len(parts) > words else "")
