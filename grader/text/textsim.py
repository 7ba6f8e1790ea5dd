"""Pure text similarity for the offline judge: tokens, light stemming, synonym folding, TF-IDF vectors.

Standard library only, so the default install stays light and grading stays fast (no model to load).
Stemming is deliberately crude: it only has to make "encoder", "encoding" and "encoded" meet, and the
same function is applied to both sides, so its mistakes mostly cancel out.
"""

from __future__ import annotations

import functools
import math
import operator
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

STOP_WORDS = frozenset(
    """
    a about above after again against all also am an and any are as at be because been before being below
    between both but by can could did do does doing down during each either etc few for from further get gets
    got had has have having he her here hers herself him himself his how however i if in into is it its itself
    just let like may me might more most much must my myself no nor not now of off often on once one only or
    other ought our ours ourselves out over own per quite rather really same shall she should since so some
    such than that the their theirs them themselves then there these they this those through thus to too under
    until up upon us use used uses using very via was we were what when where whether which while who whom why
    will with within without would yes yet you your yours yourself yourselves basically actually simply thing
    things way ways well e g eg ie i.e
    """.split()
)

# Folded before tokenising: spelled-out terms and their abbreviations become one token, so "KL" in an answer
# meets "Kullback-Leibler" in a key point. Lower-case patterns; \b-anchored when compiled.
SYNONYMS: Mapping[str, str] = {
    r"kullback[\s-]+leibler(?:\s+divergence)?": "kl",
    r"large\s+language\s+models?": "llm",
    r"language\s+models?": "lm",
    r"generative\s+adversarial\s+networks?": "gan",
    r"variational\s+auto-?\s?encoders?": "vae",
    r"auto-?\s?encoders?": "autoencoder",
    r"evidence\s+lower\s+bound": "elbo",
    r"retrieval[\s-]+augmented\s+generation": "rag",
    r"reinforcement\s+learning\s+from\s+human\s+feedback": "rlhf",
    r"direct\s+preference\s+optimi[sz]ation": "dpo",
    r"proximal\s+policy\s+optimi[sz]ation": "ppo",
    r"low[\s-]+rank\s+adaptation": "lora",
    r"parameter[\s-]+efficient\s+fine[\s-]*tuning": "peft",
    r"natural\s+language\s+processing": "nlp",
    r"convolutional\s+neural\s+networks?": "cnn",
    r"recurrent\s+neural\s+networks?": "rnn",
    r"long\s+short[\s-]+term\s+memory": "lstm",
    r"fine[\s-]+tun(?:e|es|ed|ing)": "finetune",
    r"re-?parametri[sz]ation|re-?parameteri[sz]ation": "reparameterization",
    r"chain[\s-]+of[\s-]+thought": "cot",
    r"mixture[\s-]+of[\s-]+experts": "moe",
    r"key[\s-]+value\s+cache": "kvcache",
    r"kv[\s-]+cache": "kvcache",
    r"prompt\s+injections?": "promptinjection",
    r"mode\s+collapse": "modecollapse",
    r"posterior\s+collapse": "posteriorcollapse",
    r"super[\s-]+resolution": "superresolution",
    r"stable\s+diffusion": "stablediffusion",
    r"\bgpus?\b|graphics\s+processing\s+units?": "gpu",
    # Plain-English verbs that claims are made with in many words: "gets rid of" says what "eliminates" says.
    r"(?:get|gets|getting|got)\s+rid\s+of|remov(?:e|es|ed|ing)|eliminat(?:e|es|ed|ing)": "eliminate",
    r"stead(?:y|ily)": "stable",
    r"halv(?:e|es|ed|ing)|(?:50|fifty)(?=\s*%|\s+per\s*cent)": "half",
}
# One alternation, so folding is a single pass; at a given position the earlier (longer) pattern wins.
_SYNONYM_RE = re.compile("|".join(rf"\b(?P<s{i}>{pattern})\b" for i, pattern in enumerate(SYNONYMS)))
_SYNONYM_TOKENS = {f"s{i}": f" {token} " for i, token in enumerate(SYNONYMS.values())}
_GREEK = str.maketrans(
    {"μ": " mu ", "σ": " sigma ", "ε": " epsilon ", "θ": " theta ", "φ": " phi ", "∇": " grad ", "≠": " is not "}
)
WORD = re.compile(r"[^\W_]+", re.UNICODE)
_NOT = re.compile(r"n['\u2019]t\b")

# (suffix, replacement, minimum stem length left); the first that applies wins.
_SUFFIXES: tuple[tuple[str, str, int], ...] = (
    ("isations", "ize", 3), ("izations", "ize", 3), ("isation", "ize", 3), ("ization", "ize", 3),
    ("ational", "ate", 3), ("ations", "ate", 3), ("ation", "ate", 3), ("ically", "ic", 3),
    ("ities", "ity", 3), ("ness", "", 4), ("ments", "", 4), ("ment", "", 4), ("ingly", "", 4),
    ("ising", "ize", 3), ("izing", "ize", 3), ("ised", "ize", 3), ("ized", "ize", 3), ("ises", "ize", 3),
    ("izes", "ize", 3), ("ise", "ize", 4), ("ings", "", 4), ("ing", "", 4), ("ers", "", 4), ("er", "", 4),
    ("ied", "y", 3), ("ies", "y", 3), ("edly", "", 4), ("ed", "", 4), ("ly", "", 4), ("sses", "ss", 2),
    ("ss", "ss", 2), ("us", "us", 2), ("is", "is", 2), ("s", "", 3),
)  # fmt: skip


@functools.lru_cache(maxsize=1 << 16)
def stem(word: str) -> str:
    """A light, deterministic suffix-stripping stem ("encoders", "encoding", "encoded" -> "encod")."""
    if len(word) <= 3 or not word.isalpha():
        return word
    for suffix, replacement, keep in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= keep:
            word = word[: len(word) - len(suffix)] + replacement
            break
    if word.endswith("e") and len(word) > 4:
        word = word[:-1]
    if len(word) > 4 and word[-1] == word[-2] and word[-1] not in "lsz":
        word = word[:-1]
    return word


def fold(text: str) -> str:
    """Case, Unicode and synonym folding applied before tokenising."""
    text = unicodedata.normalize("NFKC", text).casefold().translate(_GREEK)
    text = _NOT.sub(" not", text)
    return _SYNONYM_RE.sub(lambda m: _SYNONYM_TOKENS[m.lastgroup or ""], text)


def tokens(text: str) -> list[str]:
    """Content tokens of a text: folded, stop words dropped, stemmed; order kept, duplicates kept."""
    out = []
    for word in WORD.findall(fold(text)):
        if word in STOP_WORDS or (len(word) == 1 and not word.isdigit()):
            continue
        out.append(stem(word))
    return out


@dataclass(frozen=True)
class Span:
    """A sentence-like piece of a text, with where it sits in the original string."""

    start: int
    end: int
    text: str


# Sentence ends, blank lines, and line starts that open a bullet; a bare line break is hard wrapping, not a break.
_BREAK = re.compile(r"(?<=[.!?;])\s+|\n\s*\n\s*|\n\s*(?:[-*•]|\d+[.)])\s+|(?<=:)\s*\n\s*")


def sentences(text: str, max_chars: int = 400) -> list[Span]:
    """Split a text into sentences, bullets and lines, each a verbatim slice of the original.

    Very long pieces (answers written without punctuation) are cut at word boundaries near max_chars so a
    quote stays short enough to be useful as evidence.
    """
    spans: list[Span] = []
    position = 0
    for match in [*_BREAK.finditer(text), None]:
        end = match.start() if match else len(text)
        _add_span(spans, text, position, end, max_chars)
        if match:
            position = match.end()
    return spans


def _add_span(spans: list[Span], text: str, start: int, end: int, max_chars: int) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    while end - start > max_chars:
        cut = text.rfind(" ", start + max_chars // 2, start + max_chars)
        cut = cut if cut > start else start + max_chars
        _add_span(spans, text, start, cut, max_chars)
        start = cut
        while start < end and text[start].isspace():
            start += 1
    if end > start and WORD.search(text, start, end):
        spans.append(Span(start, end, text[start:end]))


def letter_grams(words: Iterable[str], n: int = 3) -> set[str]:
    """Letter n-grams of words padded with `#`, so "parameterise" and "parametrize" still share most."""
    grams: set[str] = set()
    for word in words:
        grams.update(_word_grams(word, n))
    return grams


@functools.lru_cache(maxsize=1 << 16)
def _word_grams(word: str, n: int) -> tuple[str, ...]:
    padded = f"#{word}#"
    return tuple(padded[i : i + n] for i in range(max(1, len(padded) - n + 1)))


def idf_weights(documents: Iterable[Iterable[str]]) -> dict[str, float]:
    """Smoothed inverse document frequency of each token over some token lists."""
    frequency: Counter[str] = Counter()
    count = 0
    for document in documents:
        count += 1
        frequency.update(set(document))
    return {token: math.log((1 + count) / (1 + df)) + 1.0 for token, df in frequency.items()}


Vector = dict[str, float]


def tfidf(token_list: Sequence[str], idf: Mapping[str, float], default_idf: float) -> Vector:
    """A unit-length TF-IDF vector (sublinear term frequency); an empty list gives an empty vector."""
    counts = Counter(token_list)
    vector = {t: (1.0 + math.log(n)) * idf.get(t, default_idf) for t, n in counts.items()}
    norm = math.sqrt(sum(v * v for v in vector.values()))
    return {t: v / norm for t, v in vector.items()} if norm else {}


class OrderedMatch(NamedTuple):
    """The best in-order match of some needed tokens inside a token list."""

    score: float
    """Weighted share of the needed tokens matched."""
    pairs: list[tuple[int, int]]
    """(index in needed, index in present) of each matched token."""


def ordered_recall(needed: Sequence[tuple[str, float]], present: Sequence[str]) -> OrderedMatch:
    """Weighted share of `needed` tokens found in `present` in the same order (a weighted LCS).

    Order is what separates "the discriminator produces samples" from "the generator produces samples that
    the discriminator judges", which share their words.
    """
    total = sum(w for _, w in needed)
    if total <= 0 or not present:
        return OrderedMatch(0.0, [])
    rows, cols = len(needed), len(present)
    best = [[0.0] * (cols + 1) for _ in range(rows + 1)]
    for i, (token, weight) in enumerate(needed, start=1):
        above, here = best[i - 1], best[i]
        for j, other in enumerate(present, start=1):
            here[j] = above[j - 1] + weight if token == other else max(above[j], here[j - 1])
    pairs = []
    i, j = rows, cols
    while i and j:
        if needed[i - 1][0] == present[j - 1] and best[i][j] == best[i - 1][j - 1] + needed[i - 1][1]:
            pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif best[i - 1][j] >= best[i][j - 1]:
            i -= 1
        else:
            j -= 1
    return OrderedMatch(best[rows][cols] / total, pairs[::-1])


class Neighbours:
    """Graded texts as TF-IDF vectors; estimates a score from the most similar ones."""

    def __init__(self, bags: Sequence[Sequence[str]], scores: Sequence[float]) -> None:
        """Index token bags (see Passage.bag) with their scores; IDF comes from these bags alone."""
        self.idf = idf_weights(bags)
        self.default_idf = max(self.idf.values(), default=1.0)
        self.vectors = [tfidf(b, self.idf, self.default_idf) for b in bags]
        self.keys = [frozenset(v) for v in self.vectors]
        self.scores = list(scores)

    def nearest(self, bag: Sequence[str], k: int) -> list[tuple[float, int]]:
        """(cosine, index) of the k texts most similar to a bag, most similar first (ties: earlier first)."""
        vector = tfidf(bag, self.idf, self.default_idf)
        keys = frozenset(vector)
        get = vector.__getitem__
        sims: list[tuple[float, int]] = []
        for i, (other, other_keys) in enumerate(zip(self.vectors, self.keys, strict=True)):
            # Set intersection and products run in C: this is the inner loop of grading with examples.
            common = keys & other_keys
            dot: float = sum(map(operator.mul, map(get, common), map(other.__getitem__, common)))
            sims.append((dot, i))
        sims.sort(key=lambda s: (-s[0], s[1]))
        return sims[: max(1, k)]

    def estimate(self, bag: Sequence[str], k: int, power: float) -> float:
        """Similarity-weighted mean score of the k nearest texts (weights: cosine to `power`)."""
        nearest = self.nearest(bag, k)
        weights = [math.pow(max(sim, 0.0), power) + 1e-9 for sim, _ in nearest]
        return sum(w * self.scores[i] for w, (_, i) in zip(weights, nearest, strict=True)) / sum(weights)


def cosine(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """Dot product of two unit vectors (0 when either is empty)."""
    # Intersection and products run in C (map over builtins): this is the inner loop of the neighbours.
    common = a.keys() & b.keys()
    dot: float = sum(map(operator.mul, map(a.__getitem__, common), map(b.__getitem__, common)))
    return dot


def weighted_recall(
    needed: Mapping[str, float], present: set[str] | frozenset[str], total: float | None = None
) -> float:
    """Share of the weight of `needed` tokens that occur in `present` (0 when nothing is needed).

    `total` is the sum of the needed weights, when the caller has it already (hot loops).
    """
    if total is None:
        total = sum(needed.values())
    if total <= 0:
        return 0.0
    found: float = sum(map(needed.__getitem__, needed.keys() & present))
    return found / total


_ENGLISH = frozenset("the a an and or of to in is are it that this for with as on be by not can which from".split())
_LETTERS = re.compile(r"[^\W\d_]+")


def english_share(text: str) -> float | None:
    """Share of a text's words that are the commonest English words (None under 20 words: too short to tell)."""
    words = _LETTERS.findall(text.casefold())
    return sum(w in _ENGLISH for w in words) / len(words) if len(words) >= 20 else None
