"""Key-point support for rubrics built from a reference answer (SAF-style data): pure, no I/O.

Such rubrics are not adversarial ground: their key points are whole reference sentences bundling several facts,
which students spread over one or two sentences of their own or over the whole answer. So support here is half
the best one- or two-sentence window and half the whole answer, words and letter trigrams alike, as measured on
SAF `train` (docs/offline-grader.md); the statement rules of the hand-written rubrics do not apply.
"""

from __future__ import annotations

from grader.judges.offline_feedback import PointMatch
from grader.judges.statements import Statement
from grader.text.passages import Passage
from grader.text.textsim import weighted_recall

CANDIDATE_WINDOWS = 4


def reference_support(point: Statement, answer: Passage, gram_share: float, window_share: float) -> PointMatch:
    """How well an answer makes one reference sentence's point, and the window that makes it best."""
    g = gram_share
    words = weighted_recall(point.words, answer.words)
    whole = (1 - g) * words + g * weighted_recall(point.grams, answer.grams, point.gram_total)
    shared: dict[int, float] = {}
    for word, weight in point.words.items():
        for number in answer.windows_with.get(word, ()):
            shared[number] = shared.get(number, 0.0) + weight
    best, best_at = 0.0, -1
    # Only the windows sharing the most words can make the point; trigrams then refine among them.
    for number in sorted(shared, key=lambda n: (-shared[n], n))[:CANDIDATE_WINDOWS]:
        window = answer.windows[number]
        grams = weighted_recall(point.grams, window.grams, point.gram_total) if g else 0.0
        score = (1 - g) * shared[number] / point.total + g * grams
        if score > best:
            best, best_at = score, window.first
    score = min(1.0, (1 - window_share) * whole + window_share * best)
    return PointMatch(score, answer.spans[best_at] if best_at >= 0 else None)
