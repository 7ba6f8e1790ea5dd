"""Flags for answers a word-matching judge cannot grade well: another language, pasted rubric text, keyword lists."""

from __future__ import annotations

from grader.judges.statements import analyse
from grader.models import Rubric
from grader.text.textsim import english_share, tokens
from grader.vocabulary import COPIED_FROM_RUBRIC, KEYWORD_LIST, NON_ENGLISH_SUSPECTED

COPIED_SHARE = 0.5
"""Share of an answer's content-word triples found in the rubric from which it counts as pasted."""
KEYWORD_SHARE = 0.5
"""Share of an answer's content words in fragments (lists of terms) from which it is a keyword list."""
MIN_KEYWORD_WORDS = 8

# Spoken filler that disguises pasted text ("the, um, encoder, like, maps …"); dropped before comparing.
_FILLERS = frozenset("um umm uh uhh er erm ah hmm yeah okay ok know mean kinda sorta right".split())


def answer_flags(answer: str, rubric: Rubric) -> list[str]:
    """The flags an answer earns with this rubric, in a fixed order."""
    flags = []
    keywords = keyword_share(answer) >= KEYWORD_SHARE
    share = english_share(answer)
    # A list of English terms has few function words too: it is a keyword list, not another language.
    if share is not None and share < 0.08 and not keywords:
        flags.append(NON_ENGLISH_SUSPECTED)
    copied = copied_share(answer, rubric)
    if copied is not None and copied >= COPIED_SHARE:
        flags.append(COPIED_FROM_RUBRIC)
    if keywords:
        flags.append(KEYWORD_LIST)
    return flags


def keyword_share(answer: str) -> float:
    """Share of an answer's content words that sit in fragments: runs of terms with no clause structure."""
    sentences = analyse(answer)
    mass = sum(s.mass for s in sentences)
    if mass < MIN_KEYWORD_WORDS:
        return 0.0
    return sum(s.mass for s in sentences if s.fragment) / mass


def copied_share(answer: str, rubric: Rubric) -> float | None:
    """Share of the answer's content-word triples that occur in the rubric's own text (None: too short to tell).

    Content words, not raw words: fillers and disfluencies ("um", "like", "you know") inserted into pasted text
    do not hide it.
    """
    grams = _triples(answer)
    if len(grams) < 5:
        return None
    return len(grams & _rubric_triples(rubric)) / len(grams)


def _triples(text: str) -> set[tuple[str, ...]]:
    words = [t for t in tokens(text) if t not in _FILLERS]
    return {tuple(words[i : i + 3]) for i in range(len(words) - 2)}


_SEEN: dict[int, tuple[Rubric, frozenset[tuple[str, ...]]]] = {}


def _rubric_triples(rubric: Rubric) -> frozenset[tuple[str, ...]]:
    # Keyed by identity; the entry holds the rubric, so its id cannot be reused while remembered.
    seen = _SEEN.get(id(rubric))
    if seen is not None and seen[0] is rubric:
        return seen[1]
    texts = [rubric.reference_answer, *(e.answer for e in rubric.exemplars)]
    for c in rubric.criteria:
        texts += [c.description, *c.levels, *c.key_points]
    found: set[tuple[str, ...]] = set()
    for text in texts:
        found |= _triples(text)
    if len(_SEEN) >= 64:
        _SEEN.clear()
    _SEEN[id(rubric)] = (rubric, frozenset(found))
    return _SEEN[id(rubric)][1]
