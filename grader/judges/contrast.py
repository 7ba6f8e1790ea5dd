"""Is a sentence closer to a rubric's wrong claims or to its correct statements? Pure, no I/O.

Word matching alone reads "QLoRA keeps the base in 4-bit and trains the adapters in higher precision" as the wrong
claim "QLoRA quantises the adapters to 4 bits": the words are the claim's, the relation is not. A rubric states
the truth many times over (key points, reference answer, the correction after each misconception, its top
exemplars) and the error in one or more phrasings, so the nearer of the two, by weighted word overlap with each
word's sense, says which one a sentence is saying. (Used as a detector on its own, the same nearness found more
paraphrased claims in bench/claims but also misfired on honest answers: see docs/offline-grader.md.)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

Sense = tuple[str, bool]
"""A word and whether it is negated where it stands."""


class _Texts:
    """Texts as weighted word-sense sets, with an inverted index so a sentence visits only texts sharing a word."""

    def __init__(self, texts: Iterable[frozenset[Sense]], weight: Callable[[str], float]) -> None:
        self.weight = weight
        self.norms: list[float] = []
        self.holding: dict[Sense, list[tuple[int, float]]] = {}
        for number, senses in enumerate(texts):
            self.norms.append(math.sqrt(sum(weight(w) ** 2 for w, _ in senses)) or 1.0)
            for sense in senses:
                self.holding.setdefault(sense, []).append((number, weight(sense[0])))

    def nearest(self, senses: frozenset[Sense]) -> float:
        """Cosine (0 … 1) of the nearest text.

        A text that negates a word the sentence asserts (or the reverse) is not near, however similar.
        """
        dots: dict[int, float] = {}
        against: set[int] = set()
        for word, negated in senses:
            for number, w in self.holding.get((word, negated), ()):
                dots[number] = dots.get(number, 0.0) + w * w
            against.update(number for number, _ in self.holding.get((word, not negated), ()))
        best = max((dot / self.norms[n] for n, dot in dots.items() if n not in against), default=0.0)
        return best / (math.sqrt(sum(self.weight(w) ** 2 for w, _ in senses)) or 1.0)


class Contrast:
    """A rubric's wrong claims (each with its phrasings) against its correct statements."""

    def __init__(
        self, wrong: Iterable[frozenset[Sense]], correct: Iterable[frozenset[Sense]], weight: Callable[[str], float]
    ) -> None:
        self._wrong = _Texts(wrong, weight)
        self._correct = _Texts(correct, weight)

    def wrong(self, senses: frozenset[Sense]) -> float:
        """Similarity to the nearest wrong claim or phrasing."""
        return self._wrong.nearest(senses)

    def correct(self, senses: frozenset[Sense]) -> float:
        """Similarity to the nearest correct statement."""
        return self._correct.nearest(senses)
