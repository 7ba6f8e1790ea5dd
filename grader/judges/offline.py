"""The offline judge: rubric key points, reference answer and graded answers; no model and no network.

How it decides, per answer (docs/offline-grader.md has the measurements behind each choice):

1. **Credit needs a statement.** Each key point is matched against each sentence of the answer on its own
   (`statements.py`): the share of its words, weighted by how rare they are in the field and in plain English, and
   of their letter trigrams, that one sentence holds *in the same sense*. A negated word ("does not", "no longer",
   "rather than") does not support a plain one. Words scattered over the answer earn nothing, and so does a
   sentence with no clause structure (a keyword list).
2. **Errors cost.** A sentence that states one of the rubric's misconceptions, red flags or level-0 examples, or
   states a key point reversed, is an error: it earns no key-point credit, takes `error_penalty` of the maximum off
   the total and lowers its criterion by half its levels.
3. **Padding dilutes.** The share of the answer's content that supports some key point is its precision; below
   `precision_full` the total shrinks in proportion, so words that say nothing about the question cost.
4. **Key points become levels.** A key point's credit rises from nothing to full between two support values; a
   criterion's coverage is its key points' credit (weighted by word mass); coverage maps to a fraction of the
   criterion's top level. Rubrics built from a reference answer (whole sentences as key points) use other constants.
5. **Graded answers correct the total** (`task.examples`): a ridge line from coverage to human score, and the
   nearest graded answers (TF-IDF over words and word pairs); their blend is the target. Criterion fractions are
   shifted together to meet the target and rounded to levels; the shared scoring code turns levels into points.

The rubric's exemplars do not decide anything (as neighbours they made agreement worse); they measure the judge.
Every evidence quote is a verbatim slice of the answer.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import NamedTuple

from grader.bank.reference import REFERENCE_TAG
from grader.judges.base import GradedExample, GradingTask, Judgement, JudgeProfile
from grader.judges.offline_feedback import CriterionView, Error, PointMatch, build_verdict
from grader.judges.offline_flags import answer_flags
from grader.judges.offline_levels import curve, round_levels, shift_to
from grader.judges.reference_match import reference_support
from grader.judges.statements import (
    MIN_EXAMPLE_WORDS,
    Sentence,
    Statement,
    Support,
    analyse,
    candidates,
    claim_statement,
    clause_spans,
    holds_most,
    statement,
    support,
    word_index,
    word_rarity,
)
from grader.metrics import ridge_line
from grader.models import Rubric, Verdict, wrong_claim_of
from grader.text.passages import passage
from grader.text.textsim import Neighbours, Span, idf_weights, ordered_recall, tokens
from grader.vocabulary import KEY_POINT_ESTIMATE


@dataclass(frozen=True)
class Credit:
    """How key-point support becomes a criterion's fraction of its top level."""

    point_low: float
    """A key point earns nothing at a support of this or less."""
    point_high: float
    """… and full credit from this support up."""
    full: float
    """Mean key-point credit from which the criterion earns its top level."""
    gram_share: float = 0.5
    """Share of letter trigrams (against whole words) in a sentence's support."""


@dataclass(frozen=True)
class OfflineParams:
    """The offline judge's constants, chosen on SAF `train` and on the bank's exemplars (never a test split)."""

    question_weight: float = 0.3
    """Weight of a key-point word that also occurs in the question: repeating the question is not an answer."""
    rarity_floor: float = 0.05
    """A word weighs this plus its rarity (0 … 1): common words still count a little."""
    point_mass: float = 1.0
    """Key points weigh their word mass to this power within a criterion (0: all count equally)."""
    found: float = 0.5
    """Support from which a key point counts as found (strengths, gaps, evidence)."""
    key_points: Credit = Credit(point_low=0.1, point_high=0.6, full=0.6)
    """For hand-written rubrics: crisp key points."""
    sentences: Credit = Credit(point_low=0.0, point_high=1.0, full=0.3, gram_share=0.75)
    """For rubrics built from a reference answer: each key point a sentence bundling several facts."""
    window_share: float = 0.5
    """Rubrics built from a reference answer only: share of a key point's support from its best one- or
    two-sentence window (the rest from the whole answer; see reference_match.py)."""
    candidates: int = 4
    """Sentences examined per key point: those sharing the most weight with it."""
    neighbours: int = 10
    sim_power: float = 4.0
    """Neighbour weight is cosine similarity to this power: the closest graded answers dominate."""
    knn_share: float = 0.65
    """Share of the neighbours' estimate in the target once many graded answers are known."""
    knn_half: float = 5.0
    """Graded answers at which the neighbours' share reaches half its maximum."""
    prior_strength: float = 5.0
    """Pseudo-answers holding the coverage-to-score line at identity until graded answers move it."""
    claim_match: float = 0.66
    """Support (same sense, words only) from which a clause states a wrong claim …"""
    claim_least_weight: float = 0.9
    """A claim whose words weigh less than this in all (common words only) is too vague to look for …"""
    short_claim_match: float = 0.8
    """… (claims of three words or fewer: this much of their weight) …"""
    claim_words: float = 0.6
    """… holding at least this share of its words (a claim's rare subject alone does not state it) …"""
    claim_sentence: float = 0.8
    """… or from which a whole sentence does, words mostly in the claim's order …"""
    claim_sentence_words: float = 0.9
    claim_sentence_order: float = 0.75
    """… and this share of its weight in order;"""
    claim_gram_share: float = 0.2
    """… its words counting more than their letter trigrams (a claim turns on exact words) …"""
    claim_order: float = 0.5
    """… with at least this share of the claim's weight in the claim's own order, and this share of the weight of
    its words no correct text of the rubric uses:"""
    claim_own: float = 0.5
    reversed_match: float = 0.55
    """Reversed support from which a sentence denies a key point (an error) …"""
    denied_share: float = 0.35
    """… when the words it negates or reverses carry at least this share of the key point's weight."""
    error_penalty: float = 0.2
    """Share of the maximum each error takes off the total."""
    error_levels: float = 1.0
    """Share of its criterion's levels an error takes off: a criterion built on a wrong claim earns level 0, as
    the rubrics' own level-0 descriptors say."""
    relevant: float = 0.4
    """Support from which a sentence counts as fully on point (for precision)."""
    precision_full: float = 0.5
    """Share of on-point content from which an answer is not diluted."""
    cache_size: int = 128


class _KeyPoint(NamedTuple):
    """A key point as the clauses it joins ("X; Y"): each must be stated, each in a sentence of its own or not."""

    text: str
    clauses: tuple[Statement, ...]
    total: float
    whole: Statement
    """The key point as one statement (rubrics built from a reference answer match it whole)."""


class _Criterion(NamedTuple):
    view: CriterionView
    points: tuple[_KeyPoint, ...]
    mass: tuple[float, ...]
    share: float
    """Weight / total weight: this criterion's part of the total score."""


class _Claim(NamedTuple):
    """A wrong claim (misconception, red flag, level-0 example) and the criterion it lowers."""

    statement: Statement
    order: tuple[tuple[str, float], ...]
    criterion: int
    own: frozenset[str]
    """Its words that no correct text of the rubric uses ("symmetric" in "the KL term is symmetric"): what makes
    it wrong, so a clause must hold most of their weight to state it."""
    label: str
    """The rubric's wording of the claim (a phrasing of it is matched under the rubric's words)."""


@dataclass
class _RubricIndex:
    rubric: Rubric
    criteria: list[_Criterion]
    claims: list[_Claim]
    credit: Credit
    hardened: bool
    """Hand-written rubric: errors, fragments and dilution apply (not to rubrics built from a reference)."""
    topic: frozenset[str]
    """Words of the rubric's correct texts (reference answer, key points)."""


class _Graded(NamedTuple):
    """What graded answers of one question teach: neighbours, and a line from coverage to score."""

    rubric: Rubric
    neighbours: Neighbours
    intercept: float
    slope: float


class _Reading(NamedTuple):
    """What the sentences of one answer state about one rubric."""

    matches: list[list[PointMatch]]
    errors: list[Error]
    precision: float


class OfflineJudge:
    """A deterministic judge that needs no network, no key and no model; see the module docstring."""

    name = "offline"

    def __init__(self, params: OfflineParams | None = None) -> None:
        """Create a judge; rubric and graded-answer indexes are cached per instance."""
        self.params = params or OfflineParams()
        self.fingerprint = repr(self.params)
        """Goes into cache keys: grades made with other constants are not served as this judge's."""
        self.profile = JudgeProfile(
            self.name, calls_model=False, fingerprint=self.fingerprint, method=KEY_POINT_ESTIMATE
        )  # no model, no prompts
        self._cache: OrderedDict[Hashable, object] = OrderedDict()

    async def judge(self, task: GradingTask) -> Judgement:
        """Judge one answer (no I/O: the work is `decide`)."""
        return Judgement(verdict=self.decide(task), flags=answer_flags(task.answer, task.rubric), level_mode="offline")

    def decide(self, task: GradingTask) -> Verdict:
        """The verdict for one answer: levels, evidence, rationale and feedback."""
        p = self.params
        index = self._rubric_index(task.rubric, task.question.question)
        reading = self._read(index, task.answer)
        fractions = self._fractions(index, reading.matches)
        target = sum(c.share * f for c, f in zip(index.criteria, fractions, strict=True))
        if index.hardened:
            target *= min(1.0, reading.precision / p.precision_full)
        graded = self._graded(index, tuple(task.examples))
        if graded is not None:
            knn = graded.neighbours.estimate(passage(task.answer).bag, p.neighbours, p.sim_power)
            n = len(graded.neighbours.scores)
            share = p.knn_share * n / (n + p.knn_half)
            line = graded.intercept + graded.slope * target
            target = min(1.0, max(0.0, share * knn + (1 - share) * line))
        target = max(0.0, target - p.error_penalty * len(reading.errors))
        fractions = shift_to(fractions, [c.share for c in index.criteria], target)
        steps = [len(c.view.spec.levels) - 1 for c in index.criteria]
        levels = round_levels(fractions, steps, [c.share for c in index.criteria], target)
        for error in reading.errors:
            drop = math.ceil(p.error_levels * steps[error.criterion])
            levels[error.criterion] = max(0, levels[error.criterion] - drop)
        views = [c.view for c in index.criteria]
        return build_verdict(views, reading.matches, levels, reading.errors, p.found, index.credit.point_low)

    def errors(self, rubric: Rubric, question: str, answer: str) -> list[Error]:
        """The sentences of an answer that state a wrong claim or deny a key point (for rubric lint)."""
        return self._read(self._rubric_index(rubric, question), answer).errors

    def stating(self, rubric: Rubric, question: str, claim_text: str, answer: str) -> Span | None:
        """The sentence of an answer that states a claim, matched as the rubric's misconceptions are (for lint)."""
        index = self._rubric_index(rubric, question)
        claim = _claim(claim_text, self.params, MIN_EXAMPLE_WORDS)
        if claim is None:
            return None
        wanted = _Claim(claim, tuple(claim.words.items()), 0, _own(claim, index.topic), claim.text)
        # Level-0 examples are terse ("calls BERT a decoder model"): only a clause that says it counts.
        return next((s.span for s in analyse(answer) if not s.fragment and self._states(wanted, s, True)), None)

    def _read(self, index: _RubricIndex, text: str) -> _Reading:
        p = self.params
        if not index.hardened:
            whole = passage(text)
            g = index.credit.gram_share
            found = [[reference_support(k.whole, whole, g, p.window_share) for k in c.points] for c in index.criteria]
            return _Reading(found, [], 1.0)
        answer = analyse(text)
        words = word_index(answer)
        errors: list[Error] = []
        wrong: set[int] = set()
        if index.hardened:
            stated: set[str] = set()
            for claim in index.claims:
                if claim.label in stated:
                    continue  # another phrasing of this wrong claim was found: one error per claim
                for number in candidates(claim.statement, answer, words, 2, terse=True):
                    if number not in wrong and self._states(claim, answer[number]):
                        errors.append(Error(claim.criterion, claim.label, answer[number].span, False))
                        wrong.add(number)
                        stated.add(claim.label)
                        break
        relevance = [0.0] * len(answer)
        matches: list[list[PointMatch]] = []
        for number, crit in enumerate(index.criteria):
            found_here = []
            for point in crit.points:
                score, spans = 0.0, []
                for clause in point.clauses:
                    best, best_at, denied, denied_at = 0.0, -1, 0.0, -1
                    for n in candidates(clause, answer, words, p.candidates):
                        if n in wrong:
                            continue
                        said: Support = support(clause, answer[n], index.credit.gram_share)
                        relevance[n] = max(relevance[n], said.score)
                        if said.score > best:
                            best, best_at = said.score, n
                        if said.reversed > denied and said.denied >= p.denied_share:
                            denied, denied_at = said.reversed, n
                    if index.hardened and denied >= p.reversed_match and best < p.found and denied_at not in wrong:
                        errors.append(Error(number, clause.text, answer[denied_at].span, True))
                        wrong.add(denied_at)
                    score += best * clause.total / point.total
                    if best_at >= 0:
                        spans.append((best, answer[best_at].span))
                found_here.append(PointMatch(score, max(spans, key=lambda s: s[0])[1] if spans else None))
            matches.append(found_here)
        mass = sum(s.mass for s in answer)
        on_point = sum(
            s.mass * (1.0 if n in wrong else min(1.0, relevance[n] / p.relevant)) for n, s in enumerate(answer)
        )
        return _Reading(matches, errors, on_point / mass if mass else 0.0)

    def _states(self, claim: _Claim, sentence: Sentence, clauses_only: bool = False) -> bool:
        """Whether a sentence states a wrong claim: in one of its clauses, or across it almost word for word."""
        p = self.params
        # A short claim turns on nearly every word ("KL can be less than zero"): only a common one may be missing.
        short_claim = len(claim.statement.words) <= 3
        needed = p.short_claim_match if short_claim else p.claim_match
        for clause in sentence.clauses if clauses_only else clause_spans(sentence.clauses):
            if not holds_most(claim.statement, claim.own, clause.plain | clause.negated, p.claim_own):
                continue
            said = support(claim.statement, clause, 0.0)
            enough = said.score >= needed and (short_claim or said.words >= p.claim_words)
            if enough and said.negations_held and not said.conflict:
                if ordered_recall(claim.order, clause.tokens).score >= p.claim_order:
                    return True
        # Across a whole sentence, words of a claim meet in other relations ("queries from the decoder and keys from
        # the encoder", "latency, throughput, cost"): only long claims, nearly all their words, nearly in order.
        if (
            clauses_only
            or len(claim.statement.words) < 4
            or not holds_most(claim.statement, claim.own, sentence.plain | sentence.negated)
        ):
            return False
        said = support(claim.statement, sentence, p.claim_gram_share)
        if said.conflict or not said.negations_held or said.score < p.claim_sentence:
            return False
        if said.words < p.claim_sentence_words:
            return False
        return ordered_recall(claim.order, sentence.tokens).score >= p.claim_sentence_order

    def _remember(self, key: Hashable, value: object) -> None:
        self._cache[key] = value
        while len(self._cache) > self.params.cache_size:
            self._cache.popitem(last=False)

    def _rubric_index(self, rubric: Rubric, question: str) -> _RubricIndex:
        # Keyed by identity; the entry holds the rubric itself, so its id cannot be reused while cached.
        key = ("rubric", id(rubric), question)
        cached = self._cache.get(key)
        if isinstance(cached, _RubricIndex) and cached.rubric is rubric:
            self._cache.move_to_end(key)
            return cached
        index = _build_index(rubric, question, self.params)
        self._remember(key, index)
        return index

    def _fractions(self, index: _RubricIndex, matches: list[list[PointMatch]]) -> list[float]:
        fractions = []
        for crit, found in zip(index.criteria, matches, strict=True):
            credit = [curve(m.score, index.credit.point_low, index.credit.point_high) for m in found]
            coverage = sum(w * c for w, c in zip(crit.mass, credit, strict=True)) / sum(crit.mass)
            fractions.append(curve(coverage, 0.0, index.credit.full))
        return fractions

    def _graded(self, index: _RubricIndex, examples: tuple[GradedExample, ...]) -> _Graded | None:
        """Neighbours over the graded examples, and the ridge line from coverage to their scores."""
        key = ("graded", id(index.rubric), examples)
        cached = self._cache.get(key)
        if isinstance(cached, _Graded) and cached.rubric is index.rubric:
            self._cache.move_to_end(key)
            return cached
        if not examples:
            return None
        priors = []
        for example in examples:
            fractions = self._fractions(index, self._read(index, example.answer).matches)
            priors.append(sum(c.share * f for c, f in zip(index.criteria, fractions, strict=True)))
        scores = [e.score_norm for e in examples]
        intercept, slope = ridge_line(priors, scores, self.params.prior_strength)
        neighbours = Neighbours([passage(e.answer).bag for e in examples], scores)
        built = _Graded(index.rubric, neighbours, intercept, slope)
        self._remember(key, built)
        return built


def decide(task: GradingTask) -> Verdict:
    """The offline verdict for one answer with default parameters (one shared judge, so indexes are reused)."""
    return _DEFAULT.decide(task)


def _build_index(rubric: Rubric, question: str, params: OfflineParams) -> _RubricIndex:
    question_words = set(tokens(question))
    rarity = word_rarity()
    hardened = REFERENCE_TAG not in rubric.tags
    # A rubric built from a reference answer may be of any field: its words weigh by how rare they are among its
    # own key points, not by how rare they are in this bank's field.
    local = idf_weights([tokens(p) for c in rubric.criteria for p in c.key_points])

    def weight(token: str) -> float:
        asked = params.question_weight if token in question_words else 1.0
        if not hardened:
            return local.get(token, 1.0) * asked
        return (params.rarity_floor + rarity.get(token, 1.0)) * asked

    total_weight = sum(c.weight for c in rubric.criteria)
    criteria = []
    for spec in rubric.criteria:
        points = tuple(_key_point(text, weight) for text in spec.key_points)
        mass = tuple(max(p.total, 1e-6) ** params.point_mass for p in points)
        view = CriterionView(spec, tuple(p.text for p in points))
        criteria.append(_Criterion(view, points, mass, spec.weight / total_weight))
    topic = frozenset(tokens(rubric.reference_answer)) | {
        w for c in rubric.criteria for p in c.key_points for w in tokens(p)
    }
    said: dict[str, list[str]] = {}
    for entry in rubric.phrasings:
        said.setdefault(wrong_claim_of(rubric, entry.claim) or "", []).extend(entry.said)
    claims = []
    for text in [*rubric.misconceptions, *rubric.red_flags]:
        claim = _claim(text, params)
        forms = [c for c in (claim, *(_claim(s, params) for s in said.get(text, ()))) if c is not None]
        if not forms:
            continue
        label = claim.text if claim is not None else text.split(";")[0].strip()
        # The criterion a wrong claim lowers is the one whose key points share most of its words, in any phrasing.
        related = [
            sum(f.words.get(w, 0.0) for f in forms for p in c.points for k in p.clauses for w in k.words)
            for c in criteria
        ]
        criterion = related.index(max(related))
        claims += [_Claim(f, tuple(f.words.items()), criterion, _own(f, topic), label) for f in forms]
    credit = params.key_points if hardened else params.sentences
    return _RubricIndex(rubric, criteria, claims, credit, hardened, topic)


def _claim(text: str, params: OfflineParams, least: int = 2) -> Statement | None:
    return claim_statement(text, params.rarity_floor, params.claim_least_weight, least)


def _own(claim: Statement, topic: frozenset[str]) -> frozenset[str]:
    return frozenset(w for w in claim.words if w not in topic)


def _key_point(text: str, weight: Callable[[str], float]) -> _KeyPoint:
    parts = [statement(part, weight) for part in text.split(";")]
    whole = statement(text, weight)
    clauses = tuple(part for part in parts if part.words) or (whole,)
    return _KeyPoint(text.strip(), clauses, sum(c.total for c in clauses), whole)


_DEFAULT = OfflineJudge()
