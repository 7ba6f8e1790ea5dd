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
from typing import NamedTuple

Sense = tuple[str, bool]
"""A word and whether it is negated where it stands."""


class Nearest(NamedTuple):
    """The nearest text to a sentence, and how near."""

    similarity: float
    """Cosine of weighted word-and-sense sets, 0 … 1."""
    owner: int
    """Whose text it is (for wrong claims: the criterion the claim lowers); -1 when none shares a word."""
    """Which text (for wrong claims: the claim the phrasing belongs to); -1 when nothing shares a word."""


class _Texts:
    """Texts as weighted word-sense sets, with an inverted index so a sentence visits only texts sharing a word."""

    def __init__(self, texts: Iterable[tuple[frozenset[Sense], int]], weight: Callable[[str], float]) -> None:
        self.owners: list[int] = []
        self.norms: list[float] = []
        self.holding: dict[Sense, list[tuple[int, float]]] = {}
        for number, (senses, owner) in enumerate(texts):
            self.owners.append(owner)
            self.norms.append(math.sqrt(sum(weight(w) ** 2 for w, _ in senses)) or 1.0)
            for sense in senses:
                self.holding.setdefault(sense, []).append((number, weight(sense[0])))

    def nearest(self, senses: frozenset[Sense], weight: Callable[[str], float]) -> Nearest:
        dots: dict[int, float] = {}
        against: set[int] = set()
        for word, negated in senses:
            for number, w in self.holding.get((word, negated), ()):
                dots[number] = dots.get(number, 0.0) + w * w
            against.update(number for number, _ in self.holding.get((word, not negated), ()))
        for number in against:
            dots.pop(number, None)  # it says the opposite of the sentence about some word: not near, however similar
        if not dots:
            return Nearest(0.0, -1)
        norm = math.sqrt(sum(weight(w) ** 2 for w, _ in senses)) or 1.0
        best = max(dots, key=lambda n: (dots[n] / self.norms[n], -n))
        return Nearest(dots[best] / (self.norms[best] * norm), self.owners[best])


class Contrast:
    """A rubric's wrong claims (each with its phrasings) against its correct statements."""

    def __init__(
        self,
        wrong: Iterable[tuple[frozenset[Sense], int]],
        correct: Iterable[frozenset[Sense]],
        weight: Callable[[str], float],
    ) -> None:
        self.weight = weight
        self._wrong = _Texts(wrong, weight)
        self._correct = _Texts(((s, n) for n, s in enumerate(correct)), weight)

    def wrong(self, senses: frozenset[Sense]) -> Nearest:
        """The nearest wrong claim or phrasing (one negating a word the sentence asserts, or the reverse, is not)."""
        return self._wrong.nearest(senses, self.weight)

    def correct(self, senses: frozenset[Sense]) -> float:
        """Similarity to the nearest correct statement."""
        return self._correct.nearest(senses, self.weight).similarity
