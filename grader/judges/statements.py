"""What the sentences of an answer state, for the offline judge: pure, no I/O.

A key point earns credit only where one sentence states it: its distinctive words together, with the same sense
(a negated word in the answer does not support a plain one in the key point, and the reverse). The same test finds
an answer's errors: a sentence that states a rubric's wrong claim, and a sentence that states a key point reversed.
Words weigh by how rare they are in this field's talk and in plain English (`word_rarity.json`), so "data",
"model" and "training" carry little and a sentence of filler supports nothing.

A sentence with no clause structure (a keyword list, a line of four terms) states nothing: it is a *fragment*,
told by its share of function words, which prose always has and lists of terms lack.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import NamedTuple

from grader.text.negation import clause_texts, negated_tokens, raw_words
from grader.text.textsim import STOP_WORDS, Span, letter_grams, sentences, stem

# Words whose presence states the opposite of their partner's: "attention grows linearly" does not say it is
# quadratic, it says the reverse. Only pairs that cannot both describe one thing in one clause.
_OPPOSITES = """
linear quadratic | symmetric asymmetric | increase decrease | increases decreases | higher lower
larger smaller | faster slower | stable unstable | exact approximate | exactly approximately
deterministic nondeterministic | sharp blurry | sharper blurrier | lossless lossy | supervised unsupervised
overfitting underfitting | maximise minimise | maximize minimize | maximising minimising
maximizing minimizing | cheaper costlier | easier harder | sparse dense | continuous discrete
explicit implicit | parallel sequential | invariant equivariant | independent dependent | biased unbiased
convex nonconvex | lawful unlawful | legal illegal | allowed prohibited | allowed banned | required optional
forward reverse | fixed learned | fixed learnable | fixed trained | mandatory voluntary | reduces increases
reduce increase | shrinks grows
"""


@functools.cache
def opposites() -> dict[str, frozenset[str]]:
    """Stemmed word -> the stemmed words that state its opposite."""
    table: dict[str, set[str]] = {}
    for pair in re.split(r"[|\n]", _OPPOSITES):
        if not pair.strip():
            continue
        first, second = (stem(w) for w in pair.split())
        if first != second:
            table.setdefault(first, set()).add(second)
            table.setdefault(second, set()).add(first)
    return {word: frozenset(others) for word, others in table.items()}


@functools.cache
def word_rarity() -> dict[str, float]:
    """Rarity 0 … 1 of the words that are common somewhere (scripts/build_word_rarity.py); others are 1."""
    text = resources.files("grader.judges").joinpath("word_rarity.json").read_text(encoding="utf-8")
    table: dict[str, float] = json.loads(text)
    return table


class Statement(NamedTuple):
    """A key point or a wrong claim, as weighted words, each with whether the statement negates it."""

    text: str
    words: dict[str, float]
    negated: dict[str, bool]
    grams: dict[str, float]
    total: float
    gram_total: float


def statement(text: str, weight: Callable[[str], float]) -> Statement:
    """Prepare a statement once per rubric; a word's first occurrence decides its sense."""
    words: dict[str, float] = {}
    negated: dict[str, bool] = {}
    for token, neg in negated_tokens(text):
        if token not in words:
            words[token] = weight(token)
            negated[token] = neg
    grams: dict[str, float] = {}
    for word, value in words.items():
        for gram in letter_grams([word]):
            grams[gram] = max(grams.get(gram, 0.0), value)
    return Statement(text.strip(), words, negated, grams, max(sum(words.values()), 1e-9), sum(grams.values()))


@dataclass(frozen=True)
class Sentence:
    """One sentence of an answer, analysed once for every statement that looks at it."""

    span: Span
    tokens: tuple[str, ...]
    """Content words in order (for claims, whose word order matters)."""
    plain: frozenset[str]
    """Words that occur un-negated."""
    negated: frozenset[str]
    """Words that occur under a negation."""
    grams: frozenset[str]
    mass: int
    """Content words (repeats counted): how much the sentence says."""
    fragment: bool
    """No clause structure: a keyword list or a short run of terms."""
    clauses: tuple[Clause, ...]
    """Its clauses, where a wrong claim is looked for: short enough that words meet in one relation."""


class Clause(NamedTuple):
    """A clause of a sentence: its content words in order, and which of them are negated."""

    tokens: tuple[str, ...]
    plain: frozenset[str]
    negated: frozenset[str]
    contrast: bool = False
    """It opens with "but", "whereas", "although" …: set against the clause before it."""
    joined: bool = False
    """Two neighbouring clauses read as one (`clause_spans`)."""
    supposed: bool = False
    """It opens with "if", "unless", "whether" …: it supposes what it says, it does not assert it."""
    head: frozenset[str] = frozenset()
    """Two clauses read as one: the words of the first (a claim must have words in each, or one clause says it)."""


_CONTRAST = re.compile(r"^\W*(?:but|whereas|although|though|however|yet|while|except)\b", re.I)
_SUPPOSED = re.compile(r"^\W*(?:if|unless|whether|suppose|supposing|assuming)\b", re.I)


# Function words of the languages candidates most often answer in besides English: prose in another language is
# not a keyword list (it gets its own flag), so its articles and prepositions count as clause structure too.
FUNCTION_WORDS = STOP_WORDS | frozenset(
    """
    le la les un une des du de et est sont que qui dans pour par sur avec pas ce cette il elle au aux en se
    der die das ein eine und ist sind mit für auf von zu den dem nicht es sie wir ich auch wird werden
    el los las unos una del y es son que en para por con al se lo como más pero
    il lo gli di della che per con non una sono anche
    o os as um uma do da dos das em no na não com para por
    """.split()
)
FRAGMENT_FUNCTION_SHARE = 0.12
_MATH = frozenset("mu sigma epsilon theta phi grad alpha beta gamma lambda log exp softmax argmax kl".split())
"""Below this share of function words, a run of three or more words is a list of terms, not a sentence."""


def analyse(text: str) -> list[Sentence]:
    """The sentences of a text, each with its words by sense and whether it is a fragment."""
    out = []
    for span in sentences(text):
        tagged = negated_tokens(span.text)
        plain = frozenset(t for t, n in tagged if not n)
        negated = frozenset(t for t, n in tagged if n)
        # Symbols of a formula ("z = mu + sigma * epsilon") are neither terms nor structure: they do not count.
        words = [w for w in raw_words(span.text) if len(w) > 1 and not w.isdigit() and w not in _MATH]
        function = sum(w in FUNCTION_WORDS for w in words)
        fragment = len(words) >= 3 and function < FRAGMENT_FUNCTION_SHARE * len(words)
        grams = frozenset(letter_grams(plain | negated))
        clauses = tuple(_clause(part) for part in clause_texts(span.text))
        out.append(Sentence(span, tuple(t for t, _ in tagged), plain, negated, grams, len(tagged), fragment, clauses))
    return out


def _clause(text: str) -> Clause:
    tagged = negated_tokens(text)
    plain = frozenset(t for t, n in tagged if not n)
    negated = frozenset(t for t, n in tagged if n)
    contrast, supposed = bool(_CONTRAST.match(text)), bool(_SUPPOSED.match(text))
    return Clause(tuple(t for t, _ in tagged), plain, negated, contrast, False, supposed)


def clause_spans(clauses: tuple[Clause, ...]) -> Iterator[Clause]:
    """Each clause, then each two neighbours together.

    "Whoever writes the prompt is the author and holds the copyright" says in two clauses what "the prompter owns
    the copyright" says in one.
    """
    yield from clauses
    for first, second in zip(clauses, clauses[1:], strict=False):
        if second.contrast:
            continue  # "X, but Y" sets Y against X: together they state neither
        yield Clause(
            first.tokens + second.tokens,
            first.plain | second.plain,
            first.negated | second.negated,
            joined=True,
            head=first.plain | first.negated,
        )


def holds_most(claim: Statement, own: frozenset[str], words: frozenset[str], share: float = 0.5) -> bool:
    """Whether words hold at least `share` of the weight of a claim's own words (those no correct text uses)."""
    held = sum(claim.words[w] for w in own if w in words)
    return not own or held >= share * sum(claim.words[w] for w in own)


class Support(NamedTuple):
    """How far one sentence states a statement: with its sense, or reversed."""

    score: float
    """0 … 1: the weighted share of the statement's words (and letter trigrams) the sentence holds, same sense."""
    reversed: float
    """0 … 1: the same share when most of the matched weight has the opposite sense (then `score` is 0)."""
    conflict: float = 0.0
    """0 … 1: the share of the statement's weight the sentence holds in the opposite sense, however little."""
    words: float = 0.0
    """0 … 1: the share of the statement's words (by count, not weight) the sentence holds in the same sense."""
    negations_held: bool = True
    """Whether every word the statement negates is there, negated: "cannot be controlled" needs "control"."""
    denied: float = 0.0
    """0 … 1: the share of the statement's weight the sentence negates or turns into its opposite."""


NO_SUPPORT = Support(0.0, 0.0)


def support(point: Statement, sentence: Sentence | Clause, gram_share: float) -> Support:
    """Whether a sentence states a statement: words together in one sentence, in the same sense."""
    same = opposite = denied = 0.0
    held = 0
    negations_held = True
    reverse = opposites()
    for word, weight in point.words.items():
        want_negated = point.negated[word]
        if word in (sentence.negated if want_negated else sentence.plain):
            same += weight
            held += 1
            continue
        negations_held = negations_held and not want_negated
        if word in (sentence.plain if want_negated else sentence.negated):
            opposite += weight
            # Only the answer negating what the statement asserts denies it: the reverse ("without recurrence"
            # against "recurrence could be dropped") is mostly a paraphrase.
            denied += 0.0 if want_negated else weight
        elif word in reverse and not reverse[word].isdisjoint(sentence.negated if want_negated else sentence.plain):
            # "linear" where the statement says "quadratic"; a negated opposite ("nor underfitting") says nothing.
            opposite += weight
            denied += weight
    matched = same + opposite
    if matched <= 0:
        return NO_SUPPORT
    grams = 0.0
    if gram_share and isinstance(sentence, Sentence):
        found: float = sum(map(point.grams.__getitem__, point.grams.keys() & sentence.grams))
        grams = found / point.gram_total if point.gram_total else 0.0
    conflict = opposite / point.total
    words = held / len(point.words)
    if opposite > same:
        share = (1 - gram_share) * matched / point.total + gram_share * grams
        reverse_share = min(1.0, share) if denied > same else 0.0
        return Support(0.0, reverse_share, conflict, words, negations_held, denied / point.total)
    # Opposite-sense words add nothing, and take their part of the trigram credit with them.
    share = (1 - gram_share) * same / point.total + gram_share * grams * same / matched
    return Support(min(1.0, share), 0.0, conflict, words, negations_held, denied / point.total)


def candidates(
    point: Statement,
    answer: Sequence[Sentence],
    index: dict[str, list[int]],
    keep: int,
    terse: bool = False,
    least: float = 0.0,
) -> list[int]:
    """The sentences sharing the most weight with a statement, best first.

    Never fragments, unless `terse` allows short ones that end as a sentence does ("Training longer always helps
    large models." has no function word). Sentences sharing less than `least` of its weight are left out.
    """
    shared: dict[int, float] = {}
    for word, weight in point.words.items():
        for number in index.get(word, ()):
            shared[number] = shared.get(number, 0.0) + weight
    floor = least * point.total
    allowed = (n for n in shared if shared[n] >= floor and (not answer[n].fragment or (terse and _terse(answer[n]))))
    return sorted(allowed, key=lambda n: (-shared[n], n))[:keep]


TERSE_WORDS = 12


def _terse(sentence: Sentence) -> bool:
    return sentence.mass <= TERSE_WORDS and sentence.span.text.rstrip().endswith((".", "!", "?"))


def word_index(answer: Sequence[Sentence]) -> dict[str, list[int]]:
    """Word -> the sentences holding it, in either sense."""
    index: dict[str, list[int]] = {}
    for number, sentence in enumerate(answer):
        for word in sentence.plain | sentence.negated:
            index.setdefault(word, []).append(number)
    return index


_CLAIM_VERB = re.compile(
    r"^\s*(?:says|states|claims|believes|thinks|assumes|describes|treats|presents|calls|cites|confuses|equates"
    r"|recommends|proposes|suggests|advises|concludes|predicts)\s+"
    r"(?:that\s+)?",
    re.IGNORECASE,
)
_LEVEL_EXAMPLE = re.compile(r"\((?:e\.g\.|eg|for example|such as)[,:]?\s*([^)]*)\)", re.IGNORECASE)
_ALTERNATIVES = re.compile(r";|,?\s+or\s+")
MIN_EXAMPLE_WORDS = 3


def level_zero_claims(levels: list[str]) -> list[str]:
    """The example claims a criterion's lowest level quotes: "(e.g. the discriminator generates, or …)"."""
    found = []
    for example in _LEVEL_EXAMPLE.findall(levels[0]) if levels else []:
        found += [part.strip(" .\"'“”") for part in _ALTERNATIVES.split(example) if part.strip()]
    return found


def claim_statement(text: str, rarity_floor: float, least_weight: float, least: int = 2) -> Statement | None:
    """A wrong claim as a statement, or None when too short or too common to tell from correct text.

    A misconception is often written "wrong claim; the correction": only the claim is matched. Unlike a key
    point's, a claim's subject counts in full: "GANs are the more stable" is wrong where "VAEs are the more
    stable" is right, and the two differ in a word of the question. Too few words, or only common ones ("the
    noising is learned by the model"), and correct text says it too.
    """
    rarity = word_rarity()
    claim = statement(_CLAIM_VERB.sub("", text.split(";")[0]), lambda t: rarity_floor + rarity.get(t, 1.0))
    return claim if len(claim.words) >= least and claim.total >= least_weight else None
