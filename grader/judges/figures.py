"""Figures that contradict a rubric: a sentence about what a correct text states, with a number none states.

"Chinchilla's compute-optimal ratio is about 2 tokens per parameter", "BERT masks about 50% of the tokens",
"the Act's high-risk duties have applied since 2025": the words are the rubric's, the figure is not. Numbers are
the one kind of fact word matching can check without understanding: a sentence sharing its distinctive words with
a correct text that gives a figure, while giving a figure that no text of the rubric (or the question) mentions,
states that fact wrongly. Pure, no I/O.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from typing import NamedTuple

_NUMBER = re.compile(r"(?<![\w.])(\d+(?:,\d{3})*(?:\.\d+)?)(?:[eE]([-+]?\d+)|\s*/\s*(\d+))?(?![\w.]*\d)")


def numbers(text: str) -> frozenset[float]:
    """The numbers a text gives, by value: "12,288" is 12288, "1/2" is 0.5, "2e-4" is 0.0002."""
    found = set()
    for whole, power, below in _NUMBER.findall(text):
        value = float(whole.replace(",", "")) * (10.0 ** int(power) if power else 1.0)
        found.add(round(value / float(below), 9) if below and float(below) else round(value, 9))
    return frozenset(found)


def _near(value: float, known: float) -> bool:
    """The same figure, or the rubric's rounded as people say it: "56%" for 55.8%, not 2024 for 2025."""
    if value == known or known.is_integer():
        return value == known
    if value.is_integer():
        return value in (math.floor(known), math.floor(known + 0.5))  # rounded or cut off
    return abs(value - known) <= 0.01 * abs(known)


def _same(value: float, known: frozenset[float]) -> bool:
    """One of the known numbers, also as a share against a percentage ("0.5" and "50%")."""
    return any(_near(value, k) or _near(value, round(k * 100, 6)) or _near(round(value * 100, 6), k) for k in known)


class Fact(NamedTuple):
    """A correct text that gives a figure: its words and the criterion it belongs to."""

    words: frozenset[str]
    criterion: int
    text: str


class Figures:
    """The figures a rubric states, and the correct texts that state them."""

    def __init__(
        self,
        facts: Iterable[tuple[str, frozenset[str], int]],
        known: frozenset[float],
        weight: Callable[[str], float],
        least_weight: float,
        least_words: int,
    ) -> None:
        """`facts`: (text, its content words, the criterion it belongs to); `known`: every number the rubric uses."""
        self.known = known
        self.weight = weight
        self.least_weight = least_weight
        self.least_words = least_words
        self.facts = [Fact(words, criterion, text) for text, words, criterion in facts if numbers(text)]

    def contradicted(self, text: str, words: frozenset[str]) -> Fact | None:
        """The correct text a sentence restates with a figure of its own, if any."""
        if not self.facts or all(_same(value, self.known) for value in numbers(text)):
            return None
        best: tuple[float, Fact] | None = None
        for fact in self.facts:
            shared = words & fact.words
            mass = sum(self.weight(w) for w in shared)
            if len(shared) >= self.least_words and mass >= self.least_weight and (best is None or mass > best[0]):
                best = (mass, fact)
        return best[1] if best else None
