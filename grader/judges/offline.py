"""The offline judge: rubric key points, reference answer and graded answers; no model and no network.

How it decides, per answer (docs/offline-grader.md has the measurements behind each choice):

1. **Credit needs a statement.** Each key point is matched against each sentence of the answer on its own
   (`statements.py`): the share of its words, weighted by how rare they are in the field and in plain English, and
   of their letter trigrams, that one sentence holds *in the same sense*. A negated word ("does not", "no longer",
   "rather than") does not support a plain one. Words scattered over the answer earn nothing, and so does a
   sentence with no clause structure (a keyword list).
2. **Errors cost.** A sentence that states one of the rubric's misconceptions or red flags (in its words or one
   of its `phrasings`) and is not nearer to one of the rubric's correct texts (`contrast.py`), that gives a
   rubric fact a figure no text of the rubric gives (`figures.py`), or that states a key point reversed, is an
   error: it earns no key-point credit, takes `error_penalty` of the maximum off the total and drops its
   criterion to level 0 (`error_levels`).
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
from collections.abc import Hashable
from typing import NamedTuple

from grader.judges.base import GradedExample, GradingTask, Judgement, JudgeProfile
from grader.judges.offline_feedback import Error, PointMatch, build_verdict
from grader.judges.offline_flags import answer_flags
from grader.judges.offline_index import Claim, RubricIndex, build_index, claim_of, own_words
from grader.judges.offline_levels import curve, round_levels, shift_to
from grader.judges.offline_params import OfflineParams
from grader.judges.reference_match import reference_support
from grader.judges.statements import (
    MIN_EXAMPLE_WORDS,
    Sentence,
    Support,
    analyse,
    candidates,
    clause_spans,
    holds_most,
    support,
    word_index,
)
from grader.metrics import ridge_line
from grader.models import Rubric, Verdict
from grader.text.negation import quantifiers
from grader.text.passages import passage
from grader.text.textsim import Neighbours, Span, ordered_recall
from grader.vocabulary import KEY_POINT_ESTIMATE


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

    def errors(self, rubric: Rubric, question: str, answer: str, veto: bool = True) -> list[Error]:
        """The sentences of an answer that state a wrong claim or deny a key point.

        Without `veto`, also those nearer to a correct text of the rubric than to the claim: rubric lint asks
        whether a claim's words match the rubric's own correct texts, which the veto would always excuse.
        """
        return self._read(self._rubric_index(rubric, question), answer, veto).errors

    def stating(self, rubric: Rubric, question: str, claim_text: str, answer: str) -> Span | None:
        """The sentence of an answer that states a claim, matched as the rubric's misconceptions are (for lint)."""
        index = self._rubric_index(rubric, question)
        claim = claim_of(claim_text, self.params, MIN_EXAMPLE_WORDS)
        if claim is None:
            return None
        wanted = Claim(claim, tuple(claim.words.items()), 0, own_words(claim, index.topic), claim.text)
        # Level-0 examples are terse ("calls BERT a decoder model"): only a clause that says it counts.
        return next((s.span for s in analyse(answer) if not s.fragment and self._states(wanted, s, True)), None)

    def _read(self, index: RubricIndex, text: str, veto: bool = True) -> _Reading:
        p = self.params
        if not index.hardened:
            whole = passage(text)
            g = index.credit.gram_share
            found = [[reference_support(k.whole, whole, g, p.window_share) for k in c.points] for c in index.criteria]
            return _Reading(found, [], 1.0)
        answer = analyse(text)
        words = word_index(answer)
        errors, wrong = self._wrong_claims(index, answer, words, veto)
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
                    # A key point that itself negates ("perplexity alone does not show …") is agreed with in
                    # negations of other words ("I'd never trust perplexity alone"): only an affirmative one is denied.
                    affirmative = not any(clause.negated.values())
                    if (
                        index.hardened
                        and affirmative
                        and denied >= p.reversed_match
                        and best < p.found
                        and denied_at not in wrong
                    ):
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

    def _wrong_claims(
        self, index: RubricIndex, answer: list[Sentence], words: dict[str, list[int]], veto: bool
    ) -> tuple[list[Error], set[int]]:
        """Sentences that state a wrong claim, or a correct text's fact with a figure of their own; their numbers.

        A claim is stated in its words or a phrasing's, by a sentence nearer to it than to any correct text.
        """
        p = self.params
        errors: list[Error] = []
        stated: set[str] = set()
        wrong: set[int] = set()
        for claim in index.claims:
            if claim.label in stated:
                continue  # another phrasing of this wrong claim was found: one error per claim
            # A sentence holding less of the claim's weight than any way of stating it needs cannot state it.
            for number in candidates(claim.statement, answer, words, 2, terse=True, least=p.claim_match):
                if number in wrong or not self._states(claim, answer[number]):
                    continue
                senses = _senses(answer[number])
                if veto and index.contrast.correct(senses) >= index.contrast.wrong(senses) + p.correct_margin:
                    continue  # its words are the claim's, but it says what the rubric holds true
                errors.append(Error(claim.criterion, claim.label, answer[number].span, False))
                wrong.add(number)
                stated.add(claim.label)
                break
        for number, sentence in enumerate(answer):
            if number in wrong or sentence.negated:
                continue  # "not 50% but 15%" gives a new figure to deny it
            fact = index.figures.contradicted(sentence.span.text, sentence.plain)
            if fact is not None:
                errors.append(Error(fact.criterion, fact.text, sentence.span, True))
                wrong.add(number)
        return errors, wrong

    def _states(self, claim: Claim, sentence: Sentence, clauses_only: bool = False) -> bool:
        """Whether a sentence states a wrong claim: in one of its clauses, or across it almost word for word."""
        p = self.params
        # A short claim turns on nearly every word ("KL can be less than zero"): only a common one may be missing.
        short_claim = len(claim.statement.words) <= 3
        needed = p.short_claim_match if short_claim else p.claim_match
        if support(claim.statement, sentence, 0.0).conflict:
            return False  # "outputs an unbounded score, not a probability": the sentence denies part of the claim
        if not claim.quantifiers <= quantifiers(sentence.span.text):
            return False  # "Scaling means only adding parameters" needs its "only": the rest is true on its own
        # A claim made of the rubric's words is told from the truth by which of them go together in the sentence.
        swapped_in = sum(claim.statement.words[w] for w in claim.own) < p.swap_share * claim.statement.total
        pairs = _pairs_held(claim.order, sentence.tokens) if swapped_in else 1.0
        for clause in sentence.clauses if clauses_only else clause_spans(sentence.clauses):
            if clause.supposed or not holds_most(
                claim.statement, claim.own, clause.plain | clause.negated, p.claim_own
            ):
                continue  # "if the discriminator reaches 100% accuracy, …" supposes it
            found = claim.statement.words.keys() & (clause.plain | clause.negated)
            if clause.joined and (found.isdisjoint(clause.head) or found <= clause.head):
                continue  # the claim's words are all in one of the two clauses, which was read on its own
            said = support(claim.statement, clause, 0.0)
            enough = said.score >= needed and (short_claim or said.words >= p.claim_words)
            if enough and swapped_in:
                enough = said.words >= p.swap_words and pairs >= p.swap_pairs
            if enough and said.negations_held and not said.conflict:
                if ordered_recall(claim.order, clause.tokens).score >= p.claim_order:
                    return True
        # Across a whole sentence, words of a claim meet in other relations ("queries from the decoder and keys from
        # the encoder", "latency, throughput, cost"): only long claims, nearly all their words, nearly in order.
        if (
            clauses_only
            or len(claim.statement.words) < 4
            or not holds_most(claim.statement, claim.own, sentence.plain | sentence.negated)
            or any(c.supposed and support(claim.statement, c, 0.0).score >= needed for c in sentence.clauses)
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

    def _rubric_index(self, rubric: Rubric, question: str) -> RubricIndex:
        # Keyed by identity; the entry holds the rubric itself, so its id cannot be reused while cached.
        key = ("rubric", id(rubric), question)
        cached = self._cache.get(key)
        if isinstance(cached, RubricIndex) and cached.rubric is rubric:
            self._cache.move_to_end(key)
            return cached
        index = build_index(rubric, question, self.params)
        self._remember(key, index)
        return index

    def _fractions(self, index: RubricIndex, matches: list[list[PointMatch]]) -> list[float]:
        fractions = []
        for crit, found in zip(index.criteria, matches, strict=True):
            credit = [curve(m.score, index.credit.point_low, index.credit.point_high) for m in found]
            coverage = sum(w * c for w, c in zip(crit.mass, credit, strict=True)) / sum(crit.mass)
            fractions.append(curve(coverage, 0.0, index.credit.full))
        return fractions

    def _graded(self, index: RubricIndex, examples: tuple[GradedExample, ...]) -> _Graded | None:
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


def _pairs_held(order: tuple[tuple[str, float], ...], tokens: tuple[str, ...], reach: int = 3) -> float:
    """Share of a claim's word pairs standing close together in a sentence, in the claim's order.

    The pairs are neighbours among the claim's words that the sentence holds. A claim made only of the rubric's
    words ("BERT is the decoder and GPT the encoder") differs from the truth ("BERT is the encoder and GPT the
    decoder") in which words go together, not in which words appear.
    """
    where: dict[str, list[int]] = {}
    for n, token in enumerate(tokens):
        where.setdefault(token, []).append(n)
    held = [word for word, _ in order if word in where]
    pairs = list(zip(held, held[1:], strict=False))
    if not pairs:
        return 1.0
    together = sum(any(0 < j - i <= reach for i in where[a] for j in where[b]) for a, b in pairs)
    return together / len(pairs)


def _senses(sentence: Sentence) -> frozenset[tuple[str, bool]]:
    return frozenset((w, False) for w in sentence.plain) | frozenset((w, True) for w in sentence.negated)


def decide(task: GradingTask) -> Verdict:
    """The offline verdict for one answer with default parameters (one shared judge, so indexes are reused)."""
    return _DEFAULT.decide(task)


_DEFAULT = OfflineJudge()
