"""A rubric as the offline judge reads it, built once per rubric. Pure, no I/O.

Key points as weighted statements, wrong claims with their phrasings, and the rubric's correct and wrong texts for
telling which of the two a sentence is nearer to.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from grader.bank.reference import REFERENCE_TAG
from grader.judges.contrast import Contrast, Sense
from grader.judges.figures import Figures, numbers, words
from grader.judges.offline_feedback import CriterionView
from grader.judges.offline_params import Credit, OfflineParams
from grader.judges.statements import Statement, claim_statement, statement, word_rarity
from grader.models import Rubric, wrong_claim_of
from grader.text.negation import negated_tokens, quantifiers
from grader.text.textsim import idf_weights, sentences, tokens

TOP_EXEMPLAR = 0.7
"""Exemplars at or above this share of max_score are correct answers (lint keeps the rubric's errors out of them)."""


class KeyPoint(NamedTuple):
    """A key point as the clauses it joins ("X; Y"): each must be stated, each in a sentence of its own or not."""

    text: str
    clauses: tuple[Statement, ...]
    total: float
    whole: Statement
    """The key point as one statement (rubrics built from a reference answer match it whole)."""


class CriterionIndex(NamedTuple):
    """A criterion's key points, their word mass, and its share of the total."""

    view: CriterionView
    points: tuple[KeyPoint, ...]
    mass: tuple[float, ...]
    share: float
    """Weight / total weight: this criterion's part of the total score."""


class Claim(NamedTuple):
    """A wrong claim (misconception, red flag, level-0 example) and the criterion it lowers."""

    statement: Statement
    order: tuple[tuple[str, float], ...]
    criterion: int
    own: frozenset[str]
    """Its words that no correct text of the rubric uses ("symmetric" in "the KL term is symmetric"): what makes
    it wrong, so a clause must hold most of their weight to state it."""
    label: str
    """The rubric's wording of the claim (a phrasing of it is matched under the rubric's words)."""
    quantifiers: frozenset[str] = frozenset()
    """Quantifier groups it asserts ("only", "same", "every" …): a sentence stating it asserts them too."""


@dataclass
class RubricIndex:
    """Everything the judge needs of one rubric, built once."""

    rubric: Rubric
    criteria: list[CriterionIndex]
    claims: list[Claim]
    credit: Credit
    hardened: bool
    """Hand-written rubric: errors, fragments and dilution apply (not to rubrics built from a reference)."""
    topic: frozenset[str]
    """Words of the rubric's correct texts (reference answer, key points)."""
    contrast: Contrast
    figures: Figures


def build_index(rubric: Rubric, question: str, params: OfflineParams) -> RubricIndex:
    """Index a rubric for the question it grades (words of the question weigh less in key points)."""
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
        points = tuple(key_point(text, weight) for text in spec.key_points)
        mass = tuple(max(p.total, 1e-6) ** params.point_mass for p in points)
        view = CriterionView(spec, tuple(p.text for p in points))
        criteria.append(CriterionIndex(view, points, mass, spec.weight / total_weight))
    topic = frozenset(tokens(rubric.reference_answer)) | {
        w for c in rubric.criteria for p in c.key_points for w in tokens(p)
    }
    said: dict[str, list[str]] = {}
    for entry in rubric.phrasings:
        said.setdefault(wrong_claim_of(rubric, entry.claim) or "", []).extend(entry.said)
    claims: list[Claim] = []
    wrong: list[frozenset[Sense]] = []
    for text in [*rubric.misconceptions, *rubric.red_flags]:
        claim = claim_of(text, params)
        forms = [c for c in (claim, *(claim_of(s, params) for s in said.get(text, ()))) if c is not None]
        if not forms:
            continue
        label = claim.text if claim is not None else text.split(";")[0].strip()
        # The criterion a wrong claim lowers is the one whose key points share most of its words, in any phrasing.
        related = [
            sum(f.words.get(w, 0.0) for f in forms for p in c.points for k in p.clauses for w in k.words)
            for c in criteria
        ]
        criterion = related.index(max(related))
        # A claim resting on a quantifier ("the best way", "only", "the same") is stated with one: each form's
        # own ("you should always use …") must be said. Where the claim rests on none, a phrasing's is incidental.
        resting = bool(quantifiers(text.split(";")[0]))
        for f in forms:
            said_with = quantifiers(f.text) if resting else frozenset()
            claims.append(Claim(f, tuple(f.words.items()), criterion, own_words(f, topic), label, said_with))
        wrong += [_senses(f.text) for f in forms]
    credit = params.key_points if hardened else params.sentences

    def rare(token: str) -> float:
        return params.rarity_floor + rarity.get(token, 1.0)

    correct = _correct_texts(rubric)
    contrast = Contrast(wrong, [_senses(t) for t in correct], rare)
    figures = _figures(rubric, question, criteria, correct, rare, params)
    return RubricIndex(rubric, criteria, claims, credit, hardened, topic, contrast, figures)


def _figures(
    rubric: Rubric,
    question: str,
    criteria: list[CriterionIndex],
    correct: list[str],
    weight: Callable[[str], float],
    params: OfflineParams,
) -> Figures:
    """The rubric's figures: `correct` (key points first) each with its words and the criterion it belongs to."""
    points = [[(p, frozenset(words(p))) for p in c.view.spec.key_points] for c in criteria]
    point_words = [frozenset().union(*(w for _, w in ps)) for ps in points]
    facts = [(p, w, n) for n, ps in enumerate(points) for p, w in ps]
    for text in correct[len(facts) :]:
        if _FIRST_PERSON.search(text):
            continue  # "our agreement went from about 60 to 85 percent" is the writer's story, not the field's fact
        found = frozenset(words(text))
        shared = [len(found & w) for w in point_words]
        facts.append((text, found, shared.index(max(shared))))
    stated = [question, rubric.reference_answer, *rubric.misconceptions, *rubric.red_flags]
    stated += [level for c in rubric.criteria for level in c.levels] + [e.answer for e in rubric.exemplars]
    known = frozenset(n for text in stated + [f[0] for f in facts] for n in numbers(text))
    return Figures(facts, known, weight, params.figure_weight, params.figure_words)


_FIRST_PERSON = re.compile(r"\b(?:I|[Ww]e|[Oo]ur|[Mm]y|me|us)\b")
"""Lower-case "us" only: "the US" is a country."""


def _senses(text: str) -> frozenset[Sense]:
    return frozenset(negated_tokens(text))


def _correct_texts(rubric: Rubric) -> list[str]:
    """What the rubric holds true.

    Key points (first), the reference answer's and top exemplars' sentences, the corrections of its misconceptions.
    """
    texts = [p for c in rubric.criteria for p in c.key_points]
    texts += [s.text for s in sentences(rubric.reference_answer)]
    texts += [m.split(";", 1)[1] for m in rubric.misconceptions if ";" in m]
    top = [e.answer for e in rubric.exemplars if e.expected_score >= TOP_EXEMPLAR * rubric.max_score]
    texts += [s.text for answer in top for s in sentences(answer)]
    return texts


def claim_of(text: str, params: OfflineParams, least: int = 2) -> Statement | None:
    """A wrong claim as a statement, or None when too vague to look for."""
    return claim_statement(text, params.rarity_floor, params.claim_least_weight, least)


def own_words(claim: Statement, topic: frozenset[str]) -> frozenset[str]:
    """A claim's words that no correct text of the rubric uses."""
    return frozenset(w for w in claim.words if w not in topic)


def key_point(text: str, weight: Callable[[str], float]) -> KeyPoint:
    """A key point as its ';'-separated clauses and as a whole."""
    parts = [statement(part, weight) for part in text.split(";")]
    whole = statement(text, weight)
    clauses = tuple(part for part in parts if part.words) or (whole,)
    return KeyPoint(text.strip(), clauses, sum(c.total for c in clauses), whole)
