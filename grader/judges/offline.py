"""The offline judge: rubric key points, reference answer and graded answers; no model and no network.

How it decides, per answer (docs/offline-grader.md has the measurements behind each choice):

1. Each key point is matched against the answer: the weighted share of its content words, and mostly of their
   letter trigrams (which absorb spelling and word-form differences), that the answer contains, half over the
   whole answer and half over its best one- or two-sentence window, so keywords scattered over a long answer
   earn less than a sentence that makes the point. Words of the question weigh less: repeating the question
   is not an answer.
2. A key point's credit rises from nothing to full between two match values; a criterion's coverage is the
   credit of its key points (weighted by their word mass); a line maps coverage to a fraction of the
   criterion's top level. Hand-written rubrics (crisp key points) and rubrics built from a reference answer
   (whole sentences as key points) use different constants.
3. Graded answers of the same question (`task.examples`) correct the total: a ridge line from coverage to
   human score, and the nearest graded answers (TF-IDF over words and word pairs); their blend is the target.
4. The criterion fractions are shifted together until their weighted sum meets the target and rounded to
   levels; a sentence that states one of the rubric's misconceptions or red flags (same words, same order,
   same negation) lowers the most related criterion by one level. The shared scoring code turns the levels
   into points, exactly as for the LLM judge.

The rubric's exemplars do not decide anything: used as neighbours, or to fit the coverage line, they made
agreement with their own expected scores worse (`grader rubric calibrate`, leave-one-out); they measure the
judge instead. Every evidence quote is a verbatim slice of the answer.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import NamedTuple

from grader.bank.reference import REFERENCE_TAG
from grader.judges.base import GradedExample, GradingTask, Judgement, JudgeProfile
from grader.metrics import ridge_line
from grader.models import Criterion, CriterionVerdict, Feedback, Rubric, Verdict
from grader.text.textsim import (
    Neighbours,
    Passage,
    Span,
    copied_share,
    english_share,
    idf_weights,
    letter_grams,
    negated_tokens,
    passage,
    states,
    tokens,
    weighted_recall,
)


@dataclass(frozen=True)
class Credit:
    """How key-point matches become a criterion's fraction of its top level."""

    point_low: float
    """A key point earns nothing at a match of this or less (a long answer shares some trigrams with anything)."""
    point_high: float
    """… and full credit from this match up."""
    full: float
    """Mean key-point credit from which the criterion earns its top level."""


@dataclass(frozen=True)
class OfflineParams:
    """The offline judge's constants, chosen on SAF `train` and on the bank's exemplars (never a test split)."""

    question_weight: float = 0.3
    """Weight of a key-point word that also occurs in the question."""
    window_share: float = 0.5
    """Share of a key point's match taken from the best window rather than the whole answer."""
    gram_share: float = 0.75
    """Share of letter trigrams (against whole words) in a match."""
    point_mass: float = 1.0
    """Key points weigh their word mass to this power within a criterion (0: all count equally)."""
    found: float = 0.5
    """Match from which a key point counts as found (strengths, gaps, evidence)."""
    key_points: Credit = Credit(point_low=0.15, point_high=0.75, full=0.45)
    """For hand-written rubrics: crisp key points (chosen with `grader rubric calibrate`, checked on each half of
    the bank: see docs/offline-grader.md)."""
    sentences: Credit = Credit(point_low=0.0, point_high=1.0, full=0.3)
    """For rubrics built from a reference answer: each key point a sentence that bundles several facts, so partial
    matches count, and full marks come at about a third of the reference (chosen on SAF train)."""
    neighbours: int = 10
    sim_power: float = 4.0
    """Neighbour weight is cosine similarity to this power: the closest graded answers dominate."""
    knn_share: float = 0.65
    """Share of the neighbours' estimate in the target once many graded answers are known."""
    knn_half: float = 5.0
    """Graded answers at which the neighbours' share reaches half its maximum."""
    prior_strength: float = 5.0
    """Pseudo-answers holding the coverage-to-score line at identity until graded answers move it."""
    claim_match: float = 0.65
    """Ordered weighted recall from which a sentence states a misconception or red flag."""
    claim_penalty: float = 0.1
    """Share of the maximum each stated misconception or red flag takes off the total."""
    cache_size: int = 128


class _KeyPoint(NamedTuple):
    text: str
    words: dict[str, float]
    grams: dict[str, float]
    mass: float
    total: float
    """Sum of the word weights."""
    gram_total: float


class _Criterion(NamedTuple):
    spec: Criterion
    points: tuple[_KeyPoint, ...]
    share: float
    """Weight / total weight: this criterion's part of the total score."""


class _Claim(NamedTuple):
    """A misconception or red flag, as the ordered words of its wrong claim."""

    text: str
    needed: tuple[tuple[str, float], ...]
    negated: tuple[bool, ...]
    criterion: int


class _Match(NamedTuple):
    score: float
    span: Span | None


@dataclass
class _RubricIndex:
    rubric: Rubric
    criteria: list[_Criterion]
    claims: list[_Claim]
    credit: Credit


class _Graded(NamedTuple):
    """What graded answers of one question teach: neighbours, and a line from coverage to score."""

    rubric: Rubric
    neighbours: Neighbours
    intercept: float
    slope: float


class OfflineJudge:
    """A deterministic judge that needs no network, no key and no model; see the module docstring."""

    name = "offline"

    def __init__(self, params: OfflineParams | None = None) -> None:
        """Create a judge; rubric and graded-answer indexes are cached per instance."""
        self.params = params or OfflineParams()
        self.fingerprint = repr(self.params)
        """Goes into cache keys: grades made with other constants are not served as this judge's."""
        self.profile = JudgeProfile(self.name, calls_model=False, fingerprint=self.fingerprint)  # no model, no prompts
        self._cache: OrderedDict[Hashable, object] = OrderedDict()

    async def judge(self, task: GradingTask) -> Judgement:
        """Judge one answer (no I/O: the work is `decide`)."""
        return Judgement(verdict=self.decide(task), flags=answer_flags(task.answer, task.rubric), level_mode="offline")

    def decide(self, task: GradingTask) -> Verdict:
        """The verdict for one answer: levels, evidence, rationale and feedback."""
        index = self._rubric_index(task.rubric, task.question.question)
        answer = passage(task.answer)
        claims = self._claims(index, answer)
        # A sentence that states a misconception is no evidence of understanding, whatever words it shares with
        # the key points: fluent wrong answers were scored like half-right ones until these were set aside.
        scored = passage(_blank(task.answer, [span for _, span in claims])) if claims else answer
        matches = [[self._match(p, scored) for p in c.points] for c in index.criteria]
        fractions = self._fractions(index, matches)
        target = sum(c.share * f for c, f in zip(index.criteria, fractions, strict=True))
        graded = self._graded(index, tuple(task.examples))
        if graded is not None:
            knn = graded.neighbours.estimate(answer.bag, self.params.neighbours, self.params.sim_power)
            n = len(graded.neighbours.scores)
            share = self.params.knn_share * n / (n + self.params.knn_half)
            line = graded.intercept + graded.slope * target
            target = min(1.0, max(0.0, share * knn + (1 - share) * line))
        target = max(0.0, target - self.params.claim_penalty * len(claims))
        fractions = _shift_to(fractions, [c.share for c in index.criteria], target)
        levels = _round_levels(fractions, index.criteria, target)
        return _verdict(index, matches, levels, claims, self.params.found)

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

    def _match(self, point: _KeyPoint, answer: Passage) -> _Match:
        g, share = self.params.gram_share, self.params.window_share
        whole = 0.0
        if share < 1.0:
            words = weighted_recall(point.words, answer.words)
            whole = (1 - g) * words + g * weighted_recall(point.grams, answer.grams, point.gram_total)
        shared: dict[int, float] = {}
        for word, weight in point.words.items():
            for number in answer.windows_with.get(word, ()):
                shared[number] = shared.get(number, 0.0) + weight
        best, best_at = 0.0, -1
        if shared:
            # Only the windows sharing the most words can make the point; trigrams then refine among them.
            total = point.total
            for number in sorted(shared, key=lambda n: (-shared[n], n))[:_CANDIDATE_WINDOWS]:
                window = answer.windows[number]
                grams = weighted_recall(point.grams, window.grams, point.gram_total) if g else 0.0
                score = (1 - g) * shared[number] / total + g * grams
                if score > best:
                    best, best_at = score, window.first
        score = min(1.0, (1 - share) * whole + share * best)
        return _Match(score, answer.spans[best_at] if best_at >= 0 else None)

    def _fractions(self, index: _RubricIndex, matches: list[list[_Match]]) -> list[float]:
        fractions = []
        for crit, found in zip(index.criteria, matches, strict=True):
            mass = sum(p.mass for p in crit.points)
            credit = [_curve(m.score, index.credit.point_low, index.credit.point_high) for m in found]
            coverage = sum(p.mass * c for p, c in zip(crit.points, credit, strict=True)) / mass
            fractions.append(_curve(coverage, 0.0, index.credit.full))
        return fractions

    def _graded(self, index: _RubricIndex, examples: tuple[GradedExample, ...]) -> _Graded | None:
        """Neighbours over the graded examples, and the ridge line from coverage to their scores."""
        key = ("graded", id(index.rubric), examples)
        cached = self._cache.get(key)
        if isinstance(cached, _Graded) and cached.rubric is index.rubric:
            self._cache.move_to_end(key)
            return cached
        # The rubric's exemplars are left out: chosen to span the scale and to include a fluent wrong answer,
        # three or four of them mislead neighbours and the line (rubric calibrate: Pearson 0.51 with, 0.67 without).
        graded = [(passage(e.answer), e.score_norm) for e in examples]
        if not graded:
            return None
        priors = []
        for answer, _ in graded:
            fractions = self._fractions(index, [[self._match(p, answer) for p in c.points] for c in index.criteria])
            priors.append(sum(c.share * f for c, f in zip(index.criteria, fractions, strict=True)))
        scores = [s for _, s in graded]
        intercept, slope = ridge_line(priors, scores, self.params.prior_strength)
        built = _Graded(index.rubric, Neighbours([a.bag for a, _ in graded], scores), intercept, slope)
        self._remember(key, built)
        return built

    def _claims(self, index: _RubricIndex, answer: Passage) -> list[tuple[_Claim, Span]]:
        found = [(c, states(answer, c.needed, c.negated, self.params.claim_match)) for c in index.claims]
        return [(claim, span) for claim, span in found if span is not None]


def decide(task: GradingTask) -> Verdict:
    """The offline verdict for one answer with default parameters (one shared judge, so indexes are reused)."""
    return _DEFAULT.decide(task)


_CANDIDATE_WINDOWS = 4
_CLAIM_VERB = re.compile(r"^\s*(?:says|states|claims|believes|thinks|assumes)\s+(?:that\s+)?", re.IGNORECASE)


def _build_index(rubric: Rubric, question: str, params: OfflineParams) -> _RubricIndex:
    question_words = set(tokens(question))
    idf = idf_weights([tokens(p) for c in rubric.criteria for p in c.key_points])

    def weight(token: str) -> float:
        return idf.get(token, 1.0) * (params.question_weight if token in question_words else 1.0)

    total_weight = sum(c.weight for c in rubric.criteria)
    criteria = []
    for spec in rubric.criteria:
        points = []
        for text in spec.key_points:
            words = {t: weight(t) for t in tokens(text)}
            grams: dict[str, float] = {}
            for word, value in words.items():
                for gram in letter_grams([word]):
                    grams[gram] = max(grams.get(gram, 0.0), value)
            mass = max(sum(words.values()), 1e-6) ** params.point_mass
            totals = max(sum(words.values()), 1e-9), sum(grams.values())
            points.append(_KeyPoint(text.strip(), words, grams, mass, *totals))
        criteria.append(_Criterion(spec, tuple(points), spec.weight / total_weight))
    claims = []
    topic = set(tokens(rubric.reference_answer)) | {w for c in criteria for p in c.points for w in p.words}
    for text in [*rubric.misconceptions, *rubric.red_flags]:
        # A misconception is often written "wrong claim; the correction": only the claim is matched.
        first: dict[str, bool] = {}
        for token, negated in negated_tokens(_CLAIM_VERB.sub("", text.split(";")[0])):
            first.setdefault(token, negated)
        tagged = list(first.items())
        # Words the rubric uses for correct points ("KL", "term") say little; the claim's own words ("symmetric")
        # are what make it wrong, so they weigh double.
        needed = tuple(
            (t, (params.question_weight if t in question_words else 1.0) * (0.5 if t in topic else 1.0))
            for t, _ in tagged
        )
        if len(needed) < 2:
            continue
        related = [weighted_recall(dict(needed), {w for p in c.points for w in p.words}) for c in criteria]
        negation = tuple(n for _, n in tagged)
        claims.append(_Claim(text.strip(), needed, negation, related.index(max(related))))
    credit = params.sentences if REFERENCE_TAG in rubric.tags else params.key_points
    return _RubricIndex(rubric, criteria, claims, credit)


def _blank(text: str, spans: list[Span]) -> str:
    """The text with these spans replaced by spaces: other sentences keep their offsets, so quotes stay exact."""
    for span in sorted(spans, key=lambda s: -s.start):
        text = text[: span.start] + " " * (span.end - span.start) + text[span.end :]
    return text


def _curve(coverage: float, low: float, full: float) -> float:
    if full <= low:
        return 1.0 if coverage > low else 0.0
    return min(1.0, max(0.0, (coverage - low) / (full - low)))


def _shift_to(fractions: list[float], shares: list[float], target: float) -> list[float]:
    """Move every fraction by one offset (clamped to 0 … 1) until their weighted sum meets the target."""
    lo, hi = -1.0, 1.0
    for _ in range(24):  # 2 / 2**24: far finer than any level step
        mid = (lo + hi) / 2
        total = sum(s * min(1.0, max(0.0, f + mid)) for f, s in zip(fractions, shares, strict=True))
        lo, hi = (mid, hi) if total < target else (lo, mid)
    return [min(1.0, max(0.0, f + (lo + hi) / 2)) for f in fractions]


def _round_levels(fractions: list[float], criteria: list[_Criterion], target: float) -> list[int]:
    """Round fractions to levels keeping the total as close to the target as the levels allow.

    Rounding each criterion alone can move the total by half a level per criterion; instead start from the
    floors and raise the criteria with the largest remainders while that brings the total closer.
    """
    steps = [len(c.spec.levels) - 1 for c in criteria]
    levels = [min(s, int(f * s + 1e-9)) for f, s in zip(fractions, steps, strict=True)]
    total = sum(c.share * lv / s for c, lv, s in zip(criteria, levels, steps, strict=True))
    for i in sorted(range(len(levels)), key=lambda i: (levels[i] - fractions[i] * steps[i], i)):
        step = criteria[i].share / steps[i]
        if levels[i] < steps[i] and abs(total + step - target) < abs(total - target):
            levels[i] += 1
            total += step
    return levels


def _verdict(
    index: _RubricIndex, matches: list[list[_Match]], levels: list[int], claims: list[tuple[_Claim, Span]], found: float
) -> Verdict:
    criteria: dict[str, CriterionVerdict] = {}
    strengths: list[str] = []
    gaps: list[str] = []
    todo: list[tuple[float, float, str, _Criterion, _KeyPoint]] = []
    for number, (crit, found_here, level) in enumerate(zip(index.criteria, matches, levels, strict=True)):
        ranked = sorted(zip(crit.points, found_here, strict=True), key=lambda pm: -pm[1].score)
        hit = [p for p, m in ranked if m.score >= found]
        part = [p for p, m in ranked if index.credit.point_low < m.score < found]
        miss = [p for p, m in ranked if m.score < found]
        # Quotes for what earned credit: found key points first, then partial ones.
        credited = [m.span.text for _, m in ranked if m.span and m.score > index.credit.point_low]
        evidence = list(dict.fromkeys(credited))[:3]
        stated = [(c, s) for c, s in claims if c.criterion == number]
        note = ""
        if stated:
            level = max(0, level - 1)
            evidence += [s.text for _, s in stated if s.text not in evidence]
            note = f" Lowered one level: the answer appears to state “{_short(stated[0][0].text)}”."
        strengths += [p.text for p in hit]
        gaps += [p.text for p in miss]
        top = len(crit.spec.levels) - 1
        if miss or level < top:
            weakest = miss[-1] if miss else ranked[-1][0]
            todo.append((level / top, -len(miss) / len(crit.points), crit.spec.id, crit, weakest))
        rationale = _rationale(crit, hit, part, miss, level) + note
        criteria[crit.spec.id] = CriterionVerdict(evidence=evidence, rationale=rationale, level=level)
    todo.sort(key=lambda t: t[:3])
    next_step = ""
    if todo:
        crit, gap = todo[0][3], todo[0][4]
        next_step = f"Work on {crit.spec.id} ({crit.spec.description.rstrip('.')}). Start with: {gap.text}"
        if all(criteria[c.spec.id].level == len(c.spec.levels) - 1 for c in index.criteria):
            next_step = f"Full marks on every criterion. To go further, on {crit.spec.id}: {gap.text}"
    return Verdict(
        criteria=criteria,
        feedback=Feedback(
            strengths=strengths,
            gaps=gaps,
            misconceptions=[f"“{span.text}”: possibly the misconception “{c.text}”" for c, span in claims],
            next_step=next_step,
            follow_up_questions=[_follow_up(t[3].spec) for t in todo[:2]],
        ),
    )


def _short(text: str, words: int = 9) -> str:
    parts = text.split()
    return " ".join(parts[:words]) + (" …" if len(parts) > words else "")


def _rationale(crit: _Criterion, hit: list[_KeyPoint], part: list[_KeyPoint], miss: list[_KeyPoint], level: int) -> str:
    found = "; ".join(_short(p.text) for p in hit) or "none"
    text = f"Level {level} of {len(crit.spec.levels) - 1}: {len(hit)} of {len(crit.points)} key points found ({found})"
    if part:
        text += f", {len(part)} in part ({'; '.join(_short(p.text) for p in part)})"
    absent = [p for p in miss if p not in part]
    if absent:
        text += f"; missing: {'; '.join(_short(p.text) for p in absent)}"
    return text + "."


_VERB = re.compile(r"^([A-Z][a-z]+)s\b")


def _follow_up(spec: Criterion) -> str:
    description = spec.description.strip().rstrip(".")
    verb = _VERB.match(description)
    if verb:
        return f"Could you {verb.group(1).lower()}{description[verb.end() :]}?"
    return f"Could you say more about this: {_lower_first(description)}?"


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def answer_flags(answer: str, rubric: Rubric) -> list[str]:
    """Flags for answers a word-matching judge cannot grade well: another language, text pasted from the rubric."""
    flags = []
    share = english_share(answer)
    if share is not None and share < 0.08:
        flags.append("non_english_suspected")
    source = " ".join([*(p for c in rubric.criteria for p in c.key_points), rubric.reference_answer])
    copied = copied_share(answer, source)
    if copied is not None and copied >= 0.6:
        flags.append("copied_from_rubric")
    return flags


_DEFAULT = OfflineJudge()
