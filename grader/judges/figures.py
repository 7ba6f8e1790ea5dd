"""Figures that contradict a rubric: a sentence about what a correct text states, with a number none states.

"Chinchilla's compute-optimal ratio is about 2 tokens per parameter", "BERT masks about 50% of the tokens",
"DCGAN uses a learning rate of 0.1": the words are the rubric's, the figure is not. Numbers are the one kind of fact
word matching can check without understanding: a sentence sharing its distinctive words with a correct text that
gives a figure, and giving in that figure's place (the same word before or after it: "rate", "tokens", "%") a
number that no text of the rubric (or the question) mentions, states that fact wrongly. A number in no figure's
place is the candidate's own ("a 65B model on one 48 GB GPU", "CHI 2019"): experts say more than a rubric does.
Pure, no I/O.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from typing import NamedTuple

from grader.text.textsim import tokens

_NUMBER = re.compile(
    r"(?<![\w.])(\d+(?:,\d{3})*(?:\.\d+)?)"
    r"(?:[eE]([-+]?\d+)|\s*/\s*(\d+)|\s*(?:\^|\*\*)\s*([-+]?\d+)|\s*-?\s*(k|m|bn?|thousand|million|billion|trillion)\b)?"
    r"(?![\w.]*\d)",
    re.IGNORECASE,
)
_SCALE = {"k": 1e3, "m": 1e6, "b": 1e9, "bn": 1e9, "thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12}


def numbers(text: str) -> frozenset[float]:
    """The numbers a text gives, by value.

    "12,288" is 12288, "1/2" is 0.5, "2e-4" is 0.0002, "10^25" is 1e25, "60k" and "60 thousand" are 60000,
    "2.3M" and "2.3 million" are 2300000, "70B" and "70-billion" are 7e10.
    """
    found = set()
    for whole, power, below, exponent, scale in _NUMBER.findall(text):
        try:
            value = float(whole.replace(",", "")) * (10.0 ** int(power) if power else 1.0)
            if exponent:  # "10^25" is 1e25
                value **= int(exponent)
        except (OverflowError, ValueError):  # "1e999", "99999^63", a 5,000-digit exponent: no rubric's figure
            value = math.inf
        value *= _SCALE.get(scale.lower(), 1.0)
        found.add(round(value / float(below), 9) if below and float(below) else round(value, 9))
    return frozenset(found)


def _near(value: float, known: float) -> bool:
    """The same figure, or the rubric's rounded as people say it: "56%" for 55.8%, not 2024 for 2025."""
    if value == known or known.is_integer() or not math.isfinite(known) or not math.isfinite(value):
        return value == known
    if value.is_integer():
        return value in (math.floor(known), math.floor(known + 0.5))  # rounded or cut off
    return abs(value - known) <= 0.01 * abs(known)


_CLAUSE_END = re.compile(r"[;:()\[\]]|,\s|\.\s")
_PERCENT = re.compile(r"^\s*(?:%|per\s*cent\b)", re.I)


def figures(text: str) -> list[tuple[float, frozenset[str]]]:
    """Each number of a text with its place: the content words just before and after it ("%" is "percent")."""
    out = []
    for match in _NUMBER.finditer(text):
        values = numbers(match.group())
        if not values:
            continue
        # Its place is within its clause: in "beta1 of 0.5; about 15% of tokens", 15 is not beta1's.
        before = words(_CLAUSE_END.split(text[max(0, match.start() - 40) : match.start()])[-1])
        after = _CLAUSE_END.split(text[match.end() : match.end() + 40])[0]
        following = ["percent"] if _PERCENT.match(after) else words(after)
        place = frozenset(before[-1:] + following[:1])
        out.append((next(iter(values)), place))
    return out


def words(text: str) -> list[str]:
    """Content words of a text without its numbers: what a figure's fact and place are read from."""
    return [t for t in tokens(text) if not t.isdigit()]


def _same(value: float, known: frozenset[float]) -> bool:
    """One of the known numbers, also as a share against a percentage ("0.5" and "50%")."""
    return any(_near(value, k) or _near(value, round(k * 100, 6)) or _near(round(value * 100, 6), k) for k in known)


class Fact(NamedTuple):
    """A correct text that gives a figure: its words, the criterion it belongs to, its figures and their places."""

    words: frozenset[str]
    criterion: int
    text: str
    figures: tuple[tuple[float, frozenset[str]], ...]


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
        self.facts = [Fact(words, criterion, text, tuple(figures(text))) for text, words, criterion in facts]
        self.facts = [fact for fact in self.facts if fact.figures]

    def contradicted(self, text: str, words: frozenset[str]) -> Fact | None:
        """The correct text a sentence restates with a figure of its own in the place of one of its figures."""
        if not self.facts:
            return None
        said = figures(text)
        new = [(value, place) for value, place in said if not _same(value, self.known)]
        if not new:
            return None
        values = frozenset(value for value, _ in said)
        best: tuple[float, Fact] | None = None
        for fact in self.facts:
            shared = words & fact.words
            mass = sum(self.weight(w) for w in shared)
            if len(shared) < self.least_words or mass < self.least_weight or (best is not None and mass <= best[0]):
                continue
            # Its own figure restated alongside ("55.8%, or about 56%") is the fact, not a change to it.
            replaced = [place for known, place in fact.figures if not _same(known, values)]
            if any(place & theirs for place in replaced for _, theirs in new):
                best = (mass, fact)
        return best[1] if best else None
